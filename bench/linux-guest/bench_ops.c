// The workloads of bench/linux-guest that a shell cannot express without measuring its own
// fork+exec instead (run identically in the Linux guest and in Lamina):
//   bench_ops files DIR N     N x (create, stat, unlink) of one file in DIR
//   bench_ops pingpong N      N round trips of one byte between two processes through two pipes
//                             (each round trip is two context switches through the kernel)
//   bench_ops now             CLOCK_MONOTONIC in nanoseconds (the guests' timer: Debian's busybox
//                             config has no `date +%N`)
// Exit status 0 on success; on failure the failing call and errno's text go to stderr, status 1.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fail(const char* what, long i) {
    fprintf(stderr, "bench_ops: %s (iteration %ld): %s\n", what, i, strerror(errno));
    return 1;
}

static int files(const char* dir, long n) {
    char path[4096];
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%ld", dir, i);
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0) return fail("open", i);
        if (close(fd) != 0) return fail("close", i);
        struct stat st;
        if (stat(path, &st) != 0) return fail("stat", i);
        if (!S_ISREG(st.st_mode) || st.st_size != 0) {
            errno = EINVAL;
            return fail("stat: not an empty regular file", i);
        }
        if (unlink(path) != 0) return fail("unlink", i);
    }
    return 0;
}

static int pingpong(long n) {
    int there[2], back[2];
    if (pipe(there) != 0 || pipe(back) != 0) return fail("pipe", 0);
    pid_t child = fork();
    if (child < 0) return fail("fork", 0);
    char c = 'x';
    if (child == 0) {
        close(there[1]);
        close(back[0]);
        for (long i = 0; i < n; i++) {
            if (read(there[0], &c, 1) != 1) _exit(fail("child read", i));
            if (write(back[1], &c, 1) != 1) _exit(fail("child write", i));
        }
        _exit(0);
    }
    close(there[0]);
    close(back[1]);
    for (long i = 0; i < n; i++) {
        if (write(there[1], &c, 1) != 1) return fail("write", i);
        if (read(back[0], &c, 1) != 1) return fail("read", i);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child) return fail("waitpid", n);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_ops: the child ended with status 0x%x\n", status);
        return 1;
    }
    return 0;
}

static long count(const char* s) {
    char* end = NULL;
    long n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || n <= 0) {
        fprintf(stderr, "bench_ops: '%s' is not a positive count\n", s);
        exit(2);
    }
    return n;
}

static int now(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return fail("clock_gettime", 0);
    printf("%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 2 && strcmp(argv[1], "now") == 0) return now();
    if (argc == 4 && strcmp(argv[1], "files") == 0) return files(argv[2], count(argv[3]));
    if (argc == 3 && strcmp(argv[1], "pingpong") == 0) return pingpong(count(argv[2]));
    fprintf(stderr, "usage: bench_ops files DIR N | bench_ops pingpong N | bench_ops now\n");
    return 2;
}
