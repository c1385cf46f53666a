// The block service at boot: the kernel starts the nvme driver domain (after the firmware has
// used the same controller, on the UEFI path) and provides "block" before init runs.
#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

class BlockAtBoot : public SystemTest, public ::testing::WithParamInterface<bool> {};

TEST_P(BlockAtBoot, NvmeDriverDomainServesTheDisk) {
    auto& vm = boot({.direct = GetParam(), .append = "poweroff"});
    ASSERT_TRUE(
        vm.wait_for("[nvme] QEMU NVMe Ctrl lamina: 262144 blocks of 512 bytes, 2 I/O queues, MSI-X", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("block: 'block' is the nvme driver", 30s));
    ASSERT_TRUE(vm.wait_for("lamina: boot complete", 30s));
}

INSTANTIATE_TEST_SUITE_P(Paths, BlockAtBoot, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Direct" : "Uefi"; });

}  // namespace
}  // namespace lamina::test
