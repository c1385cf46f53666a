// System calls on names: open, openat, creat, stat, lstat, newfstatat, statx, mkdir(at),
// rmdir, unlink(at), rename(at, at2), link(at), symlink(at), readlink(at), chmod, fchmod(at),
// chown, fchown(at), lchown, utimensat, access, faccessat(2), truncate, umask, chdir, fchdir,
// getcwd, mount, umount2, statfs, fstatfs, sync.
//
// Contract: paths are copied from user memory whole (EFAULT for a bad pointer, ENAMETOOLONG
// when no NUL comes within PATH_MAX bytes) before anything is resolved; a relative path starts
// at the cwd, or at the directory a dirfd names (AT_FDCWD = -100; EBADF for a closed dirfd,
// ENOTDIR for one that is not a directory; an absolute path ignores dirfd). Resolution and the
// operation run under the namespace lock (kernel/posix/files.h); what Linux checks and which
// errno it picks is kernel/posix/vfs/ops.h's. Unknown flag bits are EINVAL. Modes of new
// files have the process umask applied. Everything runs as root (uid 0) for now.
#include <new>

#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/files.h"
#include "kernel/posix/process.h"
#include "kernel/posix/sys_file_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/posix/vfs/ops.h"
#include "kernel/posix/vfs/vnode_file.h"

