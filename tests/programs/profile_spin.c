// The profiler's system test (tests/system/profile_test.cpp): checks /proc/profile's commands
// and errors, profiles a known busy loop (spin_in_user) and prints the samples between markers
// for the host's tools/profile to symbolize. Lamina only: Linux has no /proc/profile of this kind.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc_field.h"

static int failures;

static void check(int ok, const char* what) {
    printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) failures++;
}

// The errno of writing command to /proc/profile, 0 on success.
static int command(const char* text) {
    int fd = open("/proc/profile", O_WRONLY);
    if (fd < 0) return errno;
    ssize_t n = write(fd, text, strlen(text));
    int e = n == (ssize_t)strlen(text) ? 0 : n < 0 ? errno : EIO;
    close(fd);
    return e;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

// The loop the profile must find at its top: pure user-mode arithmetic, the clock read only
// every few million steps.
__attribute__((noinline)) unsigned long spin_in_user(double seconds) {
    volatile unsigned long x = 1;
    double end = now() + seconds;
    do {
        for (int i = 0; i < 2000000; i++) x = x * 6364136223846793005ul + 1442695040888963407ul;
    } while (now() < end);
    return x;
}

// The samples= field of the profile's header line, -1 when unreadable.
static long samples_so_far(void) { return proc_field("/proc/profile", NULL, " samples="); }

int main(void) {
    check(command("bogus") == EINVAL, "an unknown command is EINVAL");
    check(command("start 0") == EINVAL, "start 0 is EINVAL");
    check(command("start 100000") == EINVAL, "a rate above the maximum is EINVAL");
    check(command("start 1000") == 0, "start 1000");
    check(command("start") == EBUSY, "start while running is EBUSY");
    check(command("reset") == EBUSY, "reset while running is EBUSY");
    // Until the profile holds enough samples (half of them the idle CPU's), not for a fixed
    // time: on a loaded host the virtual CPU may run for a fraction of the wall-clock time.
    double give_up = now() + 60;
    do spin_in_user(0.3);
    while (samples_so_far() < 400 && now() < give_up);
    check(command("stop\n") == 0, "stop");

    static char text[4 << 20];
    int fd = open("/proc/profile", O_RDONLY);
    size_t len = 0;
    ssize_t n;
    while (fd >= 0 && len < sizeof text && (n = read(fd, text + len, sizeof text - len)) > 0) len += (size_t)n;
    if (fd >= 0) close(fd);
    check(len > 0 && strncmp(text, "# lamina-profile ", 17) == 0, "the profile has its header");
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    check(lines > 100, "the profile has samples");
    fflush(stdout);
    printf("=== profile begin\n");
    fflush(stdout);
    for (size_t off = 0; off < len;) {
        n = write(1, text + off, len - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    printf("=== profile end\n");
    check(command("reset") == 0, "reset once stopped");
    fd = open("/proc/profile", O_RDONLY);
    len = fd >= 0 ? (size_t)read(fd, text, sizeof text) : 0;
    if (fd >= 0) close(fd);
    text[len < sizeof text ? len : sizeof text - 1] = 0;
    check(strstr(text, "samples=0 ") != NULL && strchr(text, '\n') == text + len - 1, "reset empties the profile");
    return failures ? 1 : 0;
}
