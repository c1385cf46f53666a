// lamina:portable
// Slab allocator: fixed-size object caches over whole pages, and the kernel Heap built on them.
//
// Guarantees
//   - Heap::allocate(n) for n <= MAX_SMALL_SIZE is served by the power-of-two size class
//     16..2048 that fits n, and the pointer is aligned to that class size. Named caches
//     (Heap::create_cache) align to the alignment they were created with (at least 16).
//   - Larger requests get 2^k whole pages from the PageProvider with a LARGE_HEADER_SIZE header
//     in front; the pointer is LARGE_HEADER_SIZE (64) aligned, not page aligned: callers that need
//     whole aligned frames ask the frame allocator directly.
//   - Heap::deallocate works for every pointer the Heap or one of its named caches handed out:
//     each slab is one page with its header at the start, so p & ~(PAGE_SIZE-1) finds the header,
//     and a magic word there tells slab pages from large allocations. Slab objects are never at
//     offset 0 of their page.
//   - Bad frees come back as Inval instead of corrupting state: unknown page magic, a pointer
//     that is not the start of an object slot, or a double free. Double frees are recognised by a
//     poison word written into each free object and confirmed against the slab's free list, so a
//     live object that happens to hold the poison value is not misreported. Detection is exact
//     while the page is still held by the heap; once a page has gone back to the provider, the
//     check relies on the page still being readable and not yet reused.
//   - A cache keeps at most one empty slab; further empty slabs go back to the provider at once.
//   - No hidden allocation: all memory, including named SlabCache objects (carved from the
//     Heap's own size classes), comes from the PageProvider.
//
// Costs
//   allocate/deallocate: O(1), except a suspected double free (O(objects per slab)) and getting
//   a fresh slab (O(objects per slab) to thread its free list). Space: a 48-byte header per page,
//   rounded up to the object alignment; so the 2048 class fits one object per page and 1024 three.
//
// Locking
//   None inside. The kernel wraps its Heap in a spinlock (or gives each CPU its own Heap); every
//   member function, statistics included, needs that lock. The PageProvider is called with it
//   held, so the provider must not call back into the Heap.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/intrusive_list.h>
#include <lamina/result.h>

#include <new>
#include <utility>

#include "kernel/mm/buddy.h"  // PAGE_SIZE, MAX_ORDER

namespace lamina::mm {

// Where slabs and large allocations get their memory: in the kernel, the buddy allocator seen
// through the direct map; on the host, aligned_alloc.
class PageProvider {
public:
    // 2^order contiguous pages, at least PAGE_SIZE aligned, or nullptr when out of memory.
    virtual void* alloc_pages(unsigned order) = 0;
    // Returns a block from alloc_pages with the same order.
    virtual void free_pages(void* pages, unsigned order) = 0;

protected:
    // Never deleted through this interface; a virtual destructor would drag operator delete into
    // the freestanding kernel.
    ~PageProvider() = default;
};

struct SlabStats {
    const char* name;    // valid while the cache exists
    size_t object_size;  // slot size (requested size rounded up to the alignment)
    size_t objects_per_slab;
    size_t objects_in_use;
    size_t slabs;
    size_t pages;
    uint64_t total_allocs;
    uint64_t total_frees;
    uint64_t failed_allocs;  // provider had no page
};

struct LargeStats {
    size_t allocations_in_use;
    size_t pages;
    uint64_t total_allocs;
    uint64_t total_frees;
    uint64_t failed_allocs;  // provider had no pages, or the size exceeds MAX_LARGE_SIZE
};

namespace detail {
struct SlabHeader;
// Slabs of one state (partial, full, empty), linked through SlabHeader::link.
using SlabList = ListChain;
}  // namespace detail

class Heap;

// A cache of equal-sized objects. Created and owned by a Heap (Heap::create_cache for named
// caches); callers hold a non-owning SlabCache*.
class SlabCache {
public:
    SlabCache(const SlabCache&) = delete;
    SlabCache& operator=(const SlabCache&) = delete;

    // One object, or nullptr when the provider is out of pages (counted in failed_allocs).
    void* allocate();
    // Inval if `object` is not a live object of this cache (foreign pointer, not a slot start,
    // double free). nullptr is accepted and ignored.
    Result<void> deallocate(void* object);
    // Gives every empty slab back to the provider; returns the number of pages released.
    size_t release_empty_slabs();

    SlabStats stats() const;
    const char* name() const { return name_; }
    size_t object_size() const { return stride_; }

private:
    friend class Heap;
    static constexpr size_t NAME_CAPACITY = 32;

