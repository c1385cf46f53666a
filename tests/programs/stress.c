// Random system calls with random arguments (issue 6, "Bad input"): the kernel must answer each
// with a result or an errno and keep running. Each round forks a child that closes its standard
// descriptors (so the console's settings are never touched), moves into a scratch directory and
// issues random calls: numbers 0-335 and a few beyond, arguments that are small integers, -1,
// huge values, kernel addresses, or pointers into a buffer of random bytes. Calls that would
// end or stall the experiment rather than exercise the kernel are left out (reboot, kill and
// friends, fork-like calls, exit, pause-like waits). The parent kills a child that is still
// running after its time (a random blocking call), reaps it, and prints one line per round.
//
// The socket, epoll and eventfd calls get a quarter of the calls, with a socket pair, a
// listening AF_UNIX socket, an epoll descriptor and an eventfd open as descriptors 3-7, and
// AF_INET ones (through the network stack domain) as 8-12: a TCP listener on 127.0.0.1, both
// ends of a TCP connection to it, a bound UDP socket and an ICMP datagram (ping) socket where
// the kernel has them (Lamina does not yet), for the small-integer arguments to hit. Then a
// timerfd (13) and a file with a record and a flock lock (14), and a POSIX timer (id 0); the
// timer and lock calls are among the quarter too.
//
// With PROCS above 1, that many workers run their rounds at the same time (each its own seeds),
// so that the calls race each other on both CPUs; the parent adds their tallies up.
//
//   stress [ROUNDS [CALLS [SEED [PROCS]]]]
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t state;

static uint64_t next(void) {  // xorshift64*
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ull;
}

static unsigned char scratch[8192];

static long random_arg(void) {
    switch (next() % 8) {
        case 0:
            return (long)(next() % 64);
        case 1:
            return -1;
        case 2:
            return (long)next();
        case 3:
            return (long)0xffff800000000000ull + (long)(next() % 0x100000);  // the kernel's half
        case 4:
        case 5:
            return (long)(scratch + next() % sizeof scratch);
        case 6:
            return (long)(next() % 4096);  // the null page
        default:
            return (long)(next() & 0xffffffff);
    }
}

static int refused(long nr) {
    switch (nr) {
        case SYS_reboot:
        case SYS_kill:
        case SYS_tkill:
        case SYS_tgkill:
        case SYS_rt_sigqueueinfo:
        case SYS_fork:
        case SYS_vfork:
        case SYS_clone:
        case SYS_clone3:
        case SYS_execve:
        case SYS_execveat:
        case SYS_exit:
        case SYS_exit_group:
        case SYS_pause:
        case SYS_rt_sigsuspend:
        case SYS_rt_sigreturn:
        case SYS_vhangup:
            return 1;
        default:
            return 0;
    }
}

// The calls on sockets and readiness objects.
static const long object_calls[] = {
    SYS_socket,
    SYS_socketpair,
    SYS_bind,
    SYS_listen,
    SYS_accept,
    SYS_accept4,
    SYS_connect,
    SYS_sendto,
    SYS_recvfrom,
    SYS_sendmsg,
    SYS_recvmsg,
    SYS_shutdown,
    SYS_getsockname,
    SYS_getpeername,
    SYS_setsockopt,
    SYS_getsockopt,
    SYS_epoll_create,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_wait,
    SYS_epoll_pwait,
    SYS_eventfd,
    SYS_eventfd2,
    SYS_read,
    SYS_write,
    SYS_poll,
    SYS_sendfile,
    SYS_ioctl,
    SYS_readv,
    SYS_writev,
    SYS_fcntl,
    SYS_select,
    SYS_ppoll,
    SYS_timerfd_create,
    SYS_timerfd_settime,
    SYS_timerfd_gettime,
    SYS_timer_create,
    SYS_timer_settime,
    SYS_timer_gettime,
    SYS_timer_getoverrun,
    SYS_timer_delete,
    SYS_flock,
    SYS_times,
    SYS_getrusage,
};

// Descriptors 8-12 (see the top). A failed call leaves a gap: the next takes the number.
static void open_inet_sockets(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = {htonl(INADDR_LOOPBACK)}};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    bind(l, (struct sockaddr*)&a, sizeof a);
    listen(l, 4);
    getsockname(l, (struct sockaddr*)&a, &len);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr*)&a, sizeof a);
    accept4(l, NULL, NULL, SOCK_NONBLOCK);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    a.sin_port = 0;
    bind(u, (struct sockaddr*)&a, sizeof a);
    socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
}

// Where a worker keeps its end of the tally pipe (see main), out of the children's reach.
#define TALLY_FD 100

