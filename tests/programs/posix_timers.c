// timerfd and POSIX timers, CPU-time clocks, times and getrusage. Timing checks are one-sided
// ("at least", "not before"), so a loaded machine cannot turn them.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/times.h>
#include <stdint.h>
#include <time.h>
#include "proc_test.h"

static int64_t ns_of(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct itimerspec after_ms(long first, long every) {
    struct itimerspec s = {{every / 1000, (every % 1000) * 1000000}, {first / 1000, (first % 1000) * 1000000}};
    return s;
}

static const char* yes(int c) { return c ? "yes" : "no"; }

static void timerfds(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    struct itimerspec s = after_ms(20, 0), now;
    int64_t start = ns_of(CLOCK_MONOTONIC);
    CHECK(timerfd_settime(fd, 0, &s, NULL) == 0);
    uint64_t n = 0;
    CHECK(read(fd, &n, sizeof n) == 8);
    printf("timerfd one-shot: %llu, not early: %s\n", (unsigned long long)n,
           yes(ns_of(CLOCK_MONOTONIC) - start >= 20000000));
    CHECK(timerfd_gettime(fd, &now) == 0);
    printf("disarmed after: %s\n", yes(now.it_value.tv_sec == 0 && now.it_value.tv_nsec == 0));

    // Periodic: the expirations add up while nobody reads.
    s = after_ms(10, 10);
    CHECK(timerfd_settime(fd, 0, &s, NULL) == 0);
    usleep(100 * 1000);
    CHECK(read(fd, &n, sizeof n) == 8);
    printf("periodic: at least 5 expirations in 100 ms: %s\n", yes(n >= 5));
    CHECK(timerfd_gettime(fd, &now) == 0);
    printf("interval %ld.%09ld, value at most 10 ms: %s\n", (long)now.it_interval.tv_sec, now.it_interval.tv_nsec,
           yes(now.it_value.tv_sec == 0 && now.it_value.tv_nsec <= 10000000));

    // settime clears the count; a far expiry leaves nothing to read.
    usleep(30 * 1000);
    struct itimerspec far = after_ms(10000, 0), old;
    CHECK(timerfd_settime(fd, 0, &far, &old) == 0);
    printf("old interval 10 ms: %s\n", yes(old.it_interval.tv_sec == 0 && old.it_interval.tv_nsec == 10000000));
    CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
    errno = 0;
    printf("cleared by settime: %s\n", yes(read(fd, &n, sizeof n) == -1 && errno == EAGAIN));
    CHECK(timerfd_gettime(fd, &now) == 0);
    printf("left of 10 s: 9.x s: %s\n", yes(now.it_value.tv_sec == 9));

    // poll and epoll see it readable once it expired.
    struct pollfd p = {fd, POLLIN, 0};
    printf("poll before: %d\n", poll(&p, 1, 0));
    s = after_ms(20, 0);
    CHECK(timerfd_settime(fd, 0, &s, NULL) == 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, got;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
    int r = epoll_wait(ep, &got, 1, 10000);
    printf("epoll: %d, data %u\n", r, got.data.u32);
    r = poll(&p, 1, 0);
    printf("poll after: %d revents %s\n", r, p.revents == POLLIN ? "POLLIN" : "other");
    CHECK(read(fd, &n, sizeof n) == 8);
    printf("read %llu; poll after the read: %d\n", (unsigned long long)n, poll(&p, 1, 0));
    close(ep);

    // Absolute, on the realtime clock.
    int rt = timerfd_create(CLOCK_REALTIME, 0);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    struct itimerspec at = {{0, 0}, wall};
    at.it_value.tv_nsec += 30000000;
    if (at.it_value.tv_nsec >= 1000000000) {
        at.it_value.tv_sec++;
        at.it_value.tv_nsec -= 1000000000;
    }
    CHECK(timerfd_settime(rt, TFD_TIMER_ABSTIME, &at, NULL) == 0);
    CHECK(read(rt, &n, sizeof n) == 8);
    struct timespec after;
    clock_gettime(CLOCK_REALTIME, &after);
    printf("absolute realtime: %llu, not early: %s\n", (unsigned long long)n,
           yes(after.tv_sec > at.it_value.tv_sec ||
               (after.tv_sec == at.it_value.tv_sec && after.tv_nsec >= at.it_value.tv_nsec)));
    // An absolute time already past fires at once.
    at.it_value.tv_sec -= 10;
    CHECK(timerfd_settime(rt, TFD_TIMER_ABSTIME, &at, NULL) == 0);
    CHECK(read(rt, &n, sizeof n) == 8);
    printf("absolute in the past: %llu\n", (unsigned long long)n);

    // Errors.
    uint32_t small;
    errno = 0;
    printf("short read: %s\n", yes(read(fd, &small, sizeof small) == -1 && errno == EINVAL));
    errno = 0;
    printf("bad clock: %s\n", yes(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0) == -1 && errno == EINVAL));
    errno = 0;
    printf("bad flags: %s\n", yes(timerfd_create(CLOCK_MONOTONIC, 1) == -1 && errno == EINVAL));
    errno = 0;
    printf("bad settime flags: %s\n", yes(timerfd_settime(fd, 4, &s, NULL) == -1 && errno == EINVAL));
    struct itimerspec bad = {{0, 0}, {0, 1000000000}};
    errno = 0;
    printf("bad nsec: %s\n", yes(timerfd_settime(fd, 0, &bad, NULL) == -1 && errno == EINVAL));
    errno = 0;
    printf("not a timerfd: %s\n", yes(timerfd_settime(1, 0, &s, NULL) == -1 && errno == EINVAL));
    errno = 0;
    printf("closed fd: %s\n", yes(timerfd_gettime(99, &now) == -1 && errno == EBADF));
    close(rt);
    close(fd);
}

static volatile sig_atomic_t fired, fired_code, fired_value, fired_overrun;

static void on_timer(int sig, siginfo_t* info, void* uc) {
    (void)sig;
    (void)uc;
    fired++;
    fired_code = info->si_code;
    fired_value = info->si_value.sival_int;
    fired_overrun = info->si_overrun;
}

static volatile int thread_ran;

// num_threads, the 20th field of /proc/self/stat.
static int thread_count(void) {
    char buf[512];
    int fd = open("/proc/self/stat", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char* p = strrchr(buf, ')');
    for (int field = 2; p && field < 20; field++) p = strchr(p + 1, ' ');
    return p ? atoi(p + 1) : -1;
}
static void in_thread(union sigval v) { thread_ran = v.sival_int; }

static void posix_timers(void) {
    struct sigaction sa = {0};
    sa.sa_sigaction = on_timer;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

    // SIGEV_SIGNAL, one-shot.
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 42;
    timer_t t;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0);
    struct itimerspec s = after_ms(20, 0), now;
    CHECK(timer_settime(t, 0, &s, NULL) == 0);
    while (!fired) pause();
    printf("SIGEV_SIGNAL: fired %d, SI_TIMER %s, value %d, overrun %d\n", (int)fired, yes(fired_code == SI_TIMER),
           (int)fired_value, (int)fired_overrun);
    CHECK(timer_gettime(t, &now) == 0);
    printf("one-shot disarmed: %s\n", yes(now.it_value.tv_sec == 0 && now.it_value.tv_nsec == 0));

    // Overruns: the signal is blocked while a 5 ms timer runs for 100 ms.
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    CHECK(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0);
    s = after_ms(5, 5);
    CHECK(timer_settime(t, 0, &s, NULL) == 0);
    usleep(100 * 1000);
    siginfo_t info;
    CHECK(sigwaitinfo(&usr1, &info) == SIGUSR1);
    int over = timer_getoverrun(t);
    printf("sigwaitinfo: SI_TIMER %s, value %d, overrun at least 5: %s, getoverrun agrees: %s\n",
           yes(info.si_code == SI_TIMER), info.si_value.sival_int, yes(info.si_overrun >= 5),
           yes(over == info.si_overrun));
    struct itimerspec off = {{0, 0}, {0, 0}}, old;
    CHECK(timer_settime(t, 0, &off, &old) == 0);
    printf("old interval 5 ms: %s\n", yes(old.it_interval.tv_sec == 0 && old.it_interval.tv_nsec == 5000000));
    while (sigtimedwait(&usr1, &info, &(struct timespec){0, 0}) == SIGUSR1) {
    }
    CHECK(sigprocmask(SIG_UNBLOCK, &usr1, NULL) == 0);

    // Absolute on the monotonic clock; gettime counts down.
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    struct itimerspec at = {{0, 0}, {mono.tv_sec + 10, mono.tv_nsec}};
    CHECK(timer_settime(t, TIMER_ABSTIME, &at, NULL) == 0);
    CHECK(timer_gettime(t, &now) == 0);
    printf("absolute +10 s reads 9.x s: %s\n", yes(now.it_value.tv_sec == 9));
    CHECK(timer_delete(t) == 0);
    errno = 0;
    printf("deleted: %s\n", yes(timer_gettime(t, &now) == -1 && errno == EINVAL));

    // SIGEV_NONE: nothing is delivered, the timer still counts down.
    sev.sigev_notify = SIGEV_NONE;
    timer_t quiet;
    CHECK(timer_create(CLOCK_REALTIME, &sev, &quiet) == 0);
    s = after_ms(5000, 0);
    fired = 0;
    CHECK(timer_settime(quiet, 0, &s, NULL) == 0);
    usleep(20 * 1000);
    CHECK(timer_gettime(quiet, &now) == 0);
    printf("SIGEV_NONE counts down: %s, nothing fired: %s\n",
           yes(now.it_value.tv_sec == 4 || (now.it_value.tv_sec == 5 && now.it_value.tv_nsec == 0)), yes(fired == 0));

    // A fork child has no timers; the parent's stay.
    pid_t pid = fork();
    if (pid == 0) _exit(timer_gettime(quiet, &now) == -1 && errno == EINVAL ? 0 : 1);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("fork child without timers: %s; parent's still there: %s\n", describe(status),
           yes(timer_gettime(quiet, &now) == 0));
    CHECK(timer_delete(quiet) == 0);

    // SIGEV_THREAD (musl: a thread that takes SIGEV_THREAD_ID signals).
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = in_thread;
    sev.sigev_notify_attributes = NULL;
    sev.sigev_value.sival_int = 7;
    timer_t threaded;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &threaded) == 0);
    s = after_ms(10, 0);
    CHECK(timer_settime(threaded, 0, &s, NULL) == 0);
    for (int i = 0; i < 1000 && !thread_ran; i++) usleep(10 * 1000);
    printf("SIGEV_THREAD ran with value %d\n", thread_ran);
    CHECK(timer_delete(threaded) == 0);
    int threads = 0;
    for (int i = 0; i < 500 && (threads = thread_count()) != 1; i++) usleep(10 * 1000);
    printf("its thread ends with the timer: %s\n", yes(threads == 1));

    // Errors.
    errno = 0;
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = 0;
    printf("signal 0: %s\n", yes(timer_create(CLOCK_MONOTONIC, &sev, &t) == -1 && errno == EINVAL));
    sev.sigev_signo = SIGUSR1;
    errno = 0;
    printf("bad clock: %s\n", yes(timer_create(99, &sev, &t) == -1 && errno == EINVAL));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_notify_thread_id = 999999;
    errno = 0;
    printf("foreign thread: %s\n", yes(timer_create(CLOCK_MONOTONIC, &sev, &t) == -1 && errno == EINVAL));
}

