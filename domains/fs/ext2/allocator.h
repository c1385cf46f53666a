// lamina:portable
// Where the ext2 code gets its memory: every allocation goes through this interface (no hidden
// allocation), so the fs domain can hand it its private heap and the host tests malloc.
#pragma once

#include <stddef.h>

#include <lamina/result.h>

namespace lamina::ext2 {

class Allocator {
public:
    // align is a power of two no larger than PAGE_SIZE. nullptr when out of memory.
    virtual void* allocate(size_t size, size_t align) = 0;
    virtual void release(void* p, size_t size) = 0;

protected:
    ~Allocator() = default;
};

}  // namespace lamina::ext2
