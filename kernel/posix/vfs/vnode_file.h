// lamina:portable
// An open file or directory of the VFS as a file object, and what read, write, pread,
// pwrite, lseek and getdents64 do with the description's offset and flags.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/vfs/mount.h"

namespace lamina::posix {

class VnodeFile final : public FileObject {
public:
    static Result<RefPtr<OpenFile>> open(Location loc, uint32_t oflags);
    Inode& inode() const { return *loc_.inode; }
    const Location& location() const { return loc_; }

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

// f must refer to a VnodeFile.
Result<size_t> vnode_read(OpenFile& f, void* dst, size_t n);
Result<size_t> vnode_write(OpenFile& f, const void* src, size_t n);
Result<size_t> vnode_pread(OpenFile& f, void* dst, size_t n, int64_t offset);
Result<size_t> vnode_pwrite(OpenFile& f, const void* src, size_t n, int64_t offset);
Result<uint64_t> vnode_lseek(OpenFile& f, int64_t offset, int whence);
Result<size_t> vnode_getdents64(OpenFile& f, uint8_t* buf, size_t n);

}  // namespace lamina::posix
