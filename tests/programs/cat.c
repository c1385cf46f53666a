// Prints each file named on the command line, each after a line "== NAME" (or "== NAME: ERRNO"
// when it cannot be read): for system tests that look at Lamina's /proc and /dev from inside.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
    int status = 0;
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            printf("== %s: %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        printf("== %s\n", argv[i]);
        fflush(stdout);
        char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) write(1, buf, (size_t)n);
        if (n < 0) {
            printf("read: %s\n", strerror(errno));
            status = 1;
        }
        close(fd);
    }
    return status;
}
