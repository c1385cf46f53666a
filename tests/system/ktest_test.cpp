// Runs the in-kernel test suite (kernel command line `ktest`) under -smp 2 through both boot
// paths: every registered test must pass and QEMU must leave with the "all passed" status.
#include "tests/system/fixture.h"

#include <regex>

namespace lamina::test {
namespace {

class KTest : public SystemTest, public ::testing::WithParamInterface<bool> {};

TEST_P(KTest, AllPass) {
    auto& vm = boot({.direct = GetParam(), .smp = 2, .append = "ktest"});
    ASSERT_TRUE(vm.wait_for("ktest: running", BOOT_TIMEOUT));
    std::string log;
    ASSERT_TRUE(vm.wait_for(" failed\r", 600s, log)) << "no ktest summary";
    std::smatch m;
    std::regex summary("ktest: ([0-9]+) passed, ([0-9]+)");
    ASSERT_TRUE(std::regex_search(log, m, summary)) << log;
    EXPECT_GT(std::stoi(m[1]), 0) << "no in-kernel test ran";
    EXPECT_EQ(std::stoi(m[2]), 0) << log;
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

INSTANTIATE_TEST_SUITE_P(Paths, KTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Direct" : "Uefi"; });

}  // namespace
}  // namespace lamina::test
