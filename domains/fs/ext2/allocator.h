// lamina:portable
// Where the ext2 code gets its memory: every allocation goes through this interface (no hidden
// allocation), so the fs domain can hand it its private heap and the host tests malloc.
#pragma once

#include <stddef.h>

#include <lamina/result.h>

#include <new>
#include <utility>

namespace lamina::ext2 {

class Allocator {
public:
    // align is a power of two no larger than PAGE_SIZE. nullptr when out of memory.
    virtual void* allocate(size_t size, size_t align) = 0;
    virtual void release(void* p, size_t size) = 0;

    // A T in memory from this allocator, made with `args`; nullptr when out of memory. A T
    // with a private constructor befriends Allocator.
    template <typename T, typename... Args>
    T* create(Args&&... args) {
        void* mem = allocate(sizeof(T), alignof(T));
        return mem ? new (mem) T(std::forward<Args>(args)...) : nullptr;
    }
    // Ends a T from create(): its destructor runs, then its memory comes back here.
    template <typename T>
    void destroy(T* p) {
        if (!p) return;
        p->~T();
        release(p, sizeof(T));
    }

protected:
    ~Allocator() = default;
};

}  // namespace lamina::ext2
