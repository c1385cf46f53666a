// execve's argument limits, as Linux sets them: 128 KiB per string (with its NUL), and strings
// plus pointers within a quarter of RLIMIT_STACK (2 MiB for the 8 MiB default; Lamina caps
// it at 3 MiB, Linux at 6); E2BIG beyond,
// with the caller untouched. The child (this program again, "report") prints what it got.
#include <stdint.h>
#include "proc_test.h"

#define MAX_ARG_STRLEN (128 * 1024)

static char self_path[600];

// Runs this program with `n` arguments of `len` bytes (numbers when len is 0) and `envn`
// environment strings of `envlen` bytes; prints the child's report or execve's error.
static void run(const char* what, int n, size_t len, int envn, size_t envlen, rlim_t stack) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (stack) {
            struct rlimit r = {stack, RLIM_INFINITY};
            getrlimit(RLIMIT_STACK, &r);
            r.rlim_cur = stack;
            if (setrlimit(RLIMIT_STACK, &r) != 0) _exit(97);
        }
        char** av = calloc(n + 3, sizeof *av);
        char** ev = calloc(envn + 1, sizeof *ev);
        av[0] = "argmax";
        av[1] = "report";
        for (int i = 0; i < n; i++) {
            if (len) {
                av[i + 2] = malloc(len + 1);
                memset(av[i + 2], 'a' + i % 26, len);
                av[i + 2][len] = 0;
            } else {
                av[i + 2] = malloc(16);
                snprintf(av[i + 2], 16, "%d", i + 1);
            }
        }
        for (int i = 0; i < envn; i++) {
            ev[i] = malloc(envlen + 1);
            memset(ev[i], 'A' + i % 26, envlen);
            memcpy(ev[i], "V=", 2);
            ev[i][envlen] = 0;
        }
        dup2(fds[1], 1);
        execve(self_path, av, ev);
        int e = errno;
        dup2(2, 1);
        _exit(e == E2BIG ? 90 : e == ENAMETOOLONG ? 91 : 99);
    }
    close(fds[1]);
    char out[256] = "";
    ssize_t got = 0, k;
    while ((k = read(fds[0], out + got, sizeof out - 1 - got)) > 0) got += k;
    out[got] = 0;
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 90)
        printf("%s: E2BIG\n", what);
    else
        printf("%s: %s, %s", what, describe(status), got ? out : "no output\n");
}

static int report(int argc, char** argv, char** envp) {
    uint64_t bytes = 0, hash = 1469598103934665603ull;
    for (int i = 0; i < argc; i++)
        for (const char* c = argv[i];; c++) {
            hash = (hash ^ (unsigned char)*c) * 1099511628211ull;
            bytes++;
            if (!*c) break;
        }
    int envc = 0;
    for (; envp[envc]; envc++) bytes += strlen(envp[envc]) + 1;
    printf("argc=%d envc=%d bytes=%llu hash=%016llx\n", argc, envc, (unsigned long long)bytes,
           (unsigned long long)hash);
    return 0;
}

int main(int argc, char** argv, char** envp) {
    if (argc >= 2 && strcmp(argv[1], "report") == 0) return report(argc, argv, envp);
    unbuffered();
    find_program_dir();
    snprintf(self_path, sizeof self_path, "%s/argmax", program_dir);
    struct rlimit r;
    CHECK(getrlimit(RLIMIT_STACK, &r) == 0);
    // The limits below assume Linux's default 8 MiB stack limit, whatever the host has.
    r.rlim_cur = 8 << 20;
    if (r.rlim_max != RLIM_INFINITY && r.rlim_max < r.rlim_cur) r.rlim_cur = r.rlim_max;
    CHECK(setrlimit(RLIMIT_STACK, &r) == 0);
    printf("sysconf(_SC_ARG_MAX) = %ld\n", sysconf(_SC_ARG_MAX));

    run("2000 numbers (xargs echo)", 2000, 0, 0, 0, 0);
    run("20000 numbers", 20000, 0, 0, 0, 0);
    run("one string of 128 KiB - 1", 1, MAX_ARG_STRLEN - 1, 0, 0, 0);
    run("one string of 128 KiB", 1, MAX_ARG_STRLEN, 0, 0, 0);
    run("an environment string of 128 KiB", 0, 0, 1, MAX_ARG_STRLEN, 0);
    run("15 strings of 128 KiB - 1 (1.9 MiB)", 15, MAX_ARG_STRLEN - 1, 0, 0, 0);
    run("8 + 8 strings of 128 KiB - 1 (2 MiB)", 8, MAX_ARG_STRLEN - 1, 8, MAX_ARG_STRLEN - 1, 0);
    run("17 strings of 128 KiB - 1 (2.1 MiB)", 17, MAX_ARG_STRLEN - 1, 0, 0, 0);
    run("1 MiB stack limit: 2 strings of 100000", 2, 100000, 0, 0, 1 << 20);
    run("1 MiB stack limit: 3 strings of 100000", 3, 100000, 0, 0, 1 << 20);
    // Linux allows up to 6 MiB with a stack limit past 24 MiB, Lamina up to 3 MiB.
    run("12 MiB stack limit: 22 strings of 128 KiB - 1 (2.75 MiB)", 22, MAX_ARG_STRLEN - 1, 0, 0, 12 << 20);
    run("64 MiB stack limit: 50 strings of 128 KiB - 1 (6.3 MiB)", 50, MAX_ARG_STRLEN - 1, 0, 0, 64 << 20);

    // A failed execve leaves the caller as it was.
    char* av[] = {"argmax", NULL};
    char* big = malloc(MAX_ARG_STRLEN + 1);
    memset(big, 'x', MAX_ARG_STRLEN);
    big[MAX_ARG_STRLEN] = 0;
    char* ev[] = {big, NULL};
    errno = 0;
    CHECK(execve(self_path, av, ev) == -1 && errno == E2BIG);
    printf("still here\n");
    return finish();
}
