// tmpfs, devfs and procfs through the VFS (mount table, path resolution, ops, VnodeFile), and
// the FileObject poll queue.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel/posix/fs/devices.h"
#include "kernel/posix/fs/procfs.h"
#include "kernel/posix/fs/tmpfs.h"
#include "kernel/posix/vfs/dirent.h"
#include "kernel/posix/vfs/ops.h"
#include "kernel/posix/vfs/vnode_file.h"

using namespace lamina;
using namespace lamina::posix;

namespace {

Timespec fake_clock() { return Timespec{1700000000, 42}; }

struct PosixTmpfs : testing::Test {
    void SetUp() override {
        TmpfsOptions o;
        o.max_bytes = 1 << 20;
        o.dev = 7;
        o.clock = fake_clock;
        fs = Tmpfs::create(o).release_value();
        root = mounts.mount_root(fs->root()).release_value();
    }
    void TearDown() override { root = Location{}; }

    PathContext ctx() { return PathContext{mounts, root, root, cred}; }

    RefPtr<OpenFile> open(const char* path, uint32_t flags, uint32_t mode = 0644) {
        auto r = vfs_open(ctx(), path, flags, mode);
        EXPECT_TRUE(r.is_ok()) << path << " " << (r.is_error() ? r.error().name() : "");
        if (r.is_error()) return nullptr;
        return VnodeFile::open(r.value().loc, flags).release_value();
    }
    Errno open_error(const char* path, uint32_t flags) {
        auto r = vfs_open(ctx(), path, flags, 0644);
        return r.is_error() ? r.error().code() : Errno::None;
    }
    Stat stat(const char* path, bool follow = true) {
        Stat st{};
        auto r = vfs_stat(ctx(), path, follow, st);
        EXPECT_TRUE(r.is_ok()) << path;
        return st;
    }
    std::vector<std::string> list(const char* path) {
        RefPtr<OpenFile> f = open(path, oflag::ReadOnly | oflag::Directory);
        std::vector<std::string> names;
        uint8_t buf[128];  // small: several calls
        for (;;) {
            auto r = vnode_getdents64(*f, buf, sizeof buf);
            EXPECT_TRUE(r.is_ok());
            if (r.is_error() || r.value() == 0) break;
            for (size_t off = 0; off < r.value();) {
                uint16_t reclen;
                memcpy(&reclen, buf + off + 16, 2);
                names.emplace_back(reinterpret_cast<char*>(buf + off + DIRENT64_NAME_OFFSET));
                off += reclen;
            }
        }
        return names;
    }

    MountTable mounts;
    Credentials cred;
    RefPtr<Tmpfs> fs;
    Location root;
};

}  // namespace

TEST_F(PosixTmpfs, WriteReadSeekAppend) {
    RefPtr<OpenFile> f = open("/a", oflag::ReadWrite | oflag::Creat);
    EXPECT_EQ(vnode_write(*f, "hello", 5).value(), 5u);
    EXPECT_EQ(vnode_lseek(*f, 0, seek::Set).value(), 0u);
    char buf[16] = {};
    EXPECT_EQ(vnode_read(*f, buf, sizeof buf).value(), 5u);
    EXPECT_STREQ(buf, "hello");
    RefPtr<OpenFile> g = open("/a", oflag::WriteOnly | oflag::Append);
    EXPECT_EQ(vnode_write(*g, "!", 1).value(), 1u);
    EXPECT_EQ(stat("/a").st_size, 6);
    EXPECT_EQ(stat("/a").st_mtim.tv_sec, 1700000000);
    EXPECT_EQ(stat("/a").st_dev, 7u);
    EXPECT_EQ(stat("/a").st_nlink, 1u);
}

