// Host tests for the GPT reader and CRC32 (domains/fs/gpt, domains/fs/crc32) against the disk
// image the build makes (partition 2 is the ext2 root) and corrupted views of it.
#include <gtest/gtest.h>

#include <map>

#include "domains/fs/crc32.h"
#include "domains/fs/gpt.h"
#include "tests/unit/ext2_test_util.h"

namespace fs = lamina::fs;
namespace ext2 = lamina::ext2;
using namespace ext2_test;

namespace {

// The image file read in place, with some bytes replaced: corrupted copies without copying.
class FileDevice final : public fs::BlockDevice {
public:
    explicit FileDevice(const std::string& path) { fd_ = open(path.c_str(), O_RDONLY); }
    ~FileDevice() {
        if (fd_ >= 0) close(fd_);
    }
    bool ok() const { return fd_ >= 0; }
    std::map<uint64_t, uint8_t> patch;  // byte offset -> value
    void flip(uint64_t off) { patch[off] = static_cast<uint8_t>(read_byte(off) ^ 0x55); }
    uint8_t read_byte(uint64_t off) {
        uint8_t b = 0;
        if (pread(fd_, &b, 1, static_cast<off_t>(off)) != 1) return 0;
        return b;
    }
    uint64_t sector_count() const override {
        struct stat st;
        fstat(fd_, &st);
        return static_cast<uint64_t>(st.st_size) / 512;
    }
    Result<void> read_sectors(uint64_t lba, uint32_t count, void* buf) override {
        if (lba > sector_count() || count > sector_count() - lba) return Errno::Inval;
        size_t n = size_t{count} * 512;
        if (pread(fd_, buf, n, static_cast<off_t>(lba * 512)) != static_cast<ssize_t>(n)) return Errno::IO;
        for (auto it = patch.lower_bound(lba * 512); it != patch.end() && it->first < lba * 512 + n; ++it)
            static_cast<uint8_t*>(buf)[it->first - lba * 512] = it->second;
        return {};
    }
    Result<void> write_sectors(uint64_t, uint32_t, const void*) override { return Errno::ROFS; }
    Result<void> flush() override { return {}; }

private:
    int fd_ = -1;
};

std::string image_path() {
    const char* b = getenv("LAMINA_BUILD_DIR");
    return std::string(b ? b : "build") + "/images/test.img";
}

TEST(Crc32, KnownVectors) {
    EXPECT_EQ(fs::crc32("123456789", 9), 0xCBF43926u);
    EXPECT_EQ(fs::crc32("", 0), 0u);
    EXPECT_EQ(fs::crc32_update(fs::crc32("1234", 4), "56789", 5), 0xCBF43926u);
}

class GptImage : public ::testing::Test {
protected:
    void SetUp() override {
        if (access(image_path().c_str(), R_OK) != 0) GTEST_SKIP() << "no " << image_path() << " (ninja images)";
    }
    CollectLog log;
};

TEST_F(GptImage, FindsTheRootPartitionAndMountsIt) {
    FileDevice dev(image_path());
    ASSERT_TRUE(dev.ok());
    auto p = fs::gpt_find_root(dev, &log);
    ASSERT_TRUE(p.is_ok()) << log.all();
    EXPECT_EQ(p.value().index, 2u);
    EXPECT_EQ(p.value().first_lba, 133120u);
    EXPECT_STREQ(p.value().name, "root");
    EXPECT_TRUE(p.value().type == fs::GPT_TYPE_LINUX_FS);
    // Found by type alone too.
    auto by_type = fs::gpt_find_partition(dev, fs::GPT_TYPE_LINUX_FS, nullptr, &log);
    ASSERT_TRUE(by_type.is_ok());
    EXPECT_EQ(by_type.value().index, 2u);
    EXPECT_EQ(fs::gpt_find_partition(dev, fs::Guid{{1, 2, 3}}, "nothing", &log).error().code(), Errno::NoEnt);

    fs::PartitionDevice part(dev, p.value().first_lba, p.value().sector_count());
    MallocAllocator alloc;
    WallClock clock;
    auto m = ext2::FileSystem::mount(part, alloc, clock, &log, {.read_only = true});
    ASSERT_TRUE(m.is_ok()) << log.all();
    ext2::FsOwner fsys = m.release_value();
    const char* path = "/etc";
    auto etc = fsys->resolve(fsys->root(), path, 4, true);
    ASSERT_TRUE(etc.is_ok());
    EXPECT_EQ(fsys->stat(etc.value()).value().mode & ext2::MODE_IFMT, ext2::MODE_IFDIR);
    EXPECT_TRUE(ext2::FileSystem::unmount(fsys).is_ok());
}

TEST_F(GptImage, FallsBackToTheBackupTable) {
    FileDevice dev(image_path());
    dev.flip(512 + 40);  // inside the primary header: its CRC no longer matches
    auto p = fs::gpt_find_root(dev, &log);
    ASSERT_TRUE(p.is_ok()) << log.all();
    EXPECT_EQ(p.value().index, 2u);
    EXPECT_TRUE(log.contains("primary header: CRC32 mismatch")) << log.all();

    FileDevice dev2(image_path());
    dev2.flip(1024 + 128 + 40);  // the primary entry array (partition 2's first LBA)
    CollectLog log2;
    auto p2 = fs::gpt_find_root(dev2, &log2);
    ASSERT_TRUE(p2.is_ok()) << log2.all();
    EXPECT_EQ(p2.value().first_lba, 133120u);
    EXPECT_TRUE(log2.contains("entry array CRC32 mismatch")) << log2.all();
}

TEST_F(GptImage, CorruptTablesAreErrors) {
    uint64_t last = FileDevice(image_path()).sector_count() - 1;
    struct Case {
        const char* what;
        std::vector<uint64_t> flips;
    };
    std::vector<Case> cases = {
        {"both headers", {512 + 40, last * 512 + 40}},
        {"both signatures", {512, last * 512}},
        {"primary entries and backup header", {1024 + 128 + 40, last * 512 + 88}},
    };
    // The backup entry array sits just before the backup header.
    {
        FileDevice d(image_path());
        uint64_t backup_entries;
        for (int i = 0; i < 8; i++) reinterpret_cast<uint8_t*>(&backup_entries)[i] = d.read_byte(last * 512 + 72 + i);
        cases.push_back({"both entry arrays", {1024 + 128 + 40, backup_entries * 512 + 128 + 40}});
    }
    for (auto& c : cases) {
        FileDevice dev(image_path());
        for (uint64_t off : c.flips) dev.flip(off);
        CollectLog l;
        auto p = fs::gpt_find_root(dev, &l);
        ASSERT_TRUE(p.is_error()) << c.what;
        EXPECT_EQ(p.error().code(), Errno::IO) << c.what;
        EXPECT_FALSE(l.lines.empty()) << c.what;
    }
    MemDevice empty(std::vector<uint8_t>(512 * 64, 0));
    EXPECT_EQ(fs::gpt_find_root(empty, &log).error().code(), Errno::IO);
}

}  // namespace
