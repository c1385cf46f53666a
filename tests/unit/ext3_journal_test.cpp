// ext3 and its JBD2 journal (domains/fs/ext2/journal.*): mounting images made by
// `mke2fs -t ext3`, and replaying journals written by e2fsprogs' debugfs (journal_open,
// journal_write, journal_close) with and without revokes, uncommitted transactions, escaped
// blocks, the three checksum versions and corrupted logs. After each replay e2fsck -fn must
// find the file system clean and the blocks must hold what e2fsck's own replay
// (e2fsck -E journal_only) puts there.
#include <gtest/gtest.h>

#include <functional>

#include "domains/fs/crc32.h"
#include "domains/fs/ext2/jbd2_format.h"
#include "domains/fs/ext2/journal.h"
#include "tests/unit/ext2_test_util.h"

namespace ext2 = lamina::ext2;
namespace jbd2 = lamina::ext2::jbd2;
using namespace ext2_test;

namespace {

struct Ext3 {
    TempDir tmp;
    std::string img = tmp / "ext3.img";
    uint32_t bs;

    // An ext3 file system of `size`, with `extra` mke2fs options.
    explicit Ext3(uint32_t block_size = 1024, const std::string& extra = "", const std::string& size = "8M")
        : bs(block_size) {
        std::string src = tmp / "src";
        EXPECT_EQ(system(("mkdir -p '" + src + "/dir'").c_str()), 0);
        write_file(src + "/file", pattern(20 * 1024, 7));
        write_file(src + "/dir/small", "small file\n");
        auto r = run("mke2fs -q -F -t ext3 -b " + std::to_string(bs) + " " + extra + " -d '" + src + "' '" + img +
                     "' " + size);
        EXPECT_EQ(r.status, 0) << r.output;
    }

    // A file of whole blocks for debugfs' journal_write: block i is `fill(i)`.
    std::string blocks(const std::string& name, const std::vector<std::string>& contents) {
        std::string path = tmp / name;
        std::string all;
        for (auto c : contents) {
            c.resize(bs, '\0');
            all += c;
        }
        write_file(path, all);
        return path;
    }

    // Runs debugfs -w with these requests (one per line) on the image.
    void debugfs_w(const std::string& requests) {
        std::string cmds = tmp / "cmds";
        write_file(cmds, requests);
        auto r = run("debugfs -w -f '" + cmds + "' '" + img + "'");
        ASSERT_EQ(r.status, 0) << r.output;
    }

    std::string dumpe2fs() { return run("dumpe2fs -h '" + img + "' 2>/dev/null").output; }
    MemDevice load() const { return MemDevice::load(img); }
    // The file-system block holding journal block n.
    uint32_t journal_block(uint32_t n) { return file_block("<8>", n); }
    uint32_t file_block(const std::string& path, uint32_t n) {
        std::string cmd = "debugfs -R 'bmap " + path + " " + std::to_string(n) + "' '" + img + "' 2>/dev/null";
        FILE* p = popen(cmd.c_str(), "r");
        unsigned long b = 0;
        if (p) {
            if (fscanf(p, "%lu", &b) != 1) b = 0;
            pclose(p);
        }
        EXPECT_NE(b, 0u) << cmd;
        return static_cast<uint32_t>(b);
    }
    std::string block_of(const MemDevice& dev, uint64_t b) const {
        return std::string(reinterpret_cast<const char*>(&dev.bytes[b * bs]), bs);
    }
};

struct Mounted {
    MallocAllocator alloc;
    WallClock clock;
    CollectLog log;
    Result<ext2::FsOwner> fs;

