// lamina:portable
// An open file or directory of the VFS as a file object: read, write, pread, pwrite, lseek and
// getdents64 with the description's offset and flags, fstat, ftruncate and fsync through the
// inode.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/vfs/mount.h"

namespace lamina::posix {

class VnodeFile final : public FileObject {
public:
    // The description for an opened path: the inode's own object when it has one (devices),
    // a VnodeFile otherwise.
    static Result<RefPtr<OpenFile>> open(Location loc, uint32_t oflags);
    Inode& inode() const { return *loc_.inode; }

    Result<size_t> read(OpenFile& f, void* dst, size_t n) override;
    Result<size_t> write(OpenFile& f, const void* src, size_t n) override;
    Result<size_t> pread(OpenFile& f, void* dst, size_t n, uint64_t offset) override;
    Result<size_t> pwrite(OpenFile& f, const void* src, size_t n, uint64_t offset) override;
    Result<uint64_t> lseek(OpenFile& f, int64_t offset, int whence) override;
    Result<size_t> getdents64(OpenFile& f, uint8_t* buf, size_t n) override;
    Result<void> stat(Stat& st) override { return loc_.inode->getattr(st); }
    Result<void> truncate(OpenFile& f, int64_t length) override;
    Result<void> fsync(OpenFile&, bool data_only) override { return loc_.inode->fsync(data_only); }
    const Location* location() const override { return &loc_; }

private:
    explicit VnodeFile(Location loc) : loc_(static_cast<Location&&>(loc)) {}
    Location loc_;
};

namespace seek {
inline constexpr int Set = 0, Cur = 1, End = 2, Data = 3, Hole = 4;
}

// The new offset for lseek from the current one and the file size: EINVAL for an unknown
// whence or a negative result, EOVERFLOW past INT64_MAX, ENXIO for SEEK_DATA/SEEK_HOLE at or
// past the end (the whole file counts as data).
Result<uint64_t> seek_offset(uint64_t current, int64_t offset, int whence, int64_t size);

// The same operations through the description's object (any kind), for callers and tests
// that hold an OpenFile; negative offsets of pread/pwrite are EINVAL here.
Result<size_t> vnode_read(OpenFile& f, void* dst, size_t n);
Result<size_t> vnode_write(OpenFile& f, const void* src, size_t n);
Result<size_t> vnode_pread(OpenFile& f, void* dst, size_t n, int64_t offset);
Result<size_t> vnode_pwrite(OpenFile& f, const void* src, size_t n, int64_t offset);
Result<uint64_t> vnode_lseek(OpenFile& f, int64_t offset, int whence);
Result<size_t> vnode_getdents64(OpenFile& f, uint8_t* buf, size_t n);

}  // namespace lamina::posix
