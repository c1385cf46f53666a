// Anonymous mmap, munmap and mprotect patterns.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    size_t pg = 4096;
    unsigned char* a = mmap(0, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) {
        printf("mmap failed %d\n", errno);
        return 1;
    }
    int zero = 1;
    for (size_t i = 0; i < 16 * pg; i++)
        if (a[i]) zero = 0;
    printf("anonymous zeroed=%d\n", zero);
    memset(a, 0x5a, 16 * pg);
    printf("munmap middle=%d\n", munmap(a + 4 * pg, 4 * pg));
    printf("tail intact=%d\n", a[15 * pg] == 0x5a && a[3 * pg] == 0x5a);
    unsigned char* f = mmap(a + 4 * pg, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("fixed at hole=%d zeroed=%d\n", f == a + 4 * pg, f[0] == 0 && f[2 * pg - 1] == 0);
    printf("mprotect ro=%d\n", mprotect(a, pg, PROT_READ));
    printf("read after ro=%d\n", a[0] == 0x5a);
    printf("mprotect rw=%d\n", mprotect(a, pg, PROT_READ | PROT_WRITE));
    a[0] = 1;
    printf("write after rw=%d\n", a[0] == 1);
    int r = munmap(a + 1, pg);
    printf("munmap unaligned=%d errno=%d\n", r, errno);
    errno = 0;
    void* bad = mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap zero length failed=%d errno=%d\n", bad == MAP_FAILED, errno);
    unsigned char* big = mmap(0, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    big[0] = 1;
    big[(64 << 20) - 1] = 2;
    printf("big sparse ok=%d\n", big[0] + big[(64 << 20) - 1] == 3);
    printf("munmap all=%d %d\n", munmap(a, 16 * pg), munmap(big, 64 << 20));
    return 0;
}
