// Four CPUs: every one comes up (the boot log says so) and the `smp` in-kernel suite passes on
// them.
#include "tests/system/fixture.h"

#include <cstdio>

namespace lamina::test {
namespace {

class Smp : public SystemTest {};

TEST_F(Smp, FourCpusComeUpAndRunTheSmpSuite) {
    auto& vm = boot({.direct = true, .smp = 4, .append = "ktest=smp"});
    std::string log;
    ASSERT_TRUE(vm.wait_for("smp: 4 CPUs online", BOOT_TIMEOUT, log)) << log;
    for (int cpu = 1; cpu < 4; cpu++) {
        std::string line = "smp: CPU " + std::to_string(cpu) + " (APIC id ";
        EXPECT_NE(log.find(line), std::string::npos) << line;
    }
    ASSERT_TRUE(vm.wait_for(" failed\r", 300s, log)) << "no ktest summary";
    size_t at = log.rfind("ktest: ");
    int passed = -1, failed = -1;
    ASSERT_EQ(std::sscanf(log.c_str() + at, "ktest: %d passed, %d", &passed, &failed), 2) << log;
    EXPECT_GT(passed, 0);
    EXPECT_EQ(failed, 0) << log;
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

}  // namespace
}  // namespace lamina::test
