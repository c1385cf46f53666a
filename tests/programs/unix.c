// AF_UNIX sockets: socketpair (stream and datagram), EOF and EPIPE, nonblocking EAGAIN,
// listen/connect/accept on abstract names and on paths (EADDRINUSE, ECONNREFUSED, the
// backlog), getsockname/getpeername, SCM_RIGHTS, SO_PEERCRED, shutdown and poll. The output
// must be the same on Linux.
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include "proc_test.h"

static socklen_t abstract_addr(struct sockaddr_un* a, const char* name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(name);
    memcpy(a->sun_path + 1, name, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static socklen_t path_addr(struct sockaddr_un* a, const char* path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static void stream_pair(void) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(write(sv[0], "hello", 5) == 5);
    CHECK(send(sv[0], " world", 6, 0) == 6);
    char buf[64] = {0};
    CHECK(recv(sv[1], buf, 3, MSG_PEEK) == 3);
    ssize_t n = read(sv[1], buf, sizeof buf);
    printf("stream pair read %zd: %.*s\n", n, (int)n, buf);
    int avail = -1;
    CHECK(write(sv[1], "x", 1) == 1);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    CHECK(read(sv[0], buf, 1) == 1);
    errno = 0;
    CHECK(read(sv[0], buf, 1) == -1 && errno == EAGAIN);
    CHECK(write(sv[1], "abc", 3) == 3);
    CHECK(ioctl(sv[0], FIONREAD, &avail) == 0 && avail == 3);
    CHECK(read(sv[0], buf, 3) == 3);
    close(sv[1]);
    printf("after close: read %zd\n", read(sv[0], buf, sizeof buf));
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    CHECK(write(sv[0], "x", 1) == -1 && errno == EPIPE);
    struct pollfd p = {sv[0], POLLIN | POLLOUT | POLLRDHUP, 0};
    CHECK(poll(&p, 1, 0) == 1);
    printf("poll after peer close: in=%d hup=%d rdhup=%d\n", !!(p.revents & POLLIN), !!(p.revents & POLLHUP),
           !!(p.revents & POLLRDHUP));
    close(sv[0]);
    signal(SIGPIPE, SIG_DFL);
}

static void dgram_pair(void) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK((fcntl(sv[0], F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(send(sv[0], "one", 3, 0) == 3);
    CHECK(send(sv[0], "second", 6, 0) == 6);
    char buf[16];
    ssize_t a = recv(sv[1], buf, sizeof buf, 0);
    struct msghdr m = {0};
    struct iovec v = {buf, 2};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    ssize_t b = recvmsg(sv[1], &m, 0);
    printf("dgram pair: %zd then %zd (truncated %d)\n", a, b, !!(m.msg_flags & MSG_TRUNC));
    CHECK(send(sv[0], "abcdef", 6, 0) == 6);
    CHECK(recv(sv[1], buf, 2, MSG_TRUNC) == 6);
    errno = 0;
    CHECK(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN);
    close(sv[0]);
    close(sv[1]);
}

static void listener(int type, struct sockaddr_un* addr, socklen_t len, const char* what) {
    int l = socket(AF_UNIX, type, 0);
    CHECK(l >= 0);
    CHECK(bind(l, (struct sockaddr*)addr, len) == 0);
    int again = socket(AF_UNIX, type, 0);
    errno = 0;
    CHECK(bind(again, (struct sockaddr*)addr, len) == -1);
    printf("%s: second bind errno %s\n", what, errno == EADDRINUSE ? "EADDRINUSE" : strerror(errno));
    errno = 0;
    CHECK(connect(again, (struct sockaddr*)addr, len) == -1);
    printf("%s: connect before listen errno %s\n", what, errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
    close(again);
    CHECK(listen(l, 1) == 0);
    int one = 1;
    socklen_t ol = sizeof one;
    CHECK(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &one, &ol) == 0 && one == 1);

    // Backlog 1 holds two pending connections (Linux's "more than backlog" rule); the third
    // would block.
    int c1 = socket(AF_UNIX, type, 0), c2 = socket(AF_UNIX, type, 0), c3 = socket(AF_UNIX, type | SOCK_NONBLOCK, 0);
    CHECK(connect(c1, (struct sockaddr*)addr, len) == 0);
    CHECK(connect(c2, (struct sockaddr*)addr, len) == 0);
    errno = 0;
    int r3 = connect(c3, (struct sockaddr*)addr, len);
    printf("%s: third connect %d errno %s\n", what, r3, r3 ? (errno == EAGAIN ? "EAGAIN" : strerror(errno)) : "-");
    CHECK(write(c1, "from c1", 7) == 7);

    struct sockaddr_un peer;
    socklen_t pl = sizeof peer;
    int s1 = accept4(l, (struct sockaddr*)&peer, &pl, SOCK_CLOEXEC);
    CHECK(s1 >= 0);
    printf("%s: accepted peer address length %d\n", what, (int)pl);
    char buf[32] = {0};
    ssize_t n = read(s1, buf, sizeof buf);
    printf("%s: server read %.*s\n", what, (int)n, buf);
    struct sockaddr_un name;
    socklen_t nl = sizeof name;
    CHECK(getsockname(s1, (struct sockaddr*)&name, &nl) == 0);
    CHECK(nl == len && memcmp(&name, addr, len) == 0);
    nl = sizeof name;
    CHECK(getpeername(c1, (struct sockaddr*)&name, &nl) == 0);
    CHECK(nl == len && memcmp(&name, addr, len) == 0);

    struct ucred cred;
    socklen_t cl = sizeof cred;
    CHECK(getsockopt(s1, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0);
    printf("%s: peer cred pid is mine %d, uid %u\n", what, cred.pid == getpid(), cred.uid);
    cl = sizeof cred;
    CHECK(getsockopt(c1, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cred.pid == getpid());

    CHECK(shutdown(c1, SHUT_WR) == 0);
    n = read(s1, buf, sizeof buf);
    printf("%s: after shutdown server read %zd\n", what, n);
    CHECK(write(s1, "back", 4) == 4);
    n = read(c1, buf, sizeof buf);
    printf("%s: client read %zd\n", what, n);

    int s2 = accept(l, NULL, NULL);
    CHECK(s2 >= 0);
    close(c2);
    n = read(s2, buf, sizeof buf);
    printf("%s: second connection read %zd after close\n", what, n);
    close(s1);
    close(s2);
    close(c1);
    close(c3);
    close(l);
}

static void connections(void) {
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, "lamina-unix-test");
    listener(SOCK_STREAM, &a, len, "abstract");
    // The name is free again once its socket is closed.
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(s, (struct sockaddr*)&a, len) == 0);
    close(s);

    unlink("/tmp/unix-test.sock");
    len = path_addr(&a, "/tmp/unix-test.sock");
    listener(SOCK_STREAM, &a, len, "path");
    struct stat st;
    CHECK(stat("/tmp/unix-test.sock", &st) == 0);
    printf("path: socket node %d\n", S_ISSOCK(st.st_mode));
    // A path with nothing listening any more refuses; a missing path is ENOENT.
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    errno = 0;
    CHECK(connect(s, (struct sockaddr*)&a, len) == -1 && errno == ECONNREFUSED);
    CHECK(unlink("/tmp/unix-test.sock") == 0);
    errno = 0;
    CHECK(connect(s, (struct sockaddr*)&a, len) == -1 && errno == ENOENT);
    close(s);
}

static void datagrams(void) {
    struct sockaddr_un a, b, from;
    socklen_t la = abstract_addr(&a, "lamina-dgram-a"), lb = abstract_addr(&b, "lamina-dgram-b");
    int sa = socket(AF_UNIX, SOCK_DGRAM, 0), sb = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(bind(sa, (struct sockaddr*)&a, la) == 0);
    CHECK(bind(sb, (struct sockaddr*)&b, lb) == 0);
    CHECK(sendto(sa, "to b", 4, 0, (struct sockaddr*)&b, lb) == 4);
    char buf[16];
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(sb, buf, sizeof buf, 0, (struct sockaddr*)&from, &fl);
    printf("dgram: %zd bytes from a: %d\n", n, fl == la && memcmp(&from, &a, la) == 0);
    errno = 0;
    CHECK(send(sa, "x", 1, 0) == -1 && errno == ENOTCONN);
    CHECK(connect(sa, (struct sockaddr*)&b, lb) == 0);
    CHECK(send(sa, "y", 1, 0) == 1);
    CHECK(recv(sb, buf, sizeof buf, 0) == 1);
    close(sb);
    errno = 0;
    n = send(sa, "z", 1, 0);
    printf("dgram: send to closed peer %zd errno %s\n", n, errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
    // An unbound sender has no address (autobind gives one).
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un anon = {.sun_family = AF_UNIX};
    CHECK(bind(u, (struct sockaddr*)&anon, sizeof(sa_family_t)) == 0);
    fl = sizeof from;
    CHECK(getsockname(u, (struct sockaddr*)&from, &fl) == 0);
    printf("autobind name length %d, abstract %d\n", (int)fl, from.sun_path[0] == 0);
    close(u);
    close(sa);
}

static void pass_fds(void) {
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(pipe(p) == 0);
    char data = 'F';
    struct iovec v = {&data, 1};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = CMSG_SPACE(2 * sizeof(int));
    struct cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), p, 2 * sizeof(int));
    CHECK(sendmsg(sv[0], &m, 0) == 1);
    CHECK(write(sv[0], "tail", 4) == 4);
    close(p[0]);
    close(p[1]);

    char in[8] = {0};
    struct iovec rv = {in, sizeof in};
    memset(&u, 0, sizeof u);
    struct msghdr r = {0};
    r.msg_iov = &rv;
    r.msg_iovlen = 1;
    r.msg_control = u.buf;
    r.msg_controllen = sizeof u.buf;
    ssize_t n = recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC);
    c = CMSG_FIRSTHDR(&r);
    printf("scm_rights: %zd byte(s) '%c', cmsg %d level %d type %d fds %d\n", n, in[0], c != NULL,
           c ? c->cmsg_level : -1, c ? c->cmsg_type : -1, c ? (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0);
    int fds[2] = {-1, -1};
    if (c) memcpy(fds, CMSG_DATA(c), sizeof fds);
    CHECK((fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
    // The passed pipe works: write into the received write end, read from the read end.
    CHECK(write(fds[1], "via pipe", 8) == 8);
    char pb[16] = {0};
    CHECK(read(fds[0], pb, sizeof pb) == 8);
    printf("passed pipe carried: %s\n", pb);
    n = read(sv[1], in, sizeof in);
    printf("then the stream: %.*s\n", (int)n, in);
    // Descriptions dropped without control room: MSG_CTRUNC.
    memset(&u, 0, sizeof u);
    m.msg_control = u.buf;
    m.msg_controllen = CMSG_SPACE(sizeof(int));
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fds[0], sizeof(int));
    CHECK(sendmsg(sv[0], &m, 0) == 1);
    r.msg_control = NULL;
    r.msg_controllen = 0;
    r.msg_flags = 0;
    CHECK(recvmsg(sv[1], &r, 0) == 1);
    printf("no room for fds: ctrunc %d\n", !!(r.msg_flags & MSG_CTRUNC));
    errno = 0;
    m.msg_controllen = CMSG_SPACE(sizeof(int));
    int bad = 999;
    memcpy(CMSG_DATA(c), &bad, sizeof bad);
    CHECK(sendmsg(sv[0], &m, 0) == -1 && errno == EBADF);
    close(fds[0]);
    close(fds[1]);
    close(sv[0]);
    close(sv[1]);
}

static void errors(void) {
    errno = 0;
    CHECK(socket(AF_UNIX, SOCK_STREAM, 7) == -1 && errno == EPROTONOSUPPORT);
    errno = 0;
    CHECK(socket(AF_UNIX, SOCK_STREAM | 0x100000, 0) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(socket(1000, SOCK_STREAM, 0) == -1 && errno == EAFNOSUPPORT);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    errno = 0;
    CHECK(bind(s, (struct sockaddr*)8, 12) == -1 && errno == EFAULT);
    struct sockaddr_un a = {.sun_family = AF_INET};
    errno = 0;
    CHECK(bind(s, (struct sockaddr*)&a, sizeof a) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(listen(s, 5) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(accept(s, NULL, NULL) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(getpeername(s, (struct sockaddr*)&a, &(socklen_t){sizeof a}) == -1 && errno == ENOTCONN);
    CHECK(shutdown(s, 3) == -1 && errno == EINVAL);
    CHECK(shutdown(s, SHUT_RDWR) == 0);
    int p[2];
    CHECK(pipe(p) == 0);
    errno = 0;
    CHECK(send(p[1], "x", 1, 0) == -1 && errno == ENOTSOCK);
    int type = 0;
    socklen_t tl = sizeof type;
    CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM && tl == sizeof type);
    errno = 0;
    CHECK(getsockopt(s, SOL_SOCKET, 9999, &type, &tl) == -1 && errno == ENOPROTOOPT);
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    errno = 0;
    CHECK(listen(d, 1) == -1 && errno == EOPNOTSUPP);
    close(d);
    close(p[0]);
    close(p[1]);
    close(s);
}

static long elapsed_ms(const struct timespec* t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

// SO_RCVTIMEO and SO_SNDTIMEO end a blocked recv or send with EAGAIN.
static void timeouts(void) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct timeval tv = {0, 200000};
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    CHECK(setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0);
    struct timespec t0;
    char buf[4096];
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 0;
    ssize_t n = recv(sv[0], buf, sizeof buf, 0);
    long ms = elapsed_ms(&t0);
    printf("recv with SO_RCVTIMEO: %zd errno %s, waited %s\n", n, errno == EAGAIN ? "EAGAIN" : "other",
           ms >= 150 ? "long enough" : "too little");
    // Fill the send buffer without blocking, then a blocking send times out.
    int fl = fcntl(sv[1], F_GETFL);
    CHECK(fcntl(sv[1], F_SETFL, fl | O_NONBLOCK) == 0);
    memset(buf, 'x', sizeof buf);
    while (send(sv[1], buf, sizeof buf, 0) > 0) {
    }
    CHECK(fcntl(sv[1], F_SETFL, fl) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 0;
    n = send(sv[1], buf, sizeof buf, 0);
    ms = elapsed_ms(&t0);
    printf("send with SO_SNDTIMEO: %zd errno %s, waited %s\n", n, errno == EAGAIN ? "EAGAIN" : "other",
           ms >= 150 ? "long enough" : "too little");
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    unbuffered();
    timeouts();
    stream_pair();
    dgram_pair();
    connections();
    datagrams();
    pass_fds();
    errors();
    return finish();
}