TEST_F(PosixTmpfs, SparseFilesReadZerosAndUseOnlyWrittenPages) {
    RefPtr<OpenFile> f = open("/s", oflag::ReadWrite | oflag::Creat);
    uint64_t before = fs->used_bytes();
    EXPECT_EQ(vnode_pwrite(*f, "x", 1, 500000).value(), 1u);
    EXPECT_EQ(fs->used_bytes() - before, 4096u);
    Stat st = stat("/s");
    EXPECT_EQ(st.st_size, 500001);
    EXPECT_EQ(st.st_blocks, 8);
    char buf[100];
    memset(buf, 1, sizeof buf);
    EXPECT_EQ(vnode_pread(*f, buf, sizeof buf, 1000).value(), 100u);
    for (char c : buf) EXPECT_EQ(c, 0);
    // Truncating below the page frees it; growing again shows zeros, not the old byte.
    ASSERT_TRUE(f->object()->truncate(*f, 10).is_ok());
    EXPECT_EQ(fs->used_bytes(), before);
    ASSERT_TRUE(f->object()->truncate(*f, 500001).is_ok());
    char c = 1;
    EXPECT_EQ(vnode_pread(*f, &c, 1, 500000).value(), 1u);
    EXPECT_EQ(c, 0);
}

TEST_F(PosixTmpfs, TruncateKeepsNoStaleBytesInThePartialPage) {
    RefPtr<OpenFile> f = open("/t", oflag::ReadWrite | oflag::Creat);
    ASSERT_EQ(vnode_write(*f, "abcdef", 6).value(), 6u);
    ASSERT_TRUE(f->object()->truncate(*f, 2).is_ok());
    ASSERT_TRUE(f->object()->truncate(*f, 6).is_ok());
    char buf[6];
    ASSERT_EQ(vnode_pread(*f, buf, 6, 0).value(), 6u);
    EXPECT_EQ(std::string(buf, 6), std::string("ab\0\0\0\0", 6));
}

TEST_F(PosixTmpfs, SpaceLimitGivesEnospcAndUnlinkGivesItBack) {
    RefPtr<OpenFile> f = open("/big", oflag::ReadWrite | oflag::Creat);
    std::vector<char> chunk(64 * 1024, 'z');
    size_t total = 0;
    for (;;) {
        auto r = vnode_write(*f, chunk.data(), chunk.size());
        if (r.is_error()) {
            EXPECT_EQ(r.error().code(), Errno::NoSpc);
            break;
        }
        total += r.value();
        ASSERT_LT(total, size_t(2 << 20));
    }
    EXPECT_GT(total, size_t(900 * 1024));
    uint64_t nodes = fs->node_count();
    ASSERT_TRUE(vfs_unlink(ctx(), "/big").is_ok());
    // Still open: the data stays until the last close.
    EXPECT_GT(fs->used_bytes(), total);
    f = nullptr;
    EXPECT_EQ(fs->node_count(), nodes - 1);
    EXPECT_LT(fs->used_bytes(), 4096u);
}

TEST_F(PosixTmpfs, DirectoriesLinksAndCounts) {
    ASSERT_TRUE(vfs_mkdir(ctx(), "/d", 0755).is_ok());
    ASSERT_TRUE(vfs_mkdir(ctx(), "/d/e", 0755).is_ok());
    EXPECT_EQ(stat("/d").st_nlink, 3u);
    EXPECT_EQ(stat("/").st_nlink, 3u);
    open("/d/f", oflag::WriteOnly | oflag::Creat);
    ASSERT_TRUE(vfs_link(ctx(), "/d/f", ctx(), "/d/g", false).is_ok());
    EXPECT_EQ(stat("/d/g").st_nlink, 2u);
    EXPECT_EQ(stat("/d/g").st_ino, stat("/d/f").st_ino);
    EXPECT_EQ(vfs_rmdir(ctx(), "/d").error().code(), Errno::NotEmpty);
    EXPECT_EQ(vfs_unlink(ctx(), "/d/e").error().code(), Errno::IsDir);
    ASSERT_TRUE(vfs_unlink(ctx(), "/d/f").is_ok());
    EXPECT_EQ(stat("/d/g").st_nlink, 1u);
    auto names = list("/d");
    EXPECT_EQ(names, (std::vector<std::string>{".", "..", "e", "g"}));
    ASSERT_TRUE(vfs_rmdir(ctx(), "/d/e").is_ok());
    EXPECT_EQ(stat("/d").st_nlink, 2u);
}

