// fork + wait4/waitpid/waitid: exit codes, pids, getppid, WNOHANG, ECHILD, wait by pid and by
// group, rusage, waitid's siginfo.
#include <signal.h>
#include <sys/resource.h>
#include "proc_test.h"

int main(void) {
    unbuffered();
    pid_t me = getpid();
    CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
    CHECK(wait(NULL) == -1 && errno == ECHILD);

    pid_t kids[5];
    for (int i = 0; i < 5; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (getppid() != me) _exit(100);
            _exit(10 + i);
        }
        CHECK(pid > 0 && pid != me);
        kids[i] = pid;
    }
    // In reverse order, by pid.
    for (int i = 4; i >= 0; i--) {
        int status = -1;
        struct rusage ru;
        memset(&ru, 0xff, sizeof ru);
        pid_t got = wait4(kids[i], &status, 0, &ru);
        CHECK(got == kids[i]);
        printf("child %d: %s\n", i, describe(status));
        CHECK(ru.ru_maxrss >= 0);
    }
    CHECK(waitpid(kids[0], NULL, 0) == -1 && errno == ECHILD);  // already reaped

    // WNOHANG while a child still runs, then a blocking wait.
    pid_t slow = fork();
    if (slow == 0) {
        usleep(200 * 1000);
        _exit(7);
    }
    int status = 0;
    CHECK(waitpid(slow, &status, WNOHANG) == 0);
    CHECK(waitpid(-1, &status, 0) == slow);
    printf("slow child: %s\n", describe(status));

    // waitid fills siginfo.
    pid_t w = fork();
    if (w == 0) _exit(33);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PID, w, &si, WEXITED) == 0);
    CHECK(si.si_pid == w);
    CHECK(si.si_signo == SIGCHLD);
    printf("waitid: code=%d status=%d\n", si.si_code, si.si_status);
    // WNOHANG with nothing ready: si_pid 0.
    pid_t w2 = fork();
    if (w2 == 0) {
        usleep(200 * 1000);
        _exit(0);
    }
    memset(&si, 0xff, sizeof si);
    CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOHANG) == 0);
    CHECK(si.si_pid == 0);
    // WNOWAIT leaves the zombie for a second wait.
    CHECK(waitid(P_PID, w2, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == w2);
    CHECK(waitpid(w2, &status, 0) == w2 && WIFEXITED(status));
    CHECK(waitid(P_ALL, 0, &si, 0) == -1 && errno == EINVAL);
    CHECK(waitpid(-1, NULL, 0x1000) == -1 && errno == EINVAL);

    // Exit status is the low byte.
    pid_t big = fork();
    if (big == 0) _exit(0x1234);
    CHECK(waitpid(big, &status, 0) == big);
    printf("exit 0x1234: %s\n", describe(status));
    return finish();
}
