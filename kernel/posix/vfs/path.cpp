// lamina:portable
#include "kernel/posix/vfs/path.h"

#include <new>

namespace lamina::posix {

bool Credentials::in_group(uint32_t g) const {
    if (g == gid) return true;
    for (size_t i = 0; i < ngroups; i++) {
        if (groups[i] == g) return true;
    }
    return false;
}

Result<void> check_access(uint32_t m, uint32_t uid, uint32_t gid, const Credentials& cred, int mask) {
    uint32_t bits;
    if (cred.uid == uid)
        bits = (m >> 6) & 7;
    else if (cred.in_group(gid))
        bits = (m >> 3) & 7;
    else
        bits = m & 7;
    if ((bits & uint32_t(mask)) == uint32_t(mask)) return {};
    if (cred.capable(cap::DAC_OVERRIDE) && (!(mask & access::Exec) || is_dir(m) || (m & 0111))) return {};
    if (cred.capable(cap::DAC_READ_SEARCH) && !(mask & access::Write) && (mask == access::Read || is_dir(m))) return {};
    return Errno::Acces;
}

namespace {

// The walk's two scratch buffers (the path being resolved, with symlink targets spliced in,
// and a symlink's target), on the heap: 8 KiB is too much for a kernel stack.
struct Scratch {
    char path[MAX_PATH_LEN];
    char link[MAX_PATH_LEN];
};

struct ScratchHolder {
    Scratch* s = new (std::nothrow) Scratch;
    ~ScratchHolder() { delete s; }
};

Result<void> may_search(const PathContext& ctx, Inode& dir) {
    if (ctx.cred.capable(cap::DAC_OVERRIDE) || ctx.cred.capable(cap::DAC_READ_SEARCH)) return {};
    Stat st{};
    TRY(dir.getattr(st));
    return check_access(st.st_mode, st.st_uid, st.st_gid, ctx.cred, access::Exec);
}

// "..": leave mounted roots towards their mountpoints first; never above the process root.
Result<Location> step_up(const PathContext& ctx, Location cur) {
    for (;;) {
        if (cur.same_as(ctx.root)) return cur;
        Mount* m = cur.mount;
        if (!m || !m->root->same_as(*cur.inode)) break;
        if (!m->parent) return cur;  // the root of everything
        cur = Location{m->mountpoint, m->parent};
    }
    RefPtr<Inode> parent = TRY(cur.inode->lookup(Name{"..", 2}));
    if (!parent) return Errno::IO;
    return Location{static_cast<RefPtr<Inode>&&>(parent), cur.mount};
}

Location step_down(const PathContext& ctx, Location loc) {
    while (Mount* m = ctx.mounts.covering(loc.mount, *loc.inode)) loc = Location{m->root, m};
    return loc;
}

Result<Location> walk(const PathContext& ctx, const char* path, uint32_t flags, ParentResult* parent_out) {
    if (!path) return Errno::Fault;
    size_t end = 0;
    while (end < MAX_PATH_LEN && path[end]) end++;
    if (end == MAX_PATH_LEN) return Errno::NameTooLong;
    if (end == 0) return Errno::NoEnt;
    if (!ctx.root.inode || !ctx.cwd.inode) return Errno::NoEnt;

    ScratchHolder scratch;
    if (!scratch.s) return Errno::NoMem;
    char* buf = scratch.s->path;
    __builtin_memcpy(buf, path, end);

    Location cur = buf[0] == '/' ? ctx.root : ctx.cwd;
    int links = 0;
    bool final_trailing = false;
    bool had_component = false;
    size_t pos = 0;
    for (;;) {
        while (pos < end && buf[pos] == '/') pos++;
        if (pos == end) break;
        size_t start = pos;
        while (pos < end && buf[pos] != '/') pos++;
        Name name{buf + start, pos - start};
        size_t after = pos;
        while (after < end && buf[after] == '/') after++;
        bool last = after == end;
        bool trailing = last && pos < end;
        had_component = true;

        if (!is_dir(cur.inode->mode())) return Errno::NotDir;
        TRY(may_search(ctx, *cur.inode));
        if (name.len > MAX_NAME_LEN) return Errno::NameTooLong;

        if (last && parent_out) {
            parent_out->parent = cur;
            parent_out->trailing_slash = trailing;
            parent_out->kind = name.equals(".")    ? ParentResult::Dot
                               : name.equals("..") ? ParentResult::DotDot
                                                   : ParentResult::Normal;
            __builtin_memcpy(parent_out->name, name.ptr, name.len);
            parent_out->name[name.len] = 0;
            parent_out->name_len = name.len;
            return cur;
        }
        final_trailing = trailing;
        if (name.equals(".")) continue;
        if (name.equals("..")) {
            cur = TRY(step_up(ctx, cur));
            continue;
        }
        RefPtr<Inode> child = TRY(cur.inode->lookup(name));
        if (!child) return Errno::IO;  // a file system that found nothing must say ENOENT
        if (is_symlink(child->mode()) && (!last || trailing || (flags & lookup::Follow))) {
            if (++links > MAX_SYMLINKS) return Errno::Loop;
            char* target = scratch.s->link;
            size_t tlen = TRY(child->readlink(target, MAX_PATH_LEN));
            if (tlen == 0) return Errno::NoEnt;
            if (tlen >= MAX_PATH_LEN) return Errno::NameTooLong;
            // The target replaces the component; what followed it (slashes included, so a
            // trailing slash still demands a directory) stays after it.
            size_t rest = end - pos;
            if (tlen + rest >= MAX_PATH_LEN) return Errno::NameTooLong;
            __builtin_memmove(buf + tlen, buf + pos, rest);
            __builtin_memcpy(buf, target, tlen);
            end = tlen + rest;
            pos = 0;
            if (buf[0] == '/') cur = ctx.root;
            continue;
        }
        cur = step_down(ctx, Location{static_cast<RefPtr<Inode>&&>(child), cur.mount});
    }

    if (parent_out) {
        // Only slashes: the root, which has no parent and no name.
        parent_out->parent = cur;
        parent_out->kind = ParentResult::Root;
        parent_out->trailing_slash = true;
        parent_out->name_len = 0;
        parent_out->name[0] = 0;
        (void)had_component;
        return cur;
    }
    if ((final_trailing || (flags & lookup::Directory)) && !is_dir(cur.inode->mode())) return Errno::NotDir;
    return cur;
}

}  // namespace

Result<Location> resolve(const PathContext& ctx, const char* path, uint32_t flags) {
    return walk(ctx, path, flags, nullptr);
}

Result<void> resolve_parent(const PathContext& ctx, const char* path, ParentResult& out) {
    TRY(walk(ctx, path, 0, &out));
    return {};
}

}  // namespace lamina::posix
