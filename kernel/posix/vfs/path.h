// lamina:portable
// Path resolution with Linux's semantics (path_resolution(7)): absolute or relative to a
// starting directory (cwd or a dirfd), "." and "..", ".." at the process root staying there,
// mounts crossed both ways, trailing slashes requiring a directory, at most 40 symbolic links
// per resolution, search permission on every directory traversed.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/cred.h"
#include "kernel/posix/vfs/mount.h"

namespace lamina::posix {

// Who a file operation runs as: a process's file-system ids, groups and effective
// capabilities (kernel/posix/cred.h). Built from ids alone, uid 0 holds root's capabilities.
struct Credentials {
    uint32_t uid = 0;
    uint32_t gid = 0;
    const uint32_t* groups = nullptr;  // supplementary groups
    size_t ngroups = 0;
    CapSet caps = uid == 0 ? KNOWN_CAPS : 0;
    bool in_group(uint32_t g) const;
    bool capable(int c) const { return caps & cap::bit(c); }
};

namespace access {
inline constexpr int Read = 4, Write = 2, Exec = 1;
}

// The classic owner/group/other check, then the overrides: CAP_DAC_OVERRIDE reads and writes
// anything, searches any directory and executes a file with at least one execute bit;
// CAP_DAC_READ_SEARCH reads any file and reads and searches any directory.
Result<void> check_access(uint32_t mode, uint32_t uid, uint32_t gid, const Credentials& cred, int mask);

// Where a resolution starts and as whom.
struct PathContext {
    const MountTable& mounts;
    Location root;  // the process root (chroot); ".." never leaves it
    Location cwd;   // for relative paths: the cwd, or the directory of a dirfd
    const Credentials& cred;
};

namespace lookup {
inline constexpr uint32_t Follow = 1;     // follow a final symlink (not lstat/O_NOFOLLOW)
inline constexpr uint32_t Directory = 2;  // the result must be a directory (O_DIRECTORY)
}  // namespace lookup

Result<Location> resolve(const PathContext& ctx, const char* path, uint32_t flags);

// For operations on the last component (create, unlink, rename, mkdir...): the directory it
// is in, and the name itself, unresolved.
struct ParentResult {
    enum Kind : uint8_t { Normal, Dot, DotDot, Root };
    Location parent;
    Kind kind = Normal;
    bool trailing_slash = false;  // "a/b/": the caller's object must be (or become) a directory
    size_t name_len = 0;
    char name[MAX_NAME_LEN + 1] = {};
    Name last() const { return Name{name, name_len}; }
};
// Symlinks on the way are followed; the last component is not looked up. Search permission
// on the parent is checked (the caller checks write permission where it modifies it).
Result<void> resolve_parent(const PathContext& ctx, const char* path, ParentResult& out);

}  // namespace lamina::posix
