// Figures, not a test: the cost of a system-call round trip (getpid, syscall/sysret), of
// first-touch page faults (demand-zero), of pipe throughput (one process writing 32 KiB into a
// pipe and reading it back, so both copies and the pipe's locking are counted, no scheduling),
// of creating, writing, closing and unlinking a file, and of reading a 1 MiB file that is
// already in memory, and of process creation: fork+wait (a child that exits at once),
// fork+exec+wait and vfork+exec+wait of a static program (this one, told to exit at once),
// measured with CLOCK_MONOTONIC.
// Every line is "name: value unit" so that bench/run can put Lamina's and the host's side by
// side. Files go to a scratch directory under /tmp, removed at the end.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <stddef.h>
#include <unistd.h>

static long long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static char self_path[512] = "/bin/syscall_bench";

static void find_self(void) {
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n > 0)
        self_path[n] = 0;
    else
        strcpy(self_path, "/bin/syscall_bench");
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

    char dir[] = "/tmp/bench_XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) != 0) return 1;
    static char data[1 << 20];
    memset(data, 'b', sizeof data);
    const int files = 2000;
    t0 = now();
    for (int i = 0; i < files; i++) {
        int fd = open("f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, data, 4096) != 4096) return 1;
        close(fd);
        unlink("f");
    }
    t1 = now();
    printf("file create+write 4KiB+close+unlink: %lld ns\n", (t1 - t0) / files);

    int fd = open("big", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, sizeof data) != (long)sizeof data) return 1;
    static char in[1 << 20];
    if (pread(fd, in, sizeof in, 0) != (long)sizeof in) return 1;  // cached from here on
    const int reads = 100;
    t0 = now();
    for (int i = 0; i < reads; i++) {
        if (pread(fd, in, sizeof in, 0) != (long)sizeof in) return 1;
    }
    t1 = now();
    printf("1 MiB read of a cached file: %lld ns\n", (t1 - t0) / reads);
    close(fd);
    unlink("big");
    chdir("/");
    rmdir(dir);
    return 0;
}
