// The fs domain in the kernel: mounted over a RAM disk made from the test image's disk:fsdisk
// module (images/make-test-disk: a GPT disk whose "root" partition holds known files), the
// VFS's inodes over it, and recovery from faults of the domain (issue 5: the operation in
// flight fails with EIO, the domain restarts and remounts, later operations succeed, data
// fsync'ed before the fault is intact, nothing leaks).
#include "kernel/domain/domain.h"
#include "kernel/domain/interfaces.h"
#include "kernel/ktest/ktest.h"
#include "kernel/ktest/on_thread.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/fd/open_flags.h"
#include "kernel/posix/vfs/ops.h"
#include "kernel/sched/thread.h"
#include "kernel/storage/fs_client.h"
#include "kernel/storage/fs_inode.h"
#include "kernel/storage/ram_disk.h"
#include "kernel/storage/storage.h"
#include "kernel/storage/test_disk.h"

namespace lamina::storage {

namespace {

using posix::Inode;
using posix::Name;

constexpr char HELLO[] = "hello from the ext2 root partition\n";

Name name(const char* s) { return Name{s, __builtin_strlen(s)}; }

RefPtr<Inode> walk(RefPtr<Inode> dir, const char* a, const char* b = nullptr) {
    auto r = dir->lookup(name(a));
    if (r.is_error()) return nullptr;
    if (!b) return r.value();
    auto r2 = r.value()->lookup(name(b));
    return r2.is_ok() ? r2.value() : nullptr;
}

bool fill_pattern(uint8_t* buf, size_t len, uint32_t seed) {
    for (size_t i = 0; i < len; i++) buf[i] = uint8_t((i * 7 + seed) ^ (i >> 9));
    return true;
}

bool check_pattern(const uint8_t* buf, size_t len, uint32_t seed) {
    for (size_t i = 0; i < len; i++)
        if (buf[i] != uint8_t((i * 7 + seed) ^ (i >> 9))) return false;
    return true;
}

bool is_eio(const Error& e) { return e.code() == Errno::IO && !e.is_domain_error(); }

// fsync with the disk's next write sabotaged: the fs domain faults in it and restarts.
Result<void> fsync_through_a_fault(RamDisk& disk, Inode& f) {
    disk.sabotage_next_write();
    domain::set_verbose_faults(false);
    auto r = static_cast<FsInode&>(f).fsync(false);
    domain::set_verbose_faults(true);
    return r;
}

// Writes len pattern bytes into a new file `file` of root and fsyncs it.
bool write_file(ktest::Context& ktest_ctx, RefPtr<Inode> root, const char* file, size_t len, uint32_t seed,
                bool fsync = true) {
    auto f = root->create(name(file), posix::mode::Regular | 0644, 0, 0);
    if (!KEXPECT(f.is_ok())) return false;
    auto* buf = static_cast<uint8_t*>(mm::kmalloc(len));
    if (!KEXPECT(buf)) return false;
    fill_pattern(buf, len, seed);
    auto w = f.value()->write(0, buf, len);
    mm::kfree(buf);
    if (!KEXPECT(w.is_ok() && w.value() == len)) return false;
    if (fsync) return KEXPECT(static_cast<FsInode*>(f.value().get())->fsync(false).is_ok());
    return true;
}

bool file_has_pattern(RefPtr<Inode> root, const char* file, size_t len, uint32_t seed) {
    RefPtr<Inode> f = walk(root, file);
    if (!f) return false;
    auto* buf = static_cast<uint8_t*>(mm::kmalloc(len + 1));
    if (!buf) return false;
    auto r = f->read(0, buf, len + 1);
    bool ok = r.is_ok() && r.value() == len && check_pattern(buf, len, seed);
    mm::kfree(buf);
    return ok;
}

// One fs test's set-up: the test disk provided as "block" and a kernel thread of the test's
// own; `body(disk)` runs on that thread.
template <typename Body>
void on_test_disk(ktest::Context& ktest_ctx, Body body) {
    TestDisk disk;
    KASSERT_TRUE(disk.disk);
    ktest::on_thread(ktest_ctx, "fs-test", [&] { body(*disk.disk); });
}

// ... with the fs domain started over the disk: `body(client, disk)`. The client is stopped
// afterwards, and the stop must succeed (a body may stop it earlier: stop is idempotent).
template <typename Body>
void with_fs(ktest::Context& ktest_ctx, Body body) {
    on_test_disk(ktest_ctx, [&](RamDisk& disk) {
        auto client = FsClient::start({});
        KASSERT_TRUE(client.is_ok());
        body(*client.value(), disk);
        KEXPECT(client.value()->stop().is_ok());
    });
}

// A fresh mount of what is on the disk now: `body(root)`, then a clean unmount.
template <typename Body>
void remount(ktest::Context& ktest_ctx, Body body) {
    auto again = FsClient::start({});
    KASSERT_TRUE(again.is_ok());
    body(*again.value());
    KEXPECT(again.value()->stop().is_ok());
}

// The file holds nothing (its data never committed) or all of its pattern.
bool empty_or_pattern(RefPtr<Inode> root, const char* file, size_t len, uint32_t seed) {
    RefPtr<Inode> f = walk(root, file);
    if (!f) return false;
    char byte;
    auto r = f->read(0, &byte, 1);
    return (r.is_ok() && r.value() == 0) || file_has_pattern(root, file, len, seed);
}

// A fresh mount (the previous client stopped) finds durable.bin (written with durable_seed),
// after.bin (30000 bytes, seed 13), and whatever `more` checks on its root.
template <typename More>
void fresh_mount_keeps(ktest::Context& ktest_ctx, uint32_t durable_seed, More more) {
    remount(ktest_ctx, [&](FsClient& again) {
        RefPtr<Inode> root = again.root();
        KEXPECT(file_has_pattern(root, "durable.bin", 100000, durable_seed));
        KEXPECT(file_has_pattern(root, "after.bin", 30000, 13));
        more(root);
    });
}

}  // namespace

KTEST(fs, mounts_the_root_partition_and_reads_known_files) {
    with_fs(ktest_ctx, [&](FsClient& c, RamDisk&) {
        idl::FsInfo info = c.info();
        KEXPECT_EQ(info.block_size, 4096u);
        KEXPECT(!info.read_only);
        RefPtr<Inode> root = c.root();
        KASSERT_TRUE(root && posix::is_dir(root->mode()));

        RefPtr<Inode> hello = walk(root, "hello.txt");
        KASSERT_TRUE(hello);
        char buf[128] = {};
        auto r = hello->read(0, buf, sizeof buf);
        KEXPECT(r.is_ok() && r.value() == sizeof HELLO - 1);
        KEXPECT(__builtin_memcmp(buf, HELLO, sizeof HELLO - 1) == 0);
        posix::Stat st;
        KEXPECT(hello->getattr(st).is_ok());
        KEXPECT_EQ(st.st_size, int64_t(sizeof HELLO - 1));
        KEXPECT(posix::is_regular(st.st_mode));
        KEXPECT_EQ(st.st_uid, 0u);

        RefPtr<Inode> nested = walk(root, "dir", "nested.txt");
        KASSERT_TRUE(nested);
        auto rn = nested->read(0, buf, sizeof buf);
        KEXPECT(rn.is_ok() && rn.value() == 7 && __builtin_memcmp(buf, "nested\n", 7) == 0);
        RefPtr<Inode> up = walk(root, "dir", "..");
        KEXPECT(up && up->ino() == root->ino());

        RefPtr<Inode> link = walk(root, "link");
        KASSERT_TRUE(link && posix::is_symlink(link->mode()));
        auto l = link->readlink(buf, sizeof buf);
        KEXPECT(l.is_ok() && l.value() == 9 && __builtin_memcmp(buf, "hello.txt", 9) == 0);

        // 300000 bytes through indirect blocks, read in odd-sized pieces across chunk borders.
        RefPtr<Inode> pattern = walk(root, "pattern.bin");
        KASSERT_TRUE(pattern);
        auto* big = static_cast<uint8_t*>(mm::kmalloc(300001));
        KASSERT_TRUE(big);
        size_t got = 0;
        bool reads_ok = true;
        while (got < 300001) {
            auto p = pattern->read(got, big + got, 70001);
            if (p.is_error()) reads_ok = false;
            if (p.is_error() || p.value() == 0) break;
            got += p.value();
        }
        KEXPECT(reads_ok);
        KEXPECT_EQ(got, size_t(300000));
        bool same = true;
        for (size_t i = 0; i < 300000 && same; i++) same = big[i] == uint8_t(i % 251);
        KEXPECT(same);
        mm::kfree(big);

        // The root directory lists what make-test-disk put there.
        unsigned seen = 0, entries = 0;
        uint64_t cookie = 0;
        posix::DirEntry e;
        while (entries < 100) {
            auto more = root->readdir(cookie, e);
            KASSERT_TRUE(more.is_ok());
            if (!more.value()) break;
            entries++;
            for (const char* n : {".", "..", "hello.txt", "dir", "link", "pattern.bin", "lost+found"})
                if (__builtin_strcmp(e.name, n) == 0) seen++;
            if (__builtin_strcmp(e.name, "dir") == 0) KEXPECT_EQ(e.type, uint8_t(posix::dtype::Dir));
        }
        KEXPECT_EQ(seen, 7u);
        KEXPECT_EQ(entries, 7u);

        KEXPECT(walk(root, "missing") == nullptr);
        auto missing = root->lookup(name("missing"));
        KEXPECT(missing.is_error() && missing.error().code() == Errno::NoEnt);
    });
}

KTEST(fs, writes_survive_fsync_and_remount) {
    with_fs(ktest_ctx, [&](FsClient& c, RamDisk&) {
        {
            RefPtr<Inode> root = c.root();
            KASSERT_TRUE(write_file(ktest_ctx, root, "new.bin", 200000, 3));
            KEXPECT(file_has_pattern(root, "new.bin", 200000, 3));
            // Overwrite the middle, extend past the end, then truncate back.
            RefPtr<Inode> f = walk(root, "new.bin");
            KASSERT_TRUE(f);
            uint8_t ones[5000];
            __builtin_memset(ones, 1, sizeof ones);
            KEXPECT(f->write(250000, ones, sizeof ones).is_ok());
            posix::Stat st;
            KEXPECT(f->getattr(st).is_ok() && st.st_size == 255000);
            posix::SetAttr a;
            a.mask = posix::SetAttr::Size | posix::SetAttr::Mode;
            a.size = 200000;
            a.mode = 0600;
            KEXPECT(f->setattr(a).is_ok());
            KEXPECT(f->getattr(st).is_ok() && st.st_size == 200000 && (st.st_mode & 07777) == 0600);
            KEXPECT(c.stop().is_ok());  // unmount: written back, marked clean
        }
        remount(ktest_ctx, [&](FsClient& again) {
            KEXPECT(!again.info().read_only);  // the unmount left it clean
            KEXPECT(file_has_pattern(again.root(), "new.bin", 200000, 3));
        });
    });
}

KTEST(fs, directories_through_the_vfs) {
    with_fs(ktest_ctx, [&](FsClient& c, RamDisk&) {
        auto* mounts = new posix::MountTable;
        auto root = mounts->mount_root(c.root());
        KASSERT_TRUE(root.is_ok());
        posix::Credentials cred;
        posix::PathContext ctx{*mounts, root.value(), root.value(), cred};

        KEXPECT(posix::vfs_mkdir(ctx, "/a", 0755).is_ok());
        KEXPECT(posix::vfs_mkdir(ctx, "/a/b", 0755).is_ok());
        auto opened = posix::vfs_open(ctx, "/a/b/file", posix::oflag::Creat | posix::oflag::WriteOnly, 0644);
        KASSERT_TRUE(opened.is_ok());
        KEXPECT(opened.value().created);
        KEXPECT(opened.value().loc.inode->write(0, "data", 4).is_ok());
        KEXPECT(posix::vfs_rename(ctx, "/a/b/file", ctx, "/a/moved").is_ok());
        posix::Stat st;
        KEXPECT(posix::vfs_stat(ctx, "/a/moved", true, st).is_ok() && st.st_size == 4);
        KEXPECT(posix::vfs_stat(ctx, "/a/b/file", true, st).error().code() == Errno::NoEnt);
        KEXPECT(posix::vfs_link(ctx, "/a/moved", ctx, "/a/hard", false).is_ok());
        KEXPECT(posix::vfs_stat(ctx, "/a/hard", true, st).is_ok() && st.st_nlink == 2);
        KEXPECT(posix::vfs_symlink(ctx, "moved", "/a/soft").is_ok());
        KEXPECT(posix::vfs_stat(ctx, "/a/soft", true, st).is_ok() && st.st_size == 4);
        KEXPECT(posix::vfs_rmdir(ctx, "/a").error().code() == Errno::NotEmpty);
        KEXPECT(posix::vfs_unlink(ctx, "/a/moved").is_ok());
        KEXPECT(posix::vfs_unlink(ctx, "/a/hard").is_ok());
        KEXPECT(posix::vfs_unlink(ctx, "/a/soft").is_ok());
        KEXPECT(posix::vfs_rmdir(ctx, "/a/b").is_ok());
        KEXPECT(posix::vfs_rmdir(ctx, "/a").is_ok());
        KEXPECT(posix::vfs_stat(ctx, "/a", true, st).error().code() == Errno::NoEnt);
        KEXPECT(posix::vfs_stat(ctx, "/dir/nested.txt", true, st).is_ok() && st.st_size == 7);
        KEXPECT(posix::vfs_stat(ctx, "/link", true, st).is_ok() && st.st_size == int64_t(sizeof HELLO - 1));
        delete mounts;
    });
}

// A fault in the middle of a write-back: the fsync in flight fails with EIO, the domain
// restarts and remounts, fsync'ed data is intact, and later operations (writes too) succeed.
KTEST(fs, a_fault_mid_write_fails_that_call_and_the_domain_recovers) {
    with_fs(ktest_ctx, [&](FsClient& c, RamDisk& disk) {
        RefPtr<Inode> root = c.root();
        domain::Domain* first = c.instance();
        KASSERT_TRUE(write_file(ktest_ctx, root, "durable.bin", 100000, 11));

        KASSERT_TRUE(write_file(ktest_ctx, root, "doomed.bin", 50000, 12, false));
        RefPtr<Inode> doomed = walk(root, "doomed.bin");
        KASSERT_TRUE(doomed);
        auto r = fsync_through_a_fault(disk, *doomed);
        KEXPECT(r.is_error() && is_eio(r.error()));
        KEXPECT_EQ(c.restarts(), 1u);
        KEXPECT(c.instance() != first);
        KEXPECT(c.instance() && c.instance()->get_state() == domain::State::Running);
        KEXPECT(!c.info().read_only);

        // The old inodes still work, fsync'ed data is intact, and the file system takes writes.
        KEXPECT(file_has_pattern(root, "durable.bin", 100000, 11));
        KEXPECT(write_file(ktest_ctx, root, "after.bin", 30000, 13));
        KEXPECT(file_has_pattern(root, "after.bin", 30000, 13));
        posix::Stat st;
        KEXPECT(root->getattr(st).is_ok());
        KEXPECT(c.stop().is_ok());

        // And it all reached the disk: a fresh mount sees it.
        fresh_mount_keeps(ktest_ctx, 11, [](RefPtr<Inode>) {});
    });
}

// The test disk's root is ext3: a fault at each write of a commit in turn (the file's data,
// the log blocks, the journal superblock, the commit block, the write-back home, the
// checkpoint). The restarted domain replays the journal when the commit block made it and
// otherwise finds the transaction never happened: every file fsync'ed before is intact, the
// one being fsync'ed holds nothing or all of its data, and the file system takes writes again.
KTEST(fs, a_fault_at_any_write_of_a_commit_loses_nothing_fsynced) {
    TestDisk disk;
    KASSERT_TRUE(disk.disk);
    constexpr uint32_t POINTS = 16;
    char names[POINTS][8];
    ktest::on_thread(ktest_ctx, "fs-test", [&] {
        auto client = FsClient::start({});
        KASSERT_TRUE(client.is_ok());
        FsClient& c = *client.value();
        RefPtr<Inode> root = c.root();
        KASSERT_TRUE(write_file(ktest_ctx, root, "durable.bin", 100000, 21));
        domain::set_verbose_faults(false);
        uint64_t faults = 0;
        for (uint32_t skip = 0; skip < POINTS; skip++) {
            __builtin_memcpy(names[skip], "pA.bin", 7);
            names[skip][1] = static_cast<char>('A' + skip);
            KASSERT_TRUE(write_file(ktest_ctx, root, names[skip], 30000, 30 + skip, false));
            RefPtr<Inode> f = walk(root, names[skip]);
            KASSERT_TRUE(f);
            disk.disk->sabotage_next_write(skip);
            auto r = static_cast<FsInode*>(f.get())->fsync(false);
            disk.disk->cancel_sabotage();
            if (r.is_error()) {
                KEXPECT(is_eio(r.error()));
                faults++;
            }
            KEXPECT(file_has_pattern(root, "durable.bin", 100000, 21));
            KEXPECT(r.is_error() ? empty_or_pattern(root, names[skip], 30000, 30 + skip)
                                 : file_has_pattern(root, names[skip], 30000, 30 + skip));
        }
        domain::set_verbose_faults(true);
        // The early points hit the commit (its data, its log blocks in one batch, the pending
        // commits' rewrite, its commit block); the last ones come after it.
        ktest_ctx.note("%lu of %u write points hit a commit", (unsigned long)faults, POINTS);
        KEXPECT(faults >= 3 && faults < POINTS);
        KEXPECT_EQ(c.restarts(), faults);
        KEXPECT(write_file(ktest_ctx, root, "after.bin", 30000, 13));
        KEXPECT(c.stop().is_ok());

        fresh_mount_keeps(ktest_ctx, 21, [&](RefPtr<Inode> root2) {
            for (uint32_t skip = 0; skip < POINTS; skip++)
                KEXPECT(empty_or_pattern(root2, names[skip], 30000, 30 + skip));
        });
    });
}

// Reads are [retry]: a fault while one is in flight is invisible to the caller.
KTEST(fs, a_read_in_flight_is_retried_after_a_fault) {
    with_fs(ktest_ctx, [&](FsClient& c, RamDisk&) {
        RefPtr<Inode> root = c.root();
        RefPtr<Inode> hello = walk(root, "hello.txt");
        KASSERT_TRUE(hello);
        // The domain is marked failed while idle: the next call cannot enter it (Dead), the
        // shadow restarts it and makes the call on the fresh instance.
        domain::set_verbose_faults(false);
        KEXPECT(domain::inject_fault("fs").is_ok());
        char buf[64] = {};
        auto r = hello->read(0, buf, sizeof buf);
        domain::set_verbose_faults(true);
        KEXPECT(r.is_ok() && r.value() == sizeof HELLO - 1);
        KEXPECT_EQ(c.restarts(), 1u);
    });
}

// A fault loses writes nobody made durable: the next fsync of that file says so (EIO), once,
// through whichever inode object asks (here one looked up after the fault, as a program that
// closed the file and opened it again would get); a file fsync'ed before the fault reports
// nothing.
KTEST(fs, a_lost_write_is_reported_once_even_through_a_later_open) {
    with_fs(ktest_ctx, [&](FsClient& c, RamDisk&) {
        RefPtr<Inode> root = c.root();
        KASSERT_TRUE(write_file(ktest_ctx, root, "durable.bin", 5000, 31));
        KASSERT_TRUE(write_file(ktest_ctx, root, "lost.bin", 5000, 32, false));
        domain::set_verbose_faults(false);
        KEXPECT(domain::inject_fault("fs").is_ok());
        RefPtr<Inode> durable = walk(root, "durable.bin");  // the shadow restarts the domain
        domain::set_verbose_faults(true);
        KASSERT_TRUE(durable);
        KEXPECT_EQ(c.restarts(), 1u);
        KEXPECT(static_cast<FsInode*>(durable.get())->fsync(false).is_ok());
        RefPtr<Inode> lost = walk(root, "lost.bin");
        KASSERT_TRUE(lost);
        auto first = static_cast<FsInode*>(lost.get())->fsync(false);
        KEXPECT(first.is_error() && is_eio(first.error()));
        KEXPECT(static_cast<FsInode*>(lost.get())->fsync(false).is_ok());
        KEXPECT(file_has_pattern(root, "durable.bin", 5000, 31));
    });
}

// Name-space changes come back as pending commits (no flush): a power cut before the next
// sync loses them, a fault of the fs domain none (the remount replays them), and the commit
// timer's sync makes them durable without anyone calling sync; an idle timer writes nothing.
KTEST(fs, pending_changes_survive_a_fault_and_the_commit_timer_makes_them_durable) {
    on_test_disk(ktest_ctx, [&](RamDisk& disk) {
        // `check(root)` on a mount of what a power cut now would leave of the disk.
        auto after_power_cut = [&](auto check) {
            auto copy = disk.copy();
            KASSERT_TRUE(copy.is_ok());
            (void)domain::withdraw_interface("block");
            if (KEXPECT(domain::provide_interface("block", static_cast<idl::Block*>(copy.value())).is_ok()))
                remount(ktest_ctx, [&](FsClient& again) { check(again.root()); });
            (void)domain::withdraw_interface("block");
            KEXPECT(domain::provide_interface("block", static_cast<idl::Block*>(&disk)).is_ok());
            delete copy.value();
        };
        {
            auto client = FsClient::start({});
            KASSERT_TRUE(client.is_ok());
            FsClient& c = *client.value();
            RefPtr<Inode> root = c.root();
            uint64_t flushes = disk.stats().flushes;
            KASSERT_TRUE(write_file(ktest_ctx, root, "pending.bin", 5000, 31, false));
            KEXPECT(root->mkdir(name("pending-dir"), 0755, 0, 0).is_ok());
            KEXPECT_EQ(disk.stats().flushes, flushes);
            after_power_cut([&](RefPtr<Inode> cut) {
                KEXPECT(walk(cut, "pending.bin") == nullptr);
                KEXPECT(walk(cut, "pending-dir") == nullptr);
                KEXPECT(walk(cut, "hello.txt") != nullptr);
            });
            domain::set_verbose_faults(false);
            KEXPECT(domain::inject_fault("fs", "panic").is_ok());
            // lookup is [retry]: the shadow recovers, the remount replays the pending commits.
            KEXPECT(walk(root, "pending.bin") != nullptr);
            KEXPECT(walk(root, "pending-dir") != nullptr);
            domain::set_verbose_faults(true);
            KEXPECT_EQ(c.restarts(), 1u);
            KEXPECT(c.stop().is_ok());
        }
        FsClient::Options timed;
        timed.commit_ns = 50'000'000;
        auto client = FsClient::start(timed);
        KASSERT_TRUE(client.is_ok());
        FsClient& c = *client.value();
        KASSERT_TRUE(write_file(ktest_ctx, c.root(), "timed.bin", 30000, 32, false));
        // Two more periods: the first may have begun before the write.
        auto periods = [&](uint64_t n) {
            uint64_t until = c.timer_syncs() + n;
            for (int i = 0; i < 6000 && c.timer_syncs() < until; i++) sched::sleep_ns(10'000'000);
            return KEXPECT(c.timer_syncs() >= until);
        };
        if (periods(2)) {
            after_power_cut([&](RefPtr<Inode> cut) {
                KEXPECT(file_has_pattern(cut, "timed.bin", 30000, 32));
                KEXPECT(walk(cut, "pending.bin") != nullptr);
            });
            uint64_t writes = disk.stats().writes, flushes = disk.stats().flushes;
            if (periods(3)) {
                KEXPECT_EQ(disk.stats().writes, writes);
                KEXPECT_EQ(disk.stats().flushes, flushes);
            }
        }
        KEXPECT(c.stop().is_ok());
    });
}

KTEST(fs, restarts_leave_page_counters_flat) {
    constexpr unsigned ROUNDS = 5, WARM_UP = 2;
    uint64_t free_before = 0, free_after = 0;
    uint64_t disk_before = 0, disk_after = 0;  // pages the RAM disk took for blocks written
    size_t objects_before = 0, objects_after = 0;
    unsigned eio = 0;
    with_fs(ktest_ctx, [&](FsClient& c, RamDisk& disk) {
        RefPtr<Inode> root = c.root();
        KASSERT_TRUE(write_file(ktest_ctx, root, "victim.bin", 20000, 5));
        RefPtr<Inode> victim = walk(root, "victim.bin");
        KASSERT_TRUE(victim);
        uint8_t data[4096];
        fill_pattern(data, sizeof data, 9);
        domain::set_verbose_faults(false);
        // Warm-up rounds first (heap classes; the first remount replays the journal the file's
        // creation left, which the later ones do not). Commits append to the journal's log, so
        // the RAM disk keeps taking pages for it: those are the disk's, not a leak.
        for (unsigned i = 0; i < WARM_UP + ROUNDS; i++) {
            if (i == WARM_UP) {
                free_before = mm::free_pages();
                disk_before = disk.stats().pages;
                objects_before = domain::exchange_live_objects();
            }
            (void)victim->write(0, data, sizeof data);
            disk.sabotage_next_write();
            auto r = static_cast<FsInode*>(victim.get())->fsync(false);
            if (r.is_error() && is_eio(r.error())) eio++;
        }
        free_after = mm::free_pages();
        disk_after = disk.stats().pages;
        objects_after = domain::exchange_live_objects();
        domain::set_verbose_faults(true);
        KEXPECT_EQ(c.restarts(), uint64_t(WARM_UP + ROUNDS));
    });
    KEXPECT_EQ(eio, WARM_UP + ROUNDS);
    KEXPECT_EQ(free_after + (disk_after - disk_before), free_before);
    KEXPECT_EQ(objects_after, objects_before);
}

// Corrupt metadata is an error, never a kernel crash.
KTEST(fs, corrupt_file_systems_are_refused_or_fail_calls) {
    on_test_disk(ktest_ctx, [&](RamDisk& disk) {
        // Find the root directory's entry for hello.txt on the disk and give it a zero rec_len.
        constexpr uint64_t PARTITION = 4096 * 512, SCAN = 1u << 20;
        auto* bytes = static_cast<uint8_t*>(mm::kmalloc(SCAN));
        KASSERT_TRUE(bytes);
        disk.read(PARTITION, bytes, SCAN);
        uint64_t entry = 0;
        for (uint64_t i = 8; i + 9 < SCAN && !entry; i++)
            if (bytes[i - 2] == 9 && __builtin_memcmp(bytes + i, "hello.txt", 9) == 0) entry = PARTITION + i - 8;
        mm::kfree(bytes);
        KASSERT_TRUE(entry);
        uint16_t zero = 0;
        KASSERT_TRUE(disk.write(entry + 4, &zero, 2).is_ok());
        auto client = FsClient::start({});
        KASSERT_TRUE(client.is_ok());
        RefPtr<Inode> root = client.value()->root();
        auto r = root->lookup(name("pattern.bin"));
        KEXPECT(r.is_error() && r.error().code() == Errno::IO);
        KEXPECT(client.value()->instance()->get_state() == domain::State::Running);
        (void)client.value()->stop();

        // A superblock without its magic: the mount is refused.
        uint8_t sb_magic[2] = {0, 0};
        KASSERT_TRUE(disk.write(PARTITION + 1024 + 56, sb_magic, 2).is_ok());
        auto refused = FsClient::start({});
        KEXPECT(refused.is_error());
    });
}

// A file unlinked while the kernel holds it stays on the disk's orphan list, usable through the
// inode the kernel has, also across a fault of the domain (the remount after a fault frees no
// orphan); the last reference's end frees it, and so does the stop of the file system.
KTEST(fs, an_unlinked_file_lives_until_its_last_reference_and_across_faults) {
    with_fs(ktest_ctx, [&](FsClient& c, RamDisk& disk) {
        RefPtr<Inode> root = c.root();
        auto free_inodes = [&] { return static_cast<FsInode*>(root.get())->fs_info().value().free_inodes; };
        uint64_t free_before = free_inodes();
        KASSERT_TRUE(write_file(ktest_ctx, root, "held.bin", 50000, 31));
        RefPtr<Inode> held = walk(root, "held.bin");
        KASSERT_TRUE(held);
        uint32_t ino = uint32_t(held->ino());
        KEXPECT(root->unlink(name("held.bin")).is_ok());
        KEXPECT(!walk(root, "held.bin"));
        posix::Stat st;
        KEXPECT(held->getattr(st).is_ok() && st.st_nlink == 0 && st.st_size == 50000);
        KEXPECT_EQ(free_inodes(), free_before - 1);  // not freed while held

        // A fault (in the fsync of the orphan's new data): the fresh instance keeps it.
        uint8_t more[100] = {};
        KEXPECT(held->write(50000, more, sizeof more).is_ok());
        auto r = fsync_through_a_fault(disk, *held);
        KEXPECT(r.is_error() && is_eio(r.error()));
        KEXPECT_EQ(c.restarts(), 1u);
        auto* buf = static_cast<uint8_t*>(mm::kmalloc(50000));
        KASSERT_TRUE(buf);
        auto got = held->read(0, buf, 50000);
        KEXPECT(got.is_ok() && got.value() == 50000 && check_pattern(buf, 50000, 31));
        mm::kfree(buf);
        KEXPECT(held->write(0, "again", 5).is_ok());
        KEXPECT(held->getattr(st).is_ok() && st.st_nlink == 0);

        // The last reference goes: the next call into the domain frees it.
        held = nullptr;
        KEXPECT_EQ(free_inodes(), free_before);
        auto stale = c.call([&](FsClient& cc) { return cc.fs().stat(ino); });
        KEXPECT(stale.is_error() && stale.error().code() == Errno::NoEnt);

        // Renamed over and still held when the file system stops: freed then (the inode fails
        // with EIO after the stop), so the unmount leaves no orphan.
        KASSERT_TRUE(write_file(ktest_ctx, root, "old.bin", 20000, 32));
        KASSERT_TRUE(write_file(ktest_ctx, root, "new.bin", 100, 33));
        RefPtr<Inode> old = walk(root, "old.bin");
        KASSERT_TRUE(old);
        KEXPECT(root->rename(name("new.bin"), *root, name("old.bin")).is_ok());
        KEXPECT(file_has_pattern(root, "old.bin", 100, 33));
        KEXPECT(old->getattr(st).is_ok() && st.st_nlink == 0 && st.st_size == 20000);
        KEXPECT(c.stop().is_ok());
        old = nullptr;
        remount(ktest_ctx, [&](FsClient& again) {
            RefPtr<Inode> r2 = again.root();
            KEXPECT_EQ(static_cast<FsInode*>(r2.get())->fs_info().value().free_inodes, free_before - 1);
        });
    });
}

}  // namespace lamina::storage

