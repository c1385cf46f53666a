// Dereferences NULL: Lamina reports SIGSEGV and continues; Linux kills it with signal 11.
#include <stdio.h>

int main(void) {
    printf("about to fault\n");
    fflush(stdout);
    volatile int* p = 0;
    *p = 1;
    printf("still alive?\n");
    return 0;
}
