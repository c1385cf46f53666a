// /proc/sys/vm/drop_caches (tests/system/exec_test.cpp runs it from the ext2 root): a write of
// 1-3 restarts the fs domain cleanly (its restart count goes up by one), data written before
// reads back the same afterwards, through a new descriptor and one kept open across the drop,
// and anything else is EINVAL.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_field.h"

static int failures;

static void check(int ok, const char* what) {
    printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) failures++;
}

// The fs domain's restarts= field in /proc/domains, -1 if not found.
static long fs_restarts(void) { return proc_field("/proc/domains", " name=fs ", " restarts="); }

static int drop(const char* value) {
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_TRUNC);
    if (fd < 0) return errno;
    int e = write(fd, value, strlen(value)) == (ssize_t)strlen(value) ? 0 : errno;
    close(fd);
    return e;
}

int main(void) {
    static char data[100000], back[100000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 7 + i / 251);
    int fd = open("/root/drop-caches-test", O_RDWR | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0 && write(fd, data, sizeof data) == sizeof data, "write a file");
    long before = fs_restarts();
    check(before >= 0, "/proc/domains shows the fs domain");
    check(drop("3\n") == 0, "echo 3 > /proc/sys/vm/drop_caches");
    check(fs_restarts() == before + 1, "the fs domain was restarted once");
    check(pread(fd, back, sizeof back, 0) == sizeof back && memcmp(data, back, sizeof data) == 0,
          "the open descriptor reads the data back");
    close(fd);
    fd = open("/root/drop-caches-test", O_RDONLY);
    check(fd >= 0 && read(fd, back, sizeof back) == sizeof back && memcmp(data, back, sizeof data) == 0,
          "a new descriptor reads the data back");
    close(fd);
    check(drop("1") == 0 && fs_restarts() == before + 2, "1 drops too");
    check(drop("4") == EINVAL, "4 is EINVAL");
    check(drop("0") == EINVAL, "0 is EINVAL");
    check(drop("33") == EINVAL, "33 is EINVAL");
    check(unlink("/root/drop-caches-test") == 0, "unlink");
    return failures ? 1 : 0;
}
