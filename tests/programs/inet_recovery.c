// The netstack's recovery time as a server sees it (Lamina only: it crashes the net domain
// through /proc/domctl, as `domctl inject net` does). A child process waits in accept on a
// TCP listener; the parent injects a fault into the net domain and at once starts connecting
// to the listener on 127.0.0.1, again and again, until a connection is accepted and answers:
// it sends a byte and the server sends one back. That connection is one the fresh stack made
// (the listener was replayed; the server never left accept); one made by the dying stack would
// fail with a reset, and the client tries again. The figure is the time from the injection
// to that answer. ROUNDS rounds (default 3), each a line
//   net fault to next accepted connection: N ms
// and the exit status is 0 when every round got its connection within 60 s.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static int inject(const char* command) {
    int fd = open("/proc/domctl", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, command, strlen(command));
    close(fd);
    return n == (ssize_t)strlen(command) ? 0 : -1;
}

// One connection to addr that the server answers: 0, or -1 after an error.
static int exchange(const struct sockaddr_in* addr) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0) return -1;
    struct timeval limit = {5, 0};  // a connection the crash swallows must not hold the round
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    char b = 'x';
    int ok = connect(c, (const struct sockaddr*)addr, sizeof *addr) == 0 && send(c, &b, 1, MSG_NOSIGNAL) == 1 &&
             recv(c, &b, 1, 0) == 1 && b == 'y';
    close(c);
    return ok ? 0 : -1;
}

// The server: accepts until one connection sends its byte, answers it, and exits.
static void serve(int l) {
    for (;;) {
        int s = accept(l, NULL, NULL);
        if (s < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            _exit(1);
        }
        char b;
        if (recv(s, &b, 1, 0) == 1 && send(s, "y", 1, MSG_NOSIGNAL) == 1) {
            close(s);
            _exit(0);
        }
        close(s);  // a connection of the dead stack: wait for the next one
    }
}

int main(int argc, char** argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    setvbuf(stdout, NULL, _IONBF, 0);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (l < 0 || bind(l, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(l, 16) != 0 ||
        getsockname(l, (struct sockaddr*)&addr, &len) != 0) {
        perror("listener");
        return 1;
    }
    int failures = 0;
    for (int round = 0; round < rounds; round++) {
        pid_t server = fork();
        if (server == 0) serve(l);
        // The server is in accept (or about to be: the listener queues the connection anyway).
        if (exchange(&addr) != 0) {
            printf("round %d: no connection before the fault\n", round + 1);
            return 1;
        }
        int status;
        waitpid(server, &status, 0);
        server = fork();
        if (server == 0) serve(l);
        long long t0 = now_ns();
        if (inject("inject net panic\n") != 0) {
            perror("inject net panic (/proc/domctl)");
            return 1;
        }
        long long t1 = 0;
        while (now_ns() - t0 < 60000000000ll) {
            if (exchange(&addr) == 0) {
                t1 = now_ns();
                break;
            }
            struct timespec pause = {0, 1000000};  // 1 ms between attempts while the stack restarts
            nanosleep(&pause, NULL);
        }
        waitpid(server, &status, 0);
        if (!t1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("round %d: no accepted connection within 60 s of the fault\n", round + 1);
            failures++;
            continue;
        }
        printf("net fault to next accepted connection: %lld ms\n", (t1 - t0) / 1000000);
    }
    return failures != 0;
}
