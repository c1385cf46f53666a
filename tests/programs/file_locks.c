// Advisory file locks between processes: fcntl record locks (conflicts, F_GETLK, splitting and
// merging, F_SETLKW waiting, release on any close and at exit, EDEADLK, EINTR), OFD locks and
// flock. Only the parent prints; children report through exit statuses and pipes.
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include "proc_test.h"

static char path[64];

static const char* yes(int c) { return c ? "yes" : "no"; }

static int lock(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

// F_GETLK as a line: "unlocked" or "W 0+10 by parent".
static const char* query(int fd, int cmd, short type, off_t start, off_t len, pid_t parent) {
    static char buf[96];
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    if (fcntl(fd, cmd, &fl) != 0) {
        snprintf(buf, sizeof buf, "error %d", errno);
    } else if (fl.l_type == F_UNLCK) {
        snprintf(buf, sizeof buf, "unlocked");
    } else {
        snprintf(buf, sizeof buf, "%s %ld+%ld by %s", fl.l_type == F_WRLCK ? "W" : "R", (long)fl.l_start,
                 (long)fl.l_len,
                 fl.l_pid == parent ? "parent"
                 : fl.l_pid == -1   ? "-1"
                                    : "other");
    }
    return buf;
}

// Runs fn in a child and returns its exit status as text.
static const char* in_child(int (*fn)(void)) {
    pid_t pid = fork();
    if (pid == 0) _exit(fn());
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    return describe(status);
}

static pid_t parent;
static char answer[256];

// A child's F_GETLK lines, passed back through a file the parent reads.
static int child_queries(void) {
    int fd = open(path, O_RDWR);
    snprintf(answer, sizeof answer, "%s", query(fd, F_GETLK, F_WRLCK, 5, 1, parent));
    size_t n = strlen(answer);
    snprintf(answer + n, sizeof answer - n, " | %s", query(fd, F_GETLK, F_WRLCK, 2, 1, parent));
    n = strlen(answer);
    snprintf(answer + n, sizeof answer - n, " | %s", query(fd, F_GETLK, F_RDLCK, 20, 0, parent));
    int out = open("/tmp/file_locks.out", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    write(out, answer, strlen(answer));
    close(out);
    return 0;
}

static const char* child_answer(void) {
    in_child(child_queries);
    static char buf[256];
    int fd = open("/tmp/file_locks.out", O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static int child_try_write_lock(void) {
    int fd = open(path, O_RDWR);
    if (lock(fd, F_SETLK, F_WRLCK, 0, 1) == 0) return 0;
    return errno == EAGAIN ? 11 : 1;
}

static int child_read_lock_elsewhere(void) {
    int fd = open(path, O_RDWR);
    return lock(fd, F_SETLK, F_RDLCK, 100, 10) == 0 ? 0 : 1;
}

// 'S' once the process sleeps (in a blocking call), read from /proc/PID/stat.
static void wait_until_sleeping(pid_t pid) {
    char name[64], stat[256];
    snprintf(name, sizeof name, "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 2000; i++) {
        int fd = open(name, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, stat, sizeof stat - 1) : -1;
        if (fd >= 0) close(fd);
        if (n > 0) {
            stat[n] = 0;
            char* close_paren = strrchr(stat, ')');
            if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'S') return;
        }
        usleep(5000);
    }
    printf("child %d never slept\n", (int)pid);
}

static void record_locks(void) {
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    CHECK(lock(fd, F_SETLK, F_WRLCK, 0, 10) == 0);
    printf("child sees: %s\n", child_answer());
    printf("own lock does not conflict: %s\n", query(fd, F_GETLK, F_WRLCK, 0, 10, parent));
    printf("child write lock: %s\n", in_child(child_try_write_lock));
    printf("child read lock elsewhere: %s\n", in_child(child_read_lock_elsewhere));

    // Unlocking the middle splits the lock in two.
    CHECK(lock(fd, F_SETLK, F_UNLCK, 3, 2) == 0);
    printf("after the split: %s\n", child_answer());
    // Adjacent write locks merge; a read lock over part of it converts that part.
    CHECK(lock(fd, F_SETLK, F_WRLCK, 3, 2) == 0);
    CHECK(lock(fd, F_SETLK, F_WRLCK, 10, 10) == 0);
    CHECK(lock(fd, F_SETLK, F_RDLCK, 20, 0) == 0);
    printf("merged: %s\n", child_answer());
    CHECK(lock(fd, F_SETLK, F_UNLCK, 0, 0) == 0);
    printf("all unlocked: %s\n", child_answer());

    // POSIX: closing any descriptor of the file drops the process's locks on it.
    CHECK(lock(fd, F_SETLK, F_WRLCK, 0, 10) == 0);
    int other = open(path, O_RDONLY);
    close(other);
    printf("after closing another descriptor: %s\n", child_answer());
    close(fd);
}

static int pipe_fds[2];

// A child running fn, with a fresh pipe_fds to report through.
static pid_t child_with_pipe(int (*fn)(void)) {
    CHECK(pipe(pipe_fds) == 0);
    pid_t pid = fork();
    if (pid == 0) _exit(fn());
    return pid;
}

// Reaps it and closes the pipe; its status as text.
static const char* reap_child(pid_t pid) {
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return describe(status);
}

static int child_wait_for_lock(void) {
    int fd = open(path, O_RDWR);
    if (lock(fd, F_SETLKW, F_WRLCK, 0, 0) != 0) return 1;
    write(pipe_fds[1], "L", 1);
    return 0;
}

static void waiting(void) {
    int fd = open(path, O_RDWR);
    CHECK(lock(fd, F_SETLK, F_WRLCK, 0, 0) == 0);
    pid_t pid = child_with_pipe(child_wait_for_lock);
    wait_until_sleeping(pid);
    struct pollfd p = {pipe_fds[0], POLLIN, 0};
    printf("child waits while the lock is held: %s\n", yes(poll(&p, 1, 0) == 0));
    CHECK(lock(fd, F_SETLK, F_UNLCK, 0, 0) == 0);
    char c = 0;
    CHECK(read(pipe_fds[0], &c, 1) == 1);
    printf("child got it after the unlock: %c, %s\n", c, reap_child(pid));
    // The child ended: its lock went with it.
    printf("lock free after the child's exit: %s\n", yes(lock(fd, F_SETLK, F_WRLCK, 0, 0) == 0));
    close(fd);
}

static int child_deadlock(void) {
    int fd = open(path, O_RDWR);
    if (lock(fd, F_SETLK, F_WRLCK, 1, 1) != 0) return 1;
    write(pipe_fds[1], "B", 1);
    // Waits for the parent's byte 0; the parent then asks for byte 1: a cycle.
    if (lock(fd, F_SETLKW, F_WRLCK, 0, 1) != 0) return errno == EDEADLK ? 35 : 2;
    return 0;
}

static void deadlock(void) {
    int fd = open(path, O_RDWR);
    CHECK(lock(fd, F_SETLK, F_WRLCK, 0, 1) == 0);
    pid_t pid = child_with_pipe(child_deadlock);
    char c;
    CHECK(read(pipe_fds[0], &c, 1) == 1);
    wait_until_sleeping(pid);
    errno = 0;
    int r = lock(fd, F_SETLKW, F_WRLCK, 1, 1);
    printf("deadlock: %d %s\n", r, errno == EDEADLK ? "EDEADLK" : "other");
    CHECK(lock(fd, F_SETLK, F_UNLCK, 0, 1) == 0);
    printf("the other side got its lock: %s\n", reap_child(pid));
    close(fd);
}

static void on_alarm(int sig) { (void)sig; }

static int child_interrupted(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;  // no SA_RESTART
    sigaction(SIGALRM, &sa, NULL);
    int fd = open(path, O_RDWR);
    alarm(1);
    if (lock(fd, F_SETLKW, F_WRLCK, 0, 0) == 0) return 0;
    return errno == EINTR ? 4 : 1;
}

static void interrupted(void) {
    int fd = open(path, O_RDWR);
    CHECK(lock(fd, F_SETLK, F_WRLCK, 0, 0) == 0);
    printf("F_SETLKW interrupted by a signal: %s\n", in_child(child_interrupted));
    close(fd);
}

static void ofd_locks(void) {
    int a = open(path, O_RDWR), b = open(path, O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    CHECK(fcntl(a, F_OFD_SETLK, &fl) == 0);
    errno = 0;
    printf("OFD: a second description conflicts in the same process: %s\n",
           yes(fcntl(b, F_OFD_SETLK, &fl) == -1 && errno == EAGAIN));
    printf("OFD query: %s\n", query(b, F_OFD_GETLK, F_RDLCK, 0, 1, parent));
    errno = 0;
    printf("OFD and POSIX conflict: %s\n", yes(lock(b, F_SETLK, F_RDLCK, 5, 1) == -1 && errno == EAGAIN));
    int dup_a = dup(a);
    close(dup_a);
    printf("closing a duplicate keeps it: %s\n", yes(fcntl(b, F_OFD_SETLK, &fl) == -1));
    close(a);
    printf("the last close releases it: %s\n", yes(fcntl(b, F_OFD_SETLK, &fl) == 0));
    fl.l_pid = 1;
    errno = 0;
    printf("OFD with l_pid set: %s\n", yes(fcntl(b, F_OFD_SETLK, &fl) == -1 && errno == EINVAL));
    close(b);
}

static int child_flock_nb(void) {
    int fd = open(path, O_RDONLY);
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) return 0;
    return errno == EWOULDBLOCK ? 11 : 1;
}

static int child_flock_wait(void) {
    int fd = open(path, O_RDONLY);
    if (flock(fd, LOCK_EX) != 0) return 1;
    write(pipe_fds[1], "F", 1);
    return 0;
}

static int child_fcntl_beside_flock(void) {
    int fd = open(path, O_RDWR);
    return lock(fd, F_SETLK, F_WRLCK, 0, 0) == 0 ? 0 : 1;
}

static void flocks(void) {
    int a = open(path, O_RDONLY), b = open(path, O_RDONLY);
    CHECK(flock(a, LOCK_EX) == 0);
    errno = 0;
    printf("flock: exclusive blocks another description: %s\n",
           yes(flock(b, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK));
    printf("flock: a child's shared try: %s\n", in_child(child_flock_nb));
    printf("flock and fcntl locks are independent: %s\n", in_child(child_fcntl_beside_flock));
    CHECK(flock(a, LOCK_SH) == 0);  // conversion
    printf("shared beside shared: %s\n", yes(flock(b, LOCK_SH | LOCK_NB) == 0));
    CHECK(flock(b, LOCK_UN) == 0);
    CHECK(flock(a, LOCK_EX) == 0);
    pid_t pid = child_with_pipe(child_flock_wait);
    wait_until_sleeping(pid);
    struct pollfd p = {pipe_fds[0], POLLIN, 0};
    printf("flock: the child waits: %s\n", yes(poll(&p, 1, 0) == 0));
    CHECK(flock(a, LOCK_UN) == 0);
    char c = 0;
    CHECK(read(pipe_fds[0], &c, 1) == 1);
    printf("flock: it got the lock: %c, %s\n", c, reap_child(pid));
    errno = 0;
    printf("flock: bad operation: %s\n", yes(flock(a, 3) == -1 && errno == EINVAL));
    close(a);
    close(b);
}

static void errors(void) {
    int ro = open(path, O_RDONLY);
    errno = 0;
    printf("write lock on a read-only descriptor: %s\n", yes(lock(ro, F_SETLK, F_WRLCK, 0, 1) == -1 && errno == EBADF));
    errno = 0;
    printf("bad type: %s\n", yes(lock(ro, F_SETLK, 7, 0, 1) == -1 && errno == EINVAL));
    struct flock fl = {.l_type = F_RDLCK, .l_whence = 9};
    errno = 0;
    printf("bad whence: %s\n", yes(fcntl(ro, F_SETLK, &fl) == -1 && errno == EINVAL));
    errno = 0;
    printf("negative start: %s\n", yes(lock(ro, F_SETLK, F_RDLCK, -5, 1) == -1 && errno == EINVAL));
    errno = 0;
    printf("closed descriptor: %s\n", yes(lock(77, F_SETLK, F_RDLCK, 0, 1) == -1 && errno == EBADF));
    // A negative length counts backwards; SEEK_END counts from the size.
    CHECK(lock(ro, F_SETLK, F_RDLCK, 10, -5) == 0);
    fl = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_END, .l_start = -2, .l_len = 1};
    CHECK(fcntl(ro, F_SETLK, &fl) == 0);
    int rw = open(path, O_RDWR);
    printf("ranges held by the parent: %s", query(rw, F_OFD_GETLK, F_WRLCK, 0, 8, parent));
    printf(" | %s\n", query(rw, F_OFD_GETLK, F_WRLCK, 11, 0, parent));
    close(rw);
    close(ro);
}

int main(void) {
    unbuffered();
    parent = getpid();
    snprintf(path, sizeof path, "/tmp/file_locks.%d", (int)parent);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, "0123456789abcdef", 16) == 16);
    close(fd);
    record_locks();
    waiting();
    deadlock();
    interrupted();
    ofd_locks();
    flocks();
    errors();
    unlink(path);
    unlink("/tmp/file_locks.out");
    return finish();
}
