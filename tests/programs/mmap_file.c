// Private file mappings (MAP_PRIVATE): contents, copy-on-write isolation from the file and
// across fork, offsets, the zero tail of the last page, and the errnos Linux gives. Works on a
// scratch file in /tmp (its own name, removed at the end).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096
#define FILE_SIZE (3 * PG + 100)

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + i / PG + 1); }

static int matches(const unsigned char* p, size_t file_off, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(file_off + i)) return 0;
    return 1;
}

static int zero(const unsigned char* p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static void show_fail(const char* what, void* r) {
    printf("%s: failed=%d errno=%s\n", what, r == MAP_FAILED,
           r != MAP_FAILED   ? "none"
           : errno == EBADF  ? "EBADF"
           : errno == EINVAL ? "EINVAL"
           : errno == EACCES ? "EACCES"
           : errno == ENODEV ? "ENODEV"
                             : "other");
    if (r != MAP_FAILED) munmap(r, PG);
}

int main(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/mmap_file.%d", (int)getpid());
    static unsigned char data[FILE_SIZE];
    for (size_t i = 0; i < FILE_SIZE; i++) data[i] = pattern(i);
    int wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (wfd < 0 || write(wfd, data, FILE_SIZE) != FILE_SIZE) {
        printf("setup failed %d\n", errno);
        return 1;
    }

    int fd = open(path, O_RDONLY);
    unsigned char* ro = mmap(0, FILE_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    if (ro == MAP_FAILED) {
        printf("mmap ro failed %d\n", errno);
        return 1;
    }
    printf("read-only contents=%d tail zero=%d\n", matches(ro, 0, FILE_SIZE), zero(ro + FILE_SIZE, PG - 100));

    // PROT_WRITE on a read-only descriptor is fine for a private mapping: writes stay private.
    unsigned char* rw = mmap(0, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (rw == MAP_FAILED) {
        printf("mmap rw failed %d\n", errno);
        return 1;
    }
    printf("read-write contents=%d\n", matches(rw, 0, FILE_SIZE));
    memset(rw + PG, 0xee, 10);
    rw[FILE_SIZE] = 0x42;  // the zero tail is writable memory too
    unsigned char back[16];
    ssize_t got = pread(fd, back, 10, PG);
    printf("written=%d pread after write=%zd unchanged=%d\n", rw[PG] == 0xee && rw[FILE_SIZE] == 0x42, got,
           matches(back, PG, 10));
    printf("other mapping unchanged=%d\n", matches(ro + PG, PG, 10));
    printf("file size unchanged=%d\n", (int)lseek(fd, 0, SEEK_END) == FILE_SIZE);

    // fork: the pages are private copy-on-write pages like anonymous ones.
    pid_t pid = fork();
    if (pid == 0) {
        int saw = rw[PG] == 0xee;
        rw[PG] = 0x11;
        _exit(saw && rw[PG] == 0x11 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child saw and wrote=%d parent unchanged=%d\n", WIFEXITED(status) && WEXITSTATUS(status) == 0,
           rw[PG] == 0xee);

    // mprotect may add PROT_WRITE to a private mapping of a read-only descriptor.
    printf("mprotect ro->rw=%d\n", mprotect(ro, PG, PROT_READ | PROT_WRITE));
    ro[0] = 0x99;
    printf("write after mprotect=%d\n", ro[0] == 0x99);

    // An offset mapping, and one whose length runs past the end of the file: the last page's
    // bytes after EOF are zero (pages wholly past EOF are not touched: Linux sends SIGBUS).
    unsigned char* mid = mmap(0, PG, PROT_READ, MAP_PRIVATE, fd, 2 * PG);
    printf("offset contents=%d\n", mid != MAP_FAILED && matches(mid, 2 * PG, PG));
    unsigned char* end = mmap(0, 4 * PG, PROT_READ, MAP_PRIVATE, fd, 3 * PG);
    printf("past eof contents=%d zero tail=%d\n", end != MAP_FAILED && matches(end, 3 * PG, 100),
           end != MAP_FAILED && zero(end + 100, PG - 100));

    // Fixed placement over an existing anonymous range.
    unsigned char* anon = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(anon, 0x33, 2 * PG);
    unsigned char* fixed = mmap(anon + PG, PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, PG);
    printf("fixed=%d contents=%d neighbour intact=%d\n", fixed == anon + PG, matches(fixed, PG, PG), anon[0] == 0x33);

    show_fail("bad fd", mmap(0, PG, PROT_READ, MAP_PRIVATE, 999, 0));
    show_fail("closed fd", mmap(0, PG, PROT_READ, MAP_PRIVATE, -1, 0));
    show_fail("unaligned offset", mmap(0, PG, PROT_READ, MAP_PRIVATE, fd, 100));
    show_fail("write-only fd", mmap(0, PG, PROT_READ, MAP_PRIVATE, wfd, 0));
    show_fail("write-only fd PROT_WRITE", mmap(0, PG, PROT_WRITE, MAP_PRIVATE, wfd, 0));
    int pipes[2];
    pipe(pipes);
    show_fail("pipe", mmap(0, PG, PROT_READ, MAP_PRIVATE, pipes[0], 0));
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
    show_fail("directory", mmap(0, PG, PROT_READ, MAP_PRIVATE, dir, 0));

    // The mapping outlives its descriptor.
    close(fd);
    printf("after close contents=%d\n", matches(mid, 2 * PG, PG));
    printf("munmap=%d %d %d %d %d\n", munmap(ro, FILE_SIZE), munmap(rw, FILE_SIZE), munmap(mid, PG),
           munmap(end, 4 * PG), munmap(anon, 2 * PG));
    close(wfd);
    close(pipes[0]);
    close(pipes[1]);
    close(dir);
    printf("unlink=%d\n", unlink(path));
    return 0;
}
