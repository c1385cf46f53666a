// Faults delivered to handlers: SIGSEGV with si_addr and si_code (no mapping, protection),
// SIGFPE from a division by zero, SIGILL from ud2, each left with siglongjmp; a handler that
// fixes the cause (mprotect) and returns so the instruction runs again.
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include "proc_test.h"

static sigjmp_buf env;
static volatile int got_sig, got_code;
static volatile uintptr_t got_addr;
static char* page;

static void catcher(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = (uintptr_t)si->si_addr;
    siglongjmp(env, 1);
}

static void fixer(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    got_sig = sig;
    got_addr = (uintptr_t)si->si_addr;
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
}

static void install(int sig, void (*h)(int, siginfo_t*, void*)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h;
    sa.sa_flags = SA_SIGINFO;
    sigaction(sig, &sa, NULL);
}

int main(void) {
    unbuffered();
    install(SIGSEGV, catcher);
    install(SIGFPE, catcher);
    install(SIGILL, catcher);

    if (sigsetjmp(env, 1) == 0) *(volatile int*)0x1000 = 5;
    printf("unmapped write: sig=%d code=%d (SEGV_MAPERR=%d) addr=0x%lx\n", got_sig, got_code, SEGV_MAPERR,
           (unsigned long)got_addr);

    page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(env, 1) == 0) page[10] = 1;
    printf("read-only write: sig=%d code=%d (SEGV_ACCERR=%d) addr ok=%d\n", got_sig, got_code, SEGV_ACCERR,
           got_addr == (uintptr_t)page + 10);

    got_sig = 0;
    if (sigsetjmp(env, 1) == 0) {
        volatile int zero = 0;
        volatile int x = 7 / zero;
        (void)x;
    }
    printf("divide: sig=%d code=%d (FPE_INTDIV=%d)\n", got_sig, got_code, FPE_INTDIV);

    got_sig = 0;
    if (sigsetjmp(env, 1) == 0) __asm__ volatile("ud2");
    printf("ud2: sig=%d code=%d (ILL_ILLOPN=%d)\n", got_sig, got_code, ILL_ILLOPN);

    // Repeated faults keep working (the mask is restored by siglongjmp each time).
    static volatile int n = 0, i;
    for (i = 0; i < 20; i++)
        if (sigsetjmp(env, 1) != 0)
            n++;
        else
            *(volatile int*)(uintptr_t)(0x2000 + i * 8) = i;
    printf("20 faults caught: %d\n", n);

    // A handler that makes the access legal: the write is retried and lands.
    install(SIGSEGV, fixer);
    got_sig = 0;
    ((volatile char*)page)[100] = 42;
    int value = ((volatile char*)page)[100];
    printf("fixed by the handler: sig=%d value=%d\n", got_sig, value);

    // A fault while SIGSEGV is blocked kills (checked in a child).
    pid_t pid = fork();
    if (pid == 0) {
        no_core();
        install(SIGSEGV, catcher);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGSEGV);
        sigprocmask(SIG_BLOCK, &s, NULL);
        *(volatile int*)0 = 1;
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("fault with SIGSEGV blocked: %s\n", describe(status));
    return finish();
}
