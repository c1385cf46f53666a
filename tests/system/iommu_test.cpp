// The IOMMU (docs/iommu.md): machines with QEMU's intel-iommu in front of the devices. The
// iommu ktest points the NVMe controller at a page the nvme domain does not own and checks the
// write is blocked, recorded against the domain and recovered from; the block, fs, nic and net
// suites check that storage and networking work unchanged under translation.
#include "tests/system/fixture.h"

#include <cstdio>

namespace lamina::test {
namespace {

class IommuKtest : public SystemTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(IommuKtest, PassesUnderTranslation) {
    std::string suite = GetParam();
    auto& vm = boot({.direct = true, .smp = 2, .append = "ktest=" + suite, .iommu = true});
    std::string log;
    ASSERT_TRUE(vm.wait_for("ktest: running", BOOT_TIMEOUT, log));
    EXPECT_NE(log.find("iommu: VT-d"), std::string::npos) << "the kernel did not find the IOMMU";
    std::string counts;
    ASSERT_TRUE(vm.wait_for(" passed, ", 600s, log)) << "no ktest summary";
    ASSERT_TRUE(vm.wait_for(" failed", 30s, counts));
    int failed = -1;
    ASSERT_EQ(std::sscanf(counts.c_str(), "%d", &failed), 1);
    EXPECT_EQ(failed, 0) << "see the serial log";
    if (suite == "iommu") {
        // Blocked, recorded with the device and the domain, and the domain failed for it.
        EXPECT_NE(log.find("iommu: DMA fault: device 00:01.0 write"), std::string::npos);
        EXPECT_NE(log.find("outside its grants"), std::string::npos);
        EXPECT_EQ(log.find("nothing to check"), std::string::npos);
    }
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

INSTANTIATE_TEST_SUITE_P(Suites, IommuKtest, ::testing::Values("iommu", "block", "fs", "nic", "net"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace lamina::test
