// epoll and eventfd: level- and edge-triggered items over pipes, sockets and eventfds,
// EPOLLONESHOT and its re-arming, EPOLLRDHUP, automatic removal at the last close, the
// epoll descriptor itself in poll, timeouts, and the errors of epoll_ctl. eventfd: counter and
// semaphore reads, EAGAIN, the overflow limit. The output must be the same on Linux.
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "proc_test.h"

static int wait_events(int ep, int timeout, const char* what) {
    struct epoll_event ev[8];
    int n = epoll_wait(ep, ev, 8, timeout);
    printf("%s: %d", what, n);
    for (int i = 0; i < n; i++) {
        unsigned e = ev[i].events;
        printf(" [%llu:%s%s%s%s%s]", (unsigned long long)ev[i].data.u64, e & EPOLLIN ? "in" : "",
               e & EPOLLOUT ? " out" : "", e & EPOLLHUP ? " hup" : "", e & EPOLLRDHUP ? " rdhup" : "",
               e & EPOLLERR ? " err" : "");
    }
    printf("\n");
    return n;
}

static int add(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void level_and_edge(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0 && (fcntl(ep, F_GETFD) & FD_CLOEXEC));
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(add(ep, p[0], EPOLLIN, 1) == 0);
    // (Edge-triggered items are tested on sockets: Lamina's pipe ends share one wait queue, so
    // a pipe write would also count as an edge for the write end, which Linux's keyed
    // wake-ups do not report.)
    wait_events(ep, 0, "pipe empty");
    CHECK(write(p[1], "ab", 2) == 2);
    wait_events(ep, 0, "pipe with data");
    wait_events(ep, 0, "level again");
    char c;
    CHECK(read(p[0], &c, 1) == 1);
    CHECK(read(p[0], &c, 1) == 1);
    wait_events(ep, 0, "drained");
    close(p[1]);
    wait_events(ep, 0, "writer closed");
    close(p[0]);
    close(ep);
}

static void sockets_and_oneshot(void) {
    int ep = epoll_create(1);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(add(ep, sv[0], EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, 10) == 0);
    CHECK(add(ep, sv[1], EPOLLIN | EPOLLET, 11) == 0);
    wait_events(ep, 0, "socket idle");
    CHECK(write(sv[1], "x", 1) == 1);
    wait_events(ep, 0, "socket data");
    CHECK(write(sv[1], "y", 1) == 1);
    wait_events(ep, 0, "oneshot spent");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = 12};
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, sv[0], &ev) == 0);
    wait_events(ep, 0, "re-armed");
    char buf[4];
    CHECK(read(sv[0], buf, sizeof buf) == 2);
    CHECK(shutdown(sv[1], SHUT_WR) == 0);
    wait_events(ep, 0, "peer shut down writing");
    // The edge-triggered end hears of new data once per change.
    CHECK(write(sv[0], "z", 1) == 1);
    wait_events(ep, 0, "edge: new data");
    wait_events(ep, 0, "edge: nothing new");
    CHECK(write(sv[0], "w", 1) == 1);
    wait_events(ep, 0, "edge: more data");
    // Closing the last descriptor of a description removes it from the set.
    close(sv[1]);
    wait_events(ep, 0, "after closing the edge item");
    errno = 0;
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, sv[0], NULL) == 0);
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, sv[0], NULL) == -1 && errno == ENOENT);
    close(sv[0]);
    close(ep);
}

static void closing_keeps_dups(void) {
    int ep = epoll_create1(0);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(add(ep, p[0], EPOLLIN, 20) == 0);
    int d = dup(p[0]);
    close(p[0]);
    CHECK(write(p[1], "q", 1) == 1);
    // The description is still open through the dup: the item stays.
    wait_events(ep, 0, "dup keeps the item");
    close(d);
    wait_events(ep, 0, "last close removes it");
    close(p[1]);
    close(ep);
}

