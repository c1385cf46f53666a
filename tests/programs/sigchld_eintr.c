// SIGCHLD and interrupted system calls: SIGCHLD's siginfo at a child's exit; SIGCHLD ignored
// makes children vanish (wait: ECHILD); nanosleep interrupted by a signal from a child returns
// EINTR with the time left; wait4 is restarted under SA_RESTART and fails with EINTR without.
#include <signal.h>
#include <time.h>
#include "proc_test.h"

static volatile int chld_count, chld_code, chld_status, chld_pid, usr1;

static void on_chld(int sig, siginfo_t* si, void* uc) {
    (void)sig;
    (void)uc;
    chld_count++;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}

static void on_usr1(int sig) {
    (void)sig;
    usr1++;
}

static void install(int sig, void (*h)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

// A child that signals its parent after a short delay, then exits with `code` after another.
static pid_t pinger(int delay_ms, int code) {
    pid_t pid = fork();
    if (pid == 0) {
        usleep(delay_ms * 1000);
        kill(getppid(), SIGUSR1);
        usleep(delay_ms * 1000);
        _exit(code);
    }
    return pid;
}

int main(void) {
    unbuffered();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(21);
    int status, r;
    while (waitpid(pid, &status, 0) == -1 && errno == EINTR) {
    }
    printf("SIGCHLD: count=%d code=%d (CLD_EXITED=%d) status=%d pid ok=%d\n", chld_count, chld_code, CLD_EXITED,
           chld_status, chld_pid == pid);
    pid = fork();
    if (pid == 0) {
        no_core();
        abort();
    }
    while (waitpid(pid, &status, 0) == -1 && errno == EINTR) {
    }
    printf("SIGCHLD for a killed child: code=%d (CLD_KILLED=%d) status=%d\n", chld_code, CLD_KILLED, chld_status);

    // Ignoring SIGCHLD: no zombies, wait finds nothing.
    signal(SIGCHLD, SIG_IGN);
    pid = fork();
    if (pid == 0) _exit(0);
    usleep(100 * 1000);
    errno = 0;
    r = waitpid(pid, &status, 0);
    printf("SIGCHLD ignored: wait=%d ECHILD=%d\n", r, errno == ECHILD);
    signal(SIGCHLD, SIG_DFL);

    // nanosleep cut short.
    install(SIGUSR1, on_usr1, 0);
    pid = pinger(100, 0);
    struct timespec req = {5, 0}, rem = {0, 0};
    r = nanosleep(&req, &rem);
    printf("nanosleep: r=%d EINTR=%d usr1=%d rem in (0,5s)=%d\n", r, errno == EINTR, usr1,
           rem.tv_sec < 5 && (rem.tv_sec > 0 || rem.tv_nsec > 0));
    waitpid(pid, NULL, 0);

    // wait4 without SA_RESTART: EINTR.
    usr1 = 0;
    pid = pinger(100, 4);
    errno = 0;
    r = waitpid(pid, &status, 0);
    printf("waitpid without SA_RESTART: r=%d EINTR=%d usr1=%d\n", r, errno == EINTR, usr1);
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 4);

    // With SA_RESTART the wait goes on to collect the child.
    usr1 = 0;
    install(SIGUSR1, on_usr1, SA_RESTART);
    pid = pinger(100, 5);
    r = waitpid(pid, &status, 0);
    printf("waitpid with SA_RESTART: collected=%d status=%s usr1=%d\n", r == pid, describe(status), usr1);

    // A signal that is ignored does not interrupt anything.
    signal(SIGUSR1, SIG_IGN);
    pid = pinger(50, 6);
    r = waitpid(pid, &status, 0);
    printf("ignored signal during waitpid: collected=%d %s\n", r == pid, describe(status));
    return finish();
}