namespace lamina::storage {

// The bring-up the kernel's boot sequence uses: start_root_fs() over whatever provides
// "block", mounted as the VFS root; stop_root_fs() leaves it clean for the next mount.
KTEST(fs, start_root_fs_gives_the_vfs_root) {
    on_test_disk(ktest_ctx, [&](RamDisk&) {
        auto root = start_root_fs();
        KASSERT_TRUE(root.is_ok());
        KEXPECT(root_fs() != nullptr);
        KEXPECT(start_root_fs().error().code() == Errno::Busy);
        auto* mounts = new posix::MountTable;
        auto loc = mounts->mount_root(root.value());
        KEXPECT(loc.is_ok());
        posix::Credentials cred;
        posix::PathContext ctx{*mounts, loc.value(), loc.value(), cred};
        posix::Stat st;
        KEXPECT(posix::vfs_stat(ctx, "/hello.txt", true, st).is_ok() && st.st_size == int64_t(sizeof HELLO - 1));
        delete mounts;
        root.value() = nullptr;
        KEXPECT(stop_root_fs().is_ok());
        KEXPECT(root_fs() == nullptr);
        remount(ktest_ctx, [&](FsClient& again) { KEXPECT(!again.info().read_only); });  // stopped cleanly
    });
}

}  // namespace lamina::storage