static void eventfds(void) {
    int e = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(e >= 0);
    uint64_t v = 0;
    CHECK(read(e, &v, sizeof v) == 8);
    printf("eventfd counter read %llu\n", (unsigned long long)v);
    errno = 0;
    CHECK(read(e, &v, sizeof v) == -1 && errno == EAGAIN);
    errno = 0;
    CHECK(read(e, &v, 4) == -1 && errno == EINVAL);
    v = 5;
    CHECK(write(e, &v, sizeof v) == 8);
    v = UINT64_MAX;
    errno = 0;
    CHECK(write(e, &v, sizeof v) == -1 && errno == EINVAL);
    v = UINT64_MAX - 5;
    errno = 0;
    CHECK(write(e, &v, sizeof v) == -1 && errno == EAGAIN);
    v = UINT64_MAX - 6;
    CHECK(write(e, &v, sizeof v) == 8);
    struct pollfd pf = {e, POLLIN | POLLOUT, 0};
    CHECK(poll(&pf, 1, 0) == 1);
    printf("full eventfd: in=%d out=%d\n", !!(pf.revents & POLLIN), !!(pf.revents & POLLOUT));
    close(e);

    int s = eventfd(2, EFD_SEMAPHORE);
    int ep = epoll_create1(0);
    CHECK(add(ep, s, EPOLLIN, 30) == 0);
    wait_events(ep, 0, "semaphore 2");
    CHECK(read(s, &v, sizeof v) == 8 && v == 1);
    CHECK(read(s, &v, sizeof v) == 8 && v == 1);
    wait_events(ep, 0, "semaphore 0");
    // A child posts while the parent sleeps in epoll_wait.
    pid_t pid = fork();
    if (pid == 0) {
        usleep(20000);
        uint64_t one = 1;
        _exit(write(s, &one, sizeof one) == 8 ? 0 : 1);
    }
    wait_events(ep, 5000, "woken by the child");
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    errno = 0;
    CHECK(eventfd(0, 0x10) == -1 && errno == EINVAL);
    close(s);
    close(ep);
}

static void nesting_and_errors(void) {
    int ep = epoll_create1(0), outer = epoll_create1(0);
    int e = eventfd(0, 0);
    CHECK(add(ep, e, EPOLLIN, 40) == 0);
    CHECK(add(outer, ep, EPOLLIN, 41) == 0);
    struct pollfd pf = {ep, POLLIN, 0};
    printf("idle epoll polls %d\n", poll(&pf, 1, 0));
    uint64_t one = 1;
    CHECK(write(e, &one, sizeof one) == 8);
    printf("ready epoll polls %d\n", poll(&pf, 1, 0));
    wait_events(outer, 0, "outer epoll");
    printf("timeout: %d\n", epoll_wait(ep, &(struct epoll_event){0}, 1, 0) >= 0);

    errno = 0;
    CHECK(add(ep, e, EPOLLIN, 42) == -1 && errno == EEXIST);
    errno = 0;
    CHECK(add(ep, ep, EPOLLIN, 0) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(add(e, ep, EPOLLIN, 0) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(add(ep, 999, EPOLLIN, 0) == -1 && errno == EBADF);
    errno = 0;
    CHECK(epoll_ctl(ep, 99, e, &(struct epoll_event){0}) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, e, (struct epoll_event*)8) == -1 && errno == EFAULT);
    errno = 0;
    CHECK(epoll_wait(ep, NULL, 0, 0) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(epoll_wait(ep, (struct epoll_event*)8, 1, 0) == -1 && errno == EFAULT);
    errno = 0;
    CHECK(syscall(SYS_epoll_create, 0) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(epoll_create1(1) == -1 && errno == EINVAL);
    close(e);
    close(outer);
    close(ep);
}

int main(void) {
    unbuffered();
    level_and_edge();
    sockets_and_oneshot();
    closing_keeps_dups();
    eventfds();
    nesting_and_errors();
    return finish();
}
