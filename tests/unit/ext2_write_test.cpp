// Host tests for ext2 writing (domains/fs/ext2): images made by mke2fs, changed through our
// code, then checked by e2fsck -fn (must be clean) and read back by debugfs.
#include <gtest/gtest.h>

#include "tests/unit/ext2_test_util.h"

namespace ext2 = lamina::ext2;
using namespace ext2_test;

namespace {

class Ext2Write : public ::testing::TestWithParam<uint32_t> {
protected:
    TempDir tmp;
    MemDevice dev;
    MallocAllocator alloc;
    WallClock clock;
    CollectLog log;
    ext2::FsOwner fs;

    void SetUp() override { log.echo = true; }

    void make(const std::string& size, const std::string& dir = "") {
        dev = make_image(tmp, GetParam(), size, dir);
        ASSERT_GT(dev.bytes.size(), 0u);
        mount();
    }
    void mount(bool ro = false) {
        ext2::MountOptions o;
        o.read_only = ro;
        o.cache_buffers = 32;
        auto r = ext2::FileSystem::mount(dev, alloc, clock, &log, o);
        ASSERT_TRUE(r.is_ok()) << log.all();
        fs = r.release_value();
    }
    void unmount() { ASSERT_TRUE(ext2::FileSystem::unmount(fs).is_ok()); }
    void remount() {
        unmount();
        mount();
    }
    uint32_t ino(const std::string& path) {
        auto r = fs->resolve(fs->root(), path.data(), path.size(), true);
        EXPECT_TRUE(r.is_ok()) << path << ": " << (r.is_ok() ? 0 : int(r.error().code()));
        return r.is_ok() ? r.value() : 0;
    }
    Errno resolve_error(const std::string& path, bool follow = true) {
        auto r = fs->resolve(fs->root(), path.data(), path.size(), follow);
        return r.is_ok() ? Errno::None : r.error().code();
    }
    uint32_t create(uint32_t dir, const std::string& name, const std::string& content, uint16_t mode = 0644) {
        auto r = fs->create(dir, name.data(), name.size(), ext2::MODE_IFREG | mode, 1000, 1000);
        EXPECT_TRUE(r.is_ok()) << name << "\n" << log.all();
        if (!r.is_ok()) return 0;
        if (!content.empty()) {
            auto w = fs->write(r.value(), 0, content.data(), content.size());
            EXPECT_TRUE(w.is_ok() && w.value() == content.size()) << name << "\n" << log.all();
        }
        return r.value();
    }
    uint32_t mkdir(uint32_t dir, const std::string& name) {
        auto r = fs->mkdir(dir, name.data(), name.size(), 0755, 0, 0);
        EXPECT_TRUE(r.is_ok()) << name << "\n" << log.all();
        return r.is_ok() ? r.value() : 0;
    }
    std::string read_all(uint32_t i) {
        auto st = fs->stat(i);
        EXPECT_TRUE(st.is_ok());
        std::string s(st.is_ok() ? st.value().size : 0, '\0');
        auto r = fs->read(i, 0, s.data(), s.size());
        EXPECT_TRUE(r.is_ok() && r.value() == s.size());
        return s;
    }
    // Unmounts, then e2fsck must be clean.
    void expect_clean() {
        unmount();
        auto r = fsck(tmp, dev);
        EXPECT_EQ(r.status, 0) << r.output;
    }
    std::string cat(const std::string& path) { return debugfs(tmp, dev, "cat " + path); }
};

TEST_P(Ext2Write, FilesOfManySizesAcrossIndirectBoundaries) {
    make("24M");
    uint32_t bs = GetParam();
    uint64_t k = bs / 4;
    std::vector<size_t> sizes = {
        0, 1, 100, bs - 1, bs, bs + 1, 12 * bs - 1, 12 * bs, 12 * bs + 1, (12 + k) * bs - 1, (12 + k) * bs + 7};
    if (bs == 1024) sizes.push_back((12 + k + 3) * bs + 5);  // into the double-indirect range
    std::vector<uint32_t> inos;
    for (size_t i = 0; i < sizes.size(); i++)
        inos.push_back(create(fs->root(), "f" + std::to_string(i), pattern(sizes[i], uint32_t(i))));
    for (size_t i = 0; i < sizes.size(); i++) EXPECT_EQ(read_all(inos[i]), pattern(sizes[i], uint32_t(i))) << i;
    remount();
    for (size_t i = 0; i < sizes.size(); i++)
        EXPECT_EQ(read_all(ino("/f" + std::to_string(i))), pattern(sizes[i], uint32_t(i)));
    expect_clean();
    for (size_t i = 0; i < sizes.size(); i++)
        EXPECT_TRUE(cat("/f" + std::to_string(i)) == pattern(sizes[i], uint32_t(i))) << "debugfs cat f" << i;
    std::string st = debugfs(tmp, dev, "stat /f3", false);
    EXPECT_NE(st.find("User:  1000"), std::string::npos) << st;
    EXPECT_NE(st.find("Mode:  0644"), std::string::npos) << st;
}

TEST_P(Ext2Write, OverwriteAndPartialWritesAtOffsets) {
    make("8M");
    uint32_t bs = GetParam();
    std::string content = pattern(5 * bs + 100, 7);
    uint32_t f = create(fs->root(), "data", content);
    std::string patch = pattern(bs + 10, 8);
    ASSERT_TRUE(fs->write(f, bs - 5, patch.data(), patch.size()).is_ok());
    content.replace(bs - 5, patch.size(), patch);
    // Append past the end leaves a hole.
    std::string tail = "tail";
    ASSERT_TRUE(fs->write(f, 9 * bs + 3, tail.data(), tail.size()).is_ok());
    content.resize(9 * bs + 3, '\0');
    content += tail;
    EXPECT_EQ(read_all(f), content);
    expect_clean();
    EXPECT_TRUE(cat("/data") == content);
}

TEST_P(Ext2Write, DirectoryTreesGrowAcrossBlocks) {
    make("16M");
    uint32_t a = mkdir(fs->root(), "a");
    uint32_t b = mkdir(a, "b");
    uint32_t c = mkdir(b, "c");
    create(c, "leaf", "leaf!");
    // Enough entries to need several directory blocks.
    int n = GetParam() == 1024 ? 200 : 400;
    for (int i = 0; i < n; i++) create(a, "entry-with-a-long-name-" + std::to_string(i), std::to_string(i));
    auto st = fs->stat(a);
    ASSERT_TRUE(st.is_ok());
    EXPECT_GT(st.value().size, GetParam());
    EXPECT_EQ(st.value().links, 3);                    // its name, ".", b's ".."
    EXPECT_EQ(fs->stat(fs->root()).value().links, 4);  // ".", "..", lost+found's "..", a's ".."
    EXPECT_EQ(read_all(ino("/a/b/c/leaf")), "leaf!");
    EXPECT_EQ(read_all(ino("/a/entry-with-a-long-name-137")), "137");
    // Remove every other entry, then add again: space is reused by splitting.
    for (int i = 0; i < n; i += 2) {
        std::string name = "entry-with-a-long-name-" + std::to_string(i);
        ASSERT_TRUE(fs->unlink(a, name.data(), name.size()).is_ok());
    }
    uint64_t size_before = fs->stat(a).value().size;
    for (int i = 0; i < n; i += 4) create(a, "x" + std::to_string(i), "x");
    EXPECT_EQ(fs->stat(a).value().size, size_before);
    // readdir sees exactly the live entries.
    uint64_t pos = 0;
    ext2::DirEntry e;
    int count = 0;
    while (fs->read_dir(a, &pos, &e).value()) count++;
    EXPECT_EQ(count, 2 + 1 + n / 2 + n / 4);
    expect_clean();
    EXPECT_EQ(cat("/a/b/c/leaf"), "leaf!");
    EXPECT_EQ(cat("/a/entry-with-a-long-name-137"), "137");
}

TEST_P(Ext2Write, RenameWithinAndAcrossDirectories) {
    make("8M");
    uint32_t d1 = mkdir(fs->root(), "d1");
    uint32_t d2 = mkdir(fs->root(), "d2");
    uint32_t sub = mkdir(d1, "sub");
    create(sub, "inner", "inner");
    create(d1, "file", "one");
    create(d2, "victim", "two");
    uint32_t victim = ino("/d2/victim");
    // Within a directory.
    ASSERT_TRUE(fs->rename(d1, "file", 4, d1, "renamed", 7).is_ok());
    EXPECT_EQ(resolve_error("/d1/file"), Errno::NoEnt);
    // Across directories, over an existing file: the victim's inode is freed.
    ASSERT_TRUE(fs->rename(d1, "renamed", 7, d2, "victim", 6).is_ok());
    EXPECT_EQ(read_all(ino("/d2/victim")), "one");
    EXPECT_TRUE(fs->stat(victim).is_error());
    // A directory across parents: link counts of both parents and ".." move.
    ASSERT_TRUE(fs->rename(d1, "sub", 3, d2, "moved", 5).is_ok());
    EXPECT_EQ(fs->stat(d1).value().links, 2);
    EXPECT_EQ(fs->stat(d2).value().links, 3);
    EXPECT_EQ(ino("/d2/moved/.."), d2);
    EXPECT_EQ(read_all(ino("/d2/moved/inner")), "inner");
    // A directory over an empty directory; then refusals.
    uint32_t empty = mkdir(d1, "empty");
    ASSERT_TRUE(fs->rename(d2, "moved", 5, d1, "empty", 5).is_ok());
    EXPECT_TRUE(fs->stat(empty).is_error());
    EXPECT_EQ(fs->stat(d1).value().links, 3);
    EXPECT_EQ(fs->stat(d2).value().links, 2);
    uint32_t moved = ino("/d1/empty");
    EXPECT_EQ(fs->rename(fs->root(), "d1", 2, moved, "inside", 6).error().code(), Errno::Inval);
    create(d2, "plain", "p");
    EXPECT_EQ(fs->rename(d2, "plain", 5, fs->root(), "d1", 2).error().code(), Errno::IsDir);
    EXPECT_EQ(fs->rename(fs->root(), "d1", 2, d2, "plain", 5).error().code(), Errno::NotDir);
    mkdir(d2, "full");
    create(ino("/d2/full"), "x", "x");
    EXPECT_EQ(fs->rename(d1, "empty", 5, d2, "full", 4).error().code(), Errno::NotEmpty);
    expect_clean();
    EXPECT_EQ(cat("/d1/empty/inner"), "inner");
    EXPECT_EQ(cat("/d2/victim"), "one");
}

TEST_P(Ext2Write, LinksUnlinkAndRmdir) {
    make("8M");
    uint32_t f = create(fs->root(), "orig", pattern(3 * GetParam(), 1));
    uint32_t d = mkdir(fs->root(), "dir");
    ASSERT_TRUE(fs->link(d, "alias", 5, f).is_ok());
    EXPECT_EQ(fs->stat(f).value().links, 2);
    EXPECT_EQ(fs->link(fs->root(), "x", 1, d).error().code(), Errno::Perm);
    EXPECT_EQ(fs->link(d, "alias", 5, f).error().code(), Errno::Exist);
    ASSERT_TRUE(fs->unlink(fs->root(), "orig", 4).is_ok());
    EXPECT_EQ(fs->stat(f).value().links, 1);
    EXPECT_EQ(read_all(ino("/dir/alias")), pattern(3 * GetParam(), 1));
    EXPECT_EQ(fs->rmdir(fs->root(), "dir", 3).error().code(), Errno::NotEmpty);
    EXPECT_EQ(fs->unlink(fs->root(), "dir", 3).error().code(), Errno::IsDir);
    uint32_t free_before = fs->superblock().s_free_blocks_count;
    ASSERT_TRUE(fs->unlink(d, "alias", 5).is_ok());
    EXPECT_EQ(fs->superblock().s_free_blocks_count, free_before + 3);
    EXPECT_TRUE(fs->stat(f).is_error());
    ASSERT_TRUE(fs->rmdir(fs->root(), "dir", 3).is_ok());
    EXPECT_EQ(fs->stat(fs->root()).value().links, 3);
    EXPECT_EQ(fs->rmdir(fs->root(), "dir", 3).error().code(), Errno::NoEnt);
    expect_clean();
    std::string ls = debugfs(tmp, dev, "ls -l /", false);
    EXPECT_EQ(ls.find("orig"), std::string::npos);
}

TEST_P(Ext2Write, SymlinksFastAndSlowWithLoopLimit) {
    make("8M");
    uint32_t d = mkdir(fs->root(), "d");
    create(d, "target", "pointed-at");
    std::string slow(200, 'x');
    slow = "/d/" + slow;
    ASSERT_TRUE(fs->symlink(fs->root(), "fast", 4, "d/target", 8, 0, 0).is_ok());
    ASSERT_TRUE(fs->symlink(fs->root(), "dirlink", 7, "/d", 2, 0, 0).is_ok());
    ASSERT_TRUE(fs->symlink(fs->root(), "slow", 4, slow.data(), slow.size(), 0, 0).is_ok());
    ASSERT_TRUE(fs->symlink(fs->root(), "loop1", 5, "loop2", 5, 0, 0).is_ok());
    ASSERT_TRUE(fs->symlink(fs->root(), "loop2", 5, "loop1", 5, 0, 0).is_ok());
    EXPECT_EQ(read_all(ino("/fast")), "pointed-at");
    EXPECT_EQ(read_all(ino("/dirlink/target")), "pointed-at");
    EXPECT_EQ(ino("/dirlink/../d/./target"), ino("/d/target"));
    EXPECT_EQ(resolve_error("/loop1"), Errno::Loop);
    EXPECT_EQ(resolve_error("/loop1", false), Errno::None);
    EXPECT_EQ(resolve_error("/slow"), Errno::NoEnt);
    EXPECT_EQ(resolve_error("/fast/x"), Errno::NotDir);
    char buf[300];
    auto n = fs->readlink(fs->resolve(fs->root(), "/slow", 5, false).value(), buf, sizeof buf);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(std::string(buf, n.value()), slow);
    expect_clean();
    std::string st = debugfs(tmp, dev, "stat /fast", false);
    EXPECT_NE(st.find("Fast link dest: \"d/target\""), std::string::npos) << st;
    EXPECT_EQ(cat("/dirlink/target"), "pointed-at");
}

TEST_P(Ext2Write, TruncateShrinksAndGrows) {
    make("24M");
    uint32_t bs = GetParam();
    uint64_t k = bs / 4;
    size_t big = (12 + k + 2 * k + 5) * bs + 17;  // reaches the double-indirect range
    std::string content = pattern(big, 3);
    uint32_t f = create(fs->root(), "big", content);
    uint32_t free_full = fs->superblock().s_free_blocks_count;
    for (uint64_t to : {uint64_t(big - 3), uint64_t((12 + k + 1) * bs + 100), uint64_t(12 * bs + 1),
                        uint64_t(5 * bs - 9), uint64_t(0)}) {
        ASSERT_TRUE(fs->truncate(f, to).is_ok()) << log.all();
        content.resize(to);
        EXPECT_EQ(read_all(f), content);
    }
    EXPECT_EQ(fs->stat(f).value().blocks, 0u);
    EXPECT_GT(fs->superblock().s_free_blocks_count, free_full);
    // Grow: a hole that reads as zeros, and no blocks.
    ASSERT_TRUE(fs->truncate(f, 20 * bs).is_ok());
    EXPECT_EQ(read_all(f), std::string(20 * bs, '\0'));
    EXPECT_EQ(fs->stat(f).value().blocks, 0u);
    // Shrink to mid-block, grow: the old tail must not come back.
    std::string two = pattern(2 * bs, 4);
    uint32_t g = create(fs->root(), "g", two);
    ASSERT_TRUE(fs->truncate(g, bs + 10).is_ok());
    ASSERT_TRUE(fs->truncate(g, 2 * bs).is_ok());
    std::string want = two.substr(0, bs + 10) + std::string(bs - 10, '\0');
    EXPECT_EQ(read_all(g), want);
    expect_clean();
    EXPECT_TRUE(cat("/g") == want);
}

TEST_P(Ext2Write, SparseAndLargeFiles) {
    make("16M");
    uint32_t bs = GetParam();
    uint32_t f = create(fs->root(), "sparse", "");
    const uint64_t offsets[] = {0, 13ull * bs, 100ull * bs + 7, 70000ull * bs, 5ull << 30};
    for (uint64_t off : offsets) {
        std::string s = "at-" + std::to_string(off);
        ASSERT_TRUE(fs->write(f, off, s.data(), s.size()).is_ok()) << off << "\n" << log.all();
    }
    auto st = fs->stat(f).value();
    EXPECT_EQ(st.size, (5ull << 30) + std::to_string(5ull << 30).size() + 3);
    EXPECT_LT(st.blocks, 64u * bs / 512);  // only the written blocks and their indirect blocks
    for (uint64_t off : offsets) {
        std::string s = "at-" + std::to_string(off);
        std::string got(s.size() + 4, 'z');
        auto r = fs->read(f, off - (off ? 2 : 0), got.data(), got.size());
        ASSERT_TRUE(r.is_ok());
        std::string want = (off ? std::string(2, '\0') : "") + s;
        EXPECT_EQ(got.substr(0, want.size()), want) << off;
    }
    EXPECT_TRUE(fs->superblock().s_feature_ro_compat & ext2::RO_COMPAT_LARGE_FILE);
    EXPECT_EQ(fs->write(f, fs->max_file_size(), "x", 1).error().code(), Errno::FBig);
    expect_clean();
    std::string stat = debugfs(tmp, dev, "stat /sparse", false);
    EXPECT_NE(stat.find("Size: " + std::to_string(st.size)), std::string::npos) << stat;
    // Where debugfs says the last piece is, the image holds it.
    uint64_t lblk = (5ull << 30) / bs;
    std::string bmap = debugfs(tmp, dev, "bmap /sparse " + std::to_string(lblk), false);
    uint64_t phys = strtoull(bmap.c_str(), nullptr, 10);
    ASSERT_GT(phys, 0u) << bmap;
    std::string want = "at-" + std::to_string(5ull << 30);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(dev.bytes.data()) + phys * bs + (5ull << 30) % bs, want.size()),
              want);
    EXPECT_EQ(debugfs(tmp, dev, "bmap /sparse " + std::to_string(lblk - 1), false), "0\n");
}