TEST_F(PosixTmpfs, ReaddirContinuesAcrossRemovals) {
    ASSERT_TRUE(vfs_mkdir(ctx(), "/d", 0755).is_ok());
    for (int i = 0; i < 40; i++) open(("/d/file" + std::to_string(i)).c_str(), oflag::WriteOnly | oflag::Creat);
    // rm -r's pattern: read some entries, remove them, read on.
    RefPtr<OpenFile> dir = open("/d", oflag::ReadOnly | oflag::Directory);
    int removed = 0;
    uint8_t buf[200];
    for (;;) {
        auto r = vnode_getdents64(*dir, buf, sizeof buf);
        ASSERT_TRUE(r.is_ok());
        if (r.value() == 0) break;
        for (size_t off = 0; off < r.value();) {
            uint16_t reclen;
            memcpy(&reclen, buf + off + 16, 2);
            std::string name(reinterpret_cast<char*>(buf + off + DIRENT64_NAME_OFFSET));
            if (name != "." && name != "..") {
                ASSERT_TRUE(vfs_unlink(ctx(), ("/d/" + name).c_str()).is_ok()) << name;
                removed++;
            }
            off += reclen;
        }
    }
    EXPECT_EQ(removed, 40);
    EXPECT_TRUE(vfs_rmdir(ctx(), "/d").is_ok());
}

TEST_F(PosixTmpfs, RenameSemantics) {
    ASSERT_TRUE(vfs_mkdir(ctx(), "/a", 0755).is_ok());
    ASSERT_TRUE(vfs_mkdir(ctx(), "/b", 0755).is_ok());
    ASSERT_TRUE(vfs_mkdir(ctx(), "/a/sub", 0755).is_ok());
    RefPtr<OpenFile> f = open("/a/x", oflag::WriteOnly | oflag::Creat);
    ASSERT_EQ(vnode_write(*f, "1", 1).value(), 1u);
    RefPtr<OpenFile> g = open("/b/y", oflag::WriteOnly | oflag::Creat);
    ASSERT_TRUE(vfs_rename(ctx(), "/a/x", ctx(), "/b/y").is_ok());
    EXPECT_EQ(stat("/b/y").st_size, 1);
    EXPECT_EQ(open_error("/a/x", oflag::ReadOnly), Errno::NoEnt);
    // A directory moves with its ".." and the link counts of both parents.
    ASSERT_TRUE(vfs_rename(ctx(), "/a/sub", ctx(), "/b/sub").is_ok());
    EXPECT_EQ(stat("/a").st_nlink, 2u);
    EXPECT_EQ(stat("/b").st_nlink, 3u);
    EXPECT_EQ(stat("/b/sub/..").st_ino, stat("/b").st_ino);
    EXPECT_EQ(vfs_rename(ctx(), "/b", ctx(), "/b/sub/in").error().code(), Errno::Inval);
    ASSERT_TRUE(vfs_rename(ctx(), "/b/y", ctx(), "/b/z").is_ok());
    EXPECT_EQ(list("/b"), (std::vector<std::string>{".", "..", "sub", "z"}));
}

TEST_F(PosixTmpfs, SymlinksAndReadlink) {
    ASSERT_TRUE(vfs_mkdir(ctx(), "/d", 0755).is_ok());
    ASSERT_TRUE(vfs_symlink(ctx(), "/d", "/l").is_ok());
    open("/l/f", oflag::WriteOnly | oflag::Creat);
    EXPECT_EQ(stat("/d/f").st_size, 0);
    char buf[8];
    EXPECT_EQ(vfs_readlink(ctx(), "/l", buf, sizeof buf).value(), 2u);
    EXPECT_EQ(std::string(buf, 2), "/d");
    EXPECT_TRUE(is_symlink(stat("/l", false).st_mode));
    EXPECT_TRUE(is_dir(stat("/l").st_mode));
    EXPECT_EQ(stat("/l", false).st_size, 2);
}

