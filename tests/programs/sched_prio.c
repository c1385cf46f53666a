// Priorities and scheduling policy: getpriority/setpriority (relative to the nice value the
// program starts with, which the host's test runner may have changed), their permission rules
// as another user, sched_setaffinity's, the policy calls, and kill of a process group that
// holds only zombies.
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "proc_test.h"

static const char* err(int r) { return r == 0 ? "ok" : strerror(errno); }

static int as_nobody(void) {
    pid_t parent = getppid();
    if (setgid(65534) != 0 || setuid(65534) != 0) return 9;
    int base = getpriority(PRIO_PROCESS, 0);
    printf("nobody: raise own nice: %s\n", err(setpriority(PRIO_PROCESS, 0, base + 1)));
    printf("nobody: lower it again: %s\n", err(setpriority(PRIO_PROCESS, 0, base)));
    printf("nobody: another user's process: %s\n", err(setpriority(PRIO_PROCESS, parent, base + 2)));
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    printf("nobody: own affinity: %s\n", err(sched_setaffinity(0, sizeof set, &set)));
    printf("nobody: another user's affinity: %s\n", err(sched_setaffinity(parent, sizeof set, &set)));
    return 0;
}

int main(void) {
    unbuffered();
    // Root starts from nice 0, whatever the host's runner was given.
    CHECK(setpriority(PRIO_PROCESS, 0, 0) == 0);
    int base = getpriority(PRIO_PROCESS, 0);
    const char* r = err(setpriority(PRIO_PROCESS, 0, base + 5));
    printf("setpriority +5: %s, reads back: %s\n", r, getpriority(PRIO_PROCESS, getpid()) == base + 5 ? "yes" : "no");
    pid_t pid = fork();
    if (pid == 0) _exit(getpriority(PRIO_PROCESS, 0) == base + 5 ? 0 : 1);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("a child inherits it: %s\n", describe(status));
    r = err(setpriority(PRIO_PROCESS, 0, base));
    printf("root lowers it back: %s, reads back: %s\n", r, getpriority(PRIO_PROCESS, 0) == base ? "yes" : "no");
    printf("process group: %s\n", getpriority(PRIO_PGRP, 0) <= base ? "yes" : "no");
    printf("clamped at 19: %s\n",
           setpriority(PRIO_PROCESS, 0, 100) == 0 && getpriority(PRIO_PROCESS, 0) == 19 ? "yes" : "no");
    CHECK(setpriority(PRIO_PROCESS, 0, base) == 0);
    errno = 0;
    printf("bad which: %s\n", getpriority(7, 0) == -1 && errno == EINVAL ? "EINVAL" : "other");
    errno = 0;
    printf("no such process: %s\n", getpriority(PRIO_PROCESS, 999999) == -1 && errno == ESRCH ? "ESRCH" : "other");

    pid = fork();
    if (pid == 0) _exit(as_nobody());
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("nobody's child: %s\n", describe(status));

    printf("FIFO %d..%d, RR %d..%d, OTHER %d..%d\n", sched_get_priority_min(SCHED_FIFO),
           sched_get_priority_max(SCHED_FIFO), sched_get_priority_min(SCHED_RR), sched_get_priority_max(SCHED_RR),
           sched_get_priority_min(SCHED_OTHER), sched_get_priority_max(SCHED_OTHER));
    errno = 0;
    printf("bad policy: %s\n", sched_get_priority_max(42) == -1 && errno == EINVAL ? "EINVAL" : "other");
    // musl's wrappers of these say ENOSYS on purpose: the system calls themselves.
    struct sched_param sp = {.sched_priority = 5};
    printf("policy %ld, param %d\n", syscall(SYS_sched_getscheduler, 0),
           syscall(SYS_sched_getparam, 0, &sp) == 0 ? sp.sched_priority : -1);
    errno = 0;
    printf("policy of no process: %s\n",
           syscall(SYS_sched_getscheduler, 999999) == -1 && errno == ESRCH ? "ESRCH" : "other");

    // A process group of zombies still takes a signal (it changes nothing).
    pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        _exit(7);
    }
    setpgid(pid, pid);  // either side may win; both ask for the same
    siginfo_t info;
    CHECK(waitid(P_PID, pid, &info, WEXITED | WNOWAIT) == 0);
    printf("kill of a group of zombies: %s\n", err(kill(-pid, SIGTERM)));
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("the zombie: %s\n", describe(status));
    errno = 0;
    printf("the group once reaped: %s\n", kill(-pid, SIGTERM) == -1 && errno == ESRCH ? "ESRCH" : "other");
    return finish();
}
