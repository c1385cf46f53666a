// Figures, not a test: TCP over 127.0.0.1 as a program sees it, run in Lamina and on the host
// Linux by bench/net-loopback (and bench/run), which prints them side by side.
//   - throughput: a child process connects and writes MIB mebibytes in 64 KiB writes, the
//     parent accepts and reads them in 64 KiB reads; timed from before the fork to the end of
//     the stream (so the connection's set-up is counted, once);
//   - connection rate: one process connects to its own listener, accepts, and closes both ends,
//     CONNECTIONS times (the client closes first, so its side goes through TIME_WAIT).
// Usage: inet_bench [MIB [CONNECTIONS]] (default 64 and 2000). Every figure line is
// "name: value unit", as syscall_bench's; failures go to stderr with exit status 1.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void die(const char* what) {
    fprintf(stderr, "inet_bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

// A listener on 127.0.0.1 at an ephemeral port; *addr gets its address.
static int listener(struct sockaddr_in* addr) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) die("socket");
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *addr;
    if (bind(l, (struct sockaddr*)addr, sizeof *addr) != 0) die("bind");
    if (listen(l, 128) != 0) die("listen");
    if (getsockname(l, (struct sockaddr*)addr, &len) != 0) die("getsockname");
    return l;
}

static int connect_to(const struct sockaddr_in* addr) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0) die("socket");
    if (connect(c, (const struct sockaddr*)addr, sizeof *addr) != 0) die("connect");
    return c;
}

static char buf[64 * 1024];

static void throughput(long mib) {
    struct sockaddr_in addr;
    int l = listener(&addr);
    long long total = mib * 1024 * 1024;
    long long t0 = now();
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        int c = connect_to(&addr);
        memset(buf, 'x', sizeof buf);
        for (long long sent = 0; sent < total;) {
            size_t n = total - sent < (long long)sizeof buf ? (size_t)(total - sent) : sizeof buf;
            ssize_t w = write(c, buf, n);
            if (w <= 0) die("write");
            sent += w;
        }
        close(c);
        _exit(0);
    }
    int s = accept(l, NULL, NULL);
    if (s < 0) die("accept");
    long long got = 0;
    for (;;) {
        ssize_t r = read(s, buf, sizeof buf);
        if (r < 0) die("read");
        if (r == 0) break;
        got += r;
    }
    long long t1 = now();
    int status;
    waitpid(child, &status, 0);
    close(s);
    close(l);
    if (got != total || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "inet_bench: received %lld of %lld bytes, sender status 0x%x\n", got, total, status);
        exit(1);
    }
    printf("tcp 127.0.0.1 throughput: %lld MB/s (%ld MiB, 64 KiB writes and reads)\n", total * 1000 / (t1 - t0 + 1),
           mib);  // bytes per microsecond
}

static void connection_rate(int connections) {
    struct sockaddr_in addr;
    int l = listener(&addr);
    long long t0 = now();
    for (int i = 0; i < connections; i++) {
        int c = connect_to(&addr);
        int s = accept(l, NULL, NULL);
        if (s < 0) die("accept");
        close(c);
        close(s);
    }
    long long t1 = now();
    close(l);
    printf("tcp connect+accept+close: %lld us (%d connections, one process)\n", (t1 - t0) / 1000 / connections,
           connections);
    printf("tcp connections per second: %lld conn/s\n", connections * 1000000000ll / (t1 - t0 + 1));
}

int main(int argc, char** argv) {
    long mib = argc > 1 ? atol(argv[1]) : 64;
    int connections = argc > 2 ? atoi(argv[2]) : 2000;
    if (mib <= 0 || connections <= 0) {
        fprintf(stderr, "usage: inet_bench [MIB [CONNECTIONS]]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    throughput(mib);
    connection_rate(connections);
    return 0;
}
