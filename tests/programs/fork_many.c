// Many processes: 100 children exiting at once (zombies reaped in any order), orphaned
// grandchildren (reparented; this program never sees them again), and forks from children.
#include <signal.h>
#include "proc_test.h"

int main(void) {
    unbuffered();
    int sum = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 25; i++) {
            pid_t pid = fork();
            if (pid == 0) _exit(i);
            CHECK(pid > 0);
        }
        int status;
        pid_t pid;
        int n = 0;
        while ((pid = wait(&status)) > 0) {
            CHECK(WIFEXITED(status));
            sum += WEXITSTATUS(status);
            n++;
        }
        CHECK(n == 25 && errno == ECHILD);
    }
    printf("reaped 100, sum of statuses %d\n", sum);

    // Orphans: each child forks a grandchild and exits at once; the grandchild outlives it.
    for (int i = 0; i < 10; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            pid_t g = fork();
            if (g == 0) {
                pid_t parent = getppid();
                usleep(50 * 1000);
                _exit(getppid() != parent ? 0 : 1);  // reparented by now
            }
            _exit(0);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    // The grandchildren are not ours, unless we are init (as in Lamina's test boots), to which
    // orphans go.
    if (getpid() != 1) CHECK(wait(NULL) == -1 && errno == ECHILD);
    printf("orphans left behind\n");

    // A tree: three levels, each node waits for its two children.
    int level = 0;
    for (; level < 3; level++) {
        pid_t a = fork();
        if (a == 0) continue;
        pid_t b = fork();
        if (b == 0) continue;
        int sa, sb;
        waitpid(a, &sa, 0);
        waitpid(b, &sb, 0);
        int total = WEXITSTATUS(sa) + WEXITSTATUS(sb) + 1;
        if (level == 0) {
            printf("tree of %d processes\n", total);
            usleep(100 * 1000);  // let the orphans finish
            return finish();
        }
        _exit(total);
    }
    _exit(1);
}
