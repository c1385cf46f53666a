// lamina:portable
// getdents64(2): directory entries packed as Linux's struct linux_dirent64 records.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/vfs/inode.h"

namespace lamina::posix {

// struct linux_dirent64 without its variable-length name.
struct Dirent64Header {
    uint64_t d_ino;
    int64_t d_off;  // the cookie that continues after this entry
    uint16_t d_reclen;
    uint8_t d_type;
};
inline constexpr size_t DIRENT64_NAME_OFFSET = 19;

// Fills buf with as many whole records as fit, continuing from *cookie (the description's
// offset) and advancing it. 0 at the end of the directory; EINVAL when not even the next
// entry fits in n bytes.
Result<size_t> fill_dirents64(Inode& dir, uint64_t* cookie, uint8_t* buf, size_t n);

}  // namespace lamina::posix
