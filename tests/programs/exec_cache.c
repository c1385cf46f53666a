// The program page cache (kernel/posix/exec_cache.h) never runs stale code: a copy of this
// program on the ext2 root is run, patched in place (same size, likely the same second: only
// the invalidation on open-for-write can tell), then rewritten, and every run must show what the
// file holds at that moment. Lamina only (tests/system/exec_test.cpp runs it from the disk).
#define _GNU_SOURCE  // memmem
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char* what) {
    printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) failures++;
}

static char image[1 << 20];

static size_t load(const char* path) {
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, image, sizeof image) : -1;
    if (fd >= 0) close(fd);
    return n > 0 ? (size_t)n : 0;
}

static int store(const char* path, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    int ok = fd >= 0 && write(fd, image, n) == (ssize_t)n;
    if (fd >= 0) close(fd);
    return ok;
}

// Runs path and returns the first line it printed (empty on failure).
static const char* run(const char* path) {
    static char out[256];
    int p[2];
    out[0] = 0;
    if (pipe(p) != 0) return out;
    pid_t child = fork();
    if (child == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(path, path, "greet", (char*)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    ssize_t n;
    while (len < sizeof out - 1 && (n = read(p[0], out + len, sizeof out - 1 - len)) > 0) len += (size_t)n;
    close(p[0]);
    waitpid(child, NULL, 0);
    out[len] = 0;
    char* nl = strchr(out, '\n');
    if (nl) *nl = 0;
    return out;
}

static const char GREETING[] = "hello from the page cache test";

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "greet") == 0) {
        puts(GREETING);
        return 0;
    }
    // The greeting only once in the file (no literal copy of it), so that patching it counts.
    char expect[sizeof GREETING], jello[sizeof GREETING];
    memcpy(expect, GREETING, sizeof expect);
    memcpy(jello, GREETING, sizeof jello);
    jello[0] = 'j';
    // This program's own read-only pages come from the cache too: making one writable and
    // writing to it must give this process a private copy and leave the cached page alone.
    check(strcmp(run(argv[0]), expect) == 0, "this program runs from the cache");
    uintptr_t page = (uintptr_t)GREETING & ~(uintptr_t)4095;
    size_t span = ((uintptr_t)GREETING + sizeof GREETING - page + 4095) & ~(size_t)4095;
    check(mprotect((void*)page, span, PROT_READ | PROT_WRITE) == 0, "mprotect its greeting's page writable");
    ((volatile char*)GREETING)[0] = 'J';
    check(((volatile const char*)GREETING)[0] == 'J', "the write is seen here");
    check(strcmp(run(argv[0]), expect) == 0, "a new run still sees the cached original");

    size_t n = load(argv[0]);
    check(n > 0 && store("/root/prog", n), "copy this program to /root/prog");
    check(strcmp(run("/root/prog"), expect) == 0, "it runs");
    check(strcmp(run("/root/prog"), expect) == 0, "it runs again (from the cache)");

    // Patch the greeting in place: same size, same inode, and ext2 keeps whole seconds.
    char* at = memmem(image, n, expect, sizeof expect - 1);
    check(at != NULL, "the greeting is in the file");
    if (at) {
        int fd = open("/root/prog", O_WRONLY);
        check(fd >= 0 && pwrite(fd, "jello", 5, at - image) == 5, "patch it in place");
        if (fd >= 0) close(fd);
    }
    check(strcmp(run("/root/prog"), jello) == 0, "the patched program runs, not the cached one");
    check(store("/root/prog", n), "write the original back over it");
    check(strcmp(run("/root/prog"), expect) == 0, "the original runs again");
    unlink("/root/prog");
    return failures ? 1 : 0;
}
