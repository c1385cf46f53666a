// Runs the in-kernel test suite (kernel command line `ktest`) under -smp 2 through both boot
// paths: every registered test must pass and QEMU must leave with the "all passed" status.
#include "tests/system/fixture.h"

#include <cstdio>

namespace lamina::test {
namespace {

class KTest : public SystemTest, public ::testing::WithParamInterface<bool> {};

TEST_P(KTest, AllPass) {
    auto& vm = boot({.direct = GetParam(), .smp = 2, .append = "ktest"});
    ASSERT_TRUE(vm.wait_for("ktest: running", BOOT_TIMEOUT));
    std::string log;
    ASSERT_TRUE(vm.wait_for(" failed\r", 600s, log)) << "no ktest summary";
    size_t at = log.rfind("ktest: ");
    ASSERT_NE(at, std::string::npos) << log;
    int passed = -1, failed = -1;
    ASSERT_EQ(std::sscanf(log.c_str() + at, "ktest: %d passed, %d", &passed, &failed), 2) << log;
    EXPECT_GT(passed, 0) << "no in-kernel test ran";
    EXPECT_EQ(failed, 0) << log;
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

INSTANTIATE_TEST_SUITE_P(Paths, KTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Direct" : "Uefi"; });

}  // namespace
}  // namespace lamina::test
