// poll, ppoll, select and pselect on pipes: readiness as the ends change, POLLNVAL/EBADF for a
// descriptor that is not open, negative fds skipped, timeouts that expire (and take about as
// long as asked), and remaining time written back by select.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000ll + t.tv_nsec / 1000000;
}

static void poll_show(const char* what, struct pollfd* fds, int n, int timeout) {
    int r = poll(fds, (nfds_t)n, timeout);
    printf("%s: %d", what, r);
    if (r < 0) printf(" errno=%d", errno);
    for (int i = 0; i < n; i++) printf(" [%#x]", fds[i].revents);
    printf("\n");
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    if (pipe(p) != 0) return 1;
    struct pollfd fds[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}};
    poll_show("empty pipe", fds, 3, 0);
    fds[1].events = 0;
    poll_show("read end only", fds, 3, 0);
    long long t0 = now_ms();
    poll_show("poll timeout 50 ms", fds, 1, 50);
    long long waited = now_ms() - t0;
    printf("waited at least 40 ms: %d\n", waited >= 40);
    write(p[1], "abc", 3);
    fds[1].events = POLLOUT;
    poll_show("with data", fds, 3, -1);
    char buf[8];
    read(p[0], buf, sizeof buf);
    close(p[1]);
    fds[1].fd = p[1];  // now closed (the host harness may leave other numbers open)
    poll_show("writer closed, a closed fd", fds, 2, 1000);
    close(p[0]);

    if (pipe(p) != 0) return 1;
    close(p[0]);
    struct pollfd w = {p[1], POLLOUT, 0};
    poll_show("reader closed", &w, 1, 0);
    close(p[1]);

    struct timespec ts = {0, 0};
    int n;
    if (pipe(p) != 0) return 1;
    struct pollfd r = {p[0], POLLIN, 0};
    printf("ppoll zero timeout: %d\n", ppoll(&r, 1, &ts, NULL));
    write(p[1], "x", 1);
    n = ppoll(&r, 1, NULL, NULL);
    printf("ppoll data: %d revents %#x\n", n, r.revents);
    read(p[0], buf, 1);

    fd_set rs, ws;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_SET(p[0], &rs);
    FD_SET(p[1], &ws);
    struct timeval tv = {0, 0};
    n = select(p[1] + 1, &rs, &ws, NULL, &tv);
    printf("select: %d read=%d write=%d\n", n, FD_ISSET(p[0], &rs), FD_ISSET(p[1], &ws));
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    tv.tv_sec = 0;
    tv.tv_usec = 60000;
    t0 = now_ms();
    n = select(p[0] + 1, &rs, NULL, NULL, &tv);
    waited = now_ms() - t0;
    printf("select timeout: %d read=%d waited at least 50 ms: %d time left %ld.%06ld\n", n, FD_ISSET(p[0], &rs),
           waited >= 50, (long)tv.tv_sec, (long)tv.tv_usec);
    write(p[1], "yz", 2);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    n = select(p[0] + 1, &rs, NULL, NULL, &tv);
    printf("select data: %d read=%d time left over 4 s: %d\n", n, FD_ISSET(p[0], &rs), tv.tv_sec >= 4);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    ts.tv_sec = 1;
    n = pselect(p[0] + 1, &rs, NULL, NULL, &ts, NULL);
    printf("pselect data: %d read=%d\n", n, FD_ISSET(p[0], &rs));
    close(p[1]);
    FD_ZERO(&rs);
    FD_SET(p[1], &rs);
    errno = 0;
    tv.tv_sec = 0;
    n = select(p[1] + 1, &rs, NULL, NULL, &tv);
    printf("select closed fd: %d errno=%s\n", n, errno == EBADF ? "EBADF" : "other");
    tv.tv_sec = -1;
    errno = 0;
    n = select(1, NULL, NULL, NULL, &tv);
    printf("select negative timeout: %d errno=%s\n", n, errno == EINVAL ? "EINVAL" : "other");
    errno = 0;
    n = poll(NULL, 1u << 30, 0);
    printf("poll too many: %d errno=%s\n", n, errno == EINVAL ? "EINVAL" : "other");
    errno = 0;
    n = poll((struct pollfd*)8, 1, 0);
    printf("poll bad pointer: %d errno=%s\n", n, errno == EFAULT ? "EFAULT" : "other");
    close(p[0]);
    printf("done\n");
    return 0;
}
