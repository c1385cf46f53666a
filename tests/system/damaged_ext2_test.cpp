// Randomly damaged ext2 metadata inside Lamina (issue 17): copies of the test image get a tree of
// directories and files (/victim), then seeded bit flips in that tree's inode records (in the
// inode table) and directory blocks. Each copy is booted twice: with init=hello, a boot-module
// program, the kernel mounts the damaged root read-only only to check it; with the root mounted
// read-write, a script walks the tree, reads every file, writes, renames and removes in it. The
// fs domain may refuse, fail calls or fault and restart; the kernel never panics, the script
// runs to its end, and an intact file outside the tree reads back right until the tree's
// damaged block pointers are acted on (removing a file frees what its pointers name).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <set>
#include <sstream>

#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"

namespace lamina::test {
namespace {

constexpr uint32_t BLOCK = 4096;

// What the script does, once the root is mounted read-write (init=/bin/sh /damaged.sh).
// A damaged size or directory can make a command run for ever (terabytes of holes, a directory
// that contains its parent): every command is bounded by `timeout` and reads at most 1 MiB.
const char SCRIPT[] =
    "echo damaged: intact $(md5sum < /intact | cut -c1-32)\n"
    "t='timeout 20'\n"
    "$t find /victim > /dev/null 2>&1\n"
    "$t ls -lR /victim > /dev/null 2>&1\n"
    "for f in $($t find /victim -type f 2>/dev/null); do $t head -c 1048576 \"$f\" > /dev/null 2>&1; done\n"
    "for l in $($t find /victim -type l 2>/dev/null); do $t readlink \"$l\" > /dev/null 2>&1; done\n"
    "for d in $($t find /victim -type d 2>/dev/null); do\n"
    "    $t sh -c \"echo new > '$d/new' && mv '$d/new' '$d/renamed'\" 2>/dev/null\n"
    "    $t dd if=/dev/zero of=\"$d/big\" bs=4096 count=20 2>/dev/null; $t rm -f \"$d/big\" 2>/dev/null\n"
    "done\n"
    "sync\n"
    "$t rm -rf /victim 2>/dev/null\n"
    "echo damaged: walked\n";

// Runs debugfs COMMANDS on the image's root partition; its output.
std::string debugfs(const std::string& part, const std::string& commands, bool write = false) {
    char tmpl[] = "/tmp/lamina-debugfs-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) return "";
    close(fd);
    write_text(tmpl, commands);
    auto r = run_command(std::string("debugfs ") + (write ? "-w " : "") + "-f " + tmpl + " '" + part + "' 2>&1");
    std::remove(tmpl);
    return r.output;
}

// Builds /victim (5 directories of files from 0 to 200 KiB, so that some have indirect blocks,
// and symlinks), /intact and /damaged.sh; then flips `flips` random bits (seeded) in the
// victim's inode records and directory blocks. The number of bits flipped, 0 on failure.
int damage(const std::string& image, uint32_t seed, int flips) {
    std::string part = root_partition(image);
    if (part.empty()) return 0;
    size_t at = part.find("?offset=");
    uint64_t offset = std::stoull(part.substr(at + 8));
    std::string dir = image + ".d";
    std::string cmds;
    run_command("mkdir -p '" + dir + "' && seq 1 20000 > '" + dir + "/intact'");
    write_text(dir + "/damaged.sh", SCRIPT);
    cmds += "write " + dir + "/intact /intact\nwrite " + dir + "/damaged.sh /damaged.sh\nmkdir /victim\n";
    std::mt19937 rng(seed);
    for (int d = 0; d < 5; d++) {
        std::string sub = "/victim/d" + std::to_string(d);
        cmds += "mkdir " + sub + "\n";
        for (int f = 0; f < 8; f++) {
            std::string local = dir + "/f" + std::to_string(d) + "_" + std::to_string(f);
            run_command("head -c " + std::to_string(rng() % 200000) + " /dev/urandom > '" + local + "'");
            cmds += "write " + local + " " + sub + "/f" + std::to_string(f) + "\n";
        }
        cmds += "symlink " + sub + "/link ../d" + std::to_string((d + 1) % 5) + "/f1\n";
    }
    debugfs(part, cmds, true);
    run_command("rm -rf '" + dir + "'");

    // Where the victim's metadata lives: each inode's record ("located at block B, offset 0xO")
    // and each directory's blocks.
    std::vector<std::pair<uint64_t, uint32_t>> spans;  // byte offset in the partition, length
    std::string listing = debugfs(part,
                                  "ls -l /victim\nls -l /victim/d0\nls -l /victim/d1\nls -l /victim/d2\n"
                                  "ls -l /victim/d3\nls -l /victim/d4\n");
    std::set<uint32_t> inodes;
    std::istringstream lines(listing);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        uint32_t ino = 0;
        if (words >> ino && ino > 11) inodes.insert(ino);
    }
    std::string imap, blocks;
    for (uint32_t ino : inodes) imap += "imap <" + std::to_string(ino) + ">\n";
    std::istringstream located(debugfs(part, imap));
    for (std::string line; std::getline(located, line);) {
        unsigned long long block = 0;
        unsigned off = 0;
        if (std::sscanf(line.c_str(), " located at block %llu, offset 0x%x", &block, &off) == 2)
            spans.push_back({block * BLOCK + off, 128});
    }
    for (const char* d : {"/victim", "/victim/d0", "/victim/d1", "/victim/d2", "/victim/d3", "/victim/d4"})
        blocks += std::string("blocks ") + d + "\n";
    std::istringstream numbers(debugfs(part, blocks));
    for (std::string word; numbers >> word;)
        if (word.find_first_not_of("0123456789") == std::string::npos)
            spans.push_back({std::stoull(word) * BLOCK, BLOCK});
    if (spans.size() < 20) return 0;

