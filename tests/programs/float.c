// SSE/x87 state and thread-local storage survive switches: a floating-point computation with
// yields and sleeps in the middle must match the same computation done in one go, and errno
// (TLS through the FS base) keeps its value. Several copies run at once in the posix ktests.
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

static double compute(int yield) {
    double acc = 0.0, x = 1.0;
    long double ext = 1.0L;
    for (int i = 1; i <= 200000; i++) {
        x = x * 1.0000001 + 1.0 / i;
        acc += x / (i + 0.5);
        ext = ext * 1.00000001L + 0.5L / i;
        if (yield && i % 20000 == 0) {
            if (i % 40000 == 0) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, 0);
            } else {
                sched_yield();
            }
        }
    }
    return acc + (double)ext;
}

int main(void) {
    errno = 1234;
    double a = compute(1);
    int errno_kept = errno == 1234;
    double b = compute(0);
    printf("float ok=%d errno kept=%d\n", a == b, errno_kept);
    return a == b && errno_kept ? 0 : 1;
}
