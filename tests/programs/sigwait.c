// rt_sigtimedwait: taking blocked signals synchronously (what busybox init's main loop does).
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);

    siginfo_t info;
    raise(SIGUSR1);
    int s = sigtimedwait(&set, &info, NULL);
    printf("pending: %s, from self: %d\n", s == SIGUSR1 ? "SIGUSR1" : "?", info.si_pid == getpid());
    sigset_t pending;
    sigpending(&pending);
    printf("still pending afterwards: %d\n", sigismember(&pending, SIGUSR1));

    struct timespec zero = {0, 0}, short_wait = {0, 50 * 1000 * 1000}, bad = {0, 1000 * 1000 * 1000};
    s = sigtimedwait(&set, &info, &zero);
    printf("zero timeout: %d %s\n", s, s < 0 ? strerror(errno) : "");
    s = sigtimedwait(&set, &info, &short_wait);
    printf("50 ms timeout: %d %s\n", s, s < 0 ? strerror(errno) : "");
    s = sigtimedwait(&set, &info, &bad);
    printf("bad timeout: %d %s\n", s, s < 0 ? strerror(errno) : "");

    pid_t child = fork();
    if (child == 0) {
        struct timespec t = {0, 100 * 1000 * 1000};
        nanosleep(&t, NULL);
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    struct timespec five = {5, 0};
    s = sigtimedwait(&set, &info, &five);
    printf("from the child: %s, sender is the child: %d\n", s == SIGUSR2 ? "SIGUSR2" : "?", info.si_pid == child);
    waitpid(child, NULL, 0);
    return 0;
}
