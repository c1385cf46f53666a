// lamina:portable
// The mount table: which file system root covers which directory. Resolution crosses a mount
// downwards when a lookup lands on a covered directory and upwards when ".." leaves a mounted
// root; a position in the name space is therefore an inode together with its mount.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/vfs/inode.h"

namespace lamina::posix {

struct Mount {
    Mount* parent = nullptr;   // null for the root mount
    RefPtr<Inode> mountpoint;  // the covered directory, in parent's file system
    RefPtr<Inode> root;        // the mounted file system's root directory
    char path[256] = {};       // lexically normalized absolute path, for /proc/mounts
    size_t path_len = 0;
    bool used = false;
};

struct Location {
    RefPtr<Inode> inode;
    Mount* mount = nullptr;
    bool same_as(const Location& o) const { return mount == o.mount && inode && o.inode && inode->same_as(*o.inode); }
};

class MountTable {
public:
    static constexpr size_t MAX_MOUNTS = 64;

    // The root file system; only once.
    Result<Location> mount_root(RefPtr<Inode> root);
    Location root() const;

    // Mounts `fs_root` on the directory `at` (a resolved location); `path` is the absolute
    // path it was found by (kept lexically normalized). Mounting on a covered directory
    // stacks: the newest mount is the one resolution sees.
    Result<Mount*> mount(const Location& at, const char* path, RefPtr<Inode> fs_root);
    // Unmounts the file system whose root is `at`. EINVAL when `at` is not a mounted root,
    // EBUSY while something is mounted inside it. Locations point at their Mount without a
    // count, so the caller must first make sure no cwd, root or open file is inside the file
    // system (Linux's EBUSY for a busy file system); this table cannot see those.
    Result<void> umount(const Location& at);

    // The newest mount covering `dir` in `parent`'s file system, or null.
    Mount* covering(const Mount* parent, const Inode& dir) const;
    // The mount whose path is the longest prefix of the normalized absolute path `path`;
    // *rest is set to the offset of the part below it.
    Mount* longest_prefix(const char* path, size_t* rest) const;
    size_t count() const;
    // Calls fn(mount) for every mounted file system (sync).
    template <typename Fn>
    void for_each(Fn&& fn) {
        for (Mount& m : mounts_)
            if (m.used) fn(m);
    }

private:
    Mount mounts_[MAX_MOUNTS];
    uint64_t stamp_[MAX_MOUNTS] = {};  // mount order, for stacking
    uint64_t next_stamp_ = 1;
};

// Lexical normalization of an absolute path ("//a/./b/../c/" -> "/a/c") into out[cap].
Result<size_t> normalize_path(const char* path, char* out, size_t cap);

}  // namespace lamina::posix
