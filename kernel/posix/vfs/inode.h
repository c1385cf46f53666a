// lamina:portable
// The VFS's view of a file system: inodes with virtual operations. File systems (the fs
// domain's proxy, devfs, procfs, test file systems) implement Inode; the VFS core only
// resolves paths, crosses mounts and checks permissions. Operations a kind of inode does not
// support fail with the errno Linux gives for them.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/ref_ptr.h>
#include <lamina/result.h>

namespace lamina::posix {

class FileObject;
struct Location;

inline constexpr size_t MAX_NAME_LEN = 255;   // NAME_MAX
inline constexpr size_t MAX_PATH_LEN = 4096;  // PATH_MAX, the terminating NUL included
inline constexpr int MAX_SYMLINKS = 40;       // MAXSYMLINKS

// st_mode bits (Linux values).
namespace mode {
inline constexpr uint32_t TypeMask = 0170000, Socket = 0140000, Symlink = 0120000, Regular = 0100000, Block = 060000,
                          Directory = 040000, Char = 020000, Fifo = 010000;
inline constexpr uint32_t SetUid = 04000, SetGid = 02000, Sticky = 01000, PermMask = 07777;
}  // namespace mode

inline bool is_dir(uint32_t m) { return (m & mode::TypeMask) == mode::Directory; }
inline bool is_symlink(uint32_t m) { return (m & mode::TypeMask) == mode::Symlink; }
inline bool is_regular(uint32_t m) { return (m & mode::TypeMask) == mode::Regular; }

struct Timespec {
    int64_t tv_sec;
    int64_t tv_nsec;
};

// struct stat as the x86-64 Linux kernel writes it.
struct Stat {
    uint64_t st_dev;
    uint64_t st_ino;
    uint64_t st_nlink;
    uint32_t st_mode;
    uint32_t st_uid;
    uint32_t st_gid;
    int32_t pad0;
    uint64_t st_rdev;
    int64_t st_size;
    int64_t st_blksize;
    int64_t st_blocks;
    Timespec st_atim;
    Timespec st_mtim;
    Timespec st_ctim;
    int64_t unused[3];
};
static_assert(sizeof(Stat) == 144);
static_assert(__builtin_offsetof(Stat, st_mode) == 24);
static_assert(__builtin_offsetof(Stat, st_rdev) == 40);
static_assert(__builtin_offsetof(Stat, st_size) == 48);
static_assert(__builtin_offsetof(Stat, st_atim) == 72);

// What setattr changes (chmod, chown, truncate, utimensat).
struct SetAttr {
    static constexpr uint32_t Mode = 1, Uid = 2, Gid = 4, Size = 8, Atime = 16, Mtime = 32;
    uint32_t mask = 0;
    uint32_t mode = 0;  // permission bits only
    uint32_t uid = 0;
    uint32_t gid = 0;
    int64_t size = 0;
    Timespec atime{};
    Timespec mtime{};
};

// struct statfs as the x86-64 Linux kernel writes it.
struct StatFs {
    int64_t f_type;
    int64_t f_bsize;
    uint64_t f_blocks;
    uint64_t f_bfree;
    uint64_t f_bavail;
    uint64_t f_files;
    uint64_t f_ffree;
    int32_t f_fsid[2];
    int64_t f_namelen;
    int64_t f_frsize;
    int64_t f_flags;
    int64_t f_spare[4];
};
static_assert(sizeof(StatFs) == 120);

// A path component: not NUL-terminated, never empty, no '/'.
struct Name {
    const char* ptr;
    size_t len;
    bool equals(const char* s) const {
        size_t i = 0;
        for (; i < len; i++) {
            if (s[i] != ptr[i]) return false;
        }
        return s[i] == 0;
    }
};

// d_type values.
namespace dtype {
inline constexpr uint8_t Unknown = 0, Fifo = 1, Char = 2, Dir = 4, Block = 6, Regular = 8, Symlink = 10, Socket = 12;
}

struct DirEntry {
    uint64_t ino;
    uint8_t type;
    uint16_t name_len;
    char name[MAX_NAME_LEN + 1];
};

class Inode : public RefCounted {
public:
    // Identity: two Inode objects are the same file when dev and ino match (a file system may
    // hand out a fresh object on every lookup).
    virtual uint64_t dev() const = 0;
    virtual uint64_t ino() const = 0;
    // File type and permission bits; cheap, used on every path step.
    virtual uint32_t mode() const = 0;
    virtual Result<void> getattr(Stat& st) = 0;
    virtual Result<void> setattr(const SetAttr&) { return Errno::Perm; }

    // Directories. lookup must understand "..", which the resolver uses to go up, and returns
    // an inode or an error (ENOENT for a missing name), never null.
    virtual Result<RefPtr<Inode>> lookup(Name) { return Errno::NotDir; }
    // Returns false after the last entry; cookie 0 starts from the beginning.
    virtual Result<bool> readdir(uint64_t& /*cookie*/, DirEntry&) { return Errno::NotDir; }
    virtual Result<RefPtr<Inode>> create(Name, uint32_t /*mode*/, uint32_t /*uid*/, uint32_t /*gid*/) {
        return Errno::NotDir;
    }
    virtual Result<RefPtr<Inode>> mkdir(Name, uint32_t /*mode*/, uint32_t /*uid*/, uint32_t /*gid*/) {
        return Errno::NotDir;
    }
    virtual Result<RefPtr<Inode>> symlink(Name, Name /*target*/, uint32_t /*uid*/, uint32_t /*gid*/) {
        return Errno::NotDir;
    }
    virtual Result<void> link(Name, Inode& /*target*/) { return Errno::NotDir; }
    virtual Result<void> unlink(Name) { return Errno::NotDir; }
    virtual Result<void> rmdir(Name) { return Errno::NotDir; }
    // Moves this directory's entry `from` to `to` in `new_dir` (same file system: the VFS
    // checks that, EXDEV otherwise).
    virtual Result<void> rename(Name /*from*/, Inode& /*new_dir*/, Name /*to*/) { return Errno::NotDir; }

    // Files.
    virtual Result<size_t> read(uint64_t /*offset*/, void*, size_t) {
        return is_dir(mode()) ? Errno::IsDir : Errno::Inval;
    }
    virtual Result<size_t> write(uint64_t /*offset*/, const void*, size_t) {
        return is_dir(mode()) ? Errno::IsDir : Errno::Inval;
    }
    // Symbolic links: the target's length (no NUL is written).
    virtual Result<size_t> readlink(char*, size_t) { return Errno::Inval; }

    // Inodes with their own open-file behaviour (device nodes, procfs files whose text is made
    // at open) return their object; null means an ordinary VnodeFile over this inode.
    // `loc` is where it was opened; oflags are open's (access mode and status flags).
    virtual Result<RefPtr<FileObject>> open_file(const Location& loc, uint32_t oflags);
    // fsync/fdatasync: nothing to do for memory file systems.
    virtual Result<void> fsync(bool /*data_only*/) { return {}; }
    // statfs(2) of the file system the inode is in.
    virtual Result<void> statfs(StatFs& st) {
        st = StatFs{};
        st.f_bsize = st.f_frsize = 4096;
        st.f_namelen = MAX_NAME_LEN;
        return {};
    }

    bool same_as(const Inode& o) const { return dev() == o.dev() && ino() == o.ino(); }
};

}  // namespace lamina::posix
