// Copy-on-write: after fork, writes in either process are invisible to the other (data,
// bss, heap, stack, anonymous private mappings), read-only pages stay shared, MAP_SHARED
// mappings are shared, and kernel writes into a copy-on-write page (read() into a buffer,
// here: clock_gettime into one) copy it too.
#include <sys/mman.h>
#include <time.h>
#include "proc_test.h"

static int data_var = 1234;
static char bss_buf[3 * 4096];
static const char rodata[] = "read-only text";

int main(void) {
    unbuffered();
    int stack_var = 99;
    char* heap = malloc(100000);
    memset(heap, 'h', 100000);
    memset(bss_buf, 'b', sizeof bss_buf);
    char* anon = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int* shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(anon != MAP_FAILED && shared != MAP_FAILED);
    memset(anon, 'a', 4 * 4096);  // half touched, half demand-zero
    *shared = 1;

    pid_t pid = fork();
    if (pid == 0) {
        // The child sees the parent's values...
        int ok = data_var == 1234 && stack_var == 99 && heap[99999] == 'h' && bss_buf[5000] == 'b' && anon[0] == 'a' &&
                 anon[7 * 4096] == 0 && strcmp(rodata, "read-only text") == 0;
        // ...and changes them.
        data_var = 1;
        stack_var = 2;
        memset(heap, 'c', 100000);
        memset(bss_buf, 'c', sizeof bss_buf);
        memset(anon, 'c', 8 * 4096);
        struct timespec* ts = (struct timespec*)(heap + 4096);
        clock_gettime(CLOCK_MONOTONIC, ts);  // a kernel write into a (now private) page
        *shared = 2;
        _exit(ok ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("child saw the parent's memory: %s\n", describe(status));
    printf("data=%d stack=%d heap=%c%c bss=%c anon=%c,%d shared=%d\n", data_var, stack_var, heap[0], heap[99999],
           bss_buf[8000], anon[4096], anon[7 * 4096], *shared);

    // The other direction: the parent writes after fork, the child keeps the old values.
    int pipe_like = 0;
    pid = fork();
    if (pid == 0) {
        usleep(100 * 1000);  // the parent has written by now
        _exit(data_var == 1234 && heap[10] == 'h' && pipe_like == 0 ? 0 : 1);
    }
    data_var = 5;
    heap[10] = 'p';
    pipe_like = 1;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("child kept its copy: %s\n", describe(status));

    // A chain of forks, each writing the same page.
    int depth_var = 0;
    for (int i = 0; i < 4; i++) {
        pid = fork();
        if (pid == 0) {
            depth_var = i + 1;
            continue;
        }
        waitpid(pid, &status, 0);
        if (i == 0) {
            printf("chain: %s, depth_var=%d\n", describe(status), depth_var);
            return finish();
        }
        _exit(depth_var == i && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 50);
    }
    _exit(depth_var == 4 ? 0 : 60);
}
