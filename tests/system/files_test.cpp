// The file name space as programs see it in Lamina (things the host cannot be compared with):
// a boot-module program on the kernel's tmpfs root, a program started by path from the ext2
// root on the NVMe disk, the mounts, procfs's per-process and global files, devfs.
#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

// Waits for init to start `program` and for the console to show `until`; returns what came
// between, without the console's CRs. A timeout is a test failure (check HasFailure()).
std::string init_output(Qemu& vm, const std::string& program, const std::string& until) {
    std::string out;
    if (!vm.wait_for("init: starting " + program, BOOT_TIMEOUT)) {
        ADD_FAILURE() << program << " did not start";
        return out;
    }
    if (!vm.wait_for(until, 60s, out)) ADD_FAILURE() << "no \"" << until << "\" after " << program;
    out.erase(std::remove(out.begin(), out.end(), '\r'), out.end());
    return out;
}

TEST_F(SystemTest, ProcAndDevSeenFromABootModuleProgram) {
    auto& vm = boot({.direct = true,
                     .append = "init=cat /proc/mounts /proc/1/status /proc/self/cmdline /proc/self/stat "
                               "/proc/meminfo /proc/uptime /dev/null"});
    std::string out = init_output(vm, "cat", "\ninit exited");
    ASSERT_FALSE(HasFailure());
    EXPECT_NE(out.find("== /proc/mounts\nrootfs / tmpfs rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n"
                       "devtmpfs /dev devtmpfs rw 0 0\nproc /proc proc rw 0 0\n"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("Name:\tcat\n"), std::string::npos) << out;
    EXPECT_NE(out.find("Pid:\t1\nPPid:\t0\n"), std::string::npos) << out;
    EXPECT_NE(out.find(std::string("== /proc/self/cmdline\ncat\0", 22)), std::string::npos) << out;
    EXPECT_NE(out.find("== /proc/self/stat\n1 (cat) R 0 "), std::string::npos) << out;
    EXPECT_NE(out.find("== /proc/meminfo\nMemTotal:"), std::string::npos) << out;
    EXPECT_NE(out.find("== /proc/uptime\n"), std::string::npos) << out;
    EXPECT_NE(out.find("== /dev/null"), std::string::npos) << out;
    std::string end;
    ASSERT_TRUE(vm.wait_for("\n", 5s, end));
    EXPECT_NE(end.find("with status 0"), std::string::npos) << end;
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

// init=/PATH: busybox's cat from the ext2 root (the fs domain over the NVMe domain), with
// devfs, procfs and a tmpfs mounted inside it.
TEST_F(SystemTest, ProgramStartedByPathRunsFromTheExt2Root) {
    auto& vm = boot({.direct = true, .append = "init=/bin/cat /proc/mounts /etc/hostname"});
    std::string out = init_output(vm, "/bin/cat", "\ninit exited with status 0");
    ASSERT_FALSE(HasFailure());
    EXPECT_NE(out.find("nvme0n1p2 / ext2 rw 0 0\ndevtmpfs /dev devtmpfs rw 0 0\nproc /proc proc rw 0 0\n"
                       "tmpfs /tmp tmpfs rw 0 0\nlamina"),
              std::string::npos)
        << out;
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

}  // namespace
}  // namespace lamina::test

namespace lamina::test {
namespace {

TEST_F(SystemTest, MountAndUmount) {
    auto& vm = boot({.direct = true, .append = "init=mounts"});
    std::string out = init_output(vm, "mounts", "\ninit exited with status 0");
    ASSERT_FALSE(HasFailure());
    const char* expected[] = {
        "mount tmpfs on /mnt: 0",
        "proc /proc proc rw 0 0\nnone /mnt tmpfs rw 0 0\n",
        "statfs /mnt: 0",
        "tmpfs magic: 1",
        "proc magic: 1",
        "umount while a file is open: -1 Resource busy",
        "umount while it is the cwd: -1 Resource busy",
        "umount: 0",
        "file gone with it: -1 No such file or directory",
        "umount a plain directory: -1 Invalid argument",
        "mount an unknown type: -1 No such device",
        "mount on a missing directory: -1 No such file or directory",
        "mount proc again on /mnt: 0",
        "its self link: 0",
        "umount it: 0 \nrootfs / tmpfs rw 0 0\ntmpfs /tmp tmpfs rw 0 0\ndevtmpfs /dev devtmpfs rw 0 0\nproc /proc proc "
        "rw 0 0",
    };
    for (const char* e : expected) EXPECT_NE(out.find(e), std::string::npos) << e << "\n---\n" << out;
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

}  // namespace
}  // namespace lamina::test
