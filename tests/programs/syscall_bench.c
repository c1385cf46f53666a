// Figures, not a test: the cost of a system-call round trip (getpid, syscall/sysret) and of
// first-touch page faults (demand-zero), measured with CLOCK_MONOTONIC.
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000ll + t.tv_nsec;
}

int main(void) {
    const int n = 200000;
    long long t0 = now();
    for (int i = 0; i < n; i++) syscall(SYS_getpid);
    long long t1 = now();
    printf("getpid round trip: %lld ns\n", (t1 - t0) / n);
    const int pages = 2048;
    volatile char* p = mmap(0, pages * 4096l, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    t0 = now();
    for (int i = 0; i < pages; i++) p[i * 4096l] = 1;
    t1 = now();
    printf("demand-zero fault: %lld ns per page\n", (t1 - t0) / pages);
    return 0;
}
