// Files unlinked (or renamed over) while open stay usable until their last close, as POSIX
// says: through every descriptor, in every process holding one, with st_nlink 0. Runs in a
// scratch directory made in the working directory (the ext3 root in Lamina, not tmpfs),
// removed at the end. Exits with the number of failed checks.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include "proc_test.h"

static long nlink_of(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? (long)st.st_nlink : -1;
}

static long size_of(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

static void put(const char* name, const char* text) {
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

// The whole file from offset 0 as a string (at most 63 bytes).
static const char* contents(int fd) {
    static char buf[64];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n < 0 ? 0 : n] = 0;
    return n < 0 ? strerror(errno) : buf;
}

static void unlinked_while_open(void) {
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, "before", 6) == 6);
    int reader = open("f", O_RDONLY);
    CHECK(reader >= 0);
    printf("unlink: %d\n", unlink("f"));
    printf("name gone: %s\n", access("f", F_OK) == 0 ? "no" : strerror(errno));
    printf("nlink %ld size %ld\n", nlink_of(fd), size_of(fd));
    printf("write after unlink: %zd\n", write(fd, " after", 6));
    printf("other descriptor reads: [%s]\n", contents(reader));
    printf("lseek: %ld\n", (long)lseek(fd, 2, SEEK_SET));
    char buf[8] = {0};
    printf("read: %zd [%s]\n", read(fd, buf, 4), buf);

    // New files must not take its inode while it is open.
    put("g", "another file");
    int g = open("g", O_RDONLY);
    struct stat a, b;
    CHECK(fstat(fd, &a) == 0 && fstat(g, &b) == 0);
    printf("distinct inodes: %d\n", a.st_ino != b.st_ino);
    printf("still reads: [%s]\n", contents(reader));
    close(g);
    unlink("g");

    // Many blocks, through the indirect ones, then truncated and written again.
    static char big[300 * 1024];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7 + i / 1000);
    printf("big write: %zd\n", pwrite(fd, big, sizeof big, 4096));
    static char back[sizeof big];
    // (The call first, then what it changed: arguments have no order of evaluation.)
    ssize_t n = pread(reader, back, sizeof back, 4096);
    printf("big read: %zd same %d\n", n, memcmp(big, back, sizeof big) == 0);
    int r = ftruncate(fd, 3);
    printf("ftruncate: %d size %ld\n", r, size_of(reader));
    r = fchmod(fd, 0600);
    printf("fchmod: %d mode %o\n", r, (unsigned)(fstat(reader, &a) == 0 ? a.st_mode & 0777 : 0));
    printf("fsync: %d\n", fsync(fd));
    printf("after truncate: [%s]\n", contents(reader));
    close(fd);
    printf("after one close: [%s] nlink %ld\n", contents(reader), nlink_of(reader));
    close(reader);
}

// The parent unlinks and closes; the child, holding its own open file, goes on using it.
static void second_process(void) {
    int fd = open("h", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, "shared", 6) == 6);
    int go[2], done[2];
    CHECK(pipe(go) == 0 && pipe(done) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int own = open("h", O_RDWR);
        CHECK(own >= 0);
        CHECK(write(done[1], "o", 1) == 1);  // opened
        char c;
        CHECK(read(go[0], &c, 1) == 1);  // the parent unlinked and closed
        printf("child: nlink %ld [%s]\n", nlink_of(own), contents(own));
        printf("child: append %zd\n", pwrite(own, " by child", 9, 6));
        printf("child: reads [%s]\n", contents(own));
        close(own);
        _exit(failures);
    }
    char c;
    CHECK(read(done[0], &c, 1) == 1);
    printf("parent: unlink %d\n", unlink("h"));
    close(fd);
    CHECK(write(go[1], "g", 1) == 1);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("child %s\n", describe(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failures++;
}

static void renamed_over(void) {
    put("r", "old contents");
    int old = open("r", O_RDONLY);
    CHECK(old >= 0);
    put("s", "new contents");
    printf("rename: %d\n", rename("s", "r"));
    printf("old file: nlink %ld [%s]\n", nlink_of(old), contents(old));
    int now = open("r", O_RDONLY);
    printf("the name: nlink %ld [%s]\n", nlink_of(now), contents(now));
    close(now);
    close(old);
    printf("unlink r: %d\n", unlink("r"));
}

int main(void) {
    unbuffered();
    char scratch[] = "orphans_XXXXXX";
    if (!mkdtemp(scratch) || chdir(scratch) != 0) {
        printf("no scratch directory: %s\n", strerror(errno));
        return 1;
    }
    unlinked_while_open();
    second_process();
    renamed_over();
    CHECK(chdir("..") == 0);
    printf("rmdir: %d\n", rmdir(scratch));
    printf("%d failures\n", failures);
    return failures;
}