TEST_F(PosixTmpfs, RemovedDirectoryTakesNoEntries) {
    ASSERT_TRUE(vfs_mkdir(ctx(), "/d", 0755).is_ok());
    Location d = resolve(ctx(), "/d", lookup::Follow).release_value();
    ASSERT_TRUE(vfs_rmdir(ctx(), "/d").is_ok());
    EXPECT_EQ(d.inode->create(Name{"x", 1}, 0644, 0, 0).error().code(), Errno::NoEnt);
    EXPECT_EQ(d.inode->lookup(Name{"..", 2}).error().code(), Errno::NoEnt);
    EXPECT_EQ(stat("/").st_nlink, 2u);
}

TEST_F(PosixTmpfs, NodesOutliveTheirFileSystemAsIoErrors) {
    RefPtr<OpenFile> f = open("/keep", oflag::ReadWrite | oflag::Creat);
    root = Location{};
    mounts.~MountTable();
    new (&mounts) MountTable();
    fs = nullptr;  // the file system goes; the open file stays valid
    char c;
    EXPECT_EQ(vnode_read(*f, &c, 1).error().code(), Errno::IO);
}

TEST_F(PosixTmpfs, StatfsReportsTmpfs) {
    StatFs st{};
    ASSERT_TRUE(fs->root()->statfs(st).is_ok());
    EXPECT_EQ(st.f_type, 0x01021994);
    EXPECT_EQ(st.f_blocks, 256u);
    EXPECT_EQ(st.f_namelen, 255);
}

// --- devfs ----------------------------------------------------------------------------------

namespace {
void fill_sevens(void* p, size_t n) { memset(p, 7, n); }
}  // namespace

TEST_F(PosixTmpfs, DevfsMemoryDevices) {
    static DevfsOpener opener(DevfsHooks{fill_sevens, nullptr});
    TmpfsOptions o;
    o.devices = &opener;
    o.dev = 9;
    RefPtr<Tmpfs> devfs = Tmpfs::create(o).release_value();
    ASSERT_TRUE(populate_devfs(*devfs).is_ok());
    ASSERT_TRUE(vfs_mkdir(ctx(), "/dev", 0755).is_ok());
    Location at = resolve(ctx(), "/dev", lookup::Follow).release_value();
    ASSERT_TRUE(mounts.mount(at, "/dev", devfs->root()).is_ok());

    char buf[8];
    RefPtr<OpenFile> null = open("/dev/null", oflag::ReadWrite);
    EXPECT_EQ(vnode_read(*null, buf, sizeof buf).value(), 0u);
    EXPECT_EQ(vnode_write(*null, buf, sizeof buf).value(), 8u);
    Stat st{};
    ASSERT_TRUE(null->object()->stat(st).is_ok());
    EXPECT_TRUE((st.st_mode & mode::TypeMask) == mode::Char);
    EXPECT_EQ(st.st_rdev, make_dev(1, 3));
    RefPtr<OpenFile> zero = open("/dev/zero", oflag::ReadOnly);
    memset(buf, 1, sizeof buf);
    EXPECT_EQ(vnode_read(*zero, buf, sizeof buf).value(), 8u);
    for (char c : buf) EXPECT_EQ(c, 0);
    RefPtr<OpenFile> full = open("/dev/full", oflag::WriteOnly);
    EXPECT_EQ(vnode_write(*full, "x", 1).error().code(), Errno::NoSpc);
    RefPtr<OpenFile> random = open("/dev/urandom", oflag::ReadOnly);
    EXPECT_EQ(vnode_read(*random, buf, sizeof buf).value(), 8u);
    EXPECT_EQ(buf[3], 7);
    // No terminal hook: the console has no driver.
    EXPECT_EQ(VnodeFile::open(resolve(ctx(), "/dev/console", lookup::Follow).release_value(), oflag::ReadWrite)
                  .error()
                  .code(),
              Errno::NXIO);
    EXPECT_EQ(list("/dev"),
              (std::vector<std::string>{".", "..", "console", "tty", "null", "zero", "full", "random", "urandom"}));
    root = Location{};
}

