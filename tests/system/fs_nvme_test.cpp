// The fs domain writes the real disk: the ktest fs.nvme_root_partition_survives_driver_crashes
// runs on a copy of the test image without -snapshot (the fs domain on the ext2 root partition
// through the nvme driver domain, with driver crashes during its write-back and reads); then
// the host checks the partition with e2fsck -fn and reads the file the ktest left with debugfs.
#include <gtest/gtest.h>

#include <string>

#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"

namespace lamina::test {
namespace {

TEST_F(SystemTest, FsDomainWritesACleanExt2ThroughTheNvmeDomain) {
    ImageCopy copy;
    ASSERT_TRUE(copy.ok());
    const std::string& image = copy.path();

    auto& vm = boot({.direct = true, .append = "ktest=fs.nvme_root", .image = image, .snapshot = false});
    std::string before;
    ASSERT_TRUE(vm.wait_for("ktest: 1 passed, 0 failed", std::chrono::seconds(300), before)) << before;
    vm.wait_exit(std::chrono::seconds(30));

    std::string part = root_partition(image);
    ASSERT_FALSE(part.empty());
    auto fsck = run_command("e2fsck -fn '" + part + "'");
    EXPECT_EQ(fsck.status, 0) << fsck.output;
    auto text = run_command("debugfs -R 'cat /fs-nvme-check.txt' '" + part + "' 2>/dev/null").output;
    EXPECT_NE(text.find("written by the fs domain through the nvme domain, across a driver crash\n"), std::string::npos)
        << text;
    auto gone = run_command("debugfs -R 'stat /fs-nvme-test.bin' '" + part + "'").output;
    EXPECT_NE(gone.find("not found"), std::string::npos) << gone;
}

}  // namespace
}  // namespace lamina::test
