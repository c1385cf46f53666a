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
// files have the process umask applied. Every check runs as the caller's file-system ids and
// capabilities (kernel/posix/cred.h); access/faccessat check with the real ids instead
// (unless AT_EACCESS), as Linux does.
#include <lamina/own.h>
#include <lamina/scope_guard.h>

#include <new>

#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/files.h"
#include "kernel/posix/process.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/posix/vfs/ops.h"
#include "kernel/posix/vfs/vnode_file.h"
#include "kernel/posix/exec_cache.h"

namespace lamina::posix {

namespace {

constexpr int AT_FDCWD = -100;
constexpr uint32_t AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_SYMLINK_FOLLOW = 0x400,
                   AT_NO_AUTOMOUNT = 0x800, AT_EMPTY_PATH = 0x1000, AT_EACCESS = 0x200, AT_STATX_SYNC_TYPE = 0x6000;
constexpr uint32_t O_LARGEFILE = 0100000, O_TMPFILE_DIR = 020000000;

// A path copied from user memory (on the heap: PATH_MAX is too much for a kernel stack).
struct UserPath {
    char* text = static_cast<char*>(mm::kmalloc(MAX_PATH_LEN));
    ~UserPath() { mm::kfree(text); }
    Result<void> copy(uint64_t user) {
        if (!text) return Errno::NoMem;
        TRY(strncpy_from_user(text, user, MAX_PATH_LEN));
        return {};
    }
};

// Where a relative `path` starts for dirfd.
Result<Location> start_of(int dirfd, const char* path) {
    Process& p = *current_process();
    if (path[0] == '/' || dirfd == AT_FDCWD) return p.cwd;
    RefPtr<OpenFile> f = TRY(p.fds->get(dirfd));
    const Location* loc = f->object()->location();
    if (!loc || !is_dir(loc->inode->mode())) return Errno::NotDir;
    return *loc;
}

// Runs op(ctx, path) with the path copied in, the context built (as `cred`) and the namespace
// locked.
template <typename Op>
auto with_path_as(const Credentials& cred, int dirfd, uint64_t upath, Op&& op)
    -> decltype(op(*static_cast<const PathContext*>(nullptr), "")) {
    UserPath path;
    TRY(path.copy(upath));
    Location start = TRY(start_of(dirfd, path.text));
    Process& p = *current_process();
    sched::MutexGuard g(namespace_lock());
    PathContext ctx{mount_table(), p.root, start, cred};
    return op(static_cast<const PathContext&>(ctx), static_cast<const char*>(path.text));
}

// The same as the caller's file-system ids: every call but access.
template <typename Op>
auto with_path(int dirfd, uint64_t upath, Op&& op) -> decltype(op(*static_cast<const PathContext*>(nullptr), "")) {
    return with_path_as(current_credentials(), dirfd, upath, static_cast<Op&&>(op));
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
    OpenedPath opened = TRY(with_path(
        dirfd, upath, [&](const PathContext& ctx, const char* path) { return vfs_open(ctx, path, flags, mode); }));
    // A file that may be written no longer serves cached program pages (exec_cache.h).
    if ((flags & 3) != oflag::ReadOnly || (flags & oflag::Trunc))
        exec_cache::forget(opened.loc.inode->dev(), opened.loc.inode->ino());
    // Outside the namespace lock: opening a device or a procfs file may need it.
    RefPtr<OpenFile> f = TRY(VnodeFile::open(opened.loc, flags | O_LARGEFILE));
    return p.fds->install(static_cast<RefPtr<OpenFile>&&>(f), flags & oflag::CloExec);
}

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

// getcwd: the names from the cwd up to the process root, found by looking each directory up
// in its parent (crossing mounts at their roots).
Result<size_t> cwd_path(const Process& p, char* out, size_t cap) {
    char* tmp = out;
    size_t pos = cap;  // built backwards from the end of out
    Location cur = p.cwd;
    Own<DirEntry> e = TRY(make_own<DirEntry>());
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
            if ((e->name_len == 1 && e->name[0] == '.') || (e->name_len == 2 && e->name[0] == '.' && e->name[1] == '.'))
                continue;
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

Result<int> sys_open(uint64_t path, uint64_t flags, uint64_t mode) {
    return do_open(AT_FDCWD, path, uint32_t(flags), uint32_t(mode));
}

Result<int> sys_openat(int dirfd, uint64_t path, uint64_t flags, uint64_t mode) {
    return do_open(dirfd, path, uint32_t(flags), uint32_t(mode));
}

Result<int> sys_creat(uint64_t path, uint64_t mode) {
    return do_open(AT_FDCWD, path, oflag::Creat | oflag::WriteOnly | oflag::Trunc, uint32_t(mode));
}

// --- stat -----------------------------------------------------------------------------------

Result<void> sys_stat(uint64_t path, uint64_t buf) {
    Stat st{};
    TRY(do_fstatat(AT_FDCWD, path, buf, 0, st));
    return stat_to_user(st, buf);
}

Result<void> sys_lstat(uint64_t path, uint64_t buf) {
    Stat st{};
    TRY(do_fstatat(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW, st));
    return stat_to_user(st, buf);
}

Result<void> sys_newfstatat(int dirfd, uint64_t path, uint64_t buf, uint64_t flags) {
    Stat st{};
    TRY(do_fstatat(dirfd, path, buf, uint32_t(flags), st));
    return stat_to_user(st, buf);
}

SyscallResult sys_statx(int dirfd, uint64_t path, uint64_t flags, uint64_t mask, uint64_t buf) {
    (void)mask;
    Stat st{};
    TRY(do_fstatat(dirfd, path, buf, uint32_t(flags), st));
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
    TRY(copy_to_user(buf, &x, sizeof x));
    return 0;
}

// --- directories and names ----------------------------------------------------------------------

Result<void> sys_mkdirat(int dirfd, uint64_t path, uint64_t mode) {
    uint32_t m = uint32_t(mode) & ~current_process()->umask & 01777;
    return with_path(dirfd, path, [&](const PathContext& ctx, const char* p) { return vfs_mkdir(ctx, p, m); });
}

Result<void> sys_mkdir(uint64_t path, uint64_t mode) { return sys_mkdirat(AT_FDCWD, path, mode); }

Result<void> sys_rmdir(uint64_t path) {
    return with_path(AT_FDCWD, path, [&](const PathContext& ctx, const char* p) { return vfs_rmdir(ctx, p); });
}

Result<void> sys_unlinkat(int dirfd, uint64_t path, uint64_t flags) {
    if (flags & ~uint64_t(AT_REMOVEDIR)) return Errno::Inval;
    bool dir = flags & AT_REMOVEDIR;
    return with_path(dirfd, path, [&](const PathContext& ctx, const char* p) {
        return dir ? vfs_rmdir(ctx, p) : vfs_unlink(ctx, p);
    });
}

Result<void> sys_unlink(uint64_t path) { return sys_unlinkat(AT_FDCWD, path, 0); }

Result<void> sys_renameat2(int olddirfd, uint64_t oldpath, int newdirfd, uint64_t newpath, uint64_t flags) {
    constexpr uint64_t RENAME_NOREPLACE = 1;
    if (flags & ~RENAME_NOREPLACE) return Errno::Inval;
    UserPath to;
    TRY(to.copy(newpath));
    auto to_start = TRY(start_of(newdirfd, to.text));
    Process& p = *current_process();
    return with_path(olddirfd, oldpath, [&](const PathContext& from_ctx, const char* from) -> Result<void> {
        PathContext to_ctx{mount_table(), p.root, to_start, current_credentials()};
        if (flags & RENAME_NOREPLACE) {
            Stat st{};
            if (vfs_stat(to_ctx, to.text, false, st).is_ok()) {
                TRY(vfs_stat(from_ctx, from, false, st));
                return Errno::Exist;
            }
        }
        return vfs_rename(from_ctx, from, to_ctx, to.text);
    });
}

Result<void> sys_renameat(int olddirfd, uint64_t oldpath, int newdirfd, uint64_t newpath) {
    return sys_renameat2(olddirfd, oldpath, newdirfd, newpath, 0);
}

Result<void> sys_rename(uint64_t oldpath, uint64_t newpath) {
    return sys_renameat2(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

Result<void> sys_linkat(int olddirfd, uint64_t oldpath, int newdirfd, uint64_t newpath, uint64_t flags) {
    if (flags & ~uint64_t(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return Errno::Inval;
    UserPath to;
    TRY(to.copy(newpath));
    auto to_start = TRY(start_of(newdirfd, to.text));
    Process& p = *current_process();
    return with_path(olddirfd, oldpath, [&](const PathContext& from_ctx, const char* from) {
        PathContext to_ctx{mount_table(), p.root, to_start, current_credentials()};
        return vfs_link(from_ctx, from, to_ctx, to.text, flags & AT_SYMLINK_FOLLOW);
    });
}

Result<void> sys_link(uint64_t oldpath, uint64_t newpath) {
    return sys_linkat(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

Result<void> sys_symlinkat(uint64_t target, int newdirfd, uint64_t linkpath) {
    UserPath t;
    TRY(t.copy(target));
    return with_path(newdirfd, linkpath,
                     [&](const PathContext& ctx, const char* p) { return vfs_symlink(ctx, t.text, p); });
}

Result<void> sys_symlink(uint64_t target, uint64_t linkpath) { return sys_symlinkat(target, AT_FDCWD, linkpath); }

SyscallResult sys_readlinkat(int dirfd, uint64_t path, uint64_t buf, uint64_t bufsiz) {
    if (int32_t(bufsiz) <= 0) return Errno::Inval;
    size_t n = uint32_t(bufsiz) < MAX_PATH_LEN ? uint32_t(bufsiz) : MAX_PATH_LEN;
    UserPath out;
    if (!out.text) return Errno::NoMem;
    auto r = with_path(dirfd, path,
                       [&](const PathContext& ctx, const char* p) { return vfs_readlink(ctx, p, out.text, n); });
    if (r.is_error()) return r.error();
    TRY(copy_to_user(buf, out.text, r.value()));
    return int64_t(r.value());
}

SyscallResult sys_readlink(uint64_t path, uint64_t buf, uint64_t bufsiz) {
    return sys_readlinkat(AT_FDCWD, path, buf, bufsiz);
}

// --- attributes ---------------------------------------------------------------------------------

Result<void> sys_fchmodat(int dirfd, uint64_t path, uint64_t mode) {
    return with_path(dirfd, path,
                     [&](const PathContext& ctx, const char* p) { return vfs_chmod(ctx, p, uint32_t(mode)); });
}

Result<void> sys_chmod(uint64_t path, uint64_t mode) { return sys_fchmodat(AT_FDCWD, path, mode); }

Result<void> sys_fchmod(int fd, uint64_t mode) {
    auto f = TRY(current_process()->fds->get(fd));
    if (f->flags() & oflag::Path) return Errno::BadF;
    const Location* loc = f->object()->location();
    if (!loc) return {};  // pipes and other anonymous objects: nothing to keep
    return vfs_chmod_inode(current_credentials(), *loc->inode, uint32_t(mode));
}

Result<void> sys_fchownat(int dirfd, uint64_t path, uint64_t uid, uint64_t gid, uint64_t flags) {
    if (flags & ~uint64_t(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno::Inval;
    UserPath probe;
    TRY(probe.copy(path));
    if (probe.text[0] == 0 && (flags & AT_EMPTY_PATH)) {
        auto loc = TRY(location_of_fd(dirfd));
        return vfs_chown_inode(current_credentials(), *loc.inode, uint32_t(uid), uint32_t(gid));
    }
    return with_path(dirfd, path, [&](const PathContext& ctx, const char* p) {
        return vfs_chown(ctx, p, uint32_t(uid), uint32_t(gid), !(flags & AT_SYMLINK_NOFOLLOW));
    });
}

Result<void> sys_chown(uint64_t path, uint64_t uid, uint64_t gid) { return sys_fchownat(AT_FDCWD, path, uid, gid, 0); }

Result<void> sys_lchown(uint64_t path, uint64_t uid, uint64_t gid) {
    return sys_fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}

Result<void> sys_fchown(int fd, uint64_t uid, uint64_t gid) {
    auto f = TRY(current_process()->fds->get(fd));
    if (f->flags() & oflag::Path) return Errno::BadF;
    const Location* loc = f->object()->location();
    if (!loc) return {};
    return vfs_chown_inode(current_credentials(), *loc->inode, uint32_t(uid), uint32_t(gid));
}

Result<void> sys_utimensat(int dirfd, uint64_t path, uint64_t times, uint64_t flags) {
    if (flags & ~uint64_t(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno::Inval;
    Timespec t[2];
    const Timespec* tp = nullptr;
    if (times) {
        TRY(copy_from_user(t, times, sizeof t));
        tp = t;
    }
    Timespec now = realtime_now();
    if (!path) {
        // futimens: the descriptor itself.
        if (dirfd == AT_FDCWD) return Errno::Fault;
        Location l = TRY(location_of_fd(dirfd));
        sched::MutexGuard g(namespace_lock());
        return vfs_utimens_inode(current_credentials(), *l.inode, tp, now);
    }
    return with_path(dirfd, path, [&](const PathContext& ctx, const char* p) {
        return vfs_utimens(ctx, p, tp, now, !(flags & AT_SYMLINK_NOFOLLOW));
    });
}

Result<void> sys_faccessat2(int dirfd, uint64_t path, uint64_t mode, uint64_t flags) {
    if (flags & ~uint64_t(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno::Inval;
    Credentials cred = (flags & AT_EACCESS) ? current_credentials() : real_credentials();
    return with_path_as(cred, dirfd, path,
                        [&](const PathContext& ctx, const char* p) { return vfs_access(ctx, p, int(mode)); });
}

Result<void> sys_faccessat(int dirfd, uint64_t path, uint64_t mode) { return sys_faccessat2(dirfd, path, mode, 0); }

Result<void> sys_access(uint64_t path, uint64_t mode) { return sys_faccessat2(AT_FDCWD, path, mode, 0); }

Result<void> sys_truncate(uint64_t path, uint64_t length) {
    TRY(with_path(AT_FDCWD, path,
                  [&](const PathContext& ctx, const char* p) { return vfs_truncate(ctx, p, int64_t(length)); }));
    exec_cache::clear();  // rare: not worth resolving the path again to find the one entry
    return {};
}

SyscallResult sys_umask(uint64_t mask) {
    Process& p = *current_process();
    uint32_t old = p.umask;
    p.umask = uint32_t(mask) & 0777;
    return old;
}

// --- working directory ----------------------------------------------------------------------------

SyscallResult sys_chdir(uint64_t path) {
    Process& p = *current_process();
    auto r = with_path(AT_FDCWD, path, [&](const PathContext& ctx, const char* s) -> Result<Location> {
        Location l = TRY(resolve(ctx, s, lookup::Follow | lookup::Directory));
        Stat st{};
        TRY(l.inode->getattr(st));
        TRY(check_access(st.st_mode, st.st_uid, st.st_gid, ctx.cred, access::Exec));
        return l;
    });
    if (r.is_error()) return r.error();
    p.cwd = r.release_value();
    return 0;
}

SyscallResult sys_fchdir(int fd) {
    Process& p = *current_process();
    auto f = TRY(p.fds->get(fd));
    const Location* loc = f->object()->location();
    if (!loc || !is_dir(loc->inode->mode())) return Errno::NotDir;
    Stat st{};
    TRY(loc->inode->getattr(st));
    TRY(check_access(st.st_mode, st.st_uid, st.st_gid, current_credentials(), access::Exec));
    p.cwd = *loc;
    return 0;
}

SyscallResult sys_getcwd(uint64_t buf, uint64_t size) {
    if (size == 0) return Errno::Range;
    UserPath out;
    if (!out.text) return Errno::NoMem;
    Process& p = *current_process();
    size_t len;
    {
        sched::MutexGuard g(namespace_lock());
        auto r = TRY(cwd_path(p, out.text, MAX_PATH_LEN));
        len = r;
    }
    if (len > size) return Errno::Range;
    TRY(copy_to_user(buf, out.text, len));
    return int64_t(len);
}

// --- mounts and file systems ----------------------------------------------------------------------

Result<void> sys_mount(uint64_t source, uint64_t target, uint64_t fstype, uint64_t flags) {
    constexpr uint64_t MS_REMOUNT = 32, MS_BIND = 4096, MS_MOVE = 8192;
    if (!capable(cap::SYS_ADMIN)) return Errno::Perm;
    if (flags & (MS_BIND | MS_MOVE)) return Errno::Inval;
    char type[32] = {}, src[64] = {};
    if (!(flags & MS_REMOUNT)) {
        auto t = strncpy_from_user(type, fstype, sizeof type);
        if (t.is_error()) return t.error().code() == Errno::NameTooLong ? Error(Errno::NoDev) : t.error();
    }
    if (source) {
        auto s = strncpy_from_user(src, source, sizeof src);
        if (s.is_error() && s.error().code() != Errno::NameTooLong) return s.error();
    }
    return with_path(AT_FDCWD, target, [&](const PathContext& ctx, const char* p) -> Result<void> {
        Location at = TRY(resolve(ctx, p, lookup::Follow | lookup::Directory));
        if (flags & MS_REMOUNT) return {};  // options are not kept: nothing to change
        // The mount table keeps absolute paths (for /proc/mounts): make one from the cwd.
        char* abs = static_cast<char*>(mm::kmalloc(MAX_PATH_LEN));
        if (!abs) return Errno::NoMem;
        ScopeGuard free_abs([abs] { mm::kfree(abs); });
        if (p[0] == '/') return mount_fs(at, p, type, src);
        size_t len = TRY(cwd_path(*current_process(), abs, MAX_PATH_LEN)) - 1;
        size_t plen = __builtin_strlen(p);
        if (len + 1 + plen + 1 > MAX_PATH_LEN) return Errno::NameTooLong;
        if (len > 1) abs[len++] = '/';
        __builtin_memcpy(abs + len, p, plen + 1);
        return mount_fs(at, abs, type, src);
    });
}

Result<void> sys_umount2(uint64_t target, uint64_t flags) {
    constexpr uint64_t MNT_FORCE = 1, MNT_DETACH = 2, MNT_EXPIRE = 4, UMOUNT_NOFOLLOW = 8;
    if (!capable(cap::SYS_ADMIN)) return Errno::Perm;
    if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return Errno::Inval;
    Process& self = *current_process();
    return with_path(AT_FDCWD, target, [&](const PathContext& ctx, const char* p) -> Result<void> {
        Location at = TRY(resolve(ctx, p, (flags & UMOUNT_NOFOLLOW) ? 0 : lookup::Follow));
        if (!at.mount || !at.mount->root->same_as(*at.inode)) return Errno::Inval;
        // A cwd, root or open file inside it makes it busy, as on Linux (MNT_DETACH's lazy
        // unmount is not supported: it is busy too).
        if (self.cwd.mount == at.mount || mount_in_use(at.mount)) return Errno::Busy;
        const Mount* m = at.mount;
        TRY(mount_table().umount(at));
        forget_mount(m);
        return {};
    });
}

SyscallResult sys_statfs(uint64_t path, uint64_t buf) {
    StatFs st{};
    auto r = with_path(AT_FDCWD, path, [&](const PathContext& ctx, const char* p) -> Result<void> {
        Location l = TRY(resolve(ctx, p, lookup::Follow));
        return l.inode->statfs(st);
    });
    if (r.is_error()) return r.error();
    TRY(copy_to_user(buf, &st, sizeof st));
    return 0;
}

SyscallResult sys_fstatfs(int fd, uint64_t buf) {
    auto f = TRY(current_process()->fds->get(fd));
    StatFs st{};
    const Location* loc = f->object()->location();
    if (loc) {
        TRY(loc->inode->statfs(st));
    } else {
        st.f_type = 0x50495045;  // PIPEFS_MAGIC: anonymous objects
        st.f_bsize = st.f_frsize = 4096;
        st.f_namelen = MAX_NAME_LEN;
    }
    TRY(copy_to_user(buf, &st, sizeof st));
    return 0;
}

// sync(2): every mounted file system writes back what it caches (an inode's fsync writes its
// whole file system back; memory file systems have nothing to do). Errors are not reported,
// as on Linux.
SyscallResult sys_sync() {
    mount_table().for_each([](Mount& m) {
        if (m.root) (void)m.root->fsync(false);
    });
    return 0;
}

}  // namespace lamina::posix