namespace lamina::storage {

namespace {

struct Worker {
    ktest::Context* ctx;
    RefPtr<Inode> root;
    unsigned id;
    unsigned ok = 0, eio = 0, other = 0, mismatched = 0;
    bool done = false;
    const bool* faults_seen = nullptr;  // set by the injector once a fault has taken effect
};

// write + fsync + read back, over and over, on its own file. When all three succeed the data
// must be there; any of them may fail with EIO while the domain restarts, and nothing else.
void worker_main(void* p) {
    auto& w = *static_cast<Worker*>(p);
    char file[8] = {'w', char('0' + w.id), 0};
    RefPtr<Inode> file_inode;
    for (unsigned tries = 0; !file_inode && tries < 10; tries++) {
        auto made = w.root->create(name(file), posix::mode::Regular | 0644, 0, 0);
        if (made.is_ok()) {
            file_inode = made.value();
        } else if (made.error().code() == Errno::Exist) {
            auto found = w.root->lookup(name(file));
            if (found.is_ok()) file_inode = found.value();
        } else if (!is_eio(made.error())) {
            break;
        }
    }
    if (!file_inode) {
        w.other++;
        __atomic_store_n(&w.done, true, __ATOMIC_RELEASE);
        return;
    }
    // Off the stack: kernel stacks are small.
    constexpr size_t SIZE = 8192;
    auto* out = static_cast<uint8_t*>(mm::kmalloc(2 * SIZE));
    if (!out) {
        w.other++;
        __atomic_store_n(&w.done, true, __ATOMIC_RELEASE);
        return;
    }
    uint8_t* in = out + SIZE;
    // At least 40 rounds, and on until a fault has hit the domain while they ran: on a loaded
    // host the injector may not get the CPU before 40 rounds are over (bounded all the same).
    for (unsigned i = 0; i < 40 || (!__atomic_load_n(w.faults_seen, __ATOMIC_ACQUIRE) && i < 4000); i++) {
        fill_pattern(out, SIZE, w.id * 100 + i);
        auto wr = file_inode->write(0, out, SIZE);
        auto fs = wr.is_ok() ? static_cast<FsInode*>(file_inode.get())->fsync(false) : Result<void>(wr.error());
        auto rd = fs.is_ok() ? file_inode->read(0, in, SIZE) : Result<size_t>(fs.error());
        if (rd.is_ok()) {
            if (rd.value() == SIZE && check_pattern(in, SIZE, w.id * 100 + i))
                w.ok++;
            else
                w.mismatched++;
        } else if (is_eio(rd.error())) {
            w.eio++;
        } else {
            w.other++;
        }
    }
    mm::kfree(out);
    __atomic_store_n(&w.done, true, __ATOMIC_RELEASE);
}

}  // namespace

KTEST(fs, concurrent_callers_see_data_or_eio_across_restarts) {
    with_fs(ktest_ctx, [&](FsClient& c, RamDisk&) {
        bool faults_seen = false;
        Worker workers[2] = {{&ktest_ctx, c.root(), 1}, {&ktest_ctx, c.root(), 2}};
        for (auto& w : workers) w.faults_seen = &faults_seen;
        sched::Thread* threads[2] = {};
        for (int i = 0; i < 2; i++) {
            auto t = sched::Thread::create("fs-worker", worker_main, &workers[i]);
            KASSERT_TRUE(t.is_ok());
            threads[i] = t.value();
        }
        domain::set_verbose_faults(false);
        unsigned injected = 0;
        while (!__atomic_load_n(&workers[0].done, __ATOMIC_ACQUIRE) ||
               !__atomic_load_n(&workers[1].done, __ATOMIC_ACQUIRE)) {
            sched::sleep_ns(3'000'000);
            if (injected < 6 && domain::inject_fault("fs").is_ok()) injected++;
            if (injected > 0) __atomic_store_n(&faults_seen, true, __ATOMIC_RELEASE);
        }
        for (auto* t : threads) KEXPECT(t->join() == sched::ExitReason::Returned);
        domain::set_verbose_faults(true);
        for (auto& w : workers) {
            KEXPECT_EQ(w.other, 0u);
            KEXPECT_EQ(w.mismatched, 0u);
            KEXPECT(w.ok > 0);
            ktest_ctx.note("worker %u: %u rounds ok, %u EIO", w.id, w.ok, w.eio);
        }
        // A fault injected as the workers finished is recovered by the next call: count after it.
        RefPtr<Inode> root = c.root();
        KEXPECT(write_file(ktest_ctx, root, "final.bin", 10000, 77));
        KEXPECT(file_has_pattern(root, "final.bin", 10000, 77));
        KEXPECT(injected >= 1);
        KEXPECT(c.restarts() >= 1);
        ktest_ctx.note("%u faults injected, %lu restarts", injected, (unsigned long)c.restarts());
    });
}

// /proc/domctl's `restart fs` replaces the healthy domain: calls wait, the old instance writes
// back first, so even data nobody fsync'ed survives, and fsync does not report a loss.
KTEST(fs, an_operator_restart_loses_nothing) {
    with_fs(ktest_ctx, [&](FsClient& c, RamDisk&) {
        RefPtr<Inode> root = c.root();
        KASSERT_TRUE(write_file(ktest_ctx, root, "unsynced.bin", 40000, 21, false));
        RefPtr<Inode> writer = walk(root, "unsynced.bin");
        KASSERT_TRUE(writer);
        uint8_t more[100] = {};
        KEXPECT(writer->write(40000, more, sizeof more).is_ok());  // dirty in this inode
        domain::Domain* before = c.instance();
        const char cmd[] = "restart fs\n";
        auto r = domain::control(cmd, sizeof cmd - 1);
        KEXPECT(r.is_ok());
        KEXPECT(c.instance() != before);
        KEXPECT_EQ(c.restarts(), 1u);
        RefPtr<Inode> f = walk(root, "unsynced.bin");
        posix::Stat st;
        KEXPECT(f && f->getattr(st).is_ok() && st.st_size == 40100);
        // Nothing was lost, so the writer's fsync succeeds (after a fault it would be EIO).
        KEXPECT(static_cast<FsInode*>(writer.get())->fsync(false).is_ok());
        KEXPECT(write_file(ktest_ctx, root, "after-restart.bin", 10000, 22));
    });
}

}  // namespace lamina::storage
