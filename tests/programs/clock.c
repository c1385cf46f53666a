// clock_gettime is monotonic and nanosleep never returns early; the gettimeofday and time
// system calls (musl's wrappers use clock_gettime, so they are called directly) agree with it.
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000ll + t.tv_nsec; }

int main(void) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int mono = 1;
    for (int i = 0; i < 1000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (ns(b) < ns(a)) mono = 0;
        a = b;
    }
    printf("monotonic=%d\n", mono);
    struct timespec rt;
    printf("realtime ok=%d\n", clock_gettime(CLOCK_REALTIME, &rt) == 0 && rt.tv_sec > 1600000000);
    struct timeval tv;
    long g = syscall(SYS_gettimeofday, &tv, NULL);
    printf("gettimeofday=%ld agrees=%d\n", g,
           tv.tv_sec - rt.tv_sec >= 0 && tv.tv_sec - rt.tv_sec < 5 && tv.tv_usec < 1000000);
    time_t t = 0;
    long s = syscall(SYS_time, &t);
    printf("time agrees=%d stored=%d\n", s - rt.tv_sec >= 0 && s - rt.tv_sec < 5, t == s);
    printf("bad pointer: gettimeofday=%ld time=%ld\n", syscall(SYS_gettimeofday, (void*)8, NULL),
           syscall(SYS_time, (void*)8));
    struct timespec req = {0, 50 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &a);
    int r = nanosleep(&req, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("nanosleep=%d not early=%d\n", r, ns(b) - ns(a) >= 50 * 1000 * 1000);
    return 0;
}
