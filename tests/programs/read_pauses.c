// The pauses a reader sees: reads FILE in 64 KiB pieces, from the start again at its end, for
// SECONDS, and prints how many reads it made and their latencies (median, 99th percentile,
// longest) in microseconds. bench/live-update runs it while domains are updated under it.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { PIECE = 65536, MAX_SAMPLES = 1 << 20 };

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void* a, const void* b) {
    float x = *(const float*)a, y = *(const float*)b;
    return (x > y) - (x < y);
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: read_pauses FILE SECONDS\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    static char buf[PIECE];
    static float samples[MAX_SAMPLES];
    size_t n = 0;
    double end = now_us() + atof(argv[2]) * 1e6;
    for (double t = now_us(); t < end && n < MAX_SAMPLES;) {
        ssize_t got = read(fd, buf, sizeof buf);
        double after = now_us();
        if (got < 0) {
            perror("read");
            return 1;
        }
        if (got == 0 && lseek(fd, 0, SEEK_SET) != 0) {
            perror("lseek");
            return 1;
        }
        samples[n++] = (float)(after - t);
        t = after;
    }
    qsort(samples, n, sizeof samples[0], by_value);
    printf("reads=%zu median_us=%.0f p99_us=%.0f max_us=%.0f\n", n, n ? samples[n / 2] : 0.0,
           n ? samples[n * 99 / 100] : 0.0, n ? samples[n - 1] : 0.0);
    return 0;
}
