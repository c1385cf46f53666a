// lamina:portable
#include "kernel/posix/vfs/mount.h"

namespace lamina::posix {

Result<size_t> normalize_path(const char* path, char* out, size_t cap) {
    if (!path || path[0] != '/') return Errno::Inval;
    if (cap < 2) return Errno::NameTooLong;
    size_t n = 0;
    out[n++] = '/';
    size_t i = 0;
    while (path[i]) {
        while (path[i] == '/') i++;
        if (!path[i]) break;
        size_t start = i;
        while (path[i] && path[i] != '/') i++;
        size_t len = i - start;
        if (len == 1 && path[start] == '.') continue;
        if (len == 2 && path[start] == '.' && path[start + 1] == '.') {
            while (n > 1 && out[n - 1] != '/') n--;
            if (n > 1) n--;
            continue;
        }
        if (n > 1) {
            if (n + 1 >= cap) return Errno::NameTooLong;
            out[n++] = '/';
        }
        if (n + len >= cap) return Errno::NameTooLong;
        for (size_t k = 0; k < len; k++) out[n++] = path[start + k];
    }
    out[n] = 0;
    return n;
}

Result<Location> MountTable::mount_root(RefPtr<Inode> root) {
    if (!root) return Errno::Inval;
    if (!is_dir(root->mode())) return Errno::NotDir;
    if (mounts_[0].used) return Errno::Busy;
    Mount& m = mounts_[0];
    m.used = true;
    m.parent = nullptr;
    m.root = root;
    m.path[0] = '/';
    m.path[1] = 0;
    m.path_len = 1;
    stamp_[0] = next_stamp_++;
    return Location{static_cast<RefPtr<Inode>&&>(root), &m};
}

Location MountTable::root() const {
    if (!mounts_[0].used) return Location{};
    return Location{mounts_[0].root, const_cast<Mount*>(&mounts_[0])};
}

Result<Mount*> MountTable::mount(const Location& at, const char* path, RefPtr<Inode> fs_root) {
    if (!at.inode || !at.mount || !fs_root) return Errno::Inval;
    if (!is_dir(at.inode->mode()) || !is_dir(fs_root->mode())) return Errno::NotDir;
    char norm[sizeof(Mount::path)];
    size_t len = TRY(normalize_path(path, norm, sizeof norm));
    for (size_t i = 1; i < MAX_MOUNTS; i++) {
        if (mounts_[i].used) continue;
        Mount& m = mounts_[i];
        m.used = true;
        m.parent = at.mount;
        m.mountpoint = at.inode;
        m.root = static_cast<RefPtr<Inode>&&>(fs_root);
        __builtin_memcpy(m.path, norm, len + 1);
        m.path_len = len;
        stamp_[i] = next_stamp_++;
        return &m;
    }
    return Errno::NoMem;
}

Result<void> MountTable::umount(const Location& at) {
    Mount* m = at.mount;
    if (!m || !at.inode || !m->used || !m->root->same_as(*at.inode)) return Errno::Inval;
    if (!m->parent) return Errno::Busy;  // the root file system stays
    for (size_t i = 0; i < MAX_MOUNTS; i++) {
        if (mounts_[i].used && mounts_[i].parent == m) return Errno::Busy;
    }
    m->used = false;
    m->parent = nullptr;
    m->mountpoint = nullptr;
    m->root = nullptr;
    m->path_len = 0;
    return {};
}

Mount* MountTable::covering(const Mount* parent, const Inode& dir) const {
    const Mount* best = nullptr;
    uint64_t best_stamp = 0;
    for (size_t i = 1; i < MAX_MOUNTS; i++) {
        const Mount& m = mounts_[i];
        if (m.used && m.parent == parent && m.mountpoint->same_as(dir) && stamp_[i] > best_stamp) {
            best = &m;
            best_stamp = stamp_[i];
        }
    }
    return const_cast<Mount*>(best);
}

Mount* MountTable::longest_prefix(const char* path, size_t* rest) const {
    const Mount* best = nullptr;
    size_t best_len = 0;
    uint64_t best_stamp = 0;
    for (size_t i = 0; i < MAX_MOUNTS; i++) {
        const Mount& m = mounts_[i];
        if (!m.used) continue;
        size_t k = 0;
        while (k < m.path_len && path[k] == m.path[k]) k++;
        if (k != m.path_len) continue;
        // "/mnt" is a prefix of "/mnt" and "/mnt/x", not of "/mntx".
        if (m.path_len > 1 && path[k] != 0 && path[k] != '/') continue;
        if (m.path_len > best_len || (m.path_len == best_len && stamp_[i] > best_stamp)) {
            best = &m;
            best_len = m.path_len;
            best_stamp = stamp_[i];
        }
    }
    if (rest) *rest = best_len;
    return const_cast<Mount*>(best);
}

size_t MountTable::count() const {
    size_t n = 0;
    for (const Mount& m : mounts_) n += m.used ? 1 : 0;
    return n;
}

}  // namespace lamina::posix