    struct Layout {
        uint32_t stride;
        uint32_t first_offset;
        uint32_t capacity;
    };
    static Result<Layout> layout_for(size_t object_size, size_t alignment);

    SlabCache(const char* name, Layout layout, PageProvider& pages);
    ~SlabCache() = default;

    detail::SlabHeader* new_slab();
    void release_slab(detail::SlabHeader* slab);
    void move_to(detail::SlabHeader* slab, uint8_t list);
    detail::SlabList& list_named(uint8_t list);
    // Frees an object whose header the caller already looked up and checked.
    Result<void> deallocate_in(detail::SlabHeader* slab, void* object);
    // Releases all slabs, live objects or not (Heap teardown).
    void release_all_slabs();

    char name_[NAME_CAPACITY];
    uint32_t stride_;
    uint32_t first_offset_;
    uint32_t capacity_;
    PageProvider* pages_;
    detail::SlabList partial_;
    detail::SlabList full_;
    detail::SlabList empty_;
    size_t in_use_ = 0;
    uint64_t total_allocs_ = 0;
    uint64_t total_frees_ = 0;
    uint64_t failed_allocs_ = 0;
    SlabCache* next_named_ = nullptr;  // Heap's list of named caches
};

class Heap {
public:
    static constexpr size_t MIN_SMALL_SIZE = 16;
    static constexpr size_t MAX_SMALL_SIZE = 2048;
    static constexpr size_t SIZE_CLASS_COUNT = 8;  // 16, 32, ..., 2048
    static constexpr size_t LARGE_HEADER_SIZE = 64;
    static constexpr size_t MAX_LARGE_SIZE = (PAGE_SIZE << MAX_ORDER) - LARGE_HEADER_SIZE;

    explicit Heap(PageProvider& pages);
    // Gives every page back to the provider, including those of live objects and named caches:
    // pointers still held dangle afterwards.
    ~Heap();
    Heap(const Heap&) = delete;
    Heap& operator=(const Heap&) = delete;

    // size bytes (at least one), or nullptr when out of memory or size > MAX_LARGE_SIZE.
    void* allocate(size_t size);
    // Accepts any pointer from allocate() or from a named cache of this heap; nullptr is ignored.
    // Inval for anything else, including a double free.
    Result<void> deallocate(void* p);
    // Bytes usable at p (the slot or large-block size); Inval as for deallocate.
    Result<size_t> usable_size(void* p) const;

    // A T in this heap's memory, made with `args`; nullptr when out of memory. destroy() ends
    // it: the destructor runs, then the memory is deallocated (Inval as for deallocate).
    template <typename T, typename... Args>
    T* create(Args&&... args) {
        static_assert(alignof(T) <= MIN_SMALL_SIZE, "allocate() aligns to 16 bytes");
        void* mem = allocate(sizeof(T));
        return mem ? new (mem) T(std::forward<Args>(args)...) : nullptr;
    }
    template <typename T>
    Result<void> destroy(T* p) {
        if (p == nullptr) return {};
        p->~T();
        return deallocate(p);
    }

    // A named cache for one object type. Inval if the size/alignment cannot fit one object in a
    // page (alignment must be a power of two); NoMem if the cache object itself cannot be
    // allocated. The name is copied (truncated to 31 characters).
    Result<SlabCache*> create_cache(const char* name, size_t object_size, size_t alignment = 16);
    // Busy while the cache still has live objects; Inval if it is not a named cache of this heap.
    Result<void> destroy_cache(SlabCache* cache);

    // Gives all empty slabs of all caches back; returns pages released (memory pressure hook).
    size_t release_empty_slabs();

    // visit(const SlabStats&) for the size classes (ascending), then the named caches.
    template <typename Visit>
    void for_each_cache(Visit&& visit) const {
        for (const SlabCache& cache : size_classes_) visit(cache.stats());
        for (const SlabCache* cache = named_; cache != nullptr; cache = cache->next_named_) visit(cache->stats());
    }
    LargeStats large_stats() const { return large_stats_; }

private:
    struct LargeHeader;
    Result<void> deallocate_large(LargeHeader* header, void* p);

    PageProvider* pages_;
    SlabCache size_classes_[SIZE_CLASS_COUNT];
    SlabCache* named_ = nullptr;
    ListChain large_;  // live large allocations (LargeHeader::link), so ~Heap can return them
    LargeStats large_stats_ = {};
};

}  // namespace lamina::mm
