// Identity, limits and futex: uid/gid calls answer as root and keep what root sets; the
// resource limits round-trip and are checked; futex WAIT returns EAGAIN on a changed word and
// ETIMEDOUT after its timeout, WAKE counts waiters, and a child wakes nothing of ours. The calls
// nginx's master and workers make besides: prctl(PR_SET_DUMPABLE), sched_getaffinity, and
// FIOASYNC with F_SETOWN on a descriptor.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include "proc_test.h"

static long futex(uint32_t* addr, int op, uint32_t val, const struct timespec* ts) {
    return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

int main(void) {
    unbuffered();
    // The host may run the test as any user: print only what holds for every user.
    uid_t r, e, s;
    CHECK(getresuid(&r, &e, &s) == 0 && r == getuid() && e == geteuid());
    gid_t gr, ge, gs;
    CHECK(getresgid(&gr, &ge, &gs) == 0 && gr == getgid() && ge == getegid());
    CHECK(setuid(getuid()) == 0);
    CHECK(setgid(getgid()) == 0);
    CHECK(setresuid(-1, -1, -1) == 0);
    CHECK(getgroups(0, NULL) >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        // Only root may become someone else; afterwards it cannot come back.
        int root = geteuid() == 0;
        int ok = 1;
        if (root) {
            ok = setgid(1234) == 0 && getgid() == 1234 && setuid(1000) == 0 && getuid() == 1000 && geteuid() == 1000 &&
                 setuid(0) == -1 && errno == EPERM;
        } else {
            ok = setuid(0) == -1 && errno == EPERM;
        }
        _exit(ok ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("identity change in a child: %s\n", describe(status));

    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur <= rl.rlim_max);
    struct rlimit lower = {64, rl.rlim_max};
    CHECK(setrlimit(RLIMIT_NOFILE, &lower) == 0);
    struct rlimit back;
    CHECK(getrlimit(RLIMIT_NOFILE, &back) == 0 && back.rlim_cur == 64);
    pid = fork();
    if (pid == 0) {
        struct rlimit c;
        getrlimit(RLIMIT_NOFILE, &c);
        _exit(c.rlim_cur == 64 ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    printf("limits inherited: %s\n", describe(status));
    struct rlimit bad = {100, 50};
    CHECK(setrlimit(RLIMIT_NOFILE, &bad) == -1 && errno == EINVAL);
    CHECK(getrlimit(1000, &rl) == -1 && errno == EINVAL);
    struct rlimit old;
    CHECK(prlimit(0, RLIMIT_STACK, NULL, &old) == 0 && old.rlim_cur > 0);
    printf("rlimits ok\n");

    // As init (Lamina's test boots), default-action signals from others do not reach us.
    if (getpid() == 1) {
        pid_t k = fork();
        if (k == 0) _exit(kill(1, SIGTERM) == 0 && kill(1, SIGKILL) == 0 ? 0 : 1);
        waitpid(k, &status, 0);
        usleep(50 * 1000);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    CHECK(prctl(PR_GET_DUMPABLE) == 1);
    CHECK(prctl(PR_SET_DUMPABLE, 0) == 0 && prctl(PR_GET_DUMPABLE) == 0);
    pid = fork();
    if (pid == 0) _exit(prctl(PR_GET_DUMPABLE) == 0 ? 0 : 1);
    waitpid(pid, &status, 0);
    printf("dumpable inherited: %s\n", describe(status));
    CHECK(prctl(PR_SET_DUMPABLE, 2) == -1 && errno == EINVAL);
    CHECK(prctl(PR_SET_DUMPABLE, 1) == 0 && prctl(PR_GET_DUMPABLE) == 1);
    CHECK(prctl(0x7fff0000) == -1 && errno == EINVAL);
    // The host may have more than 64 CPUs: room for 1024.
    unsigned long mask[16] = {0};
    long got = syscall(SYS_sched_getaffinity, 0, sizeof mask, mask);
    CHECK(got > 0 && got % sizeof(long) == 0 && mask[0] != 0);
    CHECK(syscall(SYS_sched_getaffinity, getpid(), sizeof mask, mask) == got);
    CHECK(syscall(SYS_sched_getaffinity, 0, 7, mask) == -1 && errno == EINVAL);
    CHECK(syscall(SYS_sched_getaffinity, 0x7ffffff0, sizeof mask, mask) == -1 && errno == ESRCH);
    int channel[2];
    CHECK(pipe(channel) == 0);
    int on = 1;
    CHECK(fcntl(channel[0], F_GETOWN) == 0);
    // Nothing is written to the pipe: Linux would raise SIGIO, whose default ends the process.
    CHECK(ioctl(channel[0], FIOASYNC, &on) == 0 && fcntl(channel[0], F_SETOWN, getpid()) == 0);
    CHECK(fcntl(channel[0], F_GETOWN) == getpid() && (fcntl(channel[0], F_GETFL) & O_ASYNC));
    on = 0;
    CHECK(ioctl(channel[0], FIOASYNC, &on) == 0 && !(fcntl(channel[0], F_GETFL) & O_ASYNC));
    close(channel[0]);
    close(channel[1]);
    printf("prctl, affinity, async owner ok\n");

    static uint32_t word = 5;
    struct timespec ts = {0, 20 * 1000 * 1000};
    errno = 0;
    CHECK(futex(&word, FUTEX_WAIT_PRIVATE, 6, NULL) == -1 && errno == EAGAIN);
    errno = 0;
    CHECK(futex(&word, FUTEX_WAIT_PRIVATE, 5, &ts) == -1 && errno == ETIMEDOUT);
    CHECK(futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL) == 0);
    CHECK(futex((uint32_t*)((char*)&word + 1), FUTEX_WAKE, 1, NULL) == -1 && errno == EINVAL);
    CHECK(futex((uint32_t*)8, FUTEX_WAIT, 0, NULL) == -1 && errno == EFAULT);
    printf("futex ok\n");
    return finish();
}
