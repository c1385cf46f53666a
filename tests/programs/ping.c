// Ping sockets (Linux's unprivileged ICMP echo: socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)) on
// 127.0.0.1: the kernel picks the echo identifier (the socket's "port") and writes it and the
// checksum into each request, only echo requests are sent, and the socket receives the replies
// carrying its identifier, from the ICMP header on (no IP header), from port 0. Identifiers are
// never printed, only compared, so the output is the same wherever the program runs. A host
// whose net.ipv4.ping_group_range leaves this user out refuses the socket: the program says so
// and exits 2.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "inet_errno.h"
#include "proc_test.h"

// A call's result as "0", "-1 ENAME" or the returned count.
#define SHOW(what, call)                                                                     \
    do {                                                                                     \
        errno = 0;                                                                           \
        long r_ = (long)(call);                                                              \
        printf("%s: %ld%s%s\n", what, r_, r_ < 0 ? " " : "", r_ < 0 ? err_name(errno) : ""); \
    } while (0)

static struct sockaddr_in loopback(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static unsigned short checksum(const unsigned char* m, size_t n) {
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i += 2) sum += (unsigned)(m[i] << 8) | (i + 1 < n ? m[i + 1] : 0);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (unsigned short)~sum;
}

// An echo request with a wrong identifier and checksum: the kernel replaces both.
static size_t request(unsigned char* m, unsigned short seq, const char* payload) {
    size_t n = 8 + strlen(payload);
    memset(m, 0, 8);
    m[0] = 8;  // ICMP_ECHO
    m[2] = 0xde, m[3] = 0xad;
    m[4] = 0x12, m[5] = 0x34;
    m[6] = (unsigned char)(seq >> 8), m[7] = (unsigned char)seq;
    memcpy(m + 8, payload, n - 8);
    return n;
}

static unsigned short local_ident(int s) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    CHECK(getsockname(s, (struct sockaddr*)&a, &len) == 0);
    return ntohs(a.sin_port);
}

// Waits for and reads one reply; prints what it is, compared with what was sent.
static void show_reply(int s, unsigned short seq, const char* payload) {
    struct pollfd p = {s, POLLIN, 0};
    int ready = poll(&p, 1, 10000);
    printf("poll: %d, in %d\n", ready, (p.revents & POLLIN) != 0);
    unsigned char m[256];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    memset(&from, 0xff, sizeof from);
    ssize_t n = recvfrom(s, m, sizeof m, 0, (struct sockaddr*)&from, &len);
    if (n < 8) {
        printf("recvfrom: %zd %s\n", n, err_name(errno));
        return;
    }
    unsigned short id = (unsigned short)(m[4] << 8 | m[5]);
    printf("reply: %zd bytes, type %d code %d, id is the socket's %d, seq %d, payload same %d, checksum ok %d\n", n,
           m[0], m[1], id == local_ident(s), m[6] << 8 | m[7],
           n == (ssize_t)(8 + strlen(payload)) && memcmp(m + 8, payload, strlen(payload)) == 0,
           checksum(m, (size_t)n) == 0);
    CHECK(seq == (m[6] << 8 | m[7]));
    printf("from: %s port %d, length %u\n", inet_ntoa(from.sin_addr), ntohs(from.sin_port), (unsigned)len);
}

