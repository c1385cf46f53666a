// Process groups and sessions: getpgrp/getpgid/getsid, setpgid rules and errors, setsid, and
// kill on a group (kill(0, ...) and kill(-pgrp, ...)) reaching exactly its members.
#include <signal.h>
#include "proc_test.h"

int main(int argc, char** argv) {
    unbuffered();
    if (argc == 2 && strcmp(argv[1], "sleep") == 0) {
        pause();
        return 0;
    }
    find_program_dir();
    // Our own group (the host runs us inside the test runner's group; as Lamina's init we are a
    // session leader already, and setpgid fails with EPERM), so kill(0) stays among us.
    setpgid(0, 0);
    pid_t me = getpid();
    CHECK(getpgrp() == getpgid(0));
    CHECK(getpgid(me) == getpgrp());
    CHECK(getsid(0) == getsid(me));
    CHECK(getpgid(-1) == -1 && errno == ESRCH);
    CHECK(getpgid(0x7ffffff0) == -1 && errno == ESRCH);
    CHECK(setpgid(0, -1) == -1 && errno == EINVAL);
    CHECK(setpgid(0x7ffffff0, 0) == -1 && errno == ESRCH);

    // A child in a group of its own, made by the parent and by the child (the usual race-free
    // pattern), and members that join it.
    pid_t leader = fork();
    if (leader == 0) {
        setpgid(0, 0);
        pause();
        _exit(0);
    }
    CHECK(setpgid(leader, leader) == 0);
    pid_t members[3];
    for (int i = 0; i < 3; i++) {
        members[i] = fork();
        if (members[i] == 0) {
            setpgid(0, leader);
            pause();
            _exit(0);
        }
        CHECK(setpgid(members[i], leader) == 0);
    }
    CHECK(getpgid(leader) == leader && getpgid(members[2]) == leader);
    printf("group formed: leader's group is its pid=%d, members in it=%d\n", getpgid(leader) == leader,
           getpgid(members[0]) == leader && getpgid(members[1]) == leader);
    CHECK(getpgrp() != leader);  // we are not in it

    // An outsider that must survive the group kill.
    pid_t outsider = fork();
    if (outsider == 0) {
        pause();
        _exit(0);
    }
    CHECK(kill(-leader, SIGTERM) == 0);
    int status, killed = 0;
    for (int i = 0; i < 4; i++) {
        pid_t got = wait(&status);
        if (got == leader || got == members[0] || got == members[1] || got == members[2])
            killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM;
    }
    printf("kill(-pgrp): %d of 4 killed by SIGTERM\n", killed);
    CHECK(waitpid(outsider, &status, WNOHANG) == 0);
    CHECK(kill(-leader, SIGTERM) == -1 && errno == ESRCH);  // nobody left in it
    kill(outsider, SIGKILL);
    waitpid(outsider, &status, 0);
    printf("outsider: %s\n", describe(status));

    // setsid: a new session and group; fails for a group leader; setpgid across sessions fails.
    pid_t s = fork();
    if (s == 0) {
        pid_t sid = setsid();
        int ok = sid == getpid() && getsid(0) == getpid() && getpgrp() == getpid();
        ok = ok && setsid() == -1 && errno == EPERM;  // now a group leader
        ok = ok && setpgid(0, getppid()) == -1 && errno == EPERM;
        _exit(ok ? 0 : 1);
    }
    waitpid(s, &status, 0);
    printf("setsid child: %s\n", describe(status));

    // kill(0, sig) reaches the caller's whole group: a child in our group catches it too.
    pid_t same = fork();
    if (same == 0) {
        signal(SIGUSR1, SIG_DFL);
        pause();
        _exit(0);
    }
    signal(SIGUSR1, SIG_IGN);
    usleep(50 * 1000);
    CHECK(kill(0, SIGUSR1) == 0);
    waitpid(same, &status, 0);
    printf("kill(0): child %s\n", describe(status));

    // setpgid on a child that has exec'd: EACCES. The child execs a program that sleeps.
    pid_t e = fork();
    if (e == 0) {
        char* av[] = {"pgroups", "sleep", NULL};
        char path[600];
        snprintf(path, sizeof path, "%s/pgroups", program_dir);
        execv(path, av);
        _exit(9);
    }
    usleep(300 * 1000);
    errno = 0;
    int r = setpgid(e, e);
    printf("setpgid after exec: r=%d EACCES=%d\n", r, errno == EACCES);
    kill(e, SIGKILL);
    waitpid(e, &status, 0);
    return finish();
}
