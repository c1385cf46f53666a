// Default actions and wait statuses: children ended by SIGTERM, SIGKILL, SIGSEGV, SIGABRT,
// SIGFPE, SIGUSR1 (terminate), SIGQUIT (core, without a core file); SIGCHLD and SIGURG ignored
// by default; SIGSTOP and SIGCONT seen through WUNTRACED and WCONTINUED; SIGKILL cannot be
// caught, blocked or ignored.
#include <signal.h>
#include "proc_test.h"

static pid_t spawn_sleeper(void) {
    pid_t pid = fork();
    if (pid == 0) {
        for (;;) pause();
    }
    return pid;
}

static void run(const char* what, void (*body)(void)) {
    pid_t pid = fork();
    if (pid == 0) {
        no_core();
        body();
        _exit(77);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("%s: %s\n", what, describe(status));
}

static void self_term(void) { kill(getpid(), SIGTERM); }
static void self_usr1(void) { raise(SIGUSR1); }
static void self_quit(void) { raise(SIGQUIT); }
static void do_abort(void) { abort(); }
static void null_write(void) { *(volatile int*)0 = 1; }
static void divide(void) {
    volatile int zero = 0;
    volatile int x = 10 / zero;
    (void)x;
}
static void ignored_defaults(void) {
    raise(SIGCHLD);
    raise(SIGURG);
    raise(SIGWINCH);
    _exit(0);
}
static void kill_uncatchable(void) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    signal(SIGKILL, SIG_IGN);  // refused
    raise(SIGKILL);
}
static void spin(void) {
    for (volatile unsigned long i = 0;; i++) {
    }
}

int main(void) {
    unbuffered();
    run("SIGTERM", self_term);
    run("SIGUSR1", self_usr1);
    run("SIGQUIT", self_quit);
    run("abort", do_abort);
    run("NULL write", null_write);
    run("divide by zero", divide);
    run("SIGCHLD, SIGURG, SIGWINCH", ignored_defaults);
    run("SIGKILL with everything blocked", kill_uncatchable);

    // A process spinning in user mode is reached too.
    pid_t pid = fork();
    if (pid == 0) spin();
    usleep(50 * 1000);
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    printf("spinning child: %s\n", describe(status));

    // Stop and continue.
    pid = spawn_sleeper();
    kill(pid, SIGSTOP);
    CHECK(waitpid(pid, &status, WUNTRACED) == pid);
    printf("after SIGSTOP: %s\n", describe(status));
    kill(pid, SIGCONT);
    CHECK(waitpid(pid, &status, WCONTINUED) == pid);
    printf("after SIGCONT: %s\n", describe(status));
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("then SIGKILL: %s\n", describe(status));
    // A stopped process dies of SIGKILL.
    pid = spawn_sleeper();
    kill(pid, SIGSTOP);
    waitpid(pid, &status, WUNTRACED);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    printf("stopped, then SIGKILL: %s\n", describe(status));
    return finish();
}
