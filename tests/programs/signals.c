// Signal handlers: plain and SA_SIGINFO (si_signo, si_code, si_pid), the handler's mask
// (sa_mask, the signal itself, SA_NODEFER), SA_RESETHAND, sigreturn restoring every register
// and the FPU state, sigprocmask blocking and sigpending, delivery on unblock, sigsuspend,
// sigaltstack, raise from a handler, ignored signals, rt_sigaction errors.
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include "proc_test.h"

static volatile int hits[65];
static volatile int last_code, last_pid, last_signo;
static volatile int nested_depth, max_depth, calls;
static volatile uintptr_t handler_stack;

static void plain(int sig) { hits[sig]++; }

static void info_handler(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    hits[sig]++;
    last_signo = si->si_signo;
    last_code = si->si_code;
    last_pid = si->si_pid;
}

static void mask_probe(int sig) {
    hits[sig]++;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    last_code = sigismember(&cur, SIGUSR1) * 1 + sigismember(&cur, SIGUSR2) * 2 + sigismember(&cur, SIGTERM) * 4;
}

static void recursive(int sig) {
    nested_depth++;
    calls++;
    if (nested_depth > max_depth) max_depth = nested_depth;
    if (calls < 3) raise(sig);  // blocked: runs after this one returns; NODEFER: nested
    nested_depth--;
}

static void on_altstack(int sig) {
    (void)sig;
    int local;
    handler_stack = (uintptr_t)&local;
}

// Clobbers every general register and an SSE register, so sigreturn has to restore them.
static void clobber(int sig) {
    (void)sig;
    __asm__ volatile(
        "mov $-1, %%rax; mov $-1, %%rbx; mov $-1, %%rcx; mov $-1, %%rdx; mov $-1, %%rsi; mov $-1, %%rdi;"
        "mov $-1, %%r8; mov $-1, %%r9; mov $-1, %%r10; mov $-1, %%r11; mov $-1, %%r12; mov $-1, %%r13;"
        "mov $-1, %%r14; mov $-1, %%r15; pcmpeqd %%xmm0, %%xmm0; pcmpeqd %%xmm7, %%xmm7" ::
            : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0",
              "xmm7", "memory");
}

static int install(int sig, void (*h)(int), int flags, int mask_sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (mask_sig) sigaddset(&sa.sa_mask, mask_sig);
    return sigaction(sig, &sa, NULL);
}

// Sends sig to ourselves with a raw kill system call while callee-saved and caller-saved
// registers hold known values, then checks them after the handler has run and returned.
static uint64_t reg_out[6];
static double fp_before = 3.25, fp_after;
static int kill_pid, kill_sig;

static int registers_survive(int sig) {
    kill_pid = getpid();
    kill_sig = sig;
    __asm__ volatile(
        "movq %[b], %%xmm7\n"
        "mov $0x1111, %%rbx\n mov $0x2222, %%r12\n mov $0x3333, %%r13\n mov $0x4444, %%r14\n"
        "mov $0x5555, %%r15\n mov $0x6666, %%r8\n"
        "mov $62, %%eax\n mov %[pid], %%edi\n mov %[sig], %%esi\n syscall\n"
        "mov %%rbx, %[o0]\n mov %%r12, %[o1]\n mov %%r13, %[o2]\n mov %%r14, %[o3]\n"
        "mov %%r15, %[o4]\n mov %%r8, %[o5]\n movq %%xmm7, %[a]\n"
        : [a] "=m"(fp_after), [o0] "=m"(reg_out[0]), [o1] "=m"(reg_out[1]), [o2] "=m"(reg_out[2]),
          [o3] "=m"(reg_out[3]), [o4] "=m"(reg_out[4]), [o5] "=m"(reg_out[5])
        : [pid] "m"(kill_pid), [sig] "m"(kill_sig), [b] "m"(fp_before)
        : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm7",
          "memory");
    return reg_out[0] == 0x1111 && reg_out[1] == 0x2222 && reg_out[2] == 0x3333 && reg_out[3] == 0x4444 &&
           reg_out[4] == 0x5555 && reg_out[5] == 0x6666 && fp_after == 3.25;
}

