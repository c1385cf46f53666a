// The memory manager seen from outside: the boot log reports memory, and a kernel stack overflow
// hits the guard page below a kernel stack and is reported as such (the #PF handler runs on its
// own IST stack, so the report survives the overflow).
#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

class Memory : public SystemTest, public ::testing::WithParamInterface<bool> {};

TEST_P(Memory, BootLogReportsTotalAndFree) {
    auto& vm = boot({.direct = GetParam(), .append = "init=sysctl poweroff"});
    std::string line;
    ASSERT_TRUE(vm.wait_for("mm: ", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("MiB free", 10s, line));
    EXPECT_NE(line.find("MiB total"), std::string::npos) << line;
    EXPECT_EQ(vm.wait_exit(30s), 0);
}

TEST_P(Memory, KernelStackOverflowHitsGuardPage) {
    auto& vm = boot({.direct = GetParam(), .append = "crash=stack-overflow"});
    ASSERT_TRUE(vm.wait_for("lamina: crashing on request: stack-overflow", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("KERNEL PANIC: #PF page fault", 30s));
    ASSERT_TRUE(vm.wait_for("kernel stack overflow (guard page hit)", 5s));
    ASSERT_TRUE(vm.wait_for("recurse_without_end", 5s));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_PANIC);
}

INSTANTIATE_TEST_SUITE_P(Paths, Memory, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Direct" : "Uefi"; });

}  // namespace
}  // namespace lamina::test
