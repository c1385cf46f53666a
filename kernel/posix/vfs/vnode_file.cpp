// lamina:portable
#include "kernel/posix/vfs/vnode_file.h"

#include <new>

#include "kernel/posix/vfs/dirent.h"

namespace lamina::posix {

namespace {

constexpr uint64_t MAX_OFFSET = uint64_t(INT64_MAX);

Result<int64_t> size_of(Inode& i) {
    Stat st{};
    TRY(i.getattr(st));
    return st.st_size;
}

// Linux clamps a single transfer to a bit under 2 GiB.
constexpr size_t MAX_RW_COUNT = 0x7ffff000;
size_t clamp(size_t n) { return n > MAX_RW_COUNT ? MAX_RW_COUNT : n; }

}  // namespace

Result<RefPtr<FileObject>> Inode::open_file(const Location&, uint32_t) { return RefPtr<FileObject>(); }

Result<RefPtr<OpenFile>> VnodeFile::open(Location loc, uint32_t oflags) {
    if (!loc.inode) return Errno::Inval;
    // O_PATH descriptions never reach the inode's own open behaviour.
    if (!(oflags & oflag::Path)) {
        RefPtr<FileObject> own = TRY(loc.inode->open_file(loc, oflags));
        if (own) return OpenFile::create(static_cast<RefPtr<FileObject>&&>(own), oflags);
    }
    RefPtr<FileObject> v = TRY(adopt_ref_or_nomem(new (std::nothrow) VnodeFile(static_cast<Location&&>(loc))));
    return OpenFile::create(static_cast<RefPtr<FileObject>&&>(v), oflags);
}

Result<uint64_t> seek_offset(uint64_t current, int64_t offset, int whence, int64_t size) {
    int64_t base;
    switch (whence) {
        case seek::Set:
            base = 0;
            break;
        case seek::Cur:
            base = int64_t(current);
            break;
        case seek::End:
            base = size;
            break;
        case seek::Data:
            if (offset < 0) return Errno::NXIO;
            if (offset >= size) return Errno::NXIO;
            return uint64_t(offset);
        case seek::Hole:
            if (offset < 0 || offset >= size) return Errno::NXIO;
            return uint64_t(size);
        default:
            return Errno::Inval;
    }
    int64_t result;
    if (__builtin_add_overflow(base, offset, &result)) return Errno::Overflow;
    if (result < 0) return Errno::Inval;
    return uint64_t(result);
}

Result<size_t> VnodeFile::read(OpenFile& f, void* dst, size_t n) {
    if (!f.readable()) return Errno::BadF;
    if (is_dir(inode().mode())) return Errno::IsDir;
    size_t k = TRY(inode().read(f.offset, dst, clamp(n)));
    f.offset += k;
    return k;
}

Result<size_t> VnodeFile::write(OpenFile& f, const void* src, size_t n) {
    if (!f.writable()) return Errno::BadF;
    Inode& i = inode();
    if (is_dir(i.mode())) return Errno::IsDir;
    // O_APPEND: every write goes to the current end, and leaves the offset after it.
    if (f.append()) f.offset = uint64_t(TRY(size_of(i)));
    n = clamp(n);
    if (f.offset > MAX_OFFSET || n > MAX_OFFSET - f.offset) return Errno::FBig;
    size_t k = TRY(i.write(f.offset, src, n));
    f.offset += k;
    return k;
}

Result<size_t> VnodeFile::pread(OpenFile& f, void* dst, size_t n, uint64_t offset) {
    if (offset > MAX_OFFSET) return Errno::Inval;
    if (!f.readable()) return Errno::BadF;
    if (is_dir(inode().mode())) return Errno::IsDir;
    return inode().read(offset, dst, clamp(n));
}

Result<size_t> VnodeFile::pwrite(OpenFile& f, const void* src, size_t n, uint64_t offset) {
    if (offset > MAX_OFFSET) return Errno::Inval;
    if (!f.writable()) return Errno::BadF;
    Inode& i = inode();
    if (is_dir(i.mode())) return Errno::IsDir;
    // Linux ignores the offset of pwrite on an O_APPEND file and appends.
    uint64_t at = f.append() ? uint64_t(TRY(size_of(i))) : offset;
    n = clamp(n);
    if (n > MAX_OFFSET - at) return Errno::FBig;
    return i.write(at, src, n);
}

Result<uint64_t> VnodeFile::lseek(OpenFile& f, int64_t offset, int whence) {
    Inode& i = inode();
    if ((i.mode() & mode::TypeMask) == mode::Fifo) return Errno::SPipe;
    int64_t size = TRY(size_of(i));
    uint64_t to = TRY(seek_offset(f.offset, offset, whence, size));
    f.offset = to;
    return to;
}

Result<size_t> VnodeFile::getdents64(OpenFile& f, uint8_t* buf, size_t n) {
    if (f.flags() & oflag::Path) return Errno::BadF;
    Inode& i = inode();
    if (!is_dir(i.mode())) return Errno::NotDir;
    return fill_dirents64(i, &f.offset, buf, n);
}

Result<void> VnodeFile::truncate(OpenFile& f, int64_t length) {
    if (length < 0) return Errno::Inval;
    // ftruncate needs a description open for writing on a regular file.
    if (!f.writable() || !is_regular(inode().mode())) return Errno::Inval;
    SetAttr a;
    a.mask = SetAttr::Size;
    a.size = length;
    return inode().setattr(a);
}

Result<size_t> vnode_read(OpenFile& f, void* dst, size_t n) { return f.object()->read(f, dst, n); }
Result<size_t> vnode_write(OpenFile& f, const void* src, size_t n) { return f.object()->write(f, src, n); }

Result<size_t> vnode_pread(OpenFile& f, void* dst, size_t n, int64_t offset) {
    if (offset < 0) return Errno::Inval;
    return f.object()->pread(f, dst, n, uint64_t(offset));
}

Result<size_t> vnode_pwrite(OpenFile& f, const void* src, size_t n, int64_t offset) {
    if (offset < 0) return Errno::Inval;
    return f.object()->pwrite(f, src, n, uint64_t(offset));
}

Result<uint64_t> vnode_lseek(OpenFile& f, int64_t offset, int whence) { return f.object()->lseek(f, offset, whence); }
Result<size_t> vnode_getdents64(OpenFile& f, uint8_t* buf, size_t n) { return f.object()->getdents64(f, buf, n); }

}  // namespace lamina::posix
