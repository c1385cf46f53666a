// Figures, not a test: the cost of a system-call round trip (getpid, syscall/sysret), of
// first-touch page faults (demand-zero), and of process creation: fork+wait (a child that exits
// at once), fork+exec+wait and vfork+exec+wait of a static program (this one, told to exit at
// once), measured with CLOCK_MONOTONIC. bench/run runs it on the host and in Lamina and prints
// the two side by side.
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static char self_path[512] = "/bin/syscall_bench";

static void find_self(void) {
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n > 0) self_path[n] = 0;
    else strcpy(self_path, "/bin/syscall_bench");
}

static long long spawn_loop(int n, int use_vfork, int do_exec) {
    char* argv[] = {"syscall_bench", "exit", NULL};
    char* envp[] = {NULL};
    long long t0 = now();
    for (int i = 0; i < n; i++) {
        pid_t pid = use_vfork ? vfork() : fork();
        if (pid == 0) {
            if (do_exec) execve(self_path, argv, envp);
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
    }
    return (now() - t0) / n;
}

int main(int argc, char** argv) {
    if (argc == 2 && strcmp(argv[1], "exit") == 0) return 0;
    find_self();
    const int n = 200000;
    long long t0 = now();
    for (int i = 0; i < n; i++) syscall(SYS_getpid);
    long long t1 = now();
    printf("getpid round trip: %lld ns\n", (t1 - t0) / n);
    // A small process (before the 8 MiB touched below): what a shell forks.
    const int procs = 100;
    printf("fork+wait: %lld us\n", spawn_loop(procs, 0, 0) / 1000);
    printf("fork+exec+wait: %lld us\n", spawn_loop(procs, 0, 1) / 1000);
    printf("vfork+exec+wait: %lld us\n", spawn_loop(procs, 1, 1) / 1000);
    const int pages = 2048;
    volatile char* p = mmap(0, pages * 4096l, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    t0 = now();
    for (int i = 0; i < pages; i++) p[i * 4096l] = 1;
    t1 = now();
    printf("demand-zero fault: %lld ns per page\n", (t1 - t0) / pages);
    return 0;
}