    int fd = open(image.c_str(), O_RDWR);
    if (fd < 0) return 0;
    int done = 0;
    for (int i = 0; i < flips; i++) {
        auto [start, len] = spans[rng() % spans.size()];
        uint64_t byte = offset + start + rng() % len;
        uint8_t v;
        if (pread(fd, &v, 1, off_t(byte)) != 1) break;
        v ^= uint8_t(1u << (rng() % 8));
        if (pwrite(fd, &v, 1, off_t(byte)) != 1) break;
        done++;
    }
    close(fd);
    return done;
}

class DamagedExt2 : public SystemTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(DamagedExt2, MountedReadOnlyAndReadWriteTheKernelKeepsRunning) {
    ImageCopy copy;
    ASSERT_TRUE(copy.ok());
    ASSERT_EQ(damage(copy.path(), GetParam(), 60), 60);
    std::string want = run_command("seq 1 20000 | md5sum | cut -c1-32").output;

    // Read-only: the kernel checks the root at boot; hello (a boot module on the tmpfs root,
    // which exits with status 3 on purpose) runs all the same.
    {
        auto& vm = boot({.direct = true, .append = "init=hello", .image = copy.path(), .snapshot = false});
        std::string out;
        ASSERT_TRUE(vm.wait_for("hello from user space", BOOT_TIMEOUT, out)) << out;
        EXPECT_EQ(out.find("KERNEL PANIC"), std::string::npos) << out;
        bool mounted = out.find("storage: root file system mounted read-only") != std::string::npos;
        std::printf("damaged ext2, seed %u, read-only: %s\n", GetParam(), mounted ? "mounted" : "refused");
        ASSERT_TRUE(vm.wait_for("init exited with status 3", 30s, out)) << out;
        EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_FAILED);
    }
    // Read-write: the script walks, reads, writes and removes in the damaged tree.
    auto& vm = boot({.direct = true, .append = "init=/bin/sh /damaged.sh", .image = copy.path(), .snapshot = false});
    std::string out;
    ASSERT_TRUE(vm.wait_for("damaged: intact ", BOOT_TIMEOUT, out)) << out;
    ASSERT_TRUE(vm.wait_for("\n", 10s, out));
    EXPECT_EQ(out.substr(0, 32) + "\n", want);
    ASSERT_TRUE(vm.wait_for("damaged: walked", 600s, out)) << out;
    EXPECT_EQ(out.find("KERNEL PANIC"), std::string::npos) << out;
    size_t faults = 0;
    for (size_t at = out.find("restarted after"); at != std::string::npos; at = out.find("restarted after", at + 1))
        faults++;
    std::printf("damaged ext2, seed %u, read-write: walked, %zu fs restarts\n", GetParam(), faults);
    ASSERT_TRUE(vm.wait_for("init exited with status 0", 60s, out)) << out;
    vm.wait_exit(60s);
    EXPECT_EQ(vm.output().find("KERNEL PANIC"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Seeds, DamagedExt2, ::testing::Values(1u, 2u, 4u));

}  // namespace
}  // namespace lamina::test
