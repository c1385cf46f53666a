// The console tty, driven by tests/system/tty_test.cpp (Lamina only: the host harness gives its
// programs /dev/null as fd 0). Modes:
//   termios  ioctl round trips: TCGETS/TCSETS, TIOCGWINSZ/TIOCSWINSZ, TIOCSCTTY, TIOCGPGRP,
//            TIOCSPGRP, TIOCGSID, FIONREAD, isatty
//   lines    canonical reads, each printed as got [TEXT] until end of file
//   raw      non-canonical, no echo, VMIN=1 VTIME=0: each read printed in hex until 'q', then
//            VMIN=0 VTIME=0 (returns at once) and VMIN=0 VTIME=3 (0.3 s, then 0)
//   intr     takes the console as controlling tty, then waits in read (Ctrl-C ends it)
//   handler  as intr, with a SIGINT handler: prints "caught SIGINT" and read's EINTR
//   poll     poll and select on fd 0: a timeout with nothing typed, then readable once a whole
//            line is in (not before), FIONREAD counting it
#include <errno.h>
#include <poll.h>
#include <sys/select.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000ll + t.tv_nsec / 1000000;
}

static void take_console(void) {
    setsid();  // may fail (already a session leader): fine
    if (ioctl(0, TIOCSCTTY, 0) != 0) printf("TIOCSCTTY failed: errno %d\n", errno);
    if (tcsetpgrp(0, getpid()) != 0) printf("tcsetpgrp failed: errno %d\n", errno);
}

static int termios_checks(void) {
    int bad = 0;
#define CHECK(c)                        \
    do {                                \
        if (!(c)) {                     \
            printf("FAILED: %s\n", #c); \
            bad++;                      \
        }                               \
    } while (0)
    CHECK(isatty(0));
    struct termios t, u;
    CHECK(tcgetattr(0, &t) == 0);
    CHECK(t.c_lflag & ICANON);
    CHECK(t.c_lflag & ECHO);
    CHECK(t.c_lflag & ISIG);
    CHECK(t.c_oflag & OPOST);
    CHECK(t.c_oflag & ONLCR);
    CHECK(t.c_iflag & ICRNL);
    CHECK(t.c_cc[VINTR] == 3 && t.c_cc[VERASE] == 127 && t.c_cc[VEOF] == 4 && t.c_cc[VKILL] == 21);
    u = t;
    u.c_lflag &= ~(ICANON | ECHO);
    u.c_cc[VMIN] = 5;
    u.c_cc[VTIME] = 7;
    CHECK(tcsetattr(0, TCSANOW, &u) == 0);
    struct termios v;
    CHECK(tcgetattr(0, &v) == 0);
    CHECK(!(v.c_lflag & ICANON) && !(v.c_lflag & ECHO) && v.c_cc[VMIN] == 5 && v.c_cc[VTIME] == 7);
    CHECK(tcsetattr(0, TCSADRAIN, &t) == 0);
    CHECK(tcsetattr(0, TCSAFLUSH, &t) == 0);
    CHECK(tcgetattr(0, &v) == 0);
    CHECK(v.c_lflag == t.c_lflag && v.c_iflag == t.c_iflag && v.c_oflag == t.c_oflag);
    struct winsize ws;
    CHECK(ioctl(0, TIOCGWINSZ, &ws) == 0);
    CHECK(ws.ws_row == 24 && ws.ws_col == 80);
    struct winsize big = {50, 132, 0, 0};
    CHECK(ioctl(1, TIOCSWINSZ, &big) == 0);
    CHECK(ioctl(2, TIOCGWINSZ, &ws) == 0);
    CHECK(ws.ws_row == 50 && ws.ws_col == 132);
    big.ws_row = 24;
    big.ws_col = 80;
    CHECK(ioctl(0, TIOCSWINSZ, &big) == 0);
    take_console();
    CHECK(tcgetpgrp(0) == getpid());  // a session leader after take_console
    CHECK(tcgetsid(0) == getpid());
    CHECK(tcsetpgrp(0, 999999) == -1 && errno == ESRCH);
    CHECK(tcsetpgrp(0, -1) == -1 && errno == EINVAL);
    CHECK(tcgetpgrp(0) == getpid());
    int n = -1;
    CHECK(ioctl(0, FIONREAD, &n) == 0 && n == 0);
    CHECK(ioctl(0, TIOCGWINSZ, (void*)8) == -1 && errno == EFAULT);
    CHECK(ioctl(0, 0x5499, 0) == -1 && errno == ENOTTY);
    CHECK(tcflush(0, TCIFLUSH) == 0);
    CHECK(tcdrain(1) == 0);
    printf("termios checks: %d failed\n", bad);
    return bad != 0;
}

static int lines(void) {
    char buf[256];
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf - 1);
        if (n < 0) {
            printf("read error %d\n", errno);
            return 1;
        }
        if (n == 0) {
            printf("eof\n");
            return 0;
        }
        buf[n] = 0;
        if (buf[n - 1] == '\n') buf[n - 1] = 0;
        printf("got [%s]\n", buf);
        fflush(stdout);
    }
}