static void child(int calls) {
    for (int fd = 0; fd < 3; fd++) close(fd);
    close(TALLY_FD);
    open("/dev/null", O_RDWR);
    dup(0);
    dup(0);
    mkdir("/tmp/stress", 0777);
    if (chdir("/tmp/stress") != 0) _exit(2);
    for (size_t i = 0; i < sizeof scratch; i++) scratch[i] = (unsigned char)next();
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int l = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un_short {
        unsigned short family;
        char path[8];
    } name = {AF_UNIX, "\0stress"};
    bind(l, (struct sockaddr*)&name, sizeof name);
    epoll_create1(0);
    eventfd(1, 0);
    open_inet_sockets();
    timerfd_create(CLOCK_MONOTONIC, 0);
    int locked = open("locked", O_RDWR | O_CREAT, 0600);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    fcntl(locked, F_SETLK, &fl);
    flock(locked, LOCK_SH);
    struct sigevent quiet = {.sigev_notify = SIGEV_NONE};
    timer_t timer;
    timer_create(CLOCK_MONOTONIC, &quiet, &timer);
    for (int i = 0; i < calls; i++) {
        long nr = next() % 4 == 0 ? object_calls[next() % (sizeof object_calls / sizeof object_calls[0])]
                                  : (long)(next() % 340);
        if (refused(nr)) continue;
        syscall(nr, random_arg(), random_arg(), random_arg(), random_arg(), random_arg(), random_arg());
        // Refresh a little of the scratch buffer: calls write into it.
        scratch[next() % sizeof scratch] = (unsigned char)next();
    }
    _exit(0);
}

struct tally {
    int finished, signalled, killed;
};

// ROUNDS rounds of CALLS calls, each round in a child of its own.
static struct tally run_rounds(int rounds, int calls, uint64_t seed) {
    struct tally t = {0, 0, 0};
    for (int r = 0; r < rounds; r++) {
        state = seed + (uint64_t)r * 0x9e3779b97f4a7c15ull;
        if (!state) state = 1;
        pid_t pid = fork();
        if (pid < 0) {
            printf("stress: fork failed\n");
            exit(1);
        }
        if (pid == 0) child(calls);
        int status = 0;
        int waited = 0;
        for (int i = 0; i < 200; i++) {  // 2 s
            if (waitpid(pid, &status, WNOHANG) == pid) {
                waited = 1;
                break;
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (!waited) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            t.killed++;
        } else if (WIFSIGNALED(status)) {
            t.signalled++;
        } else {
            t.finished++;
        }
        // Children that became session leaders or changed groups are still reaped above.
    }
    return t;
}

int main(int argc, char** argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    int calls = argc > 2 ? atoi(argv[2]) : 2000;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 0) : 0x5eed;
    int procs = argc > 4 ? atoi(argv[4]) : 1;
    if (rounds < 1 || calls < 1 || procs < 1 || procs > 64) {
        printf("usage: stress [ROUNDS [CALLS [SEED [PROCS]]]] (positive; PROCS at most 64)\n");
        return 2;
    }
    struct tally total = {0, 0, 0};
    if (procs == 1) {
        total = run_rounds(rounds, calls, seed);
        // Grandchildren cannot exist (no fork-like calls), so everything is reaped.
        printf("stress: %d rounds of %d calls: %d finished, %d ended by a signal, %d killed after 2 s\n", rounds, calls,
               total.finished, total.signalled, total.killed);
        printf("stress: the kernel is still running\n");
        return 0;
    }
    // PROCS workers at once (the scheduler spreads them over the CPUs), each with its own seeds,
    // each sending its tally back through a pipe when its rounds are done.
    int tallies[2];
    if (pipe(tallies) != 0) {
        printf("stress: pipe failed\n");
        return 1;
    }
    for (int w = 0; w < procs; w++) {
        pid_t pid = fork();
        if (pid < 0) {
            printf("stress: fork failed\n");
            return 1;
        }
        if (pid == 0) {
            close(tallies[0]);
            if (dup2(tallies[1], TALLY_FD) != TALLY_FD) _exit(1);
            close(tallies[1]);
            struct tally t = run_rounds(rounds, calls, seed + (uint64_t)(w + 1) * 0x2545f4914f6cdd1dull);
            _exit(write(TALLY_FD, &t, sizeof t) == (ssize_t)sizeof t ? 0 : 1);
        }
    }
    close(tallies[1]);
    int reported = 0;
    struct tally t;
    while (read(tallies[0], &t, sizeof t) == (ssize_t)sizeof t) {
        total.finished += t.finished;
        total.signalled += t.signalled;
        total.killed += t.killed;
        reported++;
    }
    int clean = 0, status;
    while (wait(&status) > 0)
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) clean++;
    printf("stress: %d processes x %d rounds of %d calls: %d finished, %d ended by a signal, %d killed after 2 s\n",
           procs, rounds, calls, total.finished, total.signalled, total.killed);
    if (reported != procs || clean != procs) {
        printf("stress: only %d of %d workers reported (%d exited cleanly)\n", reported, procs, clean);
        return 1;
    }
    printf("stress: the kernel is still running\n");
    return 0;
}