namespace lamina::posix {

namespace {

constexpr int64_t AT_FDCWD = -100;
constexpr uint32_t AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_SYMLINK_FOLLOW = 0x400,
                   AT_NO_AUTOMOUNT = 0x800, AT_EMPTY_PATH = 0x1000, AT_EACCESS = 0x200,
                   AT_STATX_SYNC_TYPE = 0x6000;
constexpr uint32_t O_LARGEFILE = 0100000, O_TMPFILE_DIR = 020000000;

constexpr int64_t err(Errno e) { return -int64_t(e); }
int64_t err(const Error& e) { return -int64_t(e.code()); }
int64_t ok_or(const Result<void>& r) { return r.is_ok() ? 0 : err(r.error()); }

// A path copied from user memory (on the heap: PATH_MAX is too much for a kernel stack).
struct UserPath {
    char* text = static_cast<char*>(mm::kmalloc(kPathMax));
    ~UserPath() { mm::kfree(text); }
    Result<void> copy(uint64_t user) {
        if (!text) return Errno::NoMem;
        TRY(strncpy_from_user(text, user, kPathMax));
        return {};
    }
};

int dirfd_of(uint64_t v) { return int(int32_t(uint32_t(v))); }

// Where a relative `path` starts for dirfd.
Result<Location> start_of(int dirfd, const char* path) {
    Process& p = *current_process();
    if (path[0] == '/' || dirfd == AT_FDCWD) return p.cwd;
    RefPtr<OpenFile> f = TRY(p.fds->get(dirfd));
    const Location* loc = f->object()->location();
    if (!loc || !is_dir(loc->inode->mode())) return Errno::NotDir;
    return *loc;
}

// Runs op(ctx, path) with the path copied in, the context built and the namespace locked.
template <typename Op>
auto with_path(int dirfd, uint64_t upath, Op&& op) -> decltype(op(*static_cast<const PathContext*>(nullptr), "")) {
    UserPath path;
    TRY(path.copy(upath));
    Location start = TRY(start_of(dirfd, path.text));
    Process& p = *current_process();
    sched::MutexGuard g(namespace_lock());
    PathContext ctx{mount_table(), p.root, start, current_credentials()};
    return op(static_cast<const PathContext&>(ctx), static_cast<const char*>(path.text));
}

// The location a descriptor refers to (fchmod, fchown, fchdir, fstatfs, AT_EMPTY_PATH).
Result<Location> location_of_fd(int fd) {
    Process& p = *current_process();
    if (fd == AT_FDCWD) return p.cwd;
    RefPtr<OpenFile> f = TRY(p.fds->get(fd));
    const Location* loc = f->object()->location();
    if (!loc) return Errno::BadF;
    return *loc;
}

Result<int> do_open(int dirfd, uint64_t upath, uint32_t flags, uint32_t perm) {
    Process& p = *current_process();
    if ((flags & O_TMPFILE_DIR) && (flags & oflag::Directory)) return Errno::NotSup;  // O_TMPFILE
    uint32_t mode = perm & ~p.umask & mode::PermMask;
    OpenedPath opened = TRY(with_path(dirfd, upath, [&](const PathContext& ctx, const char* path) {
        return vfs_open(ctx, path, flags, mode);
    }));
    // Outside the namespace lock: opening a device or a procfs file may need it.
    RefPtr<OpenFile> f = TRY(VnodeFile::open(opened.loc, flags | O_LARGEFILE));
    return p.fds->install(static_cast<RefPtr<OpenFile>&&>(f), flags & oflag::CloExec);
}

int64_t result(Result<int> r) { return r.is_ok() ? r.value() : err(r.error()); }

Result<void> stat_to_user(const Stat& st, uint64_t buf) { return copy_to_user(buf, &st, sizeof st); }

Result<void> do_fstatat(int dirfd, uint64_t upath, uint64_t buf, uint32_t flags, Stat& st) {
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return Errno::Inval;
    UserPath probe;
    TRY(probe.copy(upath));
    if (probe.text[0] == 0 && (flags & AT_EMPTY_PATH)) {
        if (dirfd == AT_FDCWD) {
            TRY(current_process()->cwd.inode->getattr(st));
        } else {
            RefPtr<OpenFile> f = TRY(current_process()->fds->get(dirfd));
            TRY(f->object()->stat(st));
        }
    } else {
        TRY(with_path(dirfd, upath, [&](const PathContext& ctx, const char* path) {
            return vfs_stat(ctx, path, !(flags & AT_SYMLINK_NOFOLLOW), st);
        }));
    }
    (void)buf;
    return {};
}

// chmod/chown/utimens on an inode already found (the f* calls).
Result<void> chmod_inode(Inode& ino, uint32_t perm) {
    SetAttr a;
    a.mask = SetAttr::Mode;
    a.mode = perm & mode::PermMask;
    return ino.setattr(a);
}

Result<void> chown_inode(Inode& ino, uint32_t uid, uint32_t gid) {
    Stat st{};
    TRY(ino.getattr(st));
    SetAttr a;
    if (uid != 0xffffffff && uid != st.st_uid) {
        a.mask |= SetAttr::Uid;
        a.uid = uid;
    }
    if (gid != 0xffffffff && gid != st.st_gid) {
        a.mask |= SetAttr::Gid;
        a.gid = gid;
    }
    if (!a.mask) return {};
    if (!is_dir(st.st_mode) && (st.st_mode & (mode::SetUid | mode::SetGid))) {
        a.mask |= SetAttr::Mode;
        a.mode = st.st_mode & mode::PermMask & ~(mode::SetUid | mode::SetGid);
    }
    return ino.setattr(a);
}

// getcwd: the names from the cwd up to the process root, found by looking each directory up
// in its parent (crossing mounts at their roots).
Result<size_t> cwd_path(const Process& p, char* out, size_t cap) {
    char* tmp = out;
    size_t pos = cap;  // built backwards from the end of out
    Location cur = p.cwd;
    DirEntry* e = new (std::nothrow) DirEntry;
    if (!e) return Errno::NoMem;
    struct Free {
        DirEntry* e;
        ~Free() { delete e; }
    } free_entry{e};
    for (int depth = 0; depth < 4096; depth++) {
        if (cur.same_as(p.root)) break;
        Mount* m = cur.mount;
        if (m && m->root->same_as(*cur.inode)) {
            if (!m->parent) break;
            cur = Location{m->mountpoint, m->parent};
            continue;
        }
        RefPtr<Inode> parent = TRY(cur.inode->lookup(Name{"..", 2}));
        if (parent->same_as(*cur.inode)) break;
        uint64_t cookie = 0;
        bool found = false;
        for (;;) {
            bool more = TRY(parent->readdir(cookie, *e));
            if (!more) break;
            if (e->ino != cur.inode->ino()) continue;
            if ((e->name_len == 1 && e->name[0] == '.') || (e->name_len == 2 && e->name[0] == '.' && e->name[1] == '.')) continue;
            found = true;
            break;
        }
        if (!found) return Errno::NoEnt;
        if (pos < size_t(e->name_len) + 1) return Errno::Range;
        pos -= e->name_len;
        __builtin_memcpy(tmp + pos, e->name, e->name_len);
        tmp[--pos] = '/';
        cur = Location{static_cast<RefPtr<Inode>&&>(parent), cur.mount};
    }
    if (pos == cap) {
        if (cap < 2) return Errno::Range;
        out[0] = '/';
        out[1] = 0;
        return size_t(2);
    }
    size_t len = cap - pos;
    if (len + 1 > cap) return Errno::Range;
    __builtin_memmove(out, out + pos, len);
    out[len] = 0;
    return len + 1;
}

struct StatxTimestamp {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t pad;
};

struct Statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, pad1;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    StatxTimestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};
static_assert(sizeof(Statx) == 256);

uint32_t dev_major(uint64_t d) { return uint32_t(((d >> 8) & 0xfff) | ((d >> 32) & ~0xfffull)); }
uint32_t dev_minor(uint64_t d) { return uint32_t((d & 0xff) | ((d >> 12) & ~0xffull)); }

}  // namespace

