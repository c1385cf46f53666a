// The initial stack: argc, argv, envp and the auxiliary vector.
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

int main(int argc, char** argv, char** envp) {
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    printf("argv[argc]=%s\n", argv[argc] ? "non-null" : "null");
    int envc = 0;
    for (char** e = envp; *e; e++) envc++;
    printf("envp ok=%d\n", envc >= 0);
    printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
    unsigned char* rnd = (unsigned char*)getauxval(AT_RANDOM);
    printf("AT_RANDOM=%s\n", rnd ? "non-null" : "null");
    printf("AT_PHENT=%lu\n", getauxval(AT_PHENT));
    printf("AT_PHNUM>0=%d\n", getauxval(AT_PHNUM) > 0);
    printf("AT_ENTRY>0=%d\n", getauxval(AT_ENTRY) > 0);
    printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
    printf("stack aligned=%d\n", ((unsigned long)__builtin_frame_address(0) & 7) == 0);
    return 0;
}
