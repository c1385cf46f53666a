// ext3 in ordered mode (domains/fs/ext2: FileSystem's journaling over journal.*): the metadata
// of every call goes through JBD2 transactions, file data reaches the disk before the metadata
// that points at it commits. The power-cut tests record every device write and flush of a
// workload, then rebuild the disk as a crash at many points would have left it (every write
// before the last flush, and a random subset of those after it, which a real disk may reorder
// or lose), and check that e2fsck's replay and Lamina's both leave a clean file system holding
// every file whose sync had returned.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/unit/ext2_test_util.h"

namespace ext2 = lamina::ext2;
using namespace ext2_test;

namespace {

// A device that remembers what was written and flushed, in order, on top of a starting image.
class RecordingDevice final : public lamina::fs::BlockDevice {
public:
    struct Op {
        bool flush;
        uint64_t lba;
        std::string data;
    };
    MemDevice live;
    std::vector<Op> ops;
    MemDevice base;

    explicit RecordingDevice(const MemDevice& start) : live(start.bytes), base(start.bytes) {}
    uint64_t sector_count() const override { return live.sector_count(); }
    Result<void> read_sectors(uint64_t lba, uint32_t count, void* buf) override {
        return live.read_sectors(lba, count, buf);
    }
    Result<void> write_sectors(uint64_t lba, uint32_t count, const void* buf) override {
        TRY(live.write_sectors(lba, count, buf));
        ops.push_back({false, lba, std::string(static_cast<const char*>(buf), size_t{count} * 512)});
        return {};
    }
    Result<void> flush() override {
        ops.push_back({true, 0, {}});
        return {};
    }

