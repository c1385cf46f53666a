// Error returns: a bad pointer gives EFAULT, a bad fd EBADF, an unknown syscall ENOSYS.
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    errno = 0;
    long r = write(1, (const void*)16, 10);
    printf("write bad pointer: %ld errno=%d (EFAULT=%d)\n", r, errno, EFAULT);
    errno = 0;
    r = write(1, (const void*)0xffff800000000000ul, 10);
    printf("write kernel pointer: %ld errno=%d\n", r, errno);
    errno = 0;
    r = write(42, "x", 1);
    printf("write bad fd: %ld errno=%d (EBADF=%d)\n", r, errno, EBADF);
    errno = 0;
    r = syscall(1000);
    printf("syscall 1000: %ld errno=%d (ENOSYS=%d)\n", r, errno, ENOSYS);
    errno = 0;
    r = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (struct timespec*)8);  // not through the vDSO
    printf("clock_gettime bad pointer: %ld errno=%d\n", r, errno);
    errno = 0;
    r = syscall(SYS_uname, (void*)24);
    printf("uname bad pointer: %ld errno=%d\n", r, errno);
    return 0;
}
