// PCI enumeration on a machine with a network card: the boot log lists QEMU's virtio-net
// (1af4:1041: images/run makes it modern-only) with its BARs and MSI-X, and the in-kernel pci suite passes with it
// present.
#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

class Pci : public SystemTest, public ::testing::WithParamInterface<bool> {};

TEST_P(Pci, VirtioNetIsEnumeratedAndSuitePasses) {
    auto& vm = boot({.direct = GetParam(), .append = "ktest=pci", .host_port = free_local_port()});
    std::string line;
    ASSERT_TRUE(vm.wait_for("1af4:1041 class 02.00.00 ethernet", BOOT_TIMEOUT, line));
    ASSERT_TRUE(vm.wait_for("MSI-X 4 vectors", 5s));
    ASSERT_TRUE(vm.wait_for("ktest: ", 120s));
    EXPECT_EQ(vm.wait_exit(60s), EXIT_KTEST_PASSED) << vm.output();
}

INSTANTIATE_TEST_SUITE_P(Paths, Pci, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Direct" : "Uefi"; });

}  // namespace
}  // namespace lamina::test
