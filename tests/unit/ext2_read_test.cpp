// Host tests for ext2 reading and mounting (domains/fs/ext2): trees made by mke2fs -d read back
// through our code; feature and state checks at mount.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/unit/ext2_test_util.h"

namespace ext2 = lamina::ext2;
using namespace ext2_test;

namespace {

struct Tree {
    std::map<std::string, std::string> files;  // path -> content
};

Tree make_tree(const std::string& root, uint32_t bs) {
    Tree t;
    std::string cmd = "mkdir -p '" + root + "/a/b/c' '" + root + "/empty'";
    EXPECT_EQ(system(cmd.c_str()), 0);
    size_t sizes[] = {0, 5, 1024, 5000, 13 * size_t{bs} + 3, 300000};
    for (size_t i = 0; i < std::size(sizes); i++) {
        std::string p = "/file" + std::to_string(i);
        t.files[p] = pattern(sizes[i], uint32_t(100 + i));
        write_file(root + p, t.files[p]);
    }
    t.files["/a/b/c/deep"] = "deep file";
    write_file(root + "/a/b/c/deep", t.files["/a/b/c/deep"]);
    EXPECT_EQ(chmod((root + "/file1").c_str(), 0750), 0);
    EXPECT_EQ(symlink("a/b", (root + "/short").c_str()), 0);
    std::string long_target = "/a/b/c/" + std::string(80, '.') + "/../deep";  // 80 dots: a name, not ..
    EXPECT_EQ(symlink(long_target.c_str(), (root + "/long").c_str()), 0);
    EXPECT_EQ(symlink("/a/b/c/deep", (root + "/a/abs").c_str()), 0);
    EXPECT_EQ(link((root + "/file2").c_str(), (root + "/a/hard").c_str()), 0);
    return t;
}

class Ext2Read : public ::testing::TestWithParam<uint32_t> {
protected:
    TempDir tmp;
    MallocAllocator alloc;
    WallClock clock;
    CollectLog log;
};

TEST_P(Ext2Read, TreeFromMke2fsReadsBack) {
    uint32_t bs = GetParam();
    Tree t = make_tree(tmp / "src", bs);
    MemDevice dev = make_image(tmp, bs, bs == 65536 ? "16M" : "8M", tmp / "src");
    ASSERT_GT(dev.bytes.size(), 0u);
    auto m = ext2::FileSystem::mount(dev, alloc, clock, &log, {.read_only = true});
    ASSERT_TRUE(m.is_ok()) << log.all();
    ext2::FsOwner fs = m.release_value();
    EXPECT_EQ(fs->block_size(), bs);
    auto resolve = [&](const std::string& p, bool follow = true) {
        return fs->resolve(fs->root(), p.data(), p.size(), follow);
    };
    for (auto& [path, content] : t.files) {
        auto i = resolve(path);
        ASSERT_TRUE(i.is_ok()) << path;
        auto st = fs->stat(i.value()).value();
        ASSERT_EQ(st.size, content.size()) << path;
        std::string got(content.size(), 'z');
        auto r = fs->read(i.value(), 0, got.data(), got.size());
        ASSERT_TRUE(r.is_ok());
        EXPECT_TRUE(got == content) << path;
        // A read across the end is short, at the end empty.
        char c;
        EXPECT_EQ(fs->read(i.value(), content.size(), &c, 1).value(), 0u);
    }
    auto f1 = fs->stat(resolve("/file1").value()).value();
    EXPECT_EQ(f1.mode, ext2::MODE_IFREG | 0750);
    EXPECT_EQ(fs->stat(resolve("/a/hard").value()).value().links, 2);
    EXPECT_EQ(resolve("/a/hard").value(), resolve("/file2").value());
    EXPECT_EQ(resolve("/short/c/deep").value(), resolve("/a/b/c/deep").value());
    EXPECT_EQ(resolve("/a/abs").value(), resolve("/a/b/c/deep").value());
    EXPECT_EQ(resolve("/long").error().code(), Errno::NoEnt);  // the 80-dot name does not exist
    char buf[200];
    auto n = fs->readlink(resolve("/long", false).value(), buf, sizeof buf);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(std::string(buf, n.value()), "/a/b/c/" + std::string(80, '.') + "/../deep");
    auto n2 = fs->readlink(resolve("/short", false).value(), buf, sizeof buf);
    ASSERT_TRUE(n2.is_ok());
    EXPECT_EQ(std::string(buf, n2.value()), "a/b");
    EXPECT_EQ(fs->stat(resolve("/a").value()).value().links, 3);
    EXPECT_EQ(resolve("/a/b/../../file3").value(), resolve("/file3").value());
    EXPECT_EQ(resolve("/../..").value(), fs->root());
    EXPECT_EQ(resolve("/file3/").error().code(), Errno::NotDir);
    EXPECT_EQ(resolve("/nope").error().code(), Errno::NoEnt);
    // read_dir lists the root with types.
    std::map<std::string, uint8_t> names;
    uint64_t pos = 0;
    ext2::DirEntry e;
    while (fs->read_dir(fs->root(), &pos, &e).value()) names[e.name] = e.type;
    std::set<std::string> want = {".",     "..",    "lost+found", "a",     "empty", "short", "long",
                                  "file0", "file1", "file2",      "file3", "file4", "file5"};
    std::set<std::string> got;
    for (auto& [name, type] : names) got.insert(name);
    EXPECT_EQ(got, want);
    EXPECT_EQ(names["a"], ext2::FT_DIR);
    EXPECT_EQ(names["short"], ext2::FT_SYMLINK);
    EXPECT_EQ(names["file0"], ext2::FT_REG_FILE);
    EXPECT_EQ(fs->create(fs->root(), "x", 1, 0644, 0, 0).error().code(), Errno::ROFS);
    ASSERT_TRUE(ext2::FileSystem::unmount(fs).is_ok());
    EXPECT_EQ(alloc.live_count, 0u);
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, Ext2Read, ::testing::Values(1024u, 4096u, 65536u),
                         [](const auto& info) { return std::to_string(info.param); });

class Ext2Mount : public ::testing::Test {
protected:
    TempDir tmp;
    MallocAllocator alloc;
    WallClock clock;
    CollectLog log;
    Result<ext2::FsOwner> mount(MemDevice& dev, bool ro = false) {
        return ext2::FileSystem::mount(dev, alloc, clock, &log, {.read_only = ro});
    }
};

// What the implementation cannot read is refused, and the log says why by name.
TEST_F(Ext2Mount, RefusesWhatItCannotReadAndSaysWhy) {
    struct Case {
        const char* mke2fs;
        const char* logged;
    };
    const Case cases[] = {
        {"-O extent", "unsupported incompatible features: extent"},
        {"-O meta_bg,^resize_inode", "unsupported incompatible features: meta_bg"},
        {"-O flex_bg", "unsupported incompatible features: flex_bg"},
        {"-O encrypt", "unsupported incompatible features: encrypt"},
        {"-O casefold", "unsupported incompatible features: casefold"},
        {"-O extent,64bit,flex_bg", "unsupported incompatible features: extent 64bit flex_bg"},
        {"-r 0", "revision 0"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.mke2fs);
        MemDevice dev = make_image(tmp, 1024, "4M", "", c.mke2fs);
        auto r = mount(dev);
        ASSERT_TRUE(r.is_error());
        EXPECT_EQ(r.error().code(), Errno::NotSup);
        EXPECT_TRUE(log.contains(c.logged)) << log.all();
    }
}

TEST_F(Ext2Mount, UnknownReadOnlyFeatureMountsReadOnly) {
    // Each read-only-compatible feature the code does not write: readable, so mounted
    // read-only, and the log names it.
    for (const char* feature : {"huge_file", "dir_nlink", "quota", "metadata_csum"}) {
        SCOPED_TRACE(feature);
        MemDevice dev = make_image(tmp, 1024, "4M", "", std::string("-O ") + feature);
        auto r = mount(dev);
        ASSERT_TRUE(r.is_ok()) << log.all();
        EXPECT_TRUE(r.value()->read_only());
        EXPECT_TRUE(log.contains(std::string("unsupported read-only features: ") + feature)) << log.all();
        EXPECT_EQ(r.value()->mkdir(2, "d", 1, 0755, 0, 0).error().code(), Errno::ROFS);
        EXPECT_TRUE(r.value()->lookup(2, "lost+found", 10).is_ok());
    }
}

TEST_F(Ext2Mount, UncleanFileSystemMountsReadOnly) {
    for (uint16_t state : {uint16_t(0), uint16_t(ext2::STATE_VALID | ext2::STATE_ERROR)}) {
        MemDevice dev = make_image(tmp, 1024, "4M");
        memcpy(&dev.bytes[1024 + offsetof(ext2::Superblock, s_state)], &state, 2);
        auto r = mount(dev);
        ASSERT_TRUE(r.is_ok()) << log.all();
        EXPECT_TRUE(r.value()->read_only());
        EXPECT_NE(r.value()->read_only_reason(), nullptr);
        EXPECT_TRUE(log.contains("mounting read-only")) << log.all();
    }
}

TEST_F(Ext2Mount, MountMarksDirtyAndUnmountClean) {
    MemDevice dev = make_image(tmp, 1024, "4M");
    auto state = [&] {
        uint16_t s;
        memcpy(&s, &dev.bytes[1024 + offsetof(ext2::Superblock, s_state)], 2);
        return s;
    };
    auto r = mount(dev);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(state() & ext2::STATE_VALID, 0);
    ext2::FsOwner fs = r.release_value();
    ASSERT_TRUE(ext2::FileSystem::unmount(fs).is_ok());
    EXPECT_EQ(state() & ext2::STATE_VALID, ext2::STATE_VALID);
}

TEST_F(Ext2Mount, NotExt2) {
    MemDevice dev(std::vector<uint8_t>(1 << 20, 0));
    auto r = mount(dev);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().code(), Errno::Inval);
    MemDevice tiny(std::vector<uint8_t>(1024, 0));
    EXPECT_TRUE(mount(tiny).is_error());
}

}  // namespace
