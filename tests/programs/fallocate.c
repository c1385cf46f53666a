// fallocate on /tmp (tmpfs in Lamina; the host's may be a disk file system that also allocates)
// and its errors.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include "proc_test.h"

static const char* err(int r) { return r == 0 ? "ok" : strerror(errno); }

static long size_of(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

int main(void) {
    unbuffered();
    char path[64];
    snprintf(path, sizeof path, "/tmp/fallocate.%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    // (The call first, then the size: arguments have no order of evaluation.)
    const char* r = err(fallocate(fd, 0, 4096, 4096));
    printf("mode 0: %s, size %ld\n", r, size_of(fd));
    r = err(fallocate(fd, 0, 0, 100));
    printf("inside the size: %s, size %ld\n", r, size_of(fd));
    r = err(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 65536));
    printf("keep size: %s, size %ld\n", r, size_of(fd));
    char buf[8] = {1};
    printf("reads zeros: %s\n", pread(fd, buf, sizeof buf, 5000) == 8 && buf[0] == 0 ? "yes" : "no");
    errno = 0;
    printf("length 0: %s\n", err(fallocate(fd, 0, 0, 0)));
    printf("negative offset: %s\n", err(fallocate(fd, 0, -1, 10)));
    int ro = open(path, O_RDONLY);
    printf("read-only descriptor: %s\n", err(fallocate(ro, 0, 0, 10)));
    int p[2];
    CHECK(pipe(p) == 0);
    printf("pipe: %s\n", err(fallocate(p[1], 0, 0, 10)));
    printf("closed descriptor: %s\n", err(fallocate(99, 0, 0, 10)));
    close(ro);
    close(fd);
    unlink(path);
    return finish();
}