// --- open -----------------------------------------------------------------------------------

int64_t sys_open(uint64_t path, uint64_t flags, uint64_t mode, uint64_t, uint64_t, uint64_t) {
    return result(do_open(AT_FDCWD, path, uint32_t(flags), uint32_t(mode)));
}

int64_t sys_openat(uint64_t dirfd, uint64_t path, uint64_t flags, uint64_t mode, uint64_t, uint64_t) {
    return result(do_open(dirfd_of(dirfd), path, uint32_t(flags), uint32_t(mode)));
}

int64_t sys_creat(uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t, uint64_t) {
    return result(do_open(AT_FDCWD, path, oflag::Creat | oflag::WriteOnly | oflag::Trunc, uint32_t(mode)));
}

// --- stat -----------------------------------------------------------------------------------

int64_t sys_stat(uint64_t path, uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t) {
    Stat st{};
    if (auto r = do_fstatat(AT_FDCWD, path, buf, 0, st); r.is_error()) return err(r.error());
    return ok_or(stat_to_user(st, buf));
}

int64_t sys_lstat(uint64_t path, uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t) {
    Stat st{};
    if (auto r = do_fstatat(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW, st); r.is_error()) return err(r.error());
    return ok_or(stat_to_user(st, buf));
}

int64_t sys_newfstatat(uint64_t dirfd, uint64_t path, uint64_t buf, uint64_t flags, uint64_t, uint64_t) {
    Stat st{};
    if (auto r = do_fstatat(dirfd_of(dirfd), path, buf, uint32_t(flags), st); r.is_error()) return err(r.error());
    return ok_or(stat_to_user(st, buf));
}

int64_t sys_statx(uint64_t dirfd, uint64_t path, uint64_t flags, uint64_t mask, uint64_t buf, uint64_t) {
    (void)mask;
    Stat st{};
    if (auto r = do_fstatat(dirfd_of(dirfd), path, buf, uint32_t(flags), st); r.is_error()) return err(r.error());
    Statx x{};
    x.stx_mask = 0x7ff;  // STATX_BASIC_STATS
    x.stx_blksize = uint32_t(st.st_blksize);
    x.stx_nlink = uint32_t(st.st_nlink);
    x.stx_uid = st.st_uid;
    x.stx_gid = st.st_gid;
    x.stx_mode = uint16_t(st.st_mode);
    x.stx_ino = st.st_ino;
    x.stx_size = uint64_t(st.st_size);
    x.stx_blocks = uint64_t(st.st_blocks);
    x.stx_atime = {st.st_atim.tv_sec, uint32_t(st.st_atim.tv_nsec), 0};
    x.stx_mtime = {st.st_mtim.tv_sec, uint32_t(st.st_mtim.tv_nsec), 0};
    x.stx_ctime = {st.st_ctim.tv_sec, uint32_t(st.st_ctim.tv_nsec), 0};
    x.stx_rdev_major = dev_major(st.st_rdev);
    x.stx_rdev_minor = dev_minor(st.st_rdev);
    x.stx_dev_major = dev_major(st.st_dev);
    x.stx_dev_minor = dev_minor(st.st_dev);
    return copy_to_user(buf, &x, sizeof x).is_ok() ? 0 : err(Errno::Fault);
}

// --- directories and names ----------------------------------------------------------------------

int64_t sys_mkdirat(uint64_t dirfd, uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t) {
    uint32_t m = uint32_t(mode) & ~current_process()->umask & 01777;
    return ok_or(with_path(dirfd_of(dirfd), path, [&](const PathContext& ctx, const char* p) { return vfs_mkdir(ctx, p, m); }));
}

int64_t sys_mkdir(uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_mkdirat(uint64_t(AT_FDCWD), path, mode, 0, 0, 0);
}

