// lamina:portable
// The path-based file operations with Linux's checks and errno choices, on top of path
// resolution and the Inode interface: what open, mkdir, unlink, rmdir, rename, link, symlink,
// readlink, stat, chmod, chown, truncate and access do before (and instead of) asking the
// file system. Each takes the resolution context of the calling process (for *at calls, with
// the dirfd's directory as cwd). Modes arrive with the umask already applied.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/vfs/path.h"

namespace lamina::posix {

struct OpenedPath {
    Location loc;
    bool created = false;
};

// open(2)'s name-space part: O_CREAT/O_EXCL/O_NOFOLLOW/O_DIRECTORY/O_TRUNC/O_PATH and the
// access checks for the requested access mode. Turning the result into an open file
// description is the caller's.
Result<OpenedPath> vfs_open(const PathContext& ctx, const char* path, uint32_t oflags, uint32_t mode);

Result<void> vfs_mkdir(const PathContext& ctx, const char* path, uint32_t mode);
// bind(2) of an AF_UNIX socket to a path: a new socket node (mode S_IFSOCK | perm).
Result<RefPtr<Inode>> vfs_mknod_socket(const PathContext& ctx, const char* path, uint32_t perm);
Result<void> vfs_unlink(const PathContext& ctx, const char* path);
Result<void> vfs_rmdir(const PathContext& ctx, const char* path);
Result<void> vfs_rename(const PathContext& from_ctx, const char* from, const PathContext& to_ctx, const char* to);
// linkat: `follow` is AT_SYMLINK_FOLLOW.
Result<void> vfs_link(const PathContext& from_ctx, const char* from, const PathContext& to_ctx, const char* to,
                      bool follow);
Result<void> vfs_symlink(const PathContext& ctx, const char* target, const char* path);
Result<size_t> vfs_readlink(const PathContext& ctx, const char* path, char* buf, size_t n);
// stat/lstat/fstatat: `follow` is false for lstat and AT_SYMLINK_NOFOLLOW.
Result<void> vfs_stat(const PathContext& ctx, const char* path, bool follow, Stat& st);
Result<void> vfs_chmod(const PathContext& ctx, const char* path, uint32_t mode);
// The same checks and changes on an inode already found (fchmod, fchown, futimens).
Result<void> vfs_chmod_inode(const Credentials& cred, Inode& ino, uint32_t mode);
Result<void> vfs_chown_inode(const Credentials& cred, Inode& ino, uint32_t uid, uint32_t gid);
Result<void> vfs_utimens_inode(const Credentials& cred, Inode& ino, const Timespec* times, Timespec now);
// uid or gid of 0xffffffff leaves it unchanged.
Result<void> vfs_chown(const PathContext& ctx, const char* path, uint32_t uid, uint32_t gid, bool follow);
Result<void> vfs_truncate(const PathContext& ctx, const char* path, int64_t length);
// utimensat(2): times null means both now; tv_nsec may be UTIMENS_NOW or UTIMENS_OMIT.
inline constexpr int64_t UTIMENS_NOW = (1 << 30) - 1;
inline constexpr int64_t UTIMENS_OMIT = (1 << 30) - 2;
Result<void> vfs_utimens(const PathContext& ctx, const char* path, const Timespec* times, Timespec now, bool follow);
// access(2)/faccessat: F_OK is 0, else R_OK/W_OK/X_OK bits.
Result<void> vfs_access(const PathContext& ctx, const char* path, int mask);

}  // namespace lamina::posix