int main(void) {
    unbuffered();
    int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    if (s < 0) {
        printf("ping socket refused: %s\n", err_name(errno));
        return 2;
    }
    int v;
    socklen_t len = sizeof v;
    CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len) == 0);
    printf("SO_TYPE %d", v);
    CHECK(getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0);
    printf(", SO_PROTOCOL %d\n", v);
    printf("unbound identifier: %d\n", local_ident(s));

    // Only echo requests with at least their header; an address is needed until connect.
    struct sockaddr_in to = loopback();
    unsigned char m[256];
    size_t n = request(m, 1, "lamina");
    SHOW("4 bytes", sendto(s, m, 4, 0, (struct sockaddr*)&to, sizeof to));
    m[0] = 13;  // timestamp request
    SHOW("timestamp request", sendto(s, m, n, 0, (struct sockaddr*)&to, sizeof to));
    m[0] = 8, m[1] = 1;
    SHOW("code 1", sendto(s, m, n, 0, (struct sockaddr*)&to, sizeof to));
    m[1] = 0;
    SHOW("no address", send(s, m, n, 0));
    SHOW("AF_UNIX address", sendto(s, m, n, 0, (struct sockaddr*)&(struct sockaddr){.sa_family = AF_UNIX}, sizeof to));
    SHOW("nothing to read", recv(s, m, sizeof m, MSG_DONTWAIT));

    // The first send picks the identifier.
    SHOW("sendto 127.0.0.1", sendto(s, m, n, 0, (struct sockaddr*)&to, sizeof to));
    printf("identifier picked: %d\n", local_ident(s) != 0);
    show_reply(s, 1, "lamina");

    // MSG_PEEK leaves the reply; a short buffer truncates it (MSG_TRUNC: the whole length).
    n = request(m, 2, "a longer payload");
    SHOW("sendto again", sendto(s, m, n, 0, (struct sockaddr*)&to, sizeof to));
    struct pollfd p = {s, POLLIN, 0};
    CHECK(poll(&p, 1, 10000) == 1);
    SHOW("peek", recv(s, m, sizeof m, MSG_PEEK));
    SHOW("truncated with MSG_TRUNC", recv(s, m, 10, MSG_TRUNC));
    SHOW("then nothing", recv(s, m, sizeof m, MSG_DONTWAIT));

    // Connected: send without an address; getpeername has port 0.
    CHECK(connect(s, (struct sockaddr*)&to, sizeof to) == 0);
    struct sockaddr_in peer;
    len = sizeof peer;
    CHECK(getpeername(s, (struct sockaddr*)&peer, &len) == 0);
    printf("peer: %s port %d\n", inet_ntoa(peer.sin_addr), ntohs(peer.sin_port));
    n = request(m, 3, "connected");
    SHOW("send", send(s, m, n, 0));
    show_reply(s, 3, "connected");

    // Ping sockets start with SO_REUSEADDR on (Linux's INET_PROTOSW_REUSE): a second socket may
    // share the identifier, and the one bound last gets the replies.
    int t = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_ICMP);
    CHECK(t >= 0);
    len = sizeof v;
    CHECK(getsockopt(t, SOL_SOCKET, SO_REUSEADDR, &v, &len) == 0);
    printf("SO_REUSEADDR %d\n", v);
    struct sockaddr_in same = {.sin_family = AF_INET, .sin_port = htons(local_ident(s))};
    SHOW("bind to the first's identifier", bind(t, (struct sockaddr*)&same, sizeof same));
    struct sockaddr_in any = {.sin_family = AF_INET};
    SHOW("bind again", bind(t, (struct sockaddr*)&any, sizeof any));
    n = request(m, 4, "shared");
    SHOW("first sends", send(s, m, n, 0));
    show_reply(t, 4, "shared");
    SHOW("first reads", recv(s, m, sizeof m, MSG_DONTWAIT));
    close(t);

    // Without SO_REUSEADDR the identifier is the socket's own.
    int u = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    CHECK(u >= 0);
    v = 0;
    CHECK(setsockopt(u, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v) == 0);
    SHOW("bind to the first's identifier without SO_REUSEADDR", bind(u, (struct sockaddr*)&same, sizeof same));
    SHOW("bind to any", bind(u, (struct sockaddr*)&any, sizeof any));
    printf("different identifiers: %d\n", local_ident(u) != 0 && local_ident(u) != local_ident(s));
    n = request(m, 5, "third");
    SHOW("third sends", sendto(u, m, n, 0, (struct sockaddr*)&to, sizeof to));
    show_reply(u, 5, "third");
    SHOW("first reads", recv(s, m, sizeof m, MSG_DONTWAIT));
    n = request(m, 6, "first again");
    SHOW("first sends", send(s, m, n, 0));
    show_reply(s, 6, "first again");
    close(u);
    close(s);

    printf("%d failures\n", failures);
    return failures != 0;
}
