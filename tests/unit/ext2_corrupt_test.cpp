// Corrupt-metadata tests for ext2 (domains/fs/ext2): targeted damage to the superblock, group
// descriptors, inodes, directory entries, indirect blocks and bitmaps of a valid mke2fs image,
// then a seeded random byte-flip fuzz over its metadata blocks. Every case must end in errors
// (with a logged reason) or in a working file system: never a crash (ASan/UBSan) or a hang.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <random>

#include "tests/unit/ext2_test_util.h"

namespace ext2 = lamina::ext2;
using namespace ext2_test;

namespace {

constexpr uint32_t BS = 1024;

struct Base {
    TempDir tmp;
    MemDevice dev;
    uint32_t big_ino = 0, dir_ino = 0, lf_ino = 11;
    uint32_t big_ind = 0, big_dind = 0, dir_block = 0;
    uint32_t inode_table = 0, block_bitmap = 0, inode_bitmap = 0, inode_size = 0;
    uint32_t metadata_end = 0;  // blocks below this hold all metadata and directories

    Base() {
        std::string src = tmp / "src";
        std::string cmd = "mkdir -p '" + src + "/dir/sub'";
        EXPECT_EQ(system(cmd.c_str()), 0);
        write_file(src + "/big", pattern(300 * 1024, 1));
        for (int i = 0; i < 30; i++) write_file(src + "/dir/f" + std::to_string(i), pattern(i * 100, i));
        EXPECT_EQ(symlink("dir/f3", (src + "/link").c_str()), 0);
        EXPECT_EQ(symlink(std::string(100, 'y').c_str(), (src + "/dir/slow").c_str()), 0);
        dev = make_image(tmp, BS, "4M", src);
        std::string st = debugfs(tmp, dev, "stat /big");
        big_ino = number_after(st, "Inode: ");
        big_ind = number_after(st, "(IND):");
        big_dind = number_after(st, "(DIND):");
        dir_ino = number_after(debugfs(tmp, dev, "stat /dir", false), "Inode: ");
        dir_block = number_after(debugfs(tmp, dev, "bmap /dir 0", false), "");
        ext2::GroupDesc gd;
        memcpy(&gd, &dev.bytes[2 * BS], sizeof gd);
        inode_table = gd.bg_inode_table;
        block_bitmap = gd.bg_block_bitmap;
        inode_bitmap = gd.bg_inode_bitmap;
        ext2::Superblock sb;
        memcpy(&sb, &dev.bytes[1024], sizeof sb);
        inode_size = sb.s_inode_size;
        metadata_end = big_dind + 8;
    }
    static uint32_t number_after(const std::string& s, const std::string& key) {
        size_t p = s.find(key);
        if (p == std::string::npos) return 0;
        return static_cast<uint32_t>(strtoul(s.c_str() + p + key.size(), nullptr, 10));
    }
    size_t inode_offset(uint32_t ino) const { return size_t{inode_table} * BS + size_t{ino - 1} * inode_size; }
};

Base& base() {
    static Base b;
    return b;
}

struct Outcome {
    bool mounted = false;
    int errors = 0;
};

// Mounts and works the file system: walks the tree, reads everything, then changes it. All
// loops are bounded so that a corrupt image cannot make the test hang.
Outcome exercise(MemDevice& dev, CollectLog& log) {
    MallocAllocator alloc;
    WallClock clock;
    Outcome out;
    {
        auto m = ext2::FileSystem::mount(dev, alloc, clock, &log, {.read_only = false, .cache_buffers = 16});
        if (m.is_error()) return out;
        out.mounted = true;
        ext2::FsOwner fs = m.release_value();
        auto note = [&](bool ok) { out.errors += ok ? 0 : 1; };
        std::vector<char> buf(64 * 1024);
        std::function<void(uint32_t, int)> walk = [&](uint32_t dir, int depth) {
            uint64_t pos = 0;
            ext2::DirEntry e;
            for (int n = 0; n < 100; n++) {
                auto r = fs->read_dir(dir, &pos, &e);
                note(r.is_ok());
                if (r.is_error() || !r.value()) return;
                if (strcmp(e.name, ".") == 0 || strcmp(e.name, "..") == 0) continue;
                auto st = fs->stat(e.ino);
                note(st.is_ok());
                if (st.is_error()) continue;
                uint16_t type = st.value().mode & ext2::MODE_IFMT;
                if (type == ext2::MODE_IFDIR && depth < 6) walk(e.ino, depth + 1);
                if (type == ext2::MODE_IFREG) note(fs->read(e.ino, 0, buf.data(), buf.size()).is_ok());
                if (type == ext2::MODE_IFREG) note(fs->read(e.ino, 200000, buf.data(), 4096).is_ok());
                if (type == ext2::MODE_IFLNK) note(fs->readlink(e.ino, buf.data(), 4096).is_ok());
                note(fs->lookup(dir, e.name, e.name_len).is_ok());
            }
        };
        walk(fs->root(), 0);
        note(fs->resolve(fs->root(), "/link", 5, true).is_ok());
        auto f = fs->create(fs->root(), "new", 3, 0644, 0, 0);
        note(f.is_ok());
        if (f.is_ok()) note(fs->write(f.value(), 0, buf.data(), 20000).is_ok());
        note(fs->mkdir(fs->root(), "nd", 2, 0755, 0, 0).is_ok());
        auto dir = fs->resolve(fs->root(), "/dir", 4, true);
        if (dir.is_ok()) {
            note(fs->rename(dir.value(), "f5", 2, fs->root(), "moved", 5).is_ok());
            note(fs->unlink(dir.value(), "f7", 2).is_ok());
            note(fs->rename(dir.value(), "sub", 3, fs->root(), "sub2", 4).is_ok());
        }
        auto big = fs->resolve(fs->root(), "/big", 4, true);
        if (big.is_ok()) {
            note(fs->truncate(big.value(), 5000).is_ok());
            note(fs->write(big.value(), 100000, buf.data(), 3000).is_ok());
        }
        note(fs->unlink(fs->root(), "big", 3).is_ok());
        note(ext2::FileSystem::unmount(fs).is_ok());
    }
    EXPECT_EQ(alloc.live_count, 0u);
    return out;
}

template <typename T>
void poke(MemDevice& dev, size_t off, T value) {
    memcpy(&dev.bytes[off], &value, sizeof value);
}

struct Case {
    const char* name;
    std::function<void(MemDevice&)> damage;
    bool mounts;           // whether the mount itself should succeed
    const char* log_text;  // expected in the log
};

TEST(Ext2Corrupt, TargetedDamage) {
    Base& b = base();
    ASSERT_NE(b.big_ino, 0u);
    ASSERT_NE(b.big_ind, 0u);
    ASSERT_NE(b.big_dind, 0u);
    ASSERT_NE(b.dir_block, 0u);
    const size_t SB = 1024, GD = 2 * BS;
    auto sbf = [](size_t field) { return 1024 + field; };
    std::vector<Case> cases = {
        {"magic", [&](MemDevice& d) { poke<uint16_t>(d, sbf(offsetof(ext2::Superblock, s_magic)), 0x1234); }, false,
         "magic"},
        {"block size", [&](MemDevice& d) { poke<uint32_t>(d, sbf(offsetof(ext2::Superblock, s_log_block_size)), 20); },
         false, "block size"},
        {"blocks count",
         [&](MemDevice& d) { poke<uint32_t>(d, sbf(offsetof(ext2::Superblock, s_blocks_count)), 1u << 30); }, false,
         "blocks on a device"},
        {"inodes count",
         [&](MemDevice& d) { poke<uint32_t>(d, sbf(offsetof(ext2::Superblock, s_inodes_count)), 12345); }, false,
         "inodes but"},
        {"blocks per group",
         [&](MemDevice& d) { poke<uint32_t>(d, sbf(offsetof(ext2::Superblock, s_blocks_per_group)), 0); }, false,
         "blocks per group"},
        {"inode size", [&](MemDevice& d) { poke<uint16_t>(d, sbf(offsetof(ext2::Superblock, s_inode_size)), 100); },
         false, "inode size"},
        {"first inode", [&](MemDevice& d) { poke<uint32_t>(d, sbf(offsetof(ext2::Superblock, s_first_ino)), 3); },
         false, "first inode"},
        {"revision", [&](MemDevice& d) { poke<uint32_t>(d, sbf(offsetof(ext2::Superblock, s_rev_level)), 7); }, false,
         "revision 7"},
        {"gd block bitmap", [&](MemDevice& d) { poke<uint32_t>(d, GD + 0, 999999); }, false, "block bitmap"},
        {"gd inode table", [&](MemDevice& d) { poke<uint32_t>(d, GD + 8, 1); }, false, "inode table"},
        {"gd free count", [&](MemDevice& d) { poke<uint16_t>(d, GD + 14, 60000); }, false, "counts out of range"},
        {"root not a dir", [&](MemDevice& d) { poke<uint16_t>(d, b.inode_offset(2), ext2::MODE_IFREG | 0644); }, false,
         "root inode"},
        {"block past the end", [&](MemDevice& d) { poke<uint32_t>(d, b.inode_offset(b.big_ino) + 40, 999999); }, true,
         "past the end"},
        {"block on metadata", [&](MemDevice& d) { poke<uint32_t>(d, b.inode_offset(b.big_ino) + 40, 2); }, true,
         "metadata"},
        {"indirect cycle", [&](MemDevice& d) { poke<uint32_t>(d, size_t{b.big_dind} * BS, b.big_dind); }, true,
         "refers back"},
        {"indirect past end", [&](MemDevice& d) { poke<uint32_t>(d, size_t{b.big_ind} * BS + 8, 0xFFFFFFF0u); }, true,
         "past the end"},
        {"dir rec_len 0", [&](MemDevice& d) { poke<uint16_t>(d, size_t{b.dir_block} * BS + 4, 0); }, true,
         "bad rec_len"},
        {"dir rec_len past block", [&](MemDevice& d) { poke<uint16_t>(d, size_t{b.dir_block} * BS + 12 + 4, 4000); },
         true, "bad rec_len"},
        {"dir rec_len unaligned", [&](MemDevice& d) { poke<uint16_t>(d, size_t{b.dir_block} * BS + 4, 13); }, true,
         "bad rec_len"},
        {"dir name_len", [&](MemDevice& d) { poke<uint8_t>(d, size_t{b.dir_block} * BS + 24 + 6, 250); }, true,
         "name length"},
        {"dir inode number", [&](MemDevice& d) { poke<uint32_t>(d, size_t{b.dir_block} * BS + 24, 0x7FFFFFFF); }, true,
         "names inode"},
        {"dir size", [&](MemDevice& d) { poke<uint32_t>(d, b.inode_offset(b.dir_ino) + 4, 1000); }, true,
         "multiple of the block size"},
        {"bitmap frees the inode table",
         [&](MemDevice& d) {
             // Every block from the start of the group up to the inode table looks free.
             for (uint32_t blk = 1; blk <= b.inode_table; blk++)
                 d.bytes[size_t{b.block_bitmap} * BS + (blk - 1) / 8] &= uint8_t(~(1u << ((blk - 1) % 8)));
         },
         true, "metadata block"},
        {"bitmap frees a used inode",
         [&](MemDevice& d) { d.bytes[size_t{b.inode_bitmap} * BS + 1] &= uint8_t(~(1u << 2)); }, true, "in use"},
        {"extents flag",
         [&](MemDevice& d) { poke<uint32_t>(d, b.inode_offset(b.big_ino) + 32, ext2::INODE_EXTENTS_FL); }, true,
         "extents"},
    };
    for (auto& c : cases) {
        MemDevice dev = b.dev;
        c.damage(dev);
        CollectLog log;
        Outcome o = exercise(dev, log);
        EXPECT_EQ(o.mounted, c.mounts) << c.name << "\n" << log.all();
        if (c.mounts) {
            EXPECT_GT(o.errors, 0) << c.name;
        }
        EXPECT_TRUE(log.contains(c.log_text)) << c.name << ": wanted '" << c.log_text << "' in\n" << log.all();
    }
    (void)SB;
}

TEST(Ext2Corrupt, UndamagedImageWorks) {
    MemDevice dev = base().dev;
    CollectLog log;
    Outcome o = exercise(dev, log);
    EXPECT_TRUE(o.mounted);
    EXPECT_EQ(o.errors, 0) << log.all();
    auto r = fsck(base().tmp, dev);
    EXPECT_EQ(r.status, 0) << r.output;
}

// Random byte flips in the metadata region (superblock, descriptors, bitmaps, inode table,
// directory and indirect blocks), a fixed seed, bounded in time.
TEST(Ext2Corrupt, RandomByteFlipFuzz) {
    Base& b = base();
    std::mt19937 rng(20240607);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    int runs = 0, mounted = 0;
    size_t region = size_t{b.metadata_end} * BS;
    while (std::chrono::steady_clock::now() < deadline && runs < 2000) {
        MemDevice dev = b.dev;
        int flips = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < flips; i++) {
            size_t off = 1024 + rng() % (region - 1024);
            dev.bytes[off] ^= static_cast<uint8_t>(1 + rng() % 255);
        }
        CollectLog log;
        Outcome o = exercise(dev, log);
        mounted += o.mounted;
        runs++;
    }
    printf("fuzz: %d runs, %d mounted\n", runs, mounted);
    EXPECT_GT(runs, 10);
}

}  // namespace