    explicit Mounted(MemDevice& dev, bool read_only = false)
        : fs(ext2::FileSystem::mount(dev, alloc, clock, &log, {.read_only = read_only})) {}
    ~Mounted() {
        if (fs.is_ok()) {
            EXPECT_TRUE(ext2::FileSystem::unmount(fs.value()).is_ok());
        }
    }
    ext2::FileSystem& operator*() { return *fs.value(); }
    ext2::FileSystem* operator->() { return fs.value().get(); }
};

// The image after e2fsck replayed its journal (the reference for Lamina's replay).
MemDevice e2fsck_replayed(Ext3& fs) {
    std::string copy = fs.tmp / "e2fsck.img";
    EXPECT_EQ(system(("cp '" + fs.img + "' '" + copy + "'").c_str()), 0);
    auto r = run("e2fsck -fy -E journal_only '" + copy + "'");
    EXPECT_LE(r.status, 1) << r.output;
    return MemDevice::load(copy);
}

std::string read_all(ext2::FileSystem& fs, const char* path) {
    auto ino = fs.resolve(fs.root(), path, strlen(path), true);
    if (ino.is_error()) return "<missing>";
    std::string out(1 << 20, '\0');
    auto n = fs.read(ino.value(), 0, out.data(), out.size());
    if (n.is_error()) return "<error>";
    out.resize(n.value());
    return out;
}

void expect_clean(Ext3& fs, const MemDevice& dev) {
    auto r = fsck(fs.tmp, dev);
    EXPECT_EQ(r.status, 0) << r.output;
    std::string img = fs.tmp / "check.img";
    std::string h = run("dumpe2fs -h '" + img + "' 2>/dev/null").output;
    EXPECT_EQ(h.find("needs_recovery"), std::string::npos) << h;
    EXPECT_NE(h.find("Journal start:            0"), std::string::npos) << h;
}

// The check values of the CRC catalogue: CRC-32C (iSCSI) and CRC-32/BZIP2, whose raw forms
// the journal's checksums use.
TEST(Ext3Journal, ChecksumAlgorithms) {
    const char* check = "123456789";
    EXPECT_EQ(~lamina::fs::crc32c_raw(~0u, check, 9), 0xE3069283u);
    EXPECT_EQ(~lamina::fs::crc32_be_raw(~0u, check, 9), 0xFC891918u);
    // Chaining equals one pass.
    EXPECT_EQ(lamina::fs::crc32c_raw(lamina::fs::crc32c_raw(~0u, check, 4), check + 4, 5),
              lamina::fs::crc32c_raw(~0u, check, 9));
}

TEST(Ext3Journal, MkfsExt3MountsReadWriteAndStaysClean) {
    Ext3 fs;
    EXPECT_NE(fs.dumpe2fs().find("has_journal"), std::string::npos);
    MemDevice dev = fs.load();
    {
        Mounted m(dev);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        EXPECT_FALSE(m->read_only()) << m->read_only_reason();
        EXPECT_EQ(read_all(*m, "/file"), pattern(20 * 1024, 7));
        auto ino = m->create(m->root(), "new", 3, ext2::MODE_IFREG | 0644, 0, 0);
        ASSERT_TRUE(ino.is_ok());
        std::string data = pattern(5000, 3);
        ASSERT_TRUE(m->write(ino.value(), 0, data.data(), data.size()).is_ok());
    }
    auto r = fsck(fs.tmp, dev);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(debugfs(fs.tmp, dev, "cat /new"), pattern(5000, 3));
}

// The journal of an image, opened directly (without mounting the file system).
struct OpenJournal {
    MallocAllocator alloc;
    CollectLog log;
    ext2::BufferCache* cache = nullptr;
    Result<ext2::Journal> journal;

