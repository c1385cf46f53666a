// Booting both ways: UEFI (OVMF + GRUB from the NVMe disk, multiboot2) and direct (qboot +
// -kernel, multiboot1). Each must reach the banner with the right boot path and command line.
#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

class Boot : public SystemTest, public ::testing::WithParamInterface<bool> {};

TEST_P(Boot, ReachesBannerWithCommandLine) {
    bool direct = GetParam();
    auto& vm = boot({.direct = direct, .append = "marker=hello"});
    ASSERT_TRUE(vm.wait_for(direct ? "(boot: multiboot1" : "(boot: multiboot2 from GRUB", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("command line: console=ttyS0 init=/sbin/init test marker=hello", 10s));
    ASSERT_TRUE(vm.wait_for("usable", 10s));
    ASSERT_TRUE(vm.wait_for("lamina: boot complete", 30s));
}

TEST_P(Boot, KernelFaultIsReportedWithSymbolizedBacktrace) {
    auto& vm = boot({.direct = GetParam(), .append = "crash=page-fault"});
    std::string report;
    ASSERT_TRUE(vm.wait_for("KERNEL PANIC: #PF page fault", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("page not present, write, supervisor", 5s));
    ASSERT_TRUE(vm.wait_for("backtrace:", 5s, report));
    EXPECT_NE(report.find("cr2 0000004000000000"), std::string::npos) << report;
    ASSERT_TRUE(vm.wait_for("lamina::crash_on_request", 5s));
    ASSERT_TRUE(vm.wait_for("lamina::kernel_start", 5s));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_PANIC);
}

TEST_P(Boot, KernelPanicExitsWithPanicStatus) {
    auto& vm = boot({.direct = GetParam(), .append = "crash=panic"});
    ASSERT_TRUE(vm.wait_for("KERNEL PANIC: requested on the command line", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("lamina::crash_on_request", 5s));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_PANIC);
}

// `poweroff` goes through ACPI S5, which QEMU answers by exiting with status 0 (isa-debug-exit,
// the fallback, could only produce odd statuses).
TEST_P(Boot, PowersOffThroughAcpi) {
    auto& vm = boot({.direct = GetParam(), .append = "init=sysctl poweroff"});
    ASSERT_TRUE(vm.wait_for("acpi: ", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("lamina: powering off", 30s));
    EXPECT_EQ(vm.wait_exit(30s), 0);
    EXPECT_EQ(vm.output().find("ACPI power-off failed"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Paths, Boot, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Direct" : "Uefi"; });

}  // namespace
}  // namespace lamina::test
