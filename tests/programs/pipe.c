// Pipes in one process: EOF once the writers are gone, EPIPE once the readers are (SIGPIPE
// ignored here; sigpipe.c checks the default action), O_NONBLOCK's EAGAIN, PIPE_BUF atomicity
// and the 64 KiB capacity (chosen so that Linux's page-based pipes answer the same), FIONREAD,
// pipe2's flags, fstat.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static char big[70000];
static char back[70000];

static int avail(int fd) {
    int n = -1;
    if (ioctl(fd, FIONREAD, &n) != 0) return -errno;
    return n;
}

static void show(const char* what, long r) {
    printf("%s: %ld", what, r);
    if (r < 0)
        printf(" (%s)", errno == EAGAIN   ? "EAGAIN"
                        : errno == EPIPE  ? "EPIPE"
                        : errno == EINVAL ? "EINVAL"
                        : errno == EBADF  ? "EBADF"
                                          : "other");
    printf("\n");
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7 + i / 251);
    int p[2];
    if (pipe(p) != 0) {
        printf("pipe failed: errno %d\n", errno);
        return 1;
    }
    struct stat st;
    int r0 = fstat(p[0], &st);
    printf("fstat: %d fifo=%d\n", r0, S_ISFIFO(st.st_mode));
    show("write 5", write(p[1], "hello", 5));
    printf("FIONREAD: %d\n", avail(p[0]));
    char buf[16] = {0};
    show("read 3", read(p[0], buf, 3));
    show("read 0", read(p[0], buf, 0));
    show("read 10", read(p[0], buf + 3, 10));
    printf("data: %s\n", buf);
    show("write to read end", write(p[0], "x", 1));
    show("read from write end", read(p[1], buf, 1));
    show("write 3", write(p[1], "end", 3));
    close(p[1]);
    show("read after writer closed", read(p[0], buf, sizeof buf));
    show("read at EOF", read(p[0], buf, sizeof buf));
    close(p[0]);

    if (pipe(p) != 0) return 1;
    close(p[0]);
    errno = 0;
    show("write without reader", write(p[1], "x", 1));
    close(p[1]);

    show("pipe2 bad flags", pipe2(p, O_APPEND));
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return 1;
    printf("nonblock: %d %d cloexec: %d %d\n", !!(fcntl(p[0], F_GETFL) & O_NONBLOCK),
           !!(fcntl(p[1], F_GETFL) & O_NONBLOCK), fcntl(p[0], F_GETFD) == FD_CLOEXEC,
           fcntl(p[1], F_GETFD) == FD_CLOEXEC);
    show("empty nonblocking read", read(p[0], buf, 1));
    show("fill with 65536", write(p[1], big, 65536));
    printf("FIONREAD: %d\n", avail(p[0]));
    show("write to a full pipe", write(p[1], "x", 1));
    show("read 4096", read(p[0], back, 4096));
    show("write 4096 into the freed page", write(p[1], big, 4096));
    show("write 1 more", write(p[1], "x", 1));
    close(p[0]);
    close(p[1]);

    // Atomicity: with 4095 bytes of room a 4096-byte write moves nothing, smaller ones that fit
    // go in whole; a write above PIPE_BUF may be split.
    if (pipe2(p, O_NONBLOCK) != 0) return 1;
    show("write 61441", write(p[1], big, 61441));
    show("atomic 4096 without room", write(p[1], big + 61441, 4096));
    show("write 100", write(p[1], big + 61441, 100));
    show("atomic 4000 without room", write(p[1], big + 61541, 4000));
    printf("FIONREAD: %d\n", avail(p[0]));
    long got = 0, r;
    while ((r = read(p[0], back + got, 10000)) > 0) got += r;
    printf("drained %ld, same data: %d\n", got, memcmp(back, big, (size_t)got) == 0);
    show("write 61440", write(p[1], big, 61440));
    show("write 4097 (split)", write(p[1], big + 61440, 4097));
    got = 0;
    while ((r = read(p[0], back + got, 10000)) > 0) got += r;
    printf("drained %ld, same data: %d\n", got, memcmp(back, big, (size_t)got) == 0);
    close(p[0]);
    close(p[1]);
    printf("done\n");
    return 0;
}