    OpenJournal(MemDevice& dev, uint32_t bs) : journal(open(dev, bs)) {}
    Result<ext2::Journal> open(MemDevice& dev, uint32_t bs) {
        ext2::Superblock sb;
        memcpy(&sb, &dev.bytes[1024], sizeof sb);
        ext2::GroupDesc gd;  // group 0's descriptor: the block after the superblock's
        memcpy(&gd, &dev.bytes[size_t{sb.s_first_data_block + 1} * bs], sizeof gd);
        ext2::Inode in;
        memcpy(&in, &dev.bytes[size_t{gd.bg_inode_table} * bs + 7 * sb.s_inode_size], sizeof in);
        auto c = ext2::BufferCache::create(dev, alloc, bs, 16, &log);
        EXPECT_TRUE(c.is_ok());
        cache = c.value();
        return ext2::Journal::open(*cache, in, sb.s_blocks_count, &log);
    }
    ~OpenJournal() { ext2::BufferCache::destroy(cache); }
    ext2::Journal& operator*() { return journal.value(); }
};

TEST(Ext3Journal, ReadsTheJournalSuperblock) {
    Ext3 fs;
    MemDevice dev = fs.load();
    OpenJournal j(dev, 1024);
    ASSERT_TRUE(j.journal.is_ok()) << j.log.all();
    EXPECT_FALSE((*j).needs_recovery());
    EXPECT_EQ(jbd2::be32((*j).superblock().s_maxlen), 1024u);  // "Total journal blocks"
    EXPECT_EQ(jbd2::be32((*j).superblock().s_blocksize), 1024u);
    EXPECT_EQ((*j).unsupported_incompat(), 0u);
}

// Lamina writes a transaction (one block escaped, enough blocks for two descriptors with
// 1 KiB blocks); debugfs' logdump must find it whole, and both e2fsck's replay and Lamina's
// must put the blocks home.
void lamina_transaction_is_valid_jbd2(uint32_t bs, const std::string& mkfs_extra, const std::string& features) {
    Ext3 fs(bs, mkfs_extra, "16M");
    if (!features.empty()) fs.debugfs_w("jo " + features + "\njc\n");  // sets the journal's features
    MemDevice dev = fs.load();
    {
        Mounted m(dev);  // clears needs_recovery left by debugfs
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
    }
    constexpr size_t N = 200;
    uint32_t first_home = 2000;
    std::vector<std::string> contents;
    std::vector<ext2::LoggedBlock> blocks;
    for (size_t i = 0; i < N; i++) contents.push_back(pattern(bs, static_cast<uint32_t>(i + 100)));
    const uint32_t magic = jbd2::be32(jbd2::MAGIC);
    memcpy(contents[3].data(), &magic, 4);
    for (size_t i = 0; i < N; i++)
        blocks.push_back({first_home + i, reinterpret_cast<const uint8_t*>(contents[i].data())});
    {
        OpenJournal j(dev, bs);
        ASSERT_TRUE(j.journal.is_ok()) << j.log.all();
        std::vector<uint8_t> scratch(2 * bs);
        ASSERT_TRUE((*j).commit(blocks.data(), N, scratch.data()).is_ok()) << j.log.all();
        // A second transaction goes after it in the log: the first home block, new contents.
        ext2::LoggedBlock again{first_home, blocks[1].data};
        ASSERT_TRUE((*j).commit(&again, 1, scratch.data()).is_ok()) << j.log.all();
        contents[0] = contents[1];
    }
    // The file system must say the journal needs recovery (the fs side's job when it commits).
    ext2::Superblock sb;
    memcpy(&sb, &dev.bytes[1024], sizeof sb);
    sb.s_feature_incompat |= ext2::INCOMPAT_RECOVER;
    memcpy(&dev.bytes[1024], &sb, sizeof sb);
    dev.save(fs.img);
    std::string dump = run("debugfs -R logdump '" + fs.img + "'").output;
    // Two commit blocks (transactions 1-2, or 2-3 after a read-write mount above).
    size_t first_commit = dump.find("type 2 (commit block)");
    ASSERT_NE(first_commit, std::string::npos) << dump;
    EXPECT_NE(dump.find("type 2 (commit block)", first_commit + 1), std::string::npos) << dump;
    EXPECT_NE(dump.find("No magic number at block"), std::string::npos) << dump;
    EXPECT_EQ(dump.find("checksum"), std::string::npos) << dump;  // no checksum complaints
    MemDevice reference = e2fsck_replayed(fs);
    for (size_t i = 0; i < N; i++) ASSERT_EQ(fs.block_of(reference, first_home + i), contents[i]) << i;
    {
        Mounted m(dev);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        EXPECT_TRUE(m.log.contains("journal: replayed 2 transactions")) << m.log.all();
    }
    for (size_t i = 0; i < N; i++) ASSERT_EQ(fs.block_of(dev, first_home + i), contents[i]) << i;
    // Blocks 2000.. belong to no file: e2fsck -fn only checks that the rest is consistent.
    expect_clean(fs, dev);
}

TEST(Ext3Journal, WritesValidTransactions1K) { lamina_transaction_is_valid_jbd2(1024, "", ""); }
TEST(Ext3Journal, WritesValidTransactions4K) { lamina_transaction_is_valid_jbd2(4096, "", ""); }
TEST(Ext3Journal, WritesValidTransactionsChecksumV1) { lamina_transaction_is_valid_jbd2(1024, "", "-c"); }
TEST(Ext3Journal, WritesValidTransactionsChecksumV2) {
    lamina_transaction_is_valid_jbd2(1024, "-O metadata_csum", "-c -v 2");
}
TEST(Ext3Journal, WritesValidTransactionsChecksumV3) {
    lamina_transaction_is_valid_jbd2(1024, "-O metadata_csum", "-c");
}

TEST(Ext3Journal, CheckpointEmptiesTheJournal) {
    Ext3 fs;
    MemDevice dev = fs.load();
    std::string content(1024, 'k');
    ext2::LoggedBlock b{fs.file_block("/file", 0), reinterpret_cast<const uint8_t*>(content.data())};
    OpenJournal j(dev, 1024);
    ASSERT_TRUE(j.journal.is_ok());
    std::vector<uint8_t> scratch(2048);
    ASSERT_TRUE((*j).commit(&b, 1, scratch.data()).is_ok());
    EXPECT_TRUE((*j).checkpoint().is_ok());
    ASSERT_TRUE((*j).commit(&b, 1, scratch.data()).is_ok());  // the next transaction, sequence 2
    EXPECT_TRUE((*j).checkpoint().is_ok());
    dev.save(fs.img);
    std::string h = fs.dumpe2fs();
    EXPECT_NE(h.find("Journal start:            0"), std::string::npos) << h;
    EXPECT_NE(h.find("Journal sequence:         0x00000003"), std::string::npos) << h;
    // Too large for the log, or out of range: refused before anything is written.
    std::vector<ext2::LoggedBlock> many(1100, b);
    EXPECT_EQ((*j).commit(many.data(), many.size(), scratch.data()).error(), Errno::NoSpc);
    ext2::LoggedBlock far{1u << 30, b.data};
    EXPECT_EQ((*j).commit(&far, 1, scratch.data()).error(), Errno::Inval);
}

// Two transactions of new contents for the file's blocks 0-2, the second overwriting block 1.
void write_two_transactions(Ext3& fs, const std::string& open_args, uint32_t b0, uint32_t b1, uint32_t b2) {
    std::string t1 = fs.blocks("t1", {std::string(fs.bs, 'A'), std::string(fs.bs, 'B')});
    std::string t2 = fs.blocks("t2", {std::string(fs.bs, 'C'), std::string(fs.bs, 'D')});
    fs.debugfs_w("jo " + open_args + "\njw -b " + std::to_string(b0) + "," + std::to_string(b1) + " " + t1 +
                 "\njw -b " + std::to_string(b1) + "," + std::to_string(b2) + " " + t2 + "\njc\n");
}

void replay_matches_e2fsck(const std::string& mkfs_extra, const std::string& open_args, uint32_t bs,
                           bool read_only = false) {
    Ext3 fs(bs, mkfs_extra);
    uint32_t b0 = fs.file_block("/file", 0), b1 = fs.file_block("/file", 1), b2 = fs.file_block("/file", 2);
    ASSERT_NE(b0, 0u);
    write_two_transactions(fs, open_args, b0, b1, b2);
    ASSERT_NE(fs.dumpe2fs().find("needs_recovery"), std::string::npos);
    MemDevice reference = e2fsck_replayed(fs);
    MemDevice dev = fs.load();
    {
        Mounted m(dev, read_only);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        EXPECT_TRUE(m.log.contains("journal: replayed 2 transactions")) << m.log.all();
        std::string want = std::string(bs, 'A') + std::string(bs, 'C') + std::string(bs, 'D');
        EXPECT_EQ(read_all(*m, "/file").substr(0, 3 * bs), want);
    }
    for (uint32_t b : {b0, b1, b2}) EXPECT_EQ(fs.block_of(dev, b), fs.block_of(reference, b)) << "block " << b;
    expect_clean(fs, dev);
}

TEST(Ext3Journal, ReplaysCommittedTransactions1K) { replay_matches_e2fsck("", "", 1024); }
TEST(Ext3Journal, ReplaysCommittedTransactions4K) { replay_matches_e2fsck("", "", 4096, false); }
TEST(Ext3Journal, ReplaysOnReadOnlyMount) { replay_matches_e2fsck("", "", 1024, true); }
TEST(Ext3Journal, ReplaysChecksumV1) { replay_matches_e2fsck("", "-c", 1024); }
// debugfs uses checksums v2/v3 only on metadata_csum file systems, which Lamina mounts
// read-only (it replays them all the same).
TEST(Ext3Journal, ReplaysChecksumV2) { replay_matches_e2fsck("-O metadata_csum", "-c -v 2", 1024); }
TEST(Ext3Journal, ReplaysChecksumV3) { replay_matches_e2fsck("-O metadata_csum", "-c", 1024); }

TEST(Ext3Journal, RevokedBlocksAreNotReplayed) {
    Ext3 fs;
    uint32_t b0 = fs.file_block("/file", 0), b1 = fs.file_block("/file", 1);
    std::string before1 = fs.block_of(fs.load(), b1);
    std::string t = fs.blocks("t", {std::string(fs.bs, 'X'), std::string(fs.bs, 'Y')});
    std::string t3 = fs.blocks("t3", {std::string(fs.bs, 'Z')});
    // Transaction 1 logs b0 and b1; 2 revokes both; 3 logs b0 again: b0 is Z, b1 untouched.
    fs.debugfs_w("jo\njw -b " + std::to_string(b0) + "," + std::to_string(b1) + " " + t + "\njw -r " +
                 std::to_string(b0) + "," + std::to_string(b1) + "\njw -b " + std::to_string(b0) + " " + t3 + "\njc\n");
    MemDevice reference = e2fsck_replayed(fs);
    MemDevice dev = fs.load();
    {
        Mounted m(dev);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        EXPECT_TRUE(m.log.contains("journal: replayed 3 transactions")) << m.log.all();
        EXPECT_TRUE(m.log.contains("2 revoked")) << m.log.all();
    }
    EXPECT_EQ(fs.block_of(dev, b0), std::string(fs.bs, 'Z'));
    EXPECT_EQ(fs.block_of(dev, b1), before1);
    EXPECT_EQ(fs.block_of(dev, b1), fs.block_of(reference, b1));
    expect_clean(fs, dev);
}

TEST(Ext3Journal, UncommittedTransactionIsIgnored) {
    Ext3 fs;
    uint32_t b0 = fs.file_block("/file", 0), b1 = fs.file_block("/file", 1);
    std::string before1 = fs.block_of(fs.load(), b1);
    std::string t1 = fs.blocks("t1", {std::string(fs.bs, 'P')});
    std::string t2 = fs.blocks("t2", {std::string(fs.bs, 'Q')});
    fs.debugfs_w("jo\njw -b " + std::to_string(b0) + " " + t1 + "\njw -b " + std::to_string(b1) + " -c " + t2 +
                 "\njc\n");
    MemDevice dev = fs.load();
    {
        Mounted m(dev);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        EXPECT_TRUE(m.log.contains("journal: replayed 1 transactions")) << m.log.all();
    }
    EXPECT_EQ(fs.block_of(dev, b0), std::string(fs.bs, 'P'));
    EXPECT_EQ(fs.block_of(dev, b1), before1);
    expect_clean(fs, dev);
}

TEST(Ext3Journal, EscapedBlockGetsItsMagicBack) {
    Ext3 fs;
    uint32_t b0 = fs.file_block("/file", 0);
    std::string content(fs.bs, 'e');
    const uint32_t magic = jbd2::be32(jbd2::MAGIC);
    memcpy(content.data(), &magic, 4);
    fs.debugfs_w("jo\njw -b " + std::to_string(b0) + " " + fs.blocks("t", {content}) + "\njc\n");
    MemDevice dev = fs.load();
    {
        Mounted m(dev);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
    }
    EXPECT_EQ(fs.block_of(dev, b0), content);
    expect_clean(fs, dev);
}

// A journal with transactions 1 and 2 (one block each), with checksums of `open_args`; the
// data block of transaction 2 is journal block 5 (1: descriptor, 2: data, 3: commit, 4:
// descriptor).
struct Damaged {
    Ext3 fs;
    uint32_t b0, b1;
    std::string before1;
    Damaged(const std::string& mkfs_extra, const std::string& open_args) : fs(1024, mkfs_extra) {
        b0 = fs.file_block("/file", 0);
        b1 = fs.file_block("/file", 1);
        before1 = fs.block_of(fs.load(), b1);
        fs.debugfs_w("jo " + open_args + "\njw -b " + std::to_string(b0) + " " +
                     fs.blocks("t1", {std::string(fs.bs, '1')}) + "\njw -b " + std::to_string(b1) + " " +
                     fs.blocks("t2", {std::string(fs.bs, '2')}) + "\njc\n");
    }
    // Mounts after `damage`; transaction 1 must be replayed and 2 not.
    void expect_stops_after_first(const std::function<void(MemDevice&)>& damage, const std::string& reason) {
        MemDevice dev = fs.load();
        damage(dev);
        {
            Mounted m(dev);
            ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
            EXPECT_TRUE(m.log.contains("log ends at transaction 2: " + reason)) << m.log.all();
            EXPECT_TRUE(m.log.contains("journal: replayed 1 transactions")) << m.log.all();
        }
        EXPECT_EQ(fs.block_of(dev, b0), std::string(fs.bs, '1'));
        EXPECT_EQ(fs.block_of(dev, b1), before1);
        expect_clean(fs, dev);
    }
};

// Flips bits `mask` of byte `at` of journal block `n`: transaction 2 must be dropped.
void flip_stops_after_first(const std::string& mkfs_extra, const std::string& open_args, uint32_t n, size_t at,
                            uint8_t mask, const std::string& reason) {
    Damaged d(mkfs_extra, open_args);
    uint32_t block = d.fs.journal_block(n);
    d.expect_stops_after_first([&](MemDevice& dev) { dev.bytes[size_t{block} * 1024 + at] ^= mask; }, reason);
}

TEST(Ext3Journal, BadDataChecksumV3StopsAtLastValidCommit) {
    flip_stops_after_first("-O metadata_csum", "-c", 5, 100, 1, "data block checksum mismatch");
}

TEST(Ext3Journal, BadDescriptorChecksumV2StopsAtLastValidCommit) {
    flip_stops_after_first("-O metadata_csum", "-c -v 2", 4, 1000, 0x40, "descriptor checksum mismatch");
}

TEST(Ext3Journal, BadCommitChecksumV1StopsAtLastValidCommit) {
    // A data block changed: the commit block's CRC32 over the transaction no longer matches.
    flip_stops_after_first("", "-c", 5, 7, 0x80, "commit block checksum mismatch");
}

TEST(Ext3Journal, TruncatedTransactionIsIgnored) {
    Damaged d("", "");
    uint32_t commit2 = d.fs.journal_block(6);
    // The commit block never reached the disk: the transaction is incomplete.
    d.expect_stops_after_first([&](MemDevice& dev) { memset(&dev.bytes[size_t{commit2} * 1024], 0, 1024); },
                               "no commit block");
}

TEST(Ext3Journal, LoggedBlockOutsideTheFileSystemStopsTheLog) {
    Damaged d("", "");
    uint32_t desc2 = d.fs.journal_block(4);
    d.expect_stops_after_first(
        [&](MemDevice& dev) {
            uint32_t far = jbd2::be32(0x7fffffff);
            memcpy(&dev.bytes[size_t{desc2} * 1024 + sizeof(jbd2::Header)], &far, 4);
        },
        "a logged block lies outside the file system");
}

TEST(Ext3Journal, CorruptJournalSuperblockRefusesTheMountWithoutWriting) {
    Damaged d("-O metadata_csum", "-c");
    uint32_t jsb = d.fs.journal_block(0);
    MemDevice dev = d.fs.load();
    dev.bytes[size_t{jsb} * 1024 + offsetof(jbd2::Superblock, s_max_transaction) + 3] ^= 1;
    std::vector<uint8_t> before = dev.bytes;
    Mounted m(dev);
    ASSERT_TRUE(m.fs.is_error());
    EXPECT_EQ(m.fs.error(), Errno::IO);
    EXPECT_TRUE(m.log.contains("journal: superblock checksum mismatch")) << m.log.all();
    EXPECT_TRUE(dev.bytes == before);
}

TEST(Ext3Journal, BadJournalGeometryRefusesTheMount) {
    Ext3 fs;
    uint32_t jsb = fs.journal_block(0);
    MemDevice dev = fs.load();
    uint32_t huge = jbd2::be32(1u << 20);  // more blocks than the journal inode has
    memcpy(&dev.bytes[size_t{jsb} * 1024 + offsetof(jbd2::Superblock, s_maxlen)], &huge, 4);
    Mounted m(dev);
    ASSERT_TRUE(m.fs.is_error());
    EXPECT_TRUE(m.log.contains("journal: bad geometry")) << m.log.all();
}

TEST(Ext3Journal, UnsupportedJournalFeature) {
    Ext3 fs;
    uint32_t jsb = fs.journal_block(0);
    auto set_fast_commit = [&](MemDevice& dev) {
        uint32_t incompat;
        size_t at = size_t{jsb} * 1024 + offsetof(jbd2::Superblock, s_feature_incompat);
        memcpy(&incompat, &dev.bytes[at], 4);
        incompat = jbd2::be32(jbd2::be32(incompat) | jbd2::INCOMPAT_FAST_COMMIT);
        memcpy(&dev.bytes[at], &incompat, 4);
    };
    {
        // A clean journal: readable, so mounted read-only.
        MemDevice dev = fs.load();
        set_fast_commit(dev);
        Mounted m(dev);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        EXPECT_TRUE(m->read_only());
        EXPECT_TRUE(m.log.contains("unsupported journal features 0x20")) << m.log.all();
    }
    // One that needs recovery cannot be replayed: refused.
    fs.debugfs_w("jo\njw -b " + std::to_string(fs.file_block("/file", 0)) + " " +
                 fs.blocks("t", {std::string(fs.bs, 'f')}) + "\njc\n");
    MemDevice dev = fs.load();
    set_fast_commit(dev);
    std::vector<uint8_t> before = dev.bytes;
    Mounted m(dev);
    ASSERT_TRUE(m.fs.is_error());
    EXPECT_EQ(m.fs.error(), Errno::NotSup);
    EXPECT_TRUE(m.log.contains("cannot replay: unsupported journal features 0x20")) << m.log.all();
    EXPECT_TRUE(dev.bytes == before);
}

TEST(Ext3Journal, EmptyJournalWithRecoveryFlagIsCleared) {
    Ext3 fs;
    fs.debugfs_w("jo\njc\n");  // sets needs_recovery, logs nothing
    MemDevice dev = fs.load();
    {
        Mounted m(dev);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        EXPECT_FALSE(m->read_only());
    }
    expect_clean(fs, dev);
}

TEST(Ext3Journal, NeedsRecoveryWithoutJournalIsRefused) {
    TempDir tmp;
    MemDevice dev = make_image(tmp, 1024, "4M");
    ext2::Superblock sb;
    memcpy(&sb, &dev.bytes[1024], sizeof sb);
    sb.s_feature_incompat |= ext2::INCOMPAT_RECOVER;
    memcpy(&dev.bytes[1024], &sb, sizeof sb);
    Mounted m(dev);
    ASSERT_TRUE(m.fs.is_error());
    EXPECT_EQ(m.fs.error(), Errno::NotSup);
    EXPECT_TRUE(m.log.contains("unsupported incompatible features: needs_recovery")) << m.log.all();
}

}  // namespace
