// lamina:portable
#include "kernel/posix/vfs/dirent.h"

#include <new>

namespace lamina::posix {

Result<size_t> fill_dirents64(Inode& dir, uint64_t* cookie, uint8_t* buf, size_t n) {
    if (!is_dir(dir.mode())) return Errno::NotDir;
    DirEntry* e = new (std::nothrow) DirEntry;
    if (!e) return Errno::NoMem;
    size_t used = 0;
    Error failure = Errno::None;
    for (;;) {
        uint64_t next = *cookie;
        auto more = dir.readdir(next, *e);
        if (more.is_error()) {
            // Entries already packed are returned; the error shows on the next call.
            if (used == 0) failure = more.error();
            break;
        }
        if (!more.value()) break;
        size_t len = e->name_len > MAX_NAME_LEN ? MAX_NAME_LEN : e->name_len;
        size_t reclen = (DIRENT64_NAME_OFFSET + len + 1 + 7) & ~size_t(7);
        if (used + reclen > n) {
            if (used == 0) failure = Errno::Inval;
            break;
        }
        Dirent64Header h{e->ino, int64_t(next), uint16_t(reclen), e->type};
        uint8_t* rec = buf + used;
        __builtin_memset(rec, 0, reclen);
        __builtin_memcpy(rec, &h.d_ino, 8);
        __builtin_memcpy(rec + 8, &h.d_off, 8);
        __builtin_memcpy(rec + 16, &h.d_reclen, 2);
        rec[18] = h.d_type;
        __builtin_memcpy(rec + DIRENT64_NAME_OFFSET, e->name, len);
        used += reclen;
        *cookie = next;
    }
    delete e;
    if (!(failure == Error(Errno::None))) return failure;
    return used;
}

}  // namespace lamina::posix
