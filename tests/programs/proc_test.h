// Helpers for the process and signal test programs: unbuffered output (so fork never copies
// pending stdio data and the order is what the program does), checks that print and count
// failures, and a child runner.
#pragma once
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                \
    do {                                                           \
        if (!(cond)) {                                             \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                            \
        }                                                          \
    } while (0)

__attribute__((unused)) static void unbuffered(void) { setvbuf(stdout, NULL, _IONBF, 0); }

// "exited 3", "killed by 15", "stopped by 19", "continued".
__attribute__((unused)) static const char* describe(int status) {
    static char buf[64];
    if (WIFEXITED(status))
        snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "killed by %d%s", WTERMSIG(status), WCOREDUMP(status) ? " (core)" : "");
    else if (WIFSTOPPED(status))
        snprintf(buf, sizeof buf, "stopped by %d", WSTOPSIG(status));
    else if (WIFCONTINUED(status))
        snprintf(buf, sizeof buf, "continued");
    else
        snprintf(buf, sizeof buf, "status 0x%x", status);
    return buf;
}

// No core files on the host, whatever its limit: a core-dumping death then reads the same on
// Linux and Lamina (no WCOREDUMP).
__attribute__((unused)) static void no_core(void) {
    struct rlimit r = {0, 0};
    setrlimit(RLIMIT_CORE, &r);
}

// The directory of the test programs: beside this one (the host runs them from the build tree;
// Lamina finds programs by name, so any directory does).
static char program_dir[512] = "/bin";

__attribute__((unused)) static void find_program_dir(void) {
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return;
    self[n] = 0;
    char* slash = strrchr(self, '/');
    if (!slash) return;
    *slash = 0;
    snprintf(program_dir, sizeof program_dir, "%s", self);
}

__attribute__((unused)) static int finish(void) {
    printf("%s\n", failures ? "FAILED" : "all ok");
    return failures ? 1 : 0;
}
