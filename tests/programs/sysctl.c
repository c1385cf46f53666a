// The system-wide calls (kernel/posix/sys_system.cpp), Lamina only (it sets the host name and
// powers the machine off): uname with a host name set by sethostname, sysinfo, dmesg's syslog,
// reboot's argument checks, then a clean power-off through reboot(2).
#define _GNU_SOURCE  // memmem
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char* what) {
    printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) failures++;
}

int main(int argc, char** argv) {
    struct utsname u;
    check(uname(&u) == 0 && strcmp(u.sysname, "Lamina") == 0 && strcmp(u.machine, "x86_64") == 0, "uname");
    check(sethostname("box", 3) == 0, "sethostname");
    check(uname(&u) == 0 && strcmp(u.nodename, "box") == 0, "uname shows the new host name");
    char longname[70];
    memset(longname, 'a', sizeof longname);
    check(sethostname(longname, 65) == -1 && errno == EINVAL, "a 65-byte host name is EINVAL");
    check(sethostname((const char*)8, 3) == -1 && errno == EFAULT, "a bad pointer is EFAULT");

    struct sysinfo si;
    check(sysinfo(&si) == 0 && si.totalram > si.freeram && si.freeram > 0 && si.mem_unit == 1 && si.procs >= 1,
          "sysinfo");
    check(syscall(SYS_sysinfo, (void*)16) == -1 && errno == EFAULT, "sysinfo to a bad pointer is EFAULT");

    int size = klogctl(10, NULL, 0);
    check(size == 64 * 1024, "syslog buffer size");
    static char log[64 * 1024];
    int n = klogctl(3, log, sizeof log);
    check(n > 0 && memmem(log, (size_t)n, "Lamina", 6) != NULL, "syslog READ_ALL holds the banner");
    check(klogctl(99, log, sizeof log) == -1 && errno == EINVAL, "unknown syslog command is EINVAL");

    check(syscall(SYS_reboot, 0x12345678, 672274793, RB_POWER_OFF, 0) == -1 && errno == EINVAL,
          "reboot with a bad magic is EINVAL");
    check(syscall(SYS_reboot, 0xfee1dead, 672274793, 0x11111111, 0) == -1 && errno == EINVAL,
          "reboot with an unknown command is EINVAL");
    printf("%d failures\n", failures);
    if (argc > 1 && strcmp(argv[1], "poweroff") == 0 && failures == 0) {
        fflush(stdout);
        reboot(RB_POWER_OFF);
        printf("FAILED: reboot(RB_POWER_OFF) returned: %s\n", strerror(errno));
    }
    return failures ? 1 : 0;
}