int main(void) {
    unbuffered();
    // Plain handler, delivered before kill returns.
    CHECK(install(SIGUSR1, plain, 0, 0) == 0);
    kill(getpid(), SIGUSR1);
    printf("USR1 handled %d time(s)\n", hits[SIGUSR1]);

    // SA_SIGINFO: who sent it and how.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO;
    CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
    kill(getpid(), SIGUSR2);
    printf("siginfo: signo=%d code=%d (SI_USER=%d) pid is mine=%d\n", last_signo, last_code, SI_USER,
           last_pid == getpid());
    syscall(SYS_tgkill, getpid(), getpid(), SIGUSR2);
    printf("tgkill: code=%d (SI_TKILL=%d)\n", last_code, SI_TKILL);

    // The handler's mask: the signal itself and sa_mask, not others.
    CHECK(install(SIGUSR1, mask_probe, 0, SIGTERM) == 0);
    raise(SIGUSR1);
    printf("mask in handler: USR1=%d USR2=%d TERM=%d\n", last_code & 1, (last_code >> 1) & 1, (last_code >> 2) & 1);
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    printf("mask after handler: USR1=%d TERM=%d\n", sigismember(&cur, SIGUSR1), sigismember(&cur, SIGTERM));
    CHECK(install(SIGUSR1, mask_probe, SA_NODEFER, 0) == 0);
    raise(SIGUSR1);
    printf("mask with SA_NODEFER: USR1=%d\n", last_code & 1);

    // Nesting: a handler that raises its own signal runs nested only with SA_NODEFER.
    CHECK(install(SIGUSR2, recursive, 0, 0) == 0);
    raise(SIGUSR2);
    printf("recursion without NODEFER: max depth %d, calls %d\n", max_depth, calls);
    max_depth = 0;
    calls = 0;
    CHECK(install(SIGUSR2, recursive, SA_NODEFER, 0) == 0);
    raise(SIGUSR2);
    printf("recursion with NODEFER: max depth %d, calls %d\n", max_depth, calls);

    // SA_RESETHAND: the second one takes the default action (checked in a child).
    pid_t pid = fork();
    if (pid == 0) {
        install(SIGUSR1, plain, SA_RESETHAND, 0);
        hits[SIGUSR1] = 0;
        raise(SIGUSR1);
        if (hits[SIGUSR1] != 1) _exit(3);
        raise(SIGUSR1);
        _exit(4);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("SA_RESETHAND child: %s\n", describe(status));

    // sigreturn restores all registers and the FPU state.
    CHECK(install(SIGUSR1, clobber, 0, 0) == 0);
    printf("registers survive a handler: %d\n", registers_survive(SIGUSR1));

    // Blocking: the signal waits in sigpending until unblocked, then arrives at once.
    memset((void*)hits, 0, sizeof hits);
    CHECK(install(SIGUSR1, plain, 0, 0) == 0);
    sigset_t block, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);  // standard signals do not queue
    sigpending(&pending);
    printf("blocked: handled=%d pending=%d\n", hits[SIGUSR1], sigismember(&pending, SIGUSR1));
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    sigpending(&pending);
    printf("unblocked: handled=%d pending=%d\n", hits[SIGUSR1], sigismember(&pending, SIGUSR1));

    // sigsuspend: waits with a temporary mask, returns EINTR after the handler, mask restored.
    sigprocmask(SIG_BLOCK, &block, NULL);
    pid = fork();
    if (pid == 0) {
        usleep(50 * 1000);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    sigset_t empty;
    sigemptyset(&empty);
    int r = sigsuspend(&empty);
    int e = errno;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    printf("sigsuspend: r=%d EINTR=%d handled=%d mask back=%d\n", r, e == EINTR, hits[SIGUSR1],
           sigismember(&cur, SIGUSR1));
    waitpid(pid, NULL, 0);
    sigprocmask(SIG_UNBLOCK, &block, NULL);

    // sigaltstack.
    static char alt[65536];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    CHECK(sigaltstack(&ss, NULL) == 0);
    CHECK(install(SIGUSR2, on_altstack, SA_ONSTACK, 0) == 0);
    raise(SIGUSR2);
    printf("handler on the alternate stack: %d\n",
           handler_stack >= (uintptr_t)alt && handler_stack < (uintptr_t)alt + sizeof alt);
    stack_t old;
    CHECK(sigaltstack(NULL, &old) == 0);
    printf("altstack: size ok=%d flags=%d\n", old.ss_size == sizeof alt, old.ss_flags);
    ss.ss_size = 100;
    CHECK(sigaltstack(&ss, NULL) == -1 && errno == ENOMEM);
    ss.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&ss, NULL) == 0);
    CHECK(sigaltstack(NULL, &old) == 0 && old.ss_flags == SS_DISABLE);

    // Ignored signals vanish, even when later unblocked.
    signal(SIGUSR1, SIG_IGN);
    kill(getpid(), SIGUSR1);
    sigpending(&pending);
    printf("ignored: pending=%d\n", sigismember(&pending, SIGUSR1));

    // Errors.
    CHECK(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL);
    CHECK(sigaction(SIGSTOP, &sa, NULL) == -1 && errno == EINVAL);
    CHECK(sigaction(0, &sa, NULL) == -1 && errno == EINVAL);
    CHECK(sigaction(65, &sa, NULL) == -1 && errno == EINVAL);
    CHECK(kill(getpid(), 65) == -1 && errno == EINVAL);
    CHECK(kill(getpid(), 0) == 0);
    CHECK(syscall(SYS_rt_sigprocmask, 7, &block, NULL, 8) == -1 && errno == EINVAL);
    CHECK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &block, NULL, 4) == -1 && errno == EINVAL);
    sigfillset(&block);
    sigprocmask(SIG_SETMASK, &block, NULL);
    sigprocmask(SIG_SETMASK, NULL, &cur);
    printf("KILL/STOP never blocked: %d %d\n", sigismember(&cur, SIGKILL), sigismember(&cur, SIGSTOP));
    return finish();
}
