// lamina:portable
#include "kernel/posix/vfs/ops.h"

#include "kernel/posix/fd/open_flags.h"

namespace lamina::posix {

namespace {

constexpr uint32_t UNCHANGED = 0xffffffff;

Result<Stat> stat_of(Inode& i) {
    Stat st{};
    TRY(i.getattr(st));
    return st;
}

Result<void> may(const PathContext& ctx, Inode& i, int mask) {
    Stat st = TRY(stat_of(i));
    return check_access(st.st_mode, st.st_uid, st.st_gid, ctx.cred, mask);
}

// Creating or removing an entry needs write and search permission on the directory.
Result<void> may_modify_dir(const PathContext& ctx, Inode& dir) { return may(ctx, dir, access::Write | access::Exec); }

// In a sticky directory only the owner of the entry or of the directory (or root) may remove
// or replace the entry.
Result<void> sticky_check(const PathContext& ctx, Inode& dir, Inode& victim) {
    if (ctx.cred.capable(cap::FOWNER)) return {};
    Stat d = TRY(stat_of(dir));
    if (!(d.st_mode & mode::Sticky)) return {};
    Stat v = TRY(stat_of(victim));
    if (v.st_uid == ctx.cred.uid || d.st_uid == ctx.cred.uid) return {};
    return Errno::Perm;
}

// A mounted-on directory or a mounted root cannot be removed or replaced.
bool busy(const PathContext& ctx, const Location& parent, Inode& victim) {
    return ctx.mounts.covering(parent.mount, victim) != nullptr;
}

// A lookup that must find something (a file system returning null without an error is
// treated as an I/O error rather than trusted).
Result<RefPtr<Inode>> lookup_existing(Inode& dir, Name name) {
    RefPtr<Inode> r = TRY(dir.lookup(name));
    if (!r) return Errno::IO;
    return r;
}

// Looks the last component up; a missing entry is a null result, not an error.
Result<RefPtr<Inode>> lookup_optional(Inode& dir, Name name) {
    auto r = dir.lookup(name);
    if (r.is_error()) {
        if (r.error().code() == Errno::NoEnt) return RefPtr<Inode>();
        return r.error();
    }
    return r.release_value();
}

// The new entry of mkdir/symlink/link: EEXIST when taken, ENOENT for a trailing slash on a
// name that is not going to be a directory.
Result<void> check_new_name(Inode& dir, const ParentResult& p, bool makes_dir) {
    if (p.kind != ParentResult::Normal) return Errno::Exist;
    RefPtr<Inode> existing = TRY(lookup_optional(dir, p.last()));
    if (existing) return Errno::Exist;
    if (p.trailing_slash && !makes_dir) return Errno::NoEnt;
    return {};
}

// The group of a new file: the directory's when it is set-group-ID.
Result<uint32_t> new_gid(const PathContext& ctx, Inode& dir) {
    Stat d = TRY(stat_of(dir));
    return (d.st_mode & mode::SetGid) ? d.st_gid : ctx.cred.gid;
}

// Whether `dir` is `ancestor` or below it (same mount), found by walking "..".
Result<bool> is_within(const Location& dir, Inode& ancestor) {
    RefPtr<Inode> cur = dir.inode;
    for (int depth = 0; depth < 4096; depth++) {
        if (cur->same_as(ancestor)) return true;
        RefPtr<Inode> up = TRY(lookup_existing(*cur, Name{"..", 2}));
        if (up->same_as(*cur)) return false;
        cur = static_cast<RefPtr<Inode>&&>(up);
    }
    return Errno::Loop;
}

}  // namespace

Result<OpenedPath> vfs_open(const PathContext& ctx, const char* path, uint32_t oflags, uint32_t perm) {
    uint32_t acc = oflags & oflag::AccMode;
    if (acc == oflag::AccMode && !(oflags & oflag::Path)) return Errno::Inval;
    bool o_path = oflags & oflag::Path;
    if (o_path) oflags &= oflag::Path | oflag::Directory | oflag::NoFollow | oflag::CloExec;
    bool follow = !(oflags & oflag::NoFollow);
    OpenedPath out;

    if (oflags & oflag::Creat) {
        ParentResult p;
        TRY(resolve_parent(ctx, path, p));
        if (p.kind != ParentResult::Normal || p.trailing_slash) return Errno::IsDir;
        RefPtr<Inode> existing = TRY(lookup_optional(*p.parent.inode, p.last()));
        if (existing && (oflags & oflag::Excl)) return Errno::Exist;
        if (!existing) {
            TRY(may_modify_dir(ctx, *p.parent.inode));
            uint32_t gid = TRY(new_gid(ctx, *p.parent.inode));
            RefPtr<Inode> made = TRY(p.parent.inode->create(p.last(), perm & mode::PermMask, ctx.cred.uid, gid));
            out.loc = Location{static_cast<RefPtr<Inode>&&>(made), p.parent.mount};
            out.created = true;
            // A new file is opened with the access asked for, whatever its mode says.
            return out;
        }
        // An existing name: opened as if O_CREAT had not been given (a dangling symlink's
        // target is not created: that is refused with ENOENT here).
        if (is_symlink(existing->mode()) && !follow) return Errno::Loop;
        out.loc = TRY(resolve(ctx, path, lookup::Follow));
        if (is_dir(out.loc.inode->mode())) return Errno::IsDir;
    } else {
        uint32_t lf = (follow ? lookup::Follow : 0) | ((oflags & oflag::Directory) ? lookup::Directory : 0);
        out.loc = TRY(resolve(ctx, path, lf));
    }

    Inode& ino = *out.loc.inode;
    uint32_t m = ino.mode();
    if (is_symlink(m) && !o_path) return Errno::Loop;  // O_NOFOLLOW on a symlink
    if ((oflags & oflag::Directory) && !is_dir(m)) return Errno::NotDir;
    if (o_path) return out;
    bool wants_write = acc != oflag::ReadOnly || (oflags & oflag::Trunc);
    if (is_dir(m) && wants_write) return Errno::IsDir;
    int mask = 0;
    if (acc != oflag::WriteOnly) mask |= access::Read;
    if (wants_write) mask |= access::Write;
    TRY(may(ctx, ino, mask));
    if ((oflags & oflag::Trunc) && is_regular(m)) {
        SetAttr a;
        a.mask = SetAttr::Size;
        a.size = 0;
        TRY(ino.setattr(a));
    }
    return out;
}

Result<void> vfs_mkdir(const PathContext& ctx, const char* path, uint32_t perm) {
    ParentResult p;
    TRY(resolve_parent(ctx, path, p));
    TRY(check_new_name(*p.parent.inode, p, true));
    TRY(may_modify_dir(ctx, *p.parent.inode));
    uint32_t gid = TRY(new_gid(ctx, *p.parent.inode));
    Stat d = TRY(stat_of(*p.parent.inode));
    uint32_t bits = (perm & 01777) | (d.st_mode & mode::SetGid);
    TRY(p.parent.inode->mkdir(p.last(), bits, ctx.cred.uid, gid));
    return {};
}

// The node an AF_UNIX bind makes: EADDRINUSE (not EEXIST) when the name is taken, as bind says.
Result<RefPtr<Inode>> vfs_mknod_socket(const PathContext& ctx, const char* path, uint32_t perm) {
    ParentResult p;
    TRY(resolve_parent(ctx, path, p));
    auto fresh = check_new_name(*p.parent.inode, p, false);
    if (fresh.is_error()) return fresh.error().code() == Errno::Exist ? Errno::AddrInUse : fresh.error();
    TRY(may_modify_dir(ctx, *p.parent.inode));
    uint32_t gid = TRY(new_gid(ctx, *p.parent.inode));
    return p.parent.inode->create(p.last(), mode::Socket | (perm & mode::PermMask), ctx.cred.uid, gid);
}

Result<void> vfs_unlink(const PathContext& ctx, const char* path) {
    ParentResult p;
    TRY(resolve_parent(ctx, path, p));
    if (p.kind != ParentResult::Normal) return Errno::IsDir;
    RefPtr<Inode> victim = TRY(lookup_existing(*p.parent.inode, p.last()));
    if (is_dir(victim->mode())) return Errno::IsDir;
    if (p.trailing_slash) return Errno::NotDir;
    TRY(may_modify_dir(ctx, *p.parent.inode));
    TRY(sticky_check(ctx, *p.parent.inode, *victim));
    return p.parent.inode->unlink(p.last());
}

Result<void> vfs_rmdir(const PathContext& ctx, const char* path) {
    ParentResult p;
    TRY(resolve_parent(ctx, path, p));
    if (p.kind == ParentResult::Dot) return Errno::Inval;
    if (p.kind == ParentResult::DotDot) return Errno::NotEmpty;
    if (p.kind == ParentResult::Root) return Errno::Busy;
    RefPtr<Inode> victim = TRY(lookup_existing(*p.parent.inode, p.last()));
    if (!is_dir(victim->mode())) return Errno::NotDir;
    TRY(may_modify_dir(ctx, *p.parent.inode));
    TRY(sticky_check(ctx, *p.parent.inode, *victim));
    if (busy(ctx, p.parent, *victim)) return Errno::Busy;
    return p.parent.inode->rmdir(p.last());
}

Result<void> vfs_rename(const PathContext& from_ctx, const char* from, const PathContext& to_ctx, const char* to) {
    ParentResult op, np;
    TRY(resolve_parent(from_ctx, from, op));
    TRY(resolve_parent(to_ctx, to, np));
    if (op.kind != ParentResult::Normal || np.kind != ParentResult::Normal) return Errno::Busy;
    if (op.parent.mount != np.parent.mount) return Errno::XDev;
    RefPtr<Inode> src = TRY(lookup_existing(*op.parent.inode, op.last()));
    bool src_dir = is_dir(src->mode());
    if (!src_dir && (op.trailing_slash || np.trailing_slash)) return Errno::NotDir;
    RefPtr<Inode> dst = TRY(lookup_optional(*np.parent.inode, np.last()));
    if (dst) {
        if (dst->same_as(*src)) return {};  // the same file: nothing to do
        bool dst_dir = is_dir(dst->mode());
        if (src_dir && !dst_dir) return Errno::NotDir;
        if (!src_dir && dst_dir) return Errno::IsDir;
    }
    if (src_dir && TRY(is_within(np.parent, *src))) return Errno::Inval;
    TRY(may_modify_dir(from_ctx, *op.parent.inode));
    TRY(may_modify_dir(to_ctx, *np.parent.inode));
    TRY(sticky_check(from_ctx, *op.parent.inode, *src));
    if (dst) TRY(sticky_check(to_ctx, *np.parent.inode, *dst));
    if (busy(from_ctx, op.parent, *src) || (dst && busy(to_ctx, np.parent, *dst))) return Errno::Busy;
    return op.parent.inode->rename(op.last(), *np.parent.inode, np.last());
}

Result<void> vfs_link(const PathContext& from_ctx, const char* from, const PathContext& to_ctx, const char* to,
                      bool follow) {
    Location src = TRY(resolve(from_ctx, from, follow ? lookup::Follow : 0));
    if (is_dir(src.inode->mode())) return Errno::Perm;
    ParentResult np;
    TRY(resolve_parent(to_ctx, to, np));
    TRY(check_new_name(*np.parent.inode, np, false));
    if (np.parent.mount != src.mount) return Errno::XDev;
    TRY(may_modify_dir(to_ctx, *np.parent.inode));
    return np.parent.inode->link(np.last(), *src.inode);
}

Result<void> vfs_symlink(const PathContext& ctx, const char* target, const char* path) {
    if (!target) return Errno::Fault;
    size_t tlen = 0;
    while (tlen < MAX_PATH_LEN && target[tlen]) tlen++;
    if (tlen == 0) return Errno::NoEnt;
    if (tlen == MAX_PATH_LEN) return Errno::NameTooLong;
    ParentResult p;
    TRY(resolve_parent(ctx, path, p));
    TRY(check_new_name(*p.parent.inode, p, false));
    TRY(may_modify_dir(ctx, *p.parent.inode));
    uint32_t gid = TRY(new_gid(ctx, *p.parent.inode));
    TRY(p.parent.inode->symlink(p.last(), Name{target, tlen}, ctx.cred.uid, gid));
    return {};
}

Result<size_t> vfs_readlink(const PathContext& ctx, const char* path, char* buf, size_t n) {
    if (n == 0 || n > 0x7fffffff) return Errno::Inval;
    Location l = TRY(resolve(ctx, path, 0));
    if (!is_symlink(l.inode->mode())) return Errno::Inval;
    return l.inode->readlink(buf, n);
}

Result<void> vfs_stat(const PathContext& ctx, const char* path, bool follow, Stat& st) {
    Location l = TRY(resolve(ctx, path, follow ? lookup::Follow : 0));
    return l.inode->getattr(st);
}

Result<void> vfs_chmod_inode(const Credentials& cred, Inode& ino, uint32_t perm) {
    Stat st = TRY(stat_of(ino));
    if (cred.uid != st.st_uid && !cred.capable(cap::FOWNER)) return Errno::Perm;
    SetAttr a;
    a.mask = SetAttr::Mode;
    a.mode = perm & mode::PermMask;
    // An owner outside the file's group cannot make it set-group-ID.
    if (!cred.in_group(st.st_gid) && !cred.capable(cap::FSETID)) a.mode &= ~mode::SetGid;
    return ino.setattr(a);
}

Result<void> vfs_chmod(const PathContext& ctx, const char* path, uint32_t perm) {
    Location l = TRY(resolve(ctx, path, lookup::Follow));
    return vfs_chmod_inode(ctx.cred, *l.inode, perm);
}

Result<void> vfs_chown_inode(const Credentials& cred, Inode& ino, uint32_t uid, uint32_t gid) {
    Stat st = TRY(stat_of(ino));
    bool owner = cred.uid == st.st_uid;
    bool may_chown = cred.capable(cap::CHOWN);
    SetAttr a;
    if (uid != UNCHANGED && uid != st.st_uid) {
        if (!may_chown) return Errno::Perm;
        a.mask |= SetAttr::Uid;
        a.uid = uid;
    }
    if (gid != UNCHANGED && gid != st.st_gid) {
        // The owner may move the file to one of its own groups.
        if (!may_chown && (!owner || !cred.in_group(gid))) return Errno::Perm;
        a.mask |= SetAttr::Gid;
        a.gid = gid;
    }
    if (a.mask == 0) {
        // chown to the current values still needs to be allowed.
        if (!owner && !may_chown) return Errno::Perm;
        return {};
    }
    // Changing owner or group of a non-directory clears set-user-ID, and set-group-ID where
    // it marks a set-group-ID program (with group execute), as Linux does.
    uint32_t kill = mode::SetUid | ((st.st_mode & 0010) ? mode::SetGid : 0);
    if (!is_dir(st.st_mode) && (st.st_mode & kill)) {
        a.mask |= SetAttr::Mode;
        a.mode = st.st_mode & mode::PermMask & ~kill;
    }
    return ino.setattr(a);
}

Result<void> vfs_chown(const PathContext& ctx, const char* path, uint32_t uid, uint32_t gid, bool follow) {
    Location l = TRY(resolve(ctx, path, follow ? lookup::Follow : 0));
    return vfs_chown_inode(ctx.cred, *l.inode, uid, gid);
}

Result<void> vfs_truncate(const PathContext& ctx, const char* path, int64_t length) {
    if (length < 0) return Errno::Inval;
    Location l = TRY(resolve(ctx, path, lookup::Follow));
    uint32_t m = l.inode->mode();
    if (is_dir(m)) return Errno::IsDir;
    if (!is_regular(m)) return Errno::Inval;
    TRY(may(ctx, *l.inode, access::Write));
    SetAttr a;
    a.mask = SetAttr::Size;
    a.size = length;
    return l.inode->setattr(a);
}

namespace {

// utimensat's two times with null meaning both now; EINVAL for a bad tv_nsec.
Result<void> utimens_times(const Timespec* times, Timespec (&t)[2]) {
    t[0] = t[1] = Timespec{0, UTIMENS_NOW};
    if (times) {
        t[0] = times[0];
        t[1] = times[1];
    }
    for (const Timespec& x : t) {
        if (x.tv_nsec != UTIMENS_NOW && x.tv_nsec != UTIMENS_OMIT && (x.tv_nsec < 0 || x.tv_nsec > 999999999))
            return Errno::Inval;
    }
    return {};
}

}  // namespace

Result<void> vfs_utimens_inode(const Credentials& cred, Inode& ino, const Timespec* times, Timespec now) {
    Timespec t[2];
    TRY(utimens_times(times, t));
    if (t[0].tv_nsec == UTIMENS_OMIT && t[1].tv_nsec == UTIMENS_OMIT) return {};
    Stat st = TRY(stat_of(ino));
    bool owner = cred.uid == st.st_uid || cred.capable(cap::FOWNER);
    bool only_now = (t[0].tv_nsec == UTIMENS_NOW || t[0].tv_nsec == UTIMENS_OMIT) &&
                    (t[1].tv_nsec == UTIMENS_NOW || t[1].tv_nsec == UTIMENS_OMIT);
    if (!owner) {
        // Setting the current time needs only write permission; explicit times need ownership.
        if (!only_now) return Errno::Perm;
        TRY(check_access(st.st_mode, st.st_uid, st.st_gid, cred, access::Write));
    }
    SetAttr a;
    if (t[0].tv_nsec != UTIMENS_OMIT) {
        a.mask |= SetAttr::Atime;
        a.atime = t[0].tv_nsec == UTIMENS_NOW ? now : t[0];
    }
    if (t[1].tv_nsec != UTIMENS_OMIT) {
        a.mask |= SetAttr::Mtime;
        a.mtime = t[1].tv_nsec == UTIMENS_NOW ? now : t[1];
    }
    return ino.setattr(a);
}

Result<void> vfs_utimens(const PathContext& ctx, const char* path, const Timespec* times, Timespec now, bool follow) {
    Timespec t[2];
    TRY(utimens_times(times, t));  // EINVAL before any lookup error
    Location l = TRY(resolve(ctx, path, follow ? lookup::Follow : 0));
    return vfs_utimens_inode(ctx.cred, *l.inode, times, now);
}

Result<void> vfs_access(const PathContext& ctx, const char* path, int mask) {
    if (mask & ~(access::Read | access::Write | access::Exec)) return Errno::Inval;
    Location l = TRY(resolve(ctx, path, lookup::Follow));
    if (mask == 0) return {};
    return may(ctx, *l.inode, mask);
}

}  // namespace lamina::posix