int64_t sys_rmdir(uint64_t path, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return ok_or(with_path(AT_FDCWD, path, [&](const PathContext& ctx, const char* p) { return vfs_rmdir(ctx, p); }));
}

int64_t sys_unlinkat(uint64_t dirfd, uint64_t path, uint64_t flags, uint64_t, uint64_t, uint64_t) {
    if (flags & ~uint64_t(AT_REMOVEDIR)) return err(Errno::Inval);
    bool dir = flags & AT_REMOVEDIR;
    return ok_or(with_path(dirfd_of(dirfd), path, [&](const PathContext& ctx, const char* p) {
        return dir ? vfs_rmdir(ctx, p) : vfs_unlink(ctx, p);
    }));
}

int64_t sys_unlink(uint64_t path, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_unlinkat(uint64_t(AT_FDCWD), path, 0, 0, 0, 0);
}

int64_t sys_renameat2(uint64_t olddirfd, uint64_t oldpath, uint64_t newdirfd, uint64_t newpath, uint64_t flags, uint64_t) {
    constexpr uint64_t RENAME_NOREPLACE = 1;
    if (flags & ~RENAME_NOREPLACE) return err(Errno::Inval);
    UserPath to;
    if (auto r = to.copy(newpath); r.is_error()) return err(r.error());
    auto to_start = start_of(dirfd_of(newdirfd), to.text);
    if (to_start.is_error()) return err(to_start.error());
    Process& p = *current_process();
    return ok_or(with_path(dirfd_of(olddirfd), oldpath, [&](const PathContext& from_ctx, const char* from) -> Result<void> {
        PathContext to_ctx{mount_table(), p.root, to_start.value(), current_credentials()};
        if (flags & RENAME_NOREPLACE) {
            Stat st{};
            if (vfs_stat(to_ctx, to.text, false, st).is_ok()) {
                TRY(vfs_stat(from_ctx, from, false, st));
                return Errno::Exist;
            }
        }
        return vfs_rename(from_ctx, from, to_ctx, to.text);
    }));
}

int64_t sys_renameat(uint64_t olddirfd, uint64_t oldpath, uint64_t newdirfd, uint64_t newpath, uint64_t, uint64_t) {
    return sys_renameat2(olddirfd, oldpath, newdirfd, newpath, 0, 0);
}

int64_t sys_rename(uint64_t oldpath, uint64_t newpath, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_renameat2(uint64_t(AT_FDCWD), oldpath, uint64_t(AT_FDCWD), newpath, 0, 0);
}