static int raw(void) {
    struct termios t, saved;
    tcgetattr(0, &saved);
    t = saved;
    t.c_lflag &= ~(ICANON | ECHO | ISIG);
    t.c_iflag &= ~ICRNL;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(0, TCSANOW, &t);
    printf("raw ready\n");
    fflush(stdout);
    int done = 0;
    while (!done) {
        unsigned char buf[64];
        ssize_t n = read(0, buf, sizeof buf);
        if (n <= 0) {
            printf("read returned %zd\n", n);
            break;
        }
        printf("bytes:");
        for (ssize_t i = 0; i < n; i++) {
            printf(" %02x", buf[i]);
            if (buf[i] == 'q') done = 1;
        }
        printf("\n");
        fflush(stdout);
    }
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    tcsetattr(0, TCSANOW, &t);
    char c;
    long long t0 = now_ms();
    ssize_t n = read(0, &c, 1);
    printf("vmin 0 vtime 0: %zd after %s\n", n, now_ms() - t0 < 200 ? "no wait" : "a wait");
    t.c_cc[VTIME] = 3;
    tcsetattr(0, TCSANOW, &t);
    t0 = now_ms();
    n = read(0, &c, 1);
    long long waited = now_ms() - t0;
    printf("vmin 0 vtime 3: %zd after %s\n", n, waited >= 250 ? "the timeout" : "too short a wait");
    tcsetattr(0, TCSANOW, &saved);
    printf("raw done\n");
    return 0;
}

static volatile sig_atomic_t caught;
static void on_sigint(int sig) {
    (void)sig;
    caught = 1;
}

static int intr(int with_handler) {
    if (with_handler) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigaction(SIGINT, &sa, NULL);
    }
    take_console();
    printf("waiting for ^C\n");
    fflush(stdout);
    char buf[64];
    ssize_t n = read(0, buf, sizeof buf);
    int e = errno;
    if (caught) printf("caught SIGINT\n");
    printf("read returned %zd (%s)\n", n, n < 0 && e == EINTR ? "EINTR" : "no EINTR");
    return caught ? 0 : 1;
}

static int poll_tty(void) {
    struct pollfd p = {0, POLLIN, 0};
    int r = poll(&p, 1, 100);
    printf("poll with nothing typed: %d revents %#x\n", r, p.revents);
    printf("type a line\n");
    fflush(stdout);
    r = poll(&p, 1, -1);
    int n = -1;
    ioctl(0, FIONREAD, &n);
    printf("poll: %d revents %#x FIONREAD %d\n", r, p.revents, n);
    char buf[64];
    ssize_t got = read(0, buf, sizeof buf);
    printf("read %zd\n", got);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(0, &rs);
    struct timeval tv = {0, 100000};
    r = select(1, &rs, NULL, NULL, &tv);
    printf("select with nothing typed: %d\n", r);
    printf("type another\n");
    fflush(stdout);
    FD_ZERO(&rs);
    FD_SET(0, &rs);
    r = select(1, &rs, NULL, NULL, NULL);
    printf("select: %d readable %d\n", r, FD_ISSET(0, &rs));
    got = read(0, buf, sizeof buf);
    printf("read %zd\n", got);
    return 0;
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "termios";
    if (!strcmp(mode, "termios")) return termios_checks();
    if (!strcmp(mode, "lines")) return lines();
    if (!strcmp(mode, "raw")) return raw();
    if (!strcmp(mode, "intr")) return intr(0);
    if (!strcmp(mode, "handler")) return intr(1);
    if (!strcmp(mode, "poll")) return poll_tty();
    printf("unknown mode %s\n", mode);
    return 2;
}