TEST_P(Ext2Write, AttributesAndTimestamps) {
    make("8M");
    uint32_t f = create(fs->root(), "f", "abc", 0600);
    auto before = fs->stat(f).value();
    EXPECT_EQ(before.mode, ext2::MODE_IFREG | 0600);
    EXPECT_EQ(before.uid, 1000u);
    EXPECT_NE(before.mtime, 0u);
    ext2::SetAttr a{};
    a.mask =
        ext2::SetAttr::MODE | ext2::SetAttr::UID | ext2::SetAttr::GID | ext2::SetAttr::MTIME | ext2::SetAttr::ATIME;
    a.mode = 04755;
    a.uid = 70000;  // needs the high 16 bits
    a.gid = 70001;
    a.mtime = 1234567890;
    a.atime = 1234567891;
    ASSERT_TRUE(fs->setattr(f, a).is_ok());
    auto after = fs->stat(f).value();
    EXPECT_EQ(after.mode, ext2::MODE_IFREG | 04755);
    EXPECT_EQ(after.uid, 70000u);
    EXPECT_EQ(after.gid, 70001u);
    EXPECT_EQ(after.mtime, 1234567890u);
    uint32_t fifo = fs->create(fs->root(), "fifo", 4, ext2::MODE_IFIFO | 0644, 0, 0).value();
    EXPECT_EQ(fs->stat(fifo).value().mode & ext2::MODE_IFMT, ext2::MODE_IFIFO);
    EXPECT_EQ(fs->create(fs->root(), "f", 1, 0644, 0, 0).error().code(), Errno::Exist);
    EXPECT_EQ(fs->create(fs->root(), "a/b", 3, 0644, 0, 0).error().code(), Errno::Inval);
    std::string longname(256, 'n');
    EXPECT_EQ(fs->create(fs->root(), longname.data(), longname.size(), 0644, 0, 0).error().code(), Errno::NameTooLong);
    // Unlinking sets dtime on the freed inode (e2fsck checks it too).
    ASSERT_TRUE(fs->unlink(fs->root(), "fifo", 4).is_ok());
    expect_clean();
    std::string st = debugfs(tmp, dev, "stat /f", false);
    EXPECT_NE(st.find("User: 70000"), std::string::npos) << st;
    EXPECT_NE(st.find("Mode:  04755"), std::string::npos) << st;
}

