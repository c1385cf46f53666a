// The first user program: printf through writev, exit status 3.
#include <stdio.h>

int main(void) {
    printf("hello from user space\n");
    printf("%d %s %x\n", 42, "formatted", 0xbeef);
    return 3;
}