    // The disk after a power cut once ops [0, k) were issued: everything up to the last flush
    // among them, and each later write with probability 1/2 (all of them without rng).
    MemDevice crashed_at(size_t k, std::mt19937* rng) const {
        MemDevice d(base.bytes);
        size_t last_flush = 0;
        for (size_t i = 0; i < k; i++)
            if (ops[i].flush) last_flush = i + 1;
        for (size_t i = 0; i < k; i++) {
            const Op& op = ops[i];
            if (op.flush || (i >= last_flush && rng && (*rng)() % 2)) continue;
            memcpy(&d.bytes[op.lba * 512], op.data.data(), op.data.size());
        }
        return d;
    }
};

struct Mount {
    MallocAllocator alloc;
    WallClock clock;
    CollectLog log;
    Result<ext2::FsOwner> fs;
    Mount(lamina::fs::BlockDevice& dev, uint32_t cache_buffers = 64, bool after_fault = false)
        : fs(ext2::FileSystem::mount(dev, alloc, clock, &log,
                                     {.cache_buffers = cache_buffers, .after_fault = after_fault})) {}
    ext2::FileSystem* operator->() { return fs.value().get(); }
    ext2::FileSystem& operator*() { return *fs.value(); }
};

MemDevice make_ext3(const TempDir& tmp, uint32_t block_size, const std::string& size) {
    return make_image(tmp, block_size, size, "", "-O has_journal");
}

uint32_t lookup(ext2::FileSystem& fs, const std::string& name) {
    auto r = fs.lookup(fs.root(), name.data(), name.size());
    return r.is_ok() ? r.value() : 0;
}

std::string contents(ext2::FileSystem& fs, uint32_t ino) {
    std::string out(1 << 20, '\0');
    auto n = fs.read(ino, 0, out.data(), out.size());
    if (n.is_error()) return "<error>";
    out.resize(n.value());
    return out;
}

std::string dumpe2fs(const TempDir& tmp, const MemDevice& dev) {
    std::string img = tmp / "dump.img";
    dev.save(img);
    return run("dumpe2fs -h '" + img + "' 2>/dev/null").output;
}

TEST(Ext3Ordered, MetadataGoesThroughTheJournalAndUnmountLeavesItEmpty) {
    TempDir tmp;
    MemDevice dev = make_ext3(tmp, 1024, "8M");
    {
        Mount m(dev);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        EXPECT_TRUE(m->journaled());
        // While mounted the journal is in use (needs_recovery), and VALID stays: a crash needs
        // the replay, not e2fsck.
        std::string h = dumpe2fs(tmp, dev);
        EXPECT_NE(h.find("needs_recovery"), std::string::npos) << h;
        EXPECT_NE(h.find("Filesystem state:         clean"), std::string::npos) << h;
        auto ino = m->create(m->root(), "a", 1, ext2::MODE_IFREG | 0644, 0, 0);
        ASSERT_TRUE(ino.is_ok());
        std::string data = pattern(50000, 1);
        ASSERT_TRUE(m->write(ino.value(), 0, data.data(), data.size()).is_ok());
        // Nothing of it is home before the commit: the directory on disk has no "a".
        EXPECT_EQ(debugfs(tmp, dev, "ls -l /").find(" a\n"), std::string::npos);
        ASSERT_TRUE(m->sync().is_ok());
        EXPECT_EQ(m->commits(), 1u);
        // Committed: in the log, where e2fsck's replay finds it.
        std::string copy = tmp / "replayed.img";
        dev.save(copy);
        EXPECT_LE(run("e2fsck -fy -E journal_only '" + copy + "'").status, 1);
        EXPECT_EQ(debugfs(tmp, MemDevice::load(copy), "cat /a"), data);
        ASSERT_TRUE(m->truncate(ino.value(), 100).is_ok());
        ASSERT_TRUE(m->mkdir(m->root(), "d", 1, 0755, 0, 0).is_ok());
        ASSERT_TRUE(m->rename(m->root(), "a", 1, m->root(), "b", 1).is_ok());
        ASSERT_TRUE(ext2::FileSystem::unmount(m.fs.value()).is_ok());
    }
    auto r = fsck(tmp, dev);
    EXPECT_EQ(r.status, 0) << r.output;
    std::string h = dumpe2fs(tmp, dev);
    EXPECT_EQ(h.find("needs_recovery"), std::string::npos) << h;
    EXPECT_NE(h.find("Journal start:            0"), std::string::npos) << h;
    EXPECT_EQ(debugfs(tmp, dev, "cat /b"), pattern(50000, 1).substr(0, 100));
}

// A large call sequence without a sync: the running transaction commits by itself when it
// holds a quarter of the cache, so the cache never fills with metadata waiting for a commit.
TEST(Ext3Ordered, LargeTransactionsCommitBySize) {
    TempDir tmp;
    MemDevice dev = make_ext3(tmp, 1024, "16M");
    {
        Mount m(dev, 32);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        for (int i = 0; i < 200; i++) {
            std::string name = "f" + std::to_string(i);
            auto ino = m->create(m->root(), name.data(), name.size(), ext2::MODE_IFREG | 0644, 0, 0);
            ASSERT_TRUE(ino.is_ok()) << i << m.log.all();
            std::string data = pattern(2000 + i * 10, i);
            ASSERT_TRUE(m->write(ino.value(), 0, data.data(), data.size()).is_ok()) << i << m.log.all();
        }
        EXPECT_GT(m->commits(), 5u);
        for (int i = 0; i < 200; i += 2) {
            std::string name = "f" + std::to_string(i);
            ASSERT_TRUE(m->unlink(m->root(), name.data(), name.size()).is_ok()) << i << m.log.all();
        }
        ASSERT_TRUE(ext2::FileSystem::unmount(m.fs.value()).is_ok());
    }
    auto r = fsck(tmp, dev);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(debugfs(tmp, dev, "cat /f199"), pattern(2000 + 1990, 199));
}

// A block freed by the running transaction is not reused before it commits: the freed file
// is still what a crash brings back, so its blocks must keep their contents.
TEST(Ext3Ordered, FreedBlocksAreNotReusedBeforeTheCommit) {
    TempDir tmp;
    MemDevice dev = make_ext3(tmp, 1024, "8M");
    RecordingDevice rec(dev);
    std::string old = pattern(20000, 5);
    {
        Mount m(rec);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        auto ino = m->create(m->root(), "old", 3, ext2::MODE_IFREG | 0644, 0, 0);
        ASSERT_TRUE(m->write(ino.value(), 0, old.data(), old.size()).is_ok());
        ASSERT_TRUE(m->sync().is_ok());
        rec.ops.clear();
        rec.base.bytes = rec.live.bytes;
        // Freed, and new data written in the same transaction, pushed home by a full cache of
        // data (the cache writes data back whenever it likes).
        ASSERT_TRUE(m->truncate(ino.value(), 0).is_ok());
        auto fresh = m->create(m->root(), "new", 3, ext2::MODE_IFREG | 0644, 0, 0);
        std::string data = pattern(300000, 6);
        ASSERT_TRUE(m->write(fresh.value(), 0, data.data(), data.size()).is_ok());
        EXPECT_EQ(m->commits(), 1u);
    }
    // The cut comes just before the first flush (the unmount's commit): every write before it
    // reached the disk, the new file's data among them.
    size_t first_flush = 0;
    while (first_flush < rec.ops.size() && !rec.ops[first_flush].flush) first_flush++;
    ASSERT_GT(first_flush, 250u);
    MemDevice crashed = rec.crashed_at(first_flush, nullptr);
    {
        Mount m(crashed);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        uint32_t ino = lookup(*m, "old");
        ASSERT_NE(ino, 0u);
        EXPECT_EQ(contents(*m, ino), old);
        ASSERT_TRUE(ext2::FileSystem::unmount(m.fs.value()).is_ok());
    }
    auto r = fsck(tmp, crashed);
    EXPECT_EQ(r.status, 0) << r.output;
}

// e2fsprogs' replay of the journal on a copy of `disk` (saved as `img`) leaves it clean.
void expect_e2fsck_replay_clean(const std::string& img, const MemDevice& disk) {
    disk.save(img);
    auto replay = run("e2fsck -fy -E journal_only '" + img + "'");
    EXPECT_LE(replay.status, 1) << replay.output;
    auto check = run("e2fsck -fn '" + img + "'");
    EXPECT_EQ(check.status, 0) << check.output;
}

// What a crash may leave, at `points` places through the workload's writes.
void power_cut(uint32_t block_size, uint32_t seed, int points) {
    TempDir tmp;
    MemDevice start = make_ext3(tmp, block_size, "8M");
    RecordingDevice rec(start);
    struct Durable {
        std::vector<std::string> names;  // where it may be: its name, then the one it was renamed to
        std::string data;
        size_t after;  // ops recorded when its sync returned
    };
    std::vector<Durable> durable;
    std::mt19937 rng(seed);
    {
        Mount m(rec, 48);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        std::map<std::string, size_t> pending;  // name -> index in durable, once synced
        for (int i = 0; i < 40; i++) {
            std::string name = "f" + std::to_string(i);
            auto ino = m->create(m->root(), name.data(), name.size(), ext2::MODE_IFREG | 0644, 0, 0);
            ASSERT_TRUE(ino.is_ok()) << m.log.all();
            // As the fs service does after every name-space change: a pending commit.
            ASSERT_TRUE(m->commit_changes().is_ok());
            std::string data = pattern(1000 + rng() % 30000, seed * 100 + i);
            size_t half = data.size() / 2;
            ASSERT_TRUE(m->write(ino.value(), 0, data.data(), half).is_ok());
            ASSERT_TRUE(m->write(ino.value(), half, data.data() + half, data.size() - half).is_ok());
            bool synced = rng() % 2;
            if (synced) {
                ASSERT_TRUE(m->fsync(ino.value()).is_ok());
                durable.push_back({{name}, data, rec.ops.size()});
            }
            // Renames of synced files (their content must survive under one name or the
            // other), unlinks and truncations of the others.
            if (i >= 3) {
                std::string victim = "f" + std::to_string(i - 3);
                uint32_t vino = lookup(*m, victim);
                bool was_synced = false;
                for (auto& d : durable)
                    if (d.names.back() == victim) {
                        was_synced = true;
                        std::string to = "r" + std::to_string(i - 3);
                        ASSERT_TRUE(m->rename(m->root(), victim.data(), victim.size(), m->root(), to.data(), to.size())
                                        .is_ok());
                        d.names.push_back(to);
                    }
                if (!was_synced && vino) {
                    auto done = rng() % 2 ? m->unlink(m->root(), victim.data(), victim.size())
                                          : m->truncate(vino, rng() % 3000);
                    ASSERT_TRUE(done.is_ok());
                }
                ASSERT_TRUE(m->commit_changes().is_ok());
            }
            if (rng() % 4 == 0) {
                ASSERT_TRUE(m->sync().is_ok());
            }
        }
        ASSERT_TRUE(ext2::FileSystem::unmount(m.fs.value()).is_ok());
    }
    ASSERT_GT(rec.ops.size(), size_t(points));
    for (int p = 0; p <= points; p++) {
        size_t k = p == points ? rec.ops.size() : rng() % rec.ops.size();
        SCOPED_TRACE("crash after " + std::to_string(k) + " of " + std::to_string(rec.ops.size()) + " writes");
        MemDevice crashed = rec.crashed_at(k, &rng);
        // e2fsprogs' own replay of Lamina's journal gives a clean file system.
        expect_e2fsck_replay_clean(tmp / "e2fsck.img", crashed);
        // And so does Lamina's, with every synced file intact.
        {
            Mount m(crashed);
            ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
            EXPECT_FALSE(m->read_only()) << m->read_only_reason();
            for (auto& d : durable) {
                if (d.after > k) continue;
                uint32_t ino = 0;
                for (auto& n : d.names) ino = ino ? ino : lookup(*m, n);
                ASSERT_NE(ino, 0u) << d.names[0];
                EXPECT_EQ(contents(*m, ino), d.data) << d.names[0];
            }
            ASSERT_TRUE(ext2::FileSystem::unmount(m.fs.value()).is_ok());
        }
        auto r = fsck(tmp, crashed);
        EXPECT_EQ(r.status, 0) << r.output;
        if (::testing::Test::HasFailure()) return;
    }
}

TEST(Ext3Ordered, PowerCutAnywhereLosesNoSyncedFile1K) { power_cut(1024, 1, 25); }
TEST(Ext3Ordered, PowerCutAnywhereLosesNoSyncedFile4K) { power_cut(4096, 2, 25); }

// commit_changes() (the fs service's after each name-space change) writes a pending commit, no
// flush: the fs domain's own mount after a fault (the disk kept every write) replays it; after
// a power cut the log ends before it, for e2fsck and for Lamina alike, and the file system is
// clean either way. sync() makes it durable, with its two flushes; the pending commits cost none.
TEST(Ext3Ordered, PendingCommitsSurviveAFaultAndWaitForSyncToSurviveAPowerCut) {
    for (uint32_t block_size : {1024u, 4096u}) {
        SCOPED_TRACE("block size " + std::to_string(block_size));
        TempDir tmp;
        MemDevice start = make_ext3(tmp, block_size, "8M");
        RecordingDevice rec(start);
        Mount m(rec);
        ASSERT_TRUE(m.fs.is_ok()) << m.log.all();
        auto ops_flushes = [&] {
            size_t n = 0;
            for (auto& op : rec.ops) n += op.flush;
            return n;
        };
        const size_t flushes_before = ops_flushes();
        for (int i = 0; i < 10; i++) {
            std::string name = "p" + std::to_string(i);
            ASSERT_TRUE(m->create(m->root(), name.data(), name.size(), ext2::MODE_IFREG | 0644, 0, 0).is_ok());
            ASSERT_TRUE(m->commit_changes().is_ok()) << m.log.all();
        }
        ASSERT_TRUE(m->unlink(m->root(), "p3", 2).is_ok());
        ASSERT_TRUE(m->commit_changes().is_ok());
        EXPECT_EQ(ops_flushes(), flushes_before);
        EXPECT_EQ(m->commits(), 11u);
        // Every write made is on the disk (as after a fault of the fs domain alone).
        auto names_in = [&](MemDevice& disk, bool after_fault) {
            Mount again(disk, 64, after_fault);
            EXPECT_TRUE(again.fs.is_ok()) << again.log.all();
            std::string found;
            for (int i = 0; i < 10; i++)
                if (again.fs.is_ok() && lookup(*again, "p" + std::to_string(i))) found += std::to_string(i);
            if (again.fs.is_ok()) {
                EXPECT_TRUE(ext2::FileSystem::unmount(again.fs.value()).is_ok());
            }
            return found;
        };
        {
            MemDevice faulted = rec.crashed_at(rec.ops.size(), nullptr);
            EXPECT_EQ(names_in(faulted, true), "012456789");
            EXPECT_EQ(fsck(tmp, faulted).status, 0);
        }
        {
            MemDevice cut = rec.crashed_at(rec.ops.size(), nullptr);
            expect_e2fsck_replay_clean(tmp / "cut.img", cut);
            EXPECT_EQ(names_in(cut, false), "");
            EXPECT_EQ(fsck(tmp, cut).status, 0);
        }
        ASSERT_TRUE(m->sync().is_ok());
        EXPECT_EQ(ops_flushes(), flushes_before + 2);
        // Nothing changed since: no write, no flush.
        size_t ops = rec.ops.size();
        ASSERT_TRUE(m->sync().is_ok());
        EXPECT_EQ(rec.ops.size(), ops);
        {
            MemDevice cut = rec.crashed_at(rec.ops.size(), nullptr);
            std::string img = tmp / "synced.img";
            cut.save(img);
            EXPECT_LE(run("e2fsck -fy -E journal_only '" + img + "'").status, 1);
            EXPECT_EQ(debugfs(tmp, MemDevice::load(img), "ls /").find("p3"), std::string::npos);
            EXPECT_NE(debugfs(tmp, MemDevice::load(img), "ls /").find("p9"), std::string::npos);
            EXPECT_EQ(names_in(cut, false), "012456789");
        }
        ASSERT_TRUE(ext2::FileSystem::unmount(m.fs.value()).is_ok());
        EXPECT_EQ(fsck(tmp, rec.live).status, 0);
    }
}

// ext2 keeps writing in place, without a journal.
TEST(Ext3Ordered, Ext2IsNotJournaled) {
    TempDir tmp;
    MemDevice dev = make_image(tmp, 1024, "8M");
    Mount m(dev);
    ASSERT_TRUE(m.fs.is_ok() && !m->journaled()) << m.log.all();
    EXPECT_TRUE(m->create(m->root(), "a", 1, ext2::MODE_IFREG | 0644, 0, 0).is_ok() && m->sync().is_ok());
    EXPECT_EQ(m->commits(), 0u);
    EXPECT_NE(debugfs(tmp, dev, "ls -l /").find(" a\n"), std::string::npos);
    ASSERT_TRUE(ext2::FileSystem::unmount(m.fs.value()).is_ok());
    EXPECT_EQ(fsck(tmp, dev).status, 0);
    // commit_changes (after each name-space change of the fs service) writes in place, no flush.
    RecordingDevice rec(dev);
    Mount again(rec);
    ASSERT_TRUE(again.fs.is_ok()) << again.log.all();
    size_t ops = rec.ops.size();
    ASSERT_TRUE(again->create(again->root(), "b", 1, ext2::MODE_IFREG | 0644, 0, 0).is_ok());
    ASSERT_TRUE(again->commit_changes().is_ok());
    EXPECT_GT(rec.ops.size(), ops);
    for (size_t i = ops; i < rec.ops.size(); i++) EXPECT_FALSE(rec.ops[i].flush);
    EXPECT_NE(debugfs(tmp, rec.live, "ls -l /").find(" b\n"), std::string::npos);
    ASSERT_TRUE(ext2::FileSystem::unmount(again.fs.value()).is_ok());
}

}  // namespace