TEST_P(Ext2Write, FillsUpAndRecovers) {
    make("2M");
    std::string chunk = pattern(64 * 1024, 9);
    uint32_t f = create(fs->root(), "fill", "");
    uint64_t off = 0;
    for (;;) {
        auto r = fs->write(f, off, chunk.data(), chunk.size());
        if (r.is_error()) {
            EXPECT_EQ(r.error().code(), Errno::NoSpc);
            break;
        }
        off += r.value();
        if (r.value() < chunk.size()) continue;
        ASSERT_LT(off, 4u << 20);
    }
    EXPECT_EQ(fs->superblock().s_free_blocks_count, 0u);
    ASSERT_TRUE(fs->unlink(fs->root(), "fill", 4).is_ok());
    create(fs->root(), "after", "fine");
    expect_clean();
}

TEST_P(Ext2Write, ReadOnlyMountRefusesWrites) {
    make("8M");
    unmount();
    mount(true);
    EXPECT_EQ(fs->create(fs->root(), "x", 1, 0644, 0, 0).error().code(), Errno::ROFS);
    EXPECT_EQ(fs->mkdir(fs->root(), "x", 1, 0755, 0, 0).error().code(), Errno::ROFS);
    unmount();
    auto r = fsck(tmp, dev);
    EXPECT_EQ(r.status, 0) << r.output;
}