int64_t sys_linkat(uint64_t olddirfd, uint64_t oldpath, uint64_t newdirfd, uint64_t newpath, uint64_t flags, uint64_t) {
    if (flags & ~uint64_t(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return err(Errno::Inval);
    UserPath to;
    if (auto r = to.copy(newpath); r.is_error()) return err(r.error());
    auto to_start = start_of(dirfd_of(newdirfd), to.text);
    if (to_start.is_error()) return err(to_start.error());
    Process& p = *current_process();
    return ok_or(with_path(dirfd_of(olddirfd), oldpath, [&](const PathContext& from_ctx, const char* from) {
        PathContext to_ctx{mount_table(), p.root, to_start.value(), current_credentials()};
        return vfs_link(from_ctx, from, to_ctx, to.text, flags & AT_SYMLINK_FOLLOW);
    }));
}

int64_t sys_link(uint64_t oldpath, uint64_t newpath, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_linkat(uint64_t(AT_FDCWD), oldpath, uint64_t(AT_FDCWD), newpath, 0, 0);
}

int64_t sys_symlinkat(uint64_t target, uint64_t newdirfd, uint64_t linkpath, uint64_t, uint64_t, uint64_t) {
    UserPath t;
    if (auto r = t.copy(target); r.is_error()) return err(r.error());
    return ok_or(with_path(dirfd_of(newdirfd), linkpath, [&](const PathContext& ctx, const char* p) {
        return vfs_symlink(ctx, t.text, p);
    }));
}

int64_t sys_symlink(uint64_t target, uint64_t linkpath, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_symlinkat(target, uint64_t(AT_FDCWD), linkpath, 0, 0, 0);
}

int64_t sys_readlinkat(uint64_t dirfd, uint64_t path, uint64_t buf, uint64_t bufsiz, uint64_t, uint64_t) {
    if (int32_t(bufsiz) <= 0) return err(Errno::Inval);
    size_t n = uint32_t(bufsiz) < kPathMax ? uint32_t(bufsiz) : kPathMax;
    UserPath out;
    if (!out.text) return err(Errno::NoMem);
    auto r = with_path(dirfd_of(dirfd), path, [&](const PathContext& ctx, const char* p) {
        return vfs_readlink(ctx, p, out.text, n);
    });
    if (r.is_error()) return err(r.error());
    return copy_to_user(buf, out.text, r.value()).is_ok() ? int64_t(r.value()) : err(Errno::Fault);
}

int64_t sys_readlink(uint64_t path, uint64_t buf, uint64_t bufsiz, uint64_t, uint64_t, uint64_t) {
    return sys_readlinkat(uint64_t(AT_FDCWD), path, buf, bufsiz, 0, 0);
}

// --- attributes ---------------------------------------------------------------------------------

int64_t sys_fchmodat(uint64_t dirfd, uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t) {
    return ok_or(with_path(dirfd_of(dirfd), path, [&](const PathContext& ctx, const char* p) {
        return vfs_chmod(ctx, p, uint32_t(mode));
    }));
}

int64_t sys_chmod(uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_fchmodat(uint64_t(AT_FDCWD), path, mode, 0, 0, 0);
}

int64_t sys_fchmod(uint64_t fd, uint64_t mode, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto f = current_process()->fds->get(dirfd_of(fd));
    if (f.is_error()) return err(f.error());
    if (f.value()->flags() & oflag::Path) return err(Errno::BadF);
    const Location* loc = f.value()->object()->location();
    if (!loc) return 0;  // pipes and other anonymous objects: nothing to keep
    return ok_or(chmod_inode(*loc->inode, uint32_t(mode)));
}

int64_t sys_fchownat(uint64_t dirfd, uint64_t path, uint64_t uid, uint64_t gid, uint64_t flags, uint64_t) {
    if (flags & ~uint64_t(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(Errno::Inval);
    UserPath probe;
    if (auto r = probe.copy(path); r.is_error()) return err(r.error());
    if (probe.text[0] == 0 && (flags & AT_EMPTY_PATH)) {
        auto loc = location_of_fd(dirfd_of(dirfd));
        if (loc.is_error()) return err(loc.error());
        return ok_or(chown_inode(*loc.value().inode, uint32_t(uid), uint32_t(gid)));
    }
    return ok_or(with_path(dirfd_of(dirfd), path, [&](const PathContext& ctx, const char* p) {
        return vfs_chown(ctx, p, uint32_t(uid), uint32_t(gid), !(flags & AT_SYMLINK_NOFOLLOW));
    }));
}

int64_t sys_chown(uint64_t path, uint64_t uid, uint64_t gid, uint64_t, uint64_t, uint64_t) {
    return sys_fchownat(uint64_t(AT_FDCWD), path, uid, gid, 0, 0);
}

int64_t sys_lchown(uint64_t path, uint64_t uid, uint64_t gid, uint64_t, uint64_t, uint64_t) {
    return sys_fchownat(uint64_t(AT_FDCWD), path, uid, gid, AT_SYMLINK_NOFOLLOW, 0);
}

int64_t sys_fchown(uint64_t fd, uint64_t uid, uint64_t gid, uint64_t, uint64_t, uint64_t) {
    auto f = current_process()->fds->get(dirfd_of(fd));
    if (f.is_error()) return err(f.error());
    if (f.value()->flags() & oflag::Path) return err(Errno::BadF);
    const Location* loc = f.value()->object()->location();
    if (!loc) return 0;
    return ok_or(chown_inode(*loc->inode, uint32_t(uid), uint32_t(gid)));
}

int64_t sys_utimensat(uint64_t dirfd, uint64_t path, uint64_t times, uint64_t flags, uint64_t, uint64_t) {
    if (flags & ~uint64_t(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(Errno::Inval);
    Timespec t[2];
    const Timespec* tp = nullptr;
    if (times) {
        if (copy_from_user(t, times, sizeof t).is_error()) return err(Errno::Fault);
        tp = t;
    }
    Timespec now = realtime_now();
    if (!path) {
        // futimens: the descriptor itself.
        if (dirfd_of(dirfd) == AT_FDCWD) return err(Errno::Fault);
        auto loc = location_of_fd(dirfd_of(dirfd));
        if (loc.is_error()) return err(loc.error());
        sched::MutexGuard g(namespace_lock());
        Location l = loc.value();
        PathContext ctx{mount_table(), l, l, current_credentials()};
        // "." from the file itself only works for directories; set the times directly.
        SetAttr a;
        Timespec v[2] = {{0, kUtimeNow}, {0, kUtimeNow}};
        if (tp) {
            v[0] = tp[0];
            v[1] = tp[1];
        }
        for (int i = 0; i < 2; i++) {
            if (v[i].tv_nsec != kUtimeNow && v[i].tv_nsec != kUtimeOmit && (v[i].tv_nsec < 0 || v[i].tv_nsec > 999999999))
                return err(Errno::Inval);
        }
        if (v[0].tv_nsec != kUtimeOmit) {
            a.mask |= SetAttr::Atime;
            a.atime = v[0].tv_nsec == kUtimeNow ? now : v[0];
        }
        if (v[1].tv_nsec != kUtimeOmit) {
            a.mask |= SetAttr::Mtime;
            a.mtime = v[1].tv_nsec == kUtimeNow ? now : v[1];
        }
        (void)ctx;
        if (!a.mask) return 0;
        return ok_or(l.inode->setattr(a));
    }
    return ok_or(with_path(dirfd_of(dirfd), path, [&](const PathContext& ctx, const char* p) {
        return vfs_utimens(ctx, p, tp, now, !(flags & AT_SYMLINK_NOFOLLOW));
    }));
}

int64_t sys_faccessat2(uint64_t dirfd, uint64_t path, uint64_t mode, uint64_t flags, uint64_t, uint64_t) {
    if (flags & ~uint64_t(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(Errno::Inval);
    return ok_or(with_path(dirfd_of(dirfd), path, [&](const PathContext& ctx, const char* p) {
        return vfs_access(ctx, p, int(mode));
    }));
}

int64_t sys_faccessat(uint64_t dirfd, uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t) {
    return sys_faccessat2(dirfd, path, mode, 0, 0, 0);
}

int64_t sys_access(uint64_t path, uint64_t mode, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_faccessat2(uint64_t(AT_FDCWD), path, mode, 0, 0, 0);
}

int64_t sys_truncate(uint64_t path, uint64_t length, uint64_t, uint64_t, uint64_t, uint64_t) {
    return ok_or(with_path(AT_FDCWD, path, [&](const PathContext& ctx, const char* p) {
        return vfs_truncate(ctx, p, int64_t(length));
    }));
}

int64_t sys_umask(uint64_t mask, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Process& p = *current_process();
    uint32_t old = p.umask;
    p.umask = uint32_t(mask) & 0777;
    return old;
}

// --- working directory ----------------------------------------------------------------------------

int64_t sys_chdir(uint64_t path, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Process& p = *current_process();
    auto r = with_path(AT_FDCWD, path, [&](const PathContext& ctx, const char* s) -> Result<Location> {
        Location l = TRY(resolve(ctx, s, lookup::Follow | lookup::Directory));
        Stat st{};
        TRY(l.inode->getattr(st));
        TRY(check_access(st.st_mode, st.st_uid, st.st_gid, ctx.cred, access::Exec));
        return l;
    });
    if (r.is_error()) return err(r.error());
    p.cwd = r.release_value();
    return 0;
}

int64_t sys_fchdir(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    Process& p = *current_process();
    auto f = p.fds->get(dirfd_of(fd));
    if (f.is_error()) return err(f.error());
    const Location* loc = f.value()->object()->location();
    if (!loc || !is_dir(loc->inode->mode())) return err(Errno::NotDir);
    p.cwd = *loc;
    return 0;
}

int64_t sys_getcwd(uint64_t buf, uint64_t size, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (size == 0) return err(Errno::Range);
    UserPath out;
    if (!out.text) return err(Errno::NoMem);
    Process& p = *current_process();
    size_t len;
    {
        sched::MutexGuard g(namespace_lock());
        auto r = cwd_path(p, out.text, kPathMax);
        if (r.is_error()) return err(r.error());
        len = r.value();
    }
    if (len > size) return err(Errno::Range);
    return copy_to_user(buf, out.text, len).is_ok() ? int64_t(len) : err(Errno::Fault);
}

// --- mounts and file systems ----------------------------------------------------------------------

int64_t sys_mount(uint64_t source, uint64_t target, uint64_t fstype, uint64_t flags, uint64_t, uint64_t) {
    constexpr uint64_t MS_REMOUNT = 32, MS_BIND = 4096, MS_MOVE = 8192;
    if (flags & (MS_BIND | MS_MOVE)) return err(Errno::Inval);
    char type[32] = {}, src[64] = {};
    if (!(flags & MS_REMOUNT)) {
        auto t = strncpy_from_user(type, fstype, sizeof type);
        if (t.is_error()) return t.error().code() == Errno::NameTooLong ? err(Errno::NoDev) : err(t.error());
    }
    if (source) {
        auto s = strncpy_from_user(src, source, sizeof src);
        if (s.is_error() && s.error().code() != Errno::NameTooLong) return err(s.error());
    }
    return ok_or(with_path(AT_FDCWD, target, [&](const PathContext& ctx, const char* p) -> Result<void> {
        Location at = TRY(resolve(ctx, p, lookup::Follow | lookup::Directory));
        if (flags & MS_REMOUNT) return {};  // options are not kept: nothing to change
        // The mount table keeps absolute paths (for /proc/mounts): make one from the cwd.
        char* abs = static_cast<char*>(mm::kmalloc(kPathMax));
        if (!abs) return Errno::NoMem;
        struct Free {
            char* p;
            ~Free() { mm::kfree(p); }
        } free_abs{abs};
        if (p[0] == '/') return mount_fs(at, p, type, src);
        size_t len = TRY(cwd_path(*current_process(), abs, kPathMax)) - 1;
        size_t plen = __builtin_strlen(p);
        if (len + 1 + plen + 1 > kPathMax) return Errno::NameTooLong;
        if (len > 1) abs[len++] = '/';
        __builtin_memcpy(abs + len, p, plen + 1);
        return mount_fs(at, abs, type, src);
    }));
}

int64_t sys_umount2(uint64_t target, uint64_t flags, uint64_t, uint64_t, uint64_t, uint64_t) {
    constexpr uint64_t MNT_FORCE = 1, MNT_DETACH = 2, MNT_EXPIRE = 4, UMOUNT_NOFOLLOW = 8;
    if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return err(Errno::Inval);
    Process& self = *current_process();
    return ok_or(with_path(AT_FDCWD, target, [&](const PathContext& ctx, const char* p) -> Result<void> {
        Location at = TRY(resolve(ctx, p, (flags & UMOUNT_NOFOLLOW) ? 0 : lookup::Follow));
        if (!at.mount || !at.mount->root->same_as(*at.inode)) return Errno::Inval;
        // A cwd, root or open file inside it makes it busy, as on Linux (MNT_DETACH's lazy
        // unmount is not supported: it is busy too).
        if (self.cwd.mount == at.mount || mount_in_use(at.mount)) return Errno::Busy;
        const Mount* m = at.mount;
        TRY(mount_table().umount(at));
        forget_mount(m);
        return {};
    }));
}

int64_t sys_statfs(uint64_t path, uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t) {
    StatFs st{};
    auto r = with_path(AT_FDCWD, path, [&](const PathContext& ctx, const char* p) -> Result<void> {
        Location l = TRY(resolve(ctx, p, lookup::Follow));
        return l.inode->statfs(st);
    });
    if (r.is_error()) return err(r.error());
    return copy_to_user(buf, &st, sizeof st).is_ok() ? 0 : err(Errno::Fault);
}

int64_t sys_fstatfs(uint64_t fd, uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto f = current_process()->fds->get(dirfd_of(fd));
    if (f.is_error()) return err(f.error());
    StatFs st{};
    const Location* loc = f.value()->object()->location();
    if (loc) {
        if (auto r = loc->inode->statfs(st); r.is_error()) return err(r.error());
    } else {
        st.f_type = 0x50495045;  // PIPEFS_MAGIC: anonymous objects
        st.f_bsize = st.f_frsize = 4096;
        st.f_namelen = kNameMax;
    }
    return copy_to_user(buf, &st, sizeof st).is_ok() ? 0 : err(Errno::Fault);
}

// sync(2): every mounted file system writes back what it caches (an inode's fsync writes its
// whole file system back; memory file systems have nothing to do). Errors are not reported,
// as on Linux.
int64_t sys_sync(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    mount_table().for_each([](Mount& m) {
        if (m.root) (void)m.root->fsync(false);
    });
    return 0;
}

}  // namespace lamina::posix
