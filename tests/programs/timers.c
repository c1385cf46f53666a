// Interval timers: alarm returns what was left and 0 disarms; setitimer(ITIMER_REAL) with an
// interval delivers SIGALRM (si_code SI_KERNEL) again and again; getitimer reads the time left;
// pause ends with EINTR; bad arguments are EINVAL; a fork child has no timer; an unhandled
// SIGALRM ends the process.
#include <signal.h>
#include <sys/time.h>
#include "proc_test.h"

static volatile sig_atomic_t ticks, last_code;

static void on_alarm(int sig, siginfo_t* info, void* uc) {
    (void)sig;
    (void)uc;
    ticks++;
    last_code = info->si_code;
}

int main(void) {
    unbuffered();
    struct sigaction sa = {0};
    sa.sa_sigaction = on_alarm;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);

    CHECK(alarm(0) == 0);
    CHECK(alarm(5) == 0);
    printf("alarm left: %u\n", alarm(0));
    struct itimerval now;
    CHECK(getitimer(ITIMER_REAL, &now) == 0);
    printf("after alarm(0): %ld.%06ld\n", (long)now.it_value.tv_sec, (long)now.it_value.tv_usec);

    // alarm(1) and pause: the handler runs and pause fails with EINTR.
    alarm(1);
    errno = 0;
    int r = pause();
    printf("pause: %d %s, ticks %d, si_code %s\n", r, errno == EINTR ? "EINTR" : "?", (int)ticks,
           last_code == SI_KERNEL ? "SI_KERNEL" : "other");

    // 20 ms, then every 20 ms: five ticks, then disarmed.
    ticks = 0;
    struct itimerval every = {{0, 20000}, {0, 20000}};
    CHECK(setitimer(ITIMER_REAL, &every, NULL) == 0);
    while (ticks < 5) pause();
    struct itimerval off = {{0, 0}, {0, 0}}, old;
    CHECK(setitimer(ITIMER_REAL, &off, &old) == 0);
    printf("five ticks; old interval %ld.%06ld, value at most 20 ms: %s\n", (long)old.it_interval.tv_sec,
           (long)old.it_interval.tv_usec, old.it_value.tv_sec == 0 && old.it_value.tv_usec <= 20000 ? "yes" : "no");
    int seen = ticks;
    usleep(100 * 1000);
    printf("no tick after disarming: %s\n", ticks == seen ? "yes" : "no");

    // Time left counts down from the value.
    struct itimerval ten = {{0, 0}, {10, 0}};
    CHECK(setitimer(ITIMER_REAL, &ten, NULL) == 0);
    usleep(50 * 1000);
    CHECK(getitimer(ITIMER_REAL, &now) == 0);
    printf("left of 10 s after 50 ms: 9.x s: %s\n",
           now.it_value.tv_sec == 9 && now.it_value.tv_usec > 0 ? "yes" : "no");

    // A fork child starts without a timer.
    pid_t pid = fork();
    if (pid == 0) {
        struct itimerval c;
        getitimer(ITIMER_REAL, &c);
        _exit(c.it_value.tv_sec == 0 && c.it_value.tv_usec == 0 ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("fork child without a timer: %s\n", describe(status));
    CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);

    errno = 0;
    struct itimerval bad = {{0, 0}, {0, 1000000}};
    CHECK(setitimer(ITIMER_REAL, &bad, NULL) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(setitimer(7, &ten, NULL) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(getitimer(ITIMER_REAL, (struct itimerval*)8) == -1 && errno == EFAULT);

    // Without a handler SIGALRM ends the process.
    pid = fork();
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        alarm(1);
        for (;;) pause();
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("unhandled alarm: %s\n", describe(status));
    return finish();
}