// --- procfs ---------------------------------------------------------------------------------

namespace {

struct FakeProcs final : ProcSource {
    std::vector<uint32_t> live{1, 5, 12};
    uint32_t self = 5;
    std::string written;
    size_t pids(uint32_t* out, size_t max) override {
        size_t n = 0;
        for (uint32_t p : live)
            if (n < max) out[n++] = p;
        return n;
    }
    bool pid_exists(uint32_t pid) override {
        for (uint32_t p : live)
            if (p == pid) return true;
        return false;
    }
    uint32_t self_pid() override { return self; }
    size_t tids(uint32_t pid, uint32_t* out, size_t max) override {
        if (pid != 12) return ProcSource::tids(pid, out, max);  // one thread: the pid
        const uint32_t threads[] = {12, 13, 20};
        size_t n = 0;
        for (uint32_t t : threads)
            if (n < max) out[n++] = t;
        return n;
    }
    Result<void> generate(ProcFile file, uint32_t pid, ProcText& out) override {
        if (pid && !pid_exists(pid)) return Errno::NoEnt;
        if (file == ProcFile::MemInfo)
            out.printf("MemTotal: %d kB\n", 1024);
        else if (file == ProcFile::PidStat)
            out.printf("%u (prog) R\n", pid);
        else
            out.printf("file %d\n", int(file));
        return {};
    }
    Result<size_t> write(ProcFile, const char* data, size_t n) override {
        written.append(data, n);
        return n;
    }
};

}  // namespace

TEST_F(PosixTmpfs, ProcfsTree) {
    FakeProcs procs;
    ASSERT_TRUE(vfs_mkdir(ctx(), "/proc", 0555).is_ok());
    Location at = resolve(ctx(), "/proc", lookup::Follow).release_value();
    ASSERT_TRUE(mounts.mount(at, "/proc", make_procfs(procs, 3).release_value()).is_ok());

    EXPECT_EQ(list("/proc"), (std::vector<std::string>{".", "..", "self", "net", "sys", "meminfo", "uptime", "mounts",
                                                       "domains", "domctl", "profile", "cmdline", "1", "5", "12"}));
    EXPECT_EQ(list("/proc/net"), (std::vector<std::string>{".", "..", "dev", "route", "tcp", "udp", "tcp6", "udp6"}));
    EXPECT_EQ(list("/proc/net/.."), list("/proc"));
    EXPECT_EQ(list("/proc/sys"), (std::vector<std::string>{".", "..", "vm"}));
    EXPECT_EQ(list("/proc/sys/vm"), (std::vector<std::string>{".", "..", "drop_caches"}));
    EXPECT_EQ(list("/proc/sys/vm/../.."), list("/proc"));
    EXPECT_EQ(stat("/proc/sys/vm/drop_caches").st_mode, mode::Regular | 0200);
    char buf[64] = {};
    EXPECT_EQ(vfs_readlink(ctx(), "/proc/self", buf, sizeof buf).value(), 1u);
    EXPECT_EQ(buf[0], '5');
    RefPtr<OpenFile> f = open("/proc/self/stat", oflag::ReadOnly);
    size_t n = vnode_read(*f, buf, 3).value();
    n += vnode_read(*f, buf + n, sizeof buf - n).value();  // small reads see one snapshot
    EXPECT_EQ(std::string(buf, n), "5 (prog) R\n");
    EXPECT_EQ(list("/proc/12"), (std::vector<std::string>{".", "..", "stat", "cmdline", "status", "task"}));
    // Threads: a directory each under task, with the process's files and no task of its own.
    EXPECT_EQ(list("/proc/12/task"), (std::vector<std::string>{".", "..", "12", "13", "20"}));
    EXPECT_EQ(list("/proc/5/task"), (std::vector<std::string>{".", "..", "5"}));
    EXPECT_EQ(list("/proc/12/task/13"), (std::vector<std::string>{".", "..", "stat", "cmdline", "status"}));
    EXPECT_EQ(open_error("/proc/12/task/14/stat", oflag::ReadOnly), Errno::NoEnt);
    EXPECT_EQ(open_error("/proc/12/task/13/task", oflag::ReadOnly), Errno::NoEnt);
    EXPECT_NE(stat("/proc/12/task/12").st_ino, stat("/proc/12").st_ino);
    EXPECT_EQ(list("/proc/12/task/20/.."), list("/proc/12/task"));
    {
        RefPtr<OpenFile> t = open("/proc/12/task/20/stat", oflag::ReadOnly);
        size_t k = vnode_read(*t, buf, sizeof buf).value();
        EXPECT_EQ(std::string(buf, k), "12 (prog) R\n");
    }
    EXPECT_EQ(open_error("/proc/7/stat", oflag::ReadOnly), Errno::NoEnt);
    EXPECT_EQ(open_error("/proc/05", oflag::ReadOnly), Errno::NoEnt);
    EXPECT_TRUE(is_dir(stat("/proc/1").st_mode));
    RefPtr<OpenFile> ctl = open("/proc/domctl", oflag::WriteOnly);
    EXPECT_EQ(vnode_write(*ctl, "restart fs", 10).value(), 10u);
    EXPECT_EQ(procs.written, "restart fs");
    // `echo CMD > /proc/FILE` opens with O_TRUNC, which a writable proc file accepts (Linux does);
    // a read-only one still refuses it.
    EXPECT_EQ(open_error("/proc/domctl", oflag::WriteOnly | oflag::Creat | oflag::Trunc), Errno::None);
    EXPECT_EQ(open_error("/proc/uptime", oflag::WriteOnly | oflag::Trunc), Errno::Perm);
    // A process that goes away: its directory's files fail to open.
    procs.live = {1};
    EXPECT_EQ(open_error("/proc/5/stat", oflag::ReadOnly), Errno::NoEnt);
    procs.self = 0;
    EXPECT_EQ(vfs_readlink(ctx(), "/proc/self", buf, sizeof buf).error().code(), Errno::NoEnt);
    root = Location{};
}

