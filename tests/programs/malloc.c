// brk and malloc: many sizes, each filled with a pattern and checked after all are allocated.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define N 200

int main(void) {
    static unsigned char* blocks[N];
    static size_t sizes[N];
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t size = (i % 10 == 9) ? 100000 + (seed % 300000) : 1 + (seed % 5000);
        sizes[i] = size;
        blocks[i] = malloc(size);
        if (!blocks[i]) {
            printf("malloc %zu failed\n", size);
            return 1;
        }
        for (size_t j = 0; j < size; j++) blocks[i][j] = (unsigned char)(i * 31 + j);
    }
    unsigned long sum = 0;
    for (int i = 0; i < N; i++) {
        for (size_t j = 0; j < sizes[i]; j++) {
            if (blocks[i][j] != (unsigned char)(i * 31 + j)) {
                printf("block %d corrupt at %zu\n", i, j);
                return 1;
            }
            sum += blocks[i][j];
        }
        if (i % 2) free(blocks[i]);
    }
    printf("checksum %lu\n", sum);
    // musl's sbrk only answers sbrk(0): grow the break with the system call itself.
    unsigned char* p = (unsigned char*)syscall(SYS_brk, 0);
    if ((unsigned char*)syscall(SYS_brk, p + 65536) != p + 65536) {
        printf("brk failed\n");
        return 1;
    }
    for (int i = 0; i < 65536; i++) p[i] = (unsigned char)i;
    printf("brk region ok=%d\n", p[65535] == 255);
    printf("malloc done\n");
    return 0;
}
