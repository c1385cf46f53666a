// AF_INET sockets on 127.0.0.1: TCP listen/connect/accept, data both ways (a child process is
// the client), half close and the end of the stream, ECONNREFUSED, EADDRINUSE, nonblocking
// connect with poll and SO_ERROR, getsockname/getpeername, socket options, EPIPE; UDP
// sendto/recvfrom, MSG_PEEK, truncation, connected datagram sockets, SO_RCVTIMEO; bad
// arguments. Ports are ephemeral (bind to port 0), so the output never names one. The output
// must be the same on Linux.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include "inet_errno.h"
#include "proc_test.h"

#define SHOW(what, call)                                                           \
    do {                                                                           \
        errno = 0;                                                                 \
        long r_ = (long)(call);                                                    \
        printf("%s: %s\n", what, r_ < 0 ? err_name(errno) : r_ == 0 ? "0" : "ok"); \
    } while (0)

static struct sockaddr_in loopback(unsigned short port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static unsigned short port_of(int fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr*)&a, &len) == 0 && len == sizeof a);
    return ntohs(a.sin_port);
}

// A listener on 127.0.0.1 and an ephemeral port.
static int listener(unsigned short* port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s >= 0);
    struct sockaddr_in a = loopback(0);
    CHECK(bind(s, (struct sockaddr*)&a, sizeof a) == 0);
    CHECK(listen(s, 8) == 0);
    *port = port_of(s);
    return s;
}

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + i / 251); }

// read or write all of n bytes: 0, or -1 on an error or the end of the stream.
static int transfer_full(int fd, unsigned char* buf, size_t n, int writing) {
    size_t done = 0;
    while (done < n) {
        ssize_t k = writing ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
        if (k <= 0) return -1;
        done += (size_t)k;
    }
    return 0;
}
#define read_full(fd, buf, n) transfer_full(fd, buf, n, 0)
#define write_full(fd, buf, n) transfer_full(fd, (unsigned char*)(buf), n, 1)

enum { BIG = 300000 };
static unsigned char big[BIG];

// The child: connects, sends BIG bytes, reads them back doubled (each byte + 1), half-closes,
// reads "bye" and the end. Exits 0 when all went as expected.
static int client(unsigned short port) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(port);
    if (connect(c, (struct sockaddr*)&a, sizeof a) != 0) return 1;
    for (size_t i = 0; i < BIG; i++) big[i] = pattern(i);
    if (write_full(c, big, BIG) != 0) return 2;
    if (read_full(c, big, BIG) != 0) return 3;
    for (size_t i = 0; i < BIG; i++)
        if (big[i] != (unsigned char)(pattern(i) + 1)) return 4;
    if (shutdown(c, SHUT_WR) != 0) return 5;
    char buf[16];
    if (read_full(c, (unsigned char*)buf, 3) != 0 || memcmp(buf, "bye", 3) != 0) return 6;
    if (read(c, buf, sizeof buf) != 0) return 7;
    close(c);
    return 0;
}

static void tcp_transfer(void) {
    unsigned short port;
    int l = listener(&port);
    int v = -1;
    socklen_t len = sizeof v;
    CHECK(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0);
    printf("listener: acceptconn=%d\n", v);
    pid_t pid = fork();
    if (pid == 0) _exit(client(port));
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    int s = accept(l, (struct sockaddr*)&peer, &plen);
    CHECK(s >= 0);
    printf("accepted: len=%d family=%d addr=%s\n", (int)plen, peer.sin_family, inet_ntoa(peer.sin_addr));
    struct sockaddr_in named, peer2;
    socklen_t nlen = sizeof named, p2len = sizeof peer2;
    CHECK(getsockname(s, (struct sockaddr*)&named, &nlen) == 0);
    CHECK(getpeername(s, (struct sockaddr*)&peer2, &p2len) == 0);
    printf("accepted socket: local port same as listener %d, peer same as accept's %d\n", ntohs(named.sin_port) == port,
           peer2.sin_port == peer.sin_port && peer2.sin_addr.s_addr == peer.sin_addr.s_addr);
    CHECK(read_full(s, big, BIG) == 0);
    size_t bad = 0;
    for (size_t i = 0; i < BIG; i++) {
        if (big[i] != pattern(i)) bad++;
        big[i]++;
    }
    printf("server read %d bytes, %zu wrong\n", BIG, bad);
    CHECK(write_full(s, big, BIG) == 0);
    char buf[16];
    ssize_t n = read(s, buf, sizeof buf);
    printf("server after the client's shutdown(SHUT_WR): read %zd\n", n);
    CHECK(write(s, "bye", 3) == 3);
    close(s);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("client: %s\n", describe(status));
    close(l);
}

