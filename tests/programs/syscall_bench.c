// Figures, not a test: the cost of a system-call round trip (getpid, syscall/sysret), of
// first-touch page faults (demand-zero), and pipe throughput (one process writing 32 KiB into
// a pipe and reading it back, so both copies and the pipe's locking are counted, no
// scheduling), measured with CLOCK_MONOTONIC.
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <stddef.h>
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
    int fds[2];
    if (pipe(fds) == 0) {
        static char chunk[32768];
        const long rounds = 1024;  // 32 MiB through the pipe
        t0 = now();
        for (long i = 0; i < rounds; i++) {
            if (write(fds[1], chunk, sizeof chunk) != (long)sizeof chunk) break;
            for (size_t got = 0; got < sizeof chunk;) {
                long r = read(fds[0], chunk + got, sizeof chunk - got);
                if (r <= 0) return 1;
                got += (size_t)r;
            }
        }
        t1 = now();
        printf("pipe throughput: %lld MB/s (32 KiB writes and reads)\n",
               rounds * (long long)sizeof chunk * 1000 / (t1 - t0));
        close(fds[0]);
        close(fds[1]);
    }
    return 0;
}
