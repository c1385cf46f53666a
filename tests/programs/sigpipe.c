// A write to a pipe nobody reads raises SIGPIPE, whose default action ends the process.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    signal(SIGPIPE, SIG_DFL);  // the harness may have left it ignored
    int p[2];
    if (pipe(p) != 0) return 1;
    close(p[0]);
    printf("writing\n");
    fflush(stdout);
    write(p[1], "x", 1);
    printf("still alive\n");
    return 0;
}
