// Console input: reads lines from fd 0 and echoes them back, until "quit".
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    char buf[128];
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf - 1);
        if (n <= 0) return 1;
        buf[n] = 0;
        if (buf[n - 1] == '\n') buf[n - 1] = 0;
        if (strcmp(buf, "quit") == 0) return 0;
        printf("got: [%s] (%zd bytes)\n", buf, n);
        fflush(stdout);
    }
}
