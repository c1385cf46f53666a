// The IOMMU (docs/iommu.md). Every system test boots with QEMU's intel-iommu in front of the
// devices (images/run's default), so storage and networking are tested under translation
// everywhere. Here: the iommu ktest points the NVMe controller at a page the nvme domain does
// not own and checks the write is blocked, recorded against the domain and recovered from; and
// a machine without an IOMMU still runs the storage and network suites as before.
#include "tests/system/fixture.h"

#include <cstdio>
#include <cstdlib>

namespace lamina::test {
namespace {

struct Case {
    const char* suite;
    bool iommu;
};

class IommuKtest : public SystemTest, public ::testing::WithParamInterface<Case> {};

TEST_P(IommuKtest, SuitePasses) {
    std::string suite = GetParam().suite;
    bool iommu = GetParam().iommu;
    if (iommu && std::getenv("LAMINA_IOMMU") && std::string(std::getenv("LAMINA_IOMMU")) == "off")
        GTEST_SKIP() << "LAMINA_IOMMU=off";
    auto& vm = boot({.direct = true, .smp = 2, .append = "ktest=" + suite, .iommu = iommu});
    std::string log;
    ASSERT_TRUE(vm.wait_for("ktest: running", BOOT_TIMEOUT, log));
    if (iommu)
        EXPECT_NE(log.find("iommu: VT-d"), std::string::npos) << "the kernel did not find the IOMMU";
    else
        EXPECT_NE(log.find("iommu: no DMA remapping hardware"), std::string::npos);
    std::string counts;
    ASSERT_TRUE(vm.wait_for(" passed, ", 600s, log)) << "no ktest summary";
    ASSERT_TRUE(vm.wait_for(" failed", 30s, counts));
    int failed = -1;
    ASSERT_EQ(std::sscanf(counts.c_str(), "%d", &failed), 1);
    EXPECT_EQ(failed, 0) << "see the serial log";
    if (iommu && suite == "iommu") {
        // Blocked, recorded with the device and the domain, and the domain failed for it.
        EXPECT_NE(log.find("iommu: DMA fault: device 00:01.0 write"), std::string::npos);
        EXPECT_NE(log.find("outside its grants"), std::string::npos);
        EXPECT_EQ(log.find("nothing to check"), std::string::npos);
    }
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

INSTANTIATE_TEST_SUITE_P(Suites, IommuKtest,
                         ::testing::Values(Case{"iommu", true}, Case{"block", false}, Case{"fs", false},
                                           Case{"nic", false}, Case{"net", false}),
                         [](const auto& info) {
                             return std::string(info.param.suite) + (info.param.iommu ? "" : "_without_iommu");
                         });

}  // namespace
}  // namespace lamina::test
