// The fs domain writes the real disk: the ktest fs.nvme_root_partition_survives_driver_crashes
// runs on a copy of the test image without -snapshot (the fs domain on the ext2 root partition
// through the nvme driver domain, with driver crashes during its write-back and reads); then
// the host checks the partition with e2fsck -fn and reads the file the ktest left with debugfs.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

std::string sh(const std::string& cmd, int* status) {
    std::string out;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

TEST_F(SystemTest, FsDomainWritesACleanExt2ThroughTheNvmeDomain) {
    char tmpl[] = "/tmp/lamina-fs-nvme-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    std::string image = dir + "/test.img";  // named like the profile: images/run finds it by name
    int status = 0;
    sh("cp --sparse=always '" + build_dir() + "/images/test.img' '" + image + "'", &status);
    ASSERT_EQ(status, 0);

    auto& vm = boot({.direct = true, .append = "ktest=fs.nvme_root", .image = image, .snapshot = false});
    std::string before;
    ASSERT_TRUE(vm.wait_for("ktest: 1 passed, 0 failed", std::chrono::seconds(300), before)) << before;
    vm.wait_exit(std::chrono::seconds(30));

    std::string first = sh("sgdisk -i 2 '" + image + "' | awk '/^First sector:/ { print $3 }'", &status);
    ASSERT_EQ(status, 0);
    std::string part = image + "?offset=" + std::to_string(std::stoull(first) * 512);
    std::string fsck = sh("e2fsck -fn '" + part + "'", &status);
    EXPECT_EQ(status, 0) << fsck;
    std::string text = sh("debugfs -R 'cat /fs-nvme-check.txt' '" + part + "' 2>/dev/null", &status);
    EXPECT_NE(text.find("written by the fs domain through the nvme domain, across a driver crash\n"), std::string::npos)
        << text;
    std::string gone = sh("debugfs -R 'stat /fs-nvme-test.bin' '" + part + "'", &status);
    EXPECT_NE(gone.find("not found"), std::string::npos) << gone;
    sh("rm -rf '" + dir + "'", &status);
}

}  // namespace
}  // namespace lamina::test