TEST_P(Ext2Write, NoLeaksAfterUnmount) {
    make("8M");
    create(fs->root(), "f", "x");
    unmount();
    EXPECT_EQ(alloc.live_count, 0u);
    EXPECT_EQ(alloc.live_bytes, 0u);
}

// A file whose last name goes while someone holds it: on the orphan list, usable, freed by
// release() or by the next mount (not by a mount after a fault, whose caller still holds it).
TEST_P(Ext2Write, OrphansStayUsableUntilReleasedOrTheNextMount) {
    make("8M");
    uint32_t a = create(fs->root(), "a", pattern(3 * GetParam(), 1));
    uint32_t b = create(fs->root(), "b", "bee");
    create(fs->root(), "c", "sea");
    uint32_t free_blocks = fs->superblock().s_free_blocks_count;
    uint32_t free_inodes = fs->superblock().s_free_inodes_count;

    uint32_t orphan = 99;
    ASSERT_TRUE(fs->unlink(fs->root(), "a", 1, &orphan).is_ok());
    EXPECT_EQ(orphan, a);
    EXPECT_EQ(resolve_error("/a"), Errno::NoEnt);
    EXPECT_EQ(fs->stat(a).value().links, 0);
    EXPECT_EQ(read_all(a), pattern(3 * GetParam(), 1));
    ASSERT_EQ(fs->write(a, 3 * GetParam(), "tail", 4).value(), 4u);
    EXPECT_EQ(fs->stat(a).value().size, 3 * GetParam() + 4);
    EXPECT_EQ(fs->link(fs->root(), "again", 5, a).error().code(), Errno::NoEnt);
    ASSERT_TRUE(fs->rename(fs->root(), "c", 1, fs->root(), "b", 1, &orphan).is_ok());
    EXPECT_EQ(orphan, b);
    EXPECT_EQ(read_all(b), "bee");
    ASSERT_TRUE(fs->unlink(fs->root(), "b", 1, &orphan).is_ok());  // c's inode, now named b
    uint32_t c = orphan;
    ASSERT_NE(c, 0u);
    // The list: c, b, a (the newest first, chained through i_dtime).
    EXPECT_EQ(fs->superblock().s_last_orphan, c);
    EXPECT_EQ(fs->stat(c).value().dtime, b);
    EXPECT_EQ(fs->stat(b).value().dtime, a);
    EXPECT_EQ(fs->stat(a).value().dtime, 0u);
    EXPECT_EQ(fs->superblock().s_free_inodes_count, free_inodes);  // nothing freed yet

    // Release from the middle of the list, then the head; a second release is refused.
    ASSERT_TRUE(fs->release(b).is_ok());
    EXPECT_EQ(fs->stat(c).value().dtime, a);
    EXPECT_EQ(fs->release(b).error().code(), Errno::Inval);
    EXPECT_EQ(fs->release(fs->root()).error().code(), Errno::Inval);
    EXPECT_EQ(fs->stat(b).error().code(), Errno::NoEnt);
    ASSERT_TRUE(fs->release(c).is_ok());
    EXPECT_EQ(fs->superblock().s_last_orphan, a);

    // A mount after a fault keeps a; the next plain mount frees it.
    unmount();
    ext2::MountOptions o;
    o.cache_buffers = 32;
    o.after_fault = true;
    fs = ext2::FileSystem::mount(dev, alloc, clock, &log, o).release_value();
    EXPECT_EQ(fs->superblock().s_last_orphan, a);
    EXPECT_EQ(read_all(a).substr(3 * GetParam()), "tail");
    remount();
    EXPECT_EQ(fs->superblock().s_last_orphan, 0u);
    EXPECT_EQ(fs->stat(a).error().code(), Errno::NoEnt);
    EXPECT_NE(log.all().find("freeing orphan inode"), std::string::npos);
    EXPECT_EQ(fs->superblock().s_free_blocks_count, free_blocks + 5);  // a (4 with its tail), b, c
    EXPECT_EQ(fs->superblock().s_free_inodes_count, free_inodes + 3);
    expect_clean();
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, Ext2Write, ::testing::Values(1024u, 4096u),
                         [](const auto& info) { return std::to_string(info.param); });

}  // namespace
