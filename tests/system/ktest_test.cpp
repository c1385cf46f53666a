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
    // Read line by line until the summary: a line that is exactly "ktest: N passed, M failed".
    std::string line;
    int passed = -1, failed = -1;
    auto deadline = std::chrono::steady_clock::now() + 600s;
    while (std::chrono::steady_clock::now() < deadline) {
        ASSERT_TRUE(vm.wait_for("\n", 600s, line)) << "no ktest summary";
        char tail = 0;
        if (std::sscanf(line.c_str(), "ktest: %d passed, %d failed%c", &passed, &failed, &tail) == 3 && tail == '\r')
            break;
        passed = failed = -1;
    }
    ASSERT_GE(passed, 0) << "no ktest summary";
    EXPECT_GT(passed, 0) << "no in-kernel test ran";
    EXPECT_EQ(failed, 0) << "see the serial log";
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

INSTANTIATE_TEST_SUITE_P(Paths, KTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Direct" : "Uefi"; });

}  // namespace
}  // namespace lamina::test
