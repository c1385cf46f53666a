// Random system calls from several processes at once (issue 17): tests/programs/stress with
// four workers, each forking children that issue random calls with random arguments, under
// -smp 2 so that the calls race each other on both CPUs. The kernel answers them all, every
// worker reports back, and the ext2 root is clean afterwards.
#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"

namespace lamina::test {
namespace {

TEST_F(SystemTest, RandomSystemCallsFromFourProcessesOnTwoCpus) {
    ImageCopy copy;
    ASSERT_TRUE(copy.ok());
    auto& vm = boot({.direct = true,
                     .smp = 2,
                     .append = "init=/usr/libexec/lamina/stress 8 3000 0x17 4",
                     .image = copy.path(),
                     .snapshot = false});
    std::string before;
    ASSERT_TRUE(vm.wait_for("stress: 4 processes x 8 rounds of 3000 calls: ", BOOT_TIMEOUT * 3, before));
    EXPECT_EQ(before.find("KERNEL PANIC"), std::string::npos);
    ASSERT_TRUE(vm.wait_for("stress: the kernel is still running", 10s));
    ASSERT_TRUE(vm.wait_for("init exited with status 0", 30s));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
    std::string part = root_partition(copy.path());
    ASSERT_FALSE(part.empty());
    auto fsck = run_command("e2fsck -fn '" + part + "'");
    EXPECT_EQ(fsck.status, 0) << fsck.output;
}

}  // namespace
}  // namespace lamina::test
