// madvise (MADV_DONTNEED drops private pages, keeps shared ones; the argument checks), MAP_SHARED
// anonymous memory across fork, and CPU affinity (sched_getaffinity agrees with sysconf; the
// argument checks of both calls).
#define _GNU_SOURCE
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "proc_test.h"

static void test_madvise(void) {
    long page = sysconf(_SC_PAGESIZE);
    unsigned char* p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    memset(p, 0xab, 4 * page);
    CHECK(madvise(p + page, 2 * page, MADV_DONTNEED) == 0);
    printf("private pages after MADV_DONTNEED of the middle two: %02x %02x %02x %02x\n", p[0], p[page], p[2 * page],
           p[3 * page]);
    p[page] = 1;  // the dropped page is usable again
    CHECK(p[page] == 1);
    CHECK(madvise(p, page, MADV_WILLNEED) == 0 && madvise(p, page, MADV_SEQUENTIAL) == 0);
    CHECK(madvise(p + 1, page, MADV_DONTNEED) == -1 && errno == EINVAL);
    CHECK(madvise(p, page, 999) == -1 && errno == EINVAL);
    CHECK(munmap(p + 3 * page, page) == 0);
    CHECK(madvise(p, 4 * page, MADV_DONTNEED) == -1 && errno == ENOMEM);
    CHECK(madvise(p, 0, MADV_DONTNEED) == 0);
    munmap(p, 3 * page);

    // Shared anonymous memory: what a child writes, the parent reads; MADV_DONTNEED in the
    // parent does not lose it.
    unsigned char* s = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(s != MAP_FAILED);
    s[0] = 1;
    pid_t pid = fork();
    if (pid == 0) {
        s[0] = 42;
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    printf("shared page after the child wrote: %d\n", s[0]);
    CHECK(madvise(s, page, MADV_DONTNEED) == 0);
    printf("shared page after MADV_DONTNEED: %d\n", s[0]);
    munmap(s, page);
}

static void test_affinity(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    int n = CPU_COUNT(&set);
    printf("affinity: at least one CPU: %s, as many as sysconf says are online: %s\n", n >= 1 ? "yes" : "no",
           n == sysconf(_SC_NPROCESSORS_ONLN) ? "yes" : "no");
    long bytes = syscall(SYS_sched_getaffinity, 0, 4, &set);
    CHECK(bytes == -1 && errno == EINVAL);
    bytes = syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
    printf("the kernel's mask size fits a long: %s\n", bytes > 0 && bytes % sizeof(long) == 0 ? "yes" : "no");
    CHECK(syscall(SYS_sched_getaffinity, 999999, sizeof set, &set) == -1 && errno == ESRCH);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    CPU_ZERO(&set);
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    printf("after setting CPU 0 alone: %d CPU(s), CPU 0 in it: %s\n", CPU_COUNT(&set),
           CPU_ISSET(0, &set) ? "yes" : "no");
    cpu_set_t none;
    CPU_ZERO(&none);
    CHECK(sched_setaffinity(0, sizeof none, &none) == -1 && errno == EINVAL);
}

int main(void) {
    unbuffered();
    test_madvise();
    test_affinity();
    return finish();
}