// Until the calling thread has had ms of CPU time.
static void spin_cpu_ms(long ms) {
    int64_t start = ns_of(CLOCK_THREAD_CPUTIME_ID);
    while (ns_of(CLOCK_THREAD_CPUTIME_ID) - start < ms * 1000000) {
    }
}

static int64_t rusage_ns(int who) {
    struct rusage ru;
    CHECK(getrusage(who, &ru) == 0);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void cpu_time(void) {
    int64_t process0 = ns_of(CLOCK_PROCESS_CPUTIME_ID), wall0 = ns_of(CLOCK_MONOTONIC);
    spin_cpu_ms(80);
    int64_t process = ns_of(CLOCK_PROCESS_CPUTIME_ID) - process0, wall = ns_of(CLOCK_MONOTONIC) - wall0;
    printf("process CPU clock ran 80 ms: %s, no faster than the wall: %s\n", yes(process >= 80000000),
           yes(process <= wall + 1000000));
    printf("getrusage(SELF) at least 60 ms: %s, THREAD: %s\n", yes(rusage_ns(RUSAGE_SELF) >= 60000000),
           yes(rusage_ns(RUSAGE_THREAD) >= 50000000));
    struct tms t;
    clock_t ticks = times(&t);
    printf("times: at least 6 ticks: %s, counts up: %s\n", yes(t.tms_utime + t.tms_stime >= 6),
           yes(ticks != (clock_t)-1));
    int64_t before = ns_of(CLOCK_PROCESS_CPUTIME_ID);
    usleep(100 * 1000);
    printf("a sleep costs no CPU time: %s\n", yes(ns_of(CLOCK_PROCESS_CPUTIME_ID) - before < 50000000));

    int64_t children0 = rusage_ns(RUSAGE_CHILDREN);
    clock_t cticks0 = t.tms_cutime + t.tms_cstime;
    pid_t pid = fork();
    if (pid == 0) {
        spin_cpu_ms(80);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    times(&t);
    printf("children after: at least 80 ms: %s, times: %s\n", yes(rusage_ns(RUSAGE_CHILDREN) - children0 >= 80000000),
           yes(t.tms_cutime + t.tms_cstime - cticks0 >= 6));
    errno = 0;
    printf("bad who: %s\n", yes(getrusage(5, &(struct rusage){0}) == -1 && errno == EINVAL));
    struct timespec res;
    printf("CPU clock resolution: %s\n", yes(clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res) == 0 && res.tv_sec == 0));
}

int main(void) {
    unbuffered();
    timerfds();
    posix_timers();
    cpu_time();
    return finish();
}
