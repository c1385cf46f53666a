// clock_gettime is monotonic and nanosleep never returns early.
#include <stdio.h>
#include <time.h>

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
    struct timespec req = {0, 50 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &a);
    int r = nanosleep(&req, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("nanosleep=%d not early=%d\n", r, ns(b) - ns(a) >= 50 * 1000 * 1000);
    return 0;
}