static void tcp_errors(void) {
    // A port bound but not listening refuses connections.
    int b = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(0);
    CHECK(bind(b, (struct sockaddr*)&a, sizeof a) == 0);
    unsigned short closed_port = port_of(b);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(closed_port);
    SHOW("connect to a closed port", connect(c, (struct sockaddr*)&a, sizeof a));
    // Linux lets the socket of a failed connect try again: now the port listens.
    CHECK(listen(b, 1) == 0);
    SHOW("connect again after the refusal", connect(c, (struct sockaddr*)&a, sizeof a));
    close(c);

    unsigned short port;
    int l = listener(&port);
    int d = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(port);
    SHOW("bind to a listening port", bind(d, (struct sockaddr*)&a, sizeof a));
    SHOW("bind with a short address", bind(d, (struct sockaddr*)&a, sizeof a - 1));
    struct sockaddr_in wrong = loopback(0);
    wrong.sin_family = AF_UNIX;
    SHOW("bind with another family", bind(d, (struct sockaddr*)&wrong, sizeof wrong));
    SHOW("connect with another family", connect(d, (struct sockaddr*)&wrong, sizeof wrong));
    SHOW("accept on an unconnected socket", accept(d, NULL, NULL));
    char x;
    SHOW("recv on an unconnected socket", recv(d, &x, 1, 0));
    SHOW("send on an unconnected socket", send(d, "x", 1, MSG_NOSIGNAL));
    SHOW("getpeername unconnected", getpeername(d, (struct sockaddr*)&a, &(socklen_t){sizeof a}));
    SHOW("shutdown unconnected", shutdown(d, SHUT_RDWR));
    struct sockaddr_in unbound;
    socklen_t ulen = sizeof unbound;
    CHECK(getsockname(d, (struct sockaddr*)&unbound, &ulen) == 0);
    printf("unbound name: %s:%d len=%d\n", inet_ntoa(unbound.sin_addr), ntohs(unbound.sin_port), (int)ulen);

    // SO_REUSEADDR, TCP_NODELAY, SO_TYPE, SO_KEEPALIVE round trips.
    int one = 1, v = -1;
    socklen_t len = sizeof v;
    CHECK(setsockopt(d, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    CHECK(getsockopt(d, SOL_SOCKET, SO_REUSEADDR, &v, &len) == 0);
    printf("SO_REUSEADDR=%d\n", v != 0);
    CHECK(setsockopt(d, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    len = sizeof v;
    CHECK(getsockopt(d, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0);
    printf("TCP_NODELAY=%d\n", v != 0);
    len = sizeof v;
    CHECK(getsockopt(d, SOL_SOCKET, SO_TYPE, &v, &len) == 0);
    printf("SO_TYPE=%d\n", v);
    CHECK(setsockopt(d, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == 0);
    len = sizeof v;
    CHECK(getsockopt(d, SOL_SOCKET, SO_KEEPALIVE, &v, &len) == 0);
    printf("SO_KEEPALIVE=%d\n", v != 0);
    SHOW("unknown TCP option", setsockopt(d, IPPROTO_TCP, 9999, &one, sizeof one));
    close(d);
    close(b);

    // A connection whose peer closed: after the reset, EPIPE (and SIGPIPE without MSG_NOSIGNAL).
    c = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(port);
    CHECK(connect(c, (struct sockaddr*)&a, sizeof a) == 0);
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0);
    SHOW("second connect", connect(c, (struct sockaddr*)&a, sizeof a));
    close(s);
    char buf[8];
    SHOW("read after the peer's close", read(c, buf, sizeof buf));
    int e = 0;
    for (int i = 0; i < 500 && !e; i++) {
        if (send(c, "data", 4, MSG_NOSIGNAL) < 0)
            e = errno;
        else
            usleep(10000);
    }
    printf("send after the peer's close: %s\n", err_name(e));
    close(c);
    close(l);
}

static void nonblocking_connect(void) {
    unsigned short port;
    int l = listener(&port);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = loopback(port);
    SHOW("nonblocking connect", connect(c, (struct sockaddr*)&a, sizeof a));
    struct pollfd p = {c, POLLOUT, 0};
    CHECK(poll(&p, 1, 10000) == 1);
    int err = -1;
    socklen_t len = sizeof err;
    CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
    printf("writable %d, SO_ERROR %s\n", !!(p.revents & POLLOUT), err_name(err));
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    CHECK(getpeername(c, (struct sockaddr*)&peer, &plen) == 0 && ntohs(peer.sin_port) == port);
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0);
    char buf[8];
    SHOW("nonblocking read with nothing", read(c, buf, sizeof buf));
    struct pollfd q = {c, POLLIN, 0};
    printf("poll with nothing to read: %d\n", poll(&q, 1, 0));
    CHECK(write(s, "ping", 4) == 4);
    q.revents = 0;
    CHECK(poll(&q, 1, 10000) == 1);
    int avail = -1;
    CHECK(ioctl(c, FIONREAD, &avail) == 0);
    printf("readable %d, FIONREAD %d\n", !!(q.revents & POLLIN), avail);
    CHECK(recv(c, buf, 4, MSG_PEEK) == 4);
    printf("read %zd\n", read(c, buf, sizeof buf));
    close(s);
    close(c);

    // Refused, without blocking: the error comes through poll and SO_ERROR.
    int b = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(0);
    CHECK(bind(b, (struct sockaddr*)&a, sizeof a) == 0);
    a = loopback(port_of(b));
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int r = connect(c, (struct sockaddr*)&a, sizeof a);
    if (r < 0 && errno == EINPROGRESS) {
        p = (struct pollfd){c, POLLOUT, 0};
        CHECK(poll(&p, 1, 10000) == 1);
        len = sizeof err;
        CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
    } else {
        err = r < 0 ? errno : 0;
    }
    printf("nonblocking connect to a closed port: %s\n", err_name(err));
    len = sizeof err;
    CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
    printf("SO_ERROR again: %s\n", err_name(err));
    close(c);
    close(b);
    close(l);
}

static void udp(void) {
    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = loopback(0);
    CHECK(bind(u1, (struct sockaddr*)&a, sizeof a) == 0);
    CHECK(bind(u2, (struct sockaddr*)&a, sizeof a) == 0);
    struct sockaddr_in to1 = loopback(port_of(u1));
    unsigned short p2 = port_of(u2);
    CHECK(sendto(u2, "first datagram", 14, 0, (struct sockaddr*)&to1, sizeof to1) == 14);
    CHECK(sendto(u2, "second", 6, 0, (struct sockaddr*)&to1, sizeof to1) == 6);
    struct pollfd p = {u1, POLLIN, 0};
    CHECK(poll(&p, 1, 10000) == 1);
    char buf[64] = {0};
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(u1, buf, 5, MSG_PEEK, (struct sockaddr*)&from, &flen);
    printf("peek %zd: %.*s, from the sender %d\n", n, (int)n, buf, ntohs(from.sin_port) == p2);
    struct iovec iov = {buf, 5};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    n = recvmsg(u1, &m, 0);
    printf("recvmsg %zd, truncated %d\n", n, !!(m.msg_flags & MSG_TRUNC));
    n = recv(u1, buf, sizeof buf, MSG_TRUNC);
    printf("next %zd: %.6s\n", n, buf);
    int fl = fcntl(u1, F_GETFL);
    CHECK(fcntl(u1, F_SETFL, fl | O_NONBLOCK) == 0);
    SHOW("empty nonblocking recv", recv(u1, buf, sizeof buf, 0));
    SHOW("MSG_DONTWAIT recv", recv(u2, buf, sizeof buf, MSG_DONTWAIT));
    SHOW("send without a destination", send(u2, "x", 1, 0));
    CHECK(connect(u2, (struct sockaddr*)&to1, sizeof to1) == 0);
    CHECK(send(u2, "connected", 9, 0) == 9);
    CHECK(fcntl(u1, F_SETFL, fl) == 0);
    n = recv(u1, buf, sizeof buf, 0);
    printf("connected send: %zd %.9s\n", n, buf);
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    CHECK(getpeername(u2, (struct sockaddr*)&peer, &plen) == 0);
    printf("peer is the first socket %d\n", peer.sin_port == to1.sin_port);
    struct timeval tv = {0, 200000};
    CHECK(setsockopt(u1, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 0;
    n = recv(u1, buf, sizeof buf, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("recv with SO_RCVTIMEO: %s, waited %s\n", err_name(errno), ms >= 150 ? "long enough" : "too little");
    close(u1);
    close(u2);
}

// epoll over a listener and a connection, as servers (nginx) use it: level- and edge-triggered.
static void epoll_loop(void) {
    unsigned short port;
    int l = listener(&port);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) == 0);
    struct epoll_event got[4];
    printf("epoll before a connection: %d\n", epoll_wait(ep, got, 4, 0));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(port);
    CHECK(connect(c, (struct sockaddr*)&a, sizeof a) == 0);
    int n = epoll_wait(ep, got, 4, 10000);
    printf("epoll after connect: %d, listener %d\n", n, n == 1 && got[0].data.fd == l);
    int s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    CHECK(s >= 0);
    ev = (struct epoll_event){.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = s};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0);
    n = epoll_wait(ep, got, 4, 10000);
    printf("edge-triggered: %d event, out %d in %d\n", n, n == 1 && (got[0].events & EPOLLOUT) != 0,
           n == 1 && (got[0].events & EPOLLIN) != 0);
    printf("no new edge: %d\n", epoll_wait(ep, got, 4, 0));
    CHECK(write(c, "request", 7) == 7);
    n = epoll_wait(ep, got, 4, 10000);
    printf("after data: %d event, in %d\n", n, n == 1 && (got[0].events & EPOLLIN) != 0);
    char buf[16];
    CHECK(read(s, buf, sizeof buf) == 7);
    close(c);
    n = epoll_wait(ep, got, 4, 10000);
    printf("after the peer's close: %d event, rdhup %d\n", n, n == 1 && (got[0].events & EPOLLRDHUP) != 0);
    close(s);
    close(l);
    close(ep);
}

int main(void) {
    unbuffered();
    SHOW("SOCK_SEQPACKET", socket(AF_INET, SOCK_SEQPACKET, 0));
    SHOW("stream with UDP", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    SHOW("datagram with TCP", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
    tcp_transfer();
    tcp_errors();
    nonblocking_connect();
    udp();
    epoll_loop();
    printf("%d failures\n", failures);
    return failures != 0;
}