// --- poll queue -----------------------------------------------------------------------------

TEST(PosixPollQueue, NotifyWakesSubscribersUntilUnsubscribed) {
    struct Counter final : PollWaker {
        int wakes = 0;
        void wake() override { wakes++; }
    } a, b;
    PollQueue q;
    PollEntry ea, eb;
    q.subscribe(ea, a);
    q.subscribe(eb, b);
    EXPECT_EQ(q.subscribers(), 2u);
    q.notify();
    EXPECT_EQ(a.wakes, 1);
    EXPECT_EQ(b.wakes, 1);
    q.unsubscribe(ea);
    q.notify();
    EXPECT_EQ(a.wakes, 1);
    EXPECT_EQ(b.wakes, 2);
    q.unsubscribe(eb);
    EXPECT_EQ(q.subscribers(), 0u);
}

TEST(PosixPollQueue, DefaultsMatchLinux) {
    struct Plain final : FileObject {
    } obj;
    // On the stack: the creator's reference is never dropped, so the count never reaches zero.
    RefPtr<OpenFile> f = OpenFile::create(RefPtr<FileObject>(&obj), oflag::ReadWrite).release_value();
    char c;
    EXPECT_EQ(obj.read(*f, &c, 1).error().code(), Errno::Inval);
    EXPECT_EQ(obj.pread(*f, &c, 1, 0).error().code(), Errno::SPipe);
    EXPECT_EQ(obj.lseek(*f, 0, 0).error().code(), Errno::SPipe);
    EXPECT_EQ(obj.getdents64(*f, nullptr, 0).error().code(), Errno::NotDir);
    EXPECT_EQ(obj.truncate(*f, 0).error().code(), Errno::Inval);
    EXPECT_EQ(obj.fsync(*f, false).error().code(), Errno::Inval);
    EXPECT_EQ(obj.poll(*f), pollev::In | pollev::Out | pollev::RdNorm | pollev::WrNorm);
    EXPECT_EQ(obj.poll_queue(), nullptr);
    EXPECT_EQ(obj.location(), nullptr);
    f = nullptr;
}
