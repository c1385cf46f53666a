// The disk images themselves, checked with the host's tools: a valid GPT, an ESP that holds
// GRUB, the kernel and its configuration, and a clean ext2 root owned by root that holds the
// userland.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tests/system/qemu.h"

namespace lamina::test {
namespace {

struct CommandResult {
    int status;
    std::string output;
};

CommandResult run(const std::string& command) {
    CommandResult r{-1, {}};
    FILE* p = popen((command + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

class Image : public ::testing::TestWithParam<const char*> {
protected:
    std::string image() const { return build_dir() + "/images/" + GetParam() + ".img"; }
    // Byte offset of the root partition (GPT entry 2), from sgdisk.
    long root_offset() const {
        auto r = run("sgdisk -i 2 " + image());
        long sector = -1;
        auto at = r.output.find("First sector: ");
        if (at != std::string::npos) sector = std::stol(r.output.substr(at + 14));
        return sector * 512;
    }
};

TEST_P(Image, GptIsValid) {
    auto r = run("sgdisk -v " + image());
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("No problems found"), std::string::npos) << r.output;
    auto p1 = run("sgdisk -i 1 " + image());
    EXPECT_NE(p1.output.find("EFI system partition"), std::string::npos) << p1.output;
}

TEST_P(Image, EspHoldsBootFiles) {
    auto r = run("mdir -i " + image() + "@@1M ::/EFI/BOOT");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("BOOTX64  EFI"), std::string::npos) << r.output;
    auto boot = run("mdir -b -i " + image() + "@@1M ::/boot");
    EXPECT_NE(boot.output.find("lamina.elf"), std::string::npos) << boot.output;
    auto cfg = run("mtype -i " + image() + "@@1M ::/boot/grub/grub.cfg");
    EXPECT_NE(cfg.output.find("multiboot2 /boot/lamina.elf"), std::string::npos) << cfg.output;
}

TEST_P(Image, RootFileSystemIsCleanAndOwnedByRoot) {
    long off = root_offset();
    ASSERT_GT(off, 0);
    std::string part = "\"" + image() + "?offset=" + std::to_string(off) + "\"";
    auto fsck = run("e2fsck -fn " + part);
    EXPECT_EQ(fsck.status, 0) << fsck.output;
    auto ls = run("debugfs -R 'stat /bin/busybox' " + part);
    EXPECT_NE(ls.output.find("User:     0   Group:     0"), std::string::npos) << ls.output;
    auto sh = run("debugfs -R 'stat /bin/sh' " + part);
    EXPECT_NE(sh.output.find("Type: symlink"), std::string::npos) << sh.output;
    auto motd = run("debugfs -R 'cat /etc/hostname' " + part);
    EXPECT_NE(motd.output.find("lamina"), std::string::npos) << motd.output;
}

INSTANTIATE_TEST_SUITE_P(Profiles, Image, ::testing::Values("default", "test"));

}  // namespace
}  // namespace lamina::test
