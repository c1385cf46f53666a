// The disk images themselves, checked with the host's tools: a valid GPT, an ESP that holds
// GRUB, the kernel and its configuration, and a clean ext2 root owned by root that holds the
// userland.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tests/system/host_tools.h"
#include "tests/system/qemu.h"

namespace lamina::test {
namespace {

CommandResult run(const std::string& command) { return run_command(command); }

class Image : public ::testing::TestWithParam<const char*> {
protected:
    std::string image() const { return build_dir() + "/images/" + GetParam() + ".img"; }
    // The root partition (GPT entry 2), quoted for the shell.
    std::string root() const { return "\"" + root_partition(image()) + "\""; }
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
    std::string part = root();
    ASSERT_NE(part, "\"\"");
    auto fsck = run("e2fsck -fn " + part);
    EXPECT_EQ(fsck.status, 0) << fsck.output;
    auto ls = run("debugfs -R 'stat /bin/busybox' " + part);
    EXPECT_NE(ls.output.find("User:     0   Group:     0"), std::string::npos) << ls.output;
    auto sh = run("debugfs -R 'stat /bin/sh' " + part);
    EXPECT_NE(sh.output.find("Type: symlink"), std::string::npos) << sh.output;
    auto motd = run("debugfs -R 'cat /etc/hostname' " + part);
    EXPECT_NE(motd.output.find("lamina"), std::string::npos) << motd.output;
}

// The userland the kernel starts: busybox init with our inittab and start script, domctl, and
// the modes git cannot keep (set by images/build-image).
TEST_P(Image, RootFileSystemHoldsTheUserland) {
    std::string part = root();
    ASSERT_NE(part, "\"\"");
    auto stat = [&](const std::string& path) { return run("debugfs -R 'stat " + path + "' " + part).output; };
    auto cat = [&](const std::string& path) { return run("debugfs -R 'cat " + path + "' " + part).output; };

    auto init = stat("/sbin/init");
    EXPECT_NE(init.find("Type: symlink"), std::string::npos) << init;
    EXPECT_NE(init.find("Fast link dest: \"../bin/busybox\""), std::string::npos) << init;
    auto inittab = cat("/etc/inittab");
    EXPECT_NE(inittab.find("\n::sysinit:/etc/init.d/rcS\n"), std::string::npos) << inittab;
    EXPECT_NE(inittab.find("\n::respawn:-/bin/sh\n"), std::string::npos) << inittab;
    EXPECT_NE(inittab.find("\n::shutdown:/bin/umount -a -r\n"), std::string::npos) << inittab;
    auto rcs = stat("/etc/init.d/rcS");
    EXPECT_NE(rcs.find("Type: regular    Mode:  0755"), std::string::npos) << rcs;
    EXPECT_NE(cat("/etc/init.d/rcS").find("mount -t devfs devfs /dev"), std::string::npos);
    auto domctl = stat("/usr/bin/domctl");
    EXPECT_NE(domctl.find("Type: regular    Mode:  0755"), std::string::npos) << domctl;
    EXPECT_NE(cat("/etc/passwd").find("root:x:0:0:root:/root:/bin/sh\n"), std::string::npos);
    EXPECT_NE(cat("/etc/profile").find("PS1="), std::string::npos);
    EXPECT_NE(cat("/www/index.html").find("<title>Lamina</title>"), std::string::npos);

    auto tmp = stat("/tmp");
    EXPECT_NE(tmp.find("Type: directory    Mode:  01777"), std::string::npos) << tmp;
    auto root = stat("/root");
    EXPECT_NE(root.find("Type: directory    Mode:  0700"), std::string::npos) << root;
    for (const char* dir : {"/proc", "/dev", "/var/log", "/var/run"}) {
        auto d = stat(dir);
        EXPECT_NE(d.find("Type: directory    Mode:  0755"), std::string::npos) << dir << ": " << d;
    }
    // The placeholders that keep empty folders in git stay out of the image.
    auto keep = run("debugfs -R 'ls /tmp' " + part);
    EXPECT_EQ(keep.output.find(".keep"), std::string::npos) << keep.output;

    auto cfg = run("mtype -i " + image() + "@@1M ::/boot/grub/grub.cfg");
    EXPECT_NE(cfg.output.find(" init=/sbin/init "), std::string::npos) << cfg.output;
}

INSTANTIATE_TEST_SUITE_P(Profiles, Image, ::testing::Values("default", "test"));

}  // namespace
}  // namespace lamina::test
