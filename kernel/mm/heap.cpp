// The kernel heap: the portable slab Heap over frames seen through the direct map, behind one
// spinlock (g_heap_lock; it nests outside the frame allocator's lock, see memory.cpp), and the
// C++ allocation functions on top of it.
#include <new>

#include "kernel/lib/log.h"
#include "kernel/mm/internal.h"
#include "kernel/mm/memory.h"
#include "kernel/mm/slab.h"
#include "kernel/sync/spinlock.h"

namespace lamina::mm {

namespace {

class FramePages final : public PageProvider {
public:
    void* alloc_pages(unsigned order) override {
        auto phys = alloc_frames(order, Owner::kernel());
        return phys.is_ok() ? phys_to_virt(phys.value()) : nullptr;
    }
    void free_pages(void* pages, unsigned order) override {
        auto r = free_frames(virt_to_phys(pages), order);
        if (r.is_error()) panic("heap: returning %p (order %u) to the frame allocator failed", pages, order);
    }
};

FramePages g_pages;
Spinlock g_heap_lock;
alignas(Heap) unsigned char g_heap_storage[sizeof(Heap)];
Heap* g_heap;

Heap& heap() {
    if (!g_heap) panic("kernel heap used before mm::init");
    return *g_heap;
}

}  // namespace

void init_heap() { g_heap = new (g_heap_storage) Heap(g_pages); }

void* kmalloc(size_t size) {
    Heap& h = heap();
    SpinlockGuard g(g_heap_lock);
    return h.allocate(size ? size : 1);
}

void kfree(void* p) {
    if (!p) return;
    Heap& h = heap();
    // The heap reads the header at the start of p's page: make sure that page is heap memory
    // before letting it look.
    auto v = reinterpret_cast<uint64_t>(p);
    bool direct = v >= KERNEL_DIRECT_MAP && v - KERNEL_DIRECT_MAP < phys_end();
    auto owner = direct ? frame_owner(v - KERNEL_DIRECT_MAP) : Result<Owner>(Errno::Inval);
    if (!direct || owner.is_error() || owner.value() != Owner::kernel())
        panic("kfree(%p): not a kernel heap address%s", p,
              direct && owner.is_ok() && owner.value() == Owner::free() ? " (freed page: double free?)" : "");
    Result<void> r;
    {
        SpinlockGuard g(g_heap_lock);
        r = h.deallocate(p);
    }
    if (r.is_error()) panic("kfree(%p): not a live heap block (double free or interior pointer)", p);
}

HeapCacheStats heap_class_stats(size_t size) {
    HeapCacheStats out{};
    Heap& h = heap();
    SpinlockGuard g(g_heap_lock);
    size_t best = ~size_t(0);
    h.for_each_cache([&](const SlabStats& s) {
        if (s.object_size >= size && s.object_size < best && __builtin_strncmp(s.name, "size-", 5) == 0) {
            best = s.object_size;
            out = {s.object_size, s.objects_in_use, s.pages, s.total_allocs, s.total_frees};
        }
    });
    return out;
}

size_t heap_pages() {
    Heap& h = heap();
    SpinlockGuard g(g_heap_lock);
    size_t pages = h.large_stats().pages;
    h.for_each_cache([&](const SlabStats& s) { pages += s.pages; });
    return pages;
}

void print_heap_stats() {
    Heap& h = heap();
    SpinlockGuard g(g_heap_lock);
    kprintf("heap: %-20s %6s %8s %6s %10s %10s %6s\n", "cache", "size", "in use", "pages", "allocs", "frees", "no-mem");
    h.for_each_cache([](const SlabStats& s) {
        kprintf("heap: %-20s %6lu %8lu %6lu %10lu %10lu %6lu\n", s.name, s.object_size, s.objects_in_use, s.pages,
                s.total_allocs, s.total_frees, s.failed_allocs);
    });
    LargeStats l = h.large_stats();
    kprintf("heap: %-20s %6s %8lu %6lu %10lu %10lu %6lu\n", "large", "-", l.allocations_in_use, l.pages, l.total_allocs,
            l.total_frees, l.failed_allocs);
}

}  // namespace lamina::mm

// --- C++ allocation functions ------------------------------------------------------------------
// The kernel has no exceptions: plain `new` cannot report failure, so it panics; code that can
// cope with exhaustion uses `new (std::nothrow)`.

// <new> declares it; the freestanding kernel has no C++ runtime library to define it.
namespace std {
const nothrow_t nothrow{};
}

namespace {

void* allocate_aligned(size_t size, size_t align) {
    // Size classes up to 2048 are aligned to their size, large blocks to 64 bytes.
    if (align <= 16) return lamina::mm::kmalloc(size);
    if (align > lamina::mm::Heap::MAX_SMALL_SIZE) return nullptr;
    if (size <= lamina::mm::Heap::MAX_SMALL_SIZE) return lamina::mm::kmalloc(size > align ? size : align);
    return align <= lamina::mm::Heap::LARGE_HEADER_SIZE ? lamina::mm::kmalloc(size) : nullptr;
}

void* allocate_or_panic(size_t size, size_t align) {
    void* p = allocate_aligned(size, align);
    if (!p) lamina::panic("operator new: out of memory (%lu bytes, alignment %lu)", size, align);
    return p;
}

}  // namespace

void* operator new(size_t size) { return allocate_or_panic(size, 16); }
void* operator new[](size_t size) { return allocate_or_panic(size, 16); }
void* operator new(size_t size, std::align_val_t a) { return allocate_or_panic(size, size_t(a)); }
void* operator new[](size_t size, std::align_val_t a) { return allocate_or_panic(size, size_t(a)); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return allocate_aligned(size, 16); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return allocate_aligned(size, 16); }
void* operator new(size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate_aligned(size, size_t(a));
}
void* operator new[](size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate_aligned(size, size_t(a));
}

void operator delete(void* p) noexcept { lamina::mm::kfree(p); }
void operator delete[](void* p) noexcept { lamina::mm::kfree(p); }
void operator delete(void* p, size_t) noexcept { lamina::mm::kfree(p); }
void operator delete[](void* p, size_t) noexcept { lamina::mm::kfree(p); }
void operator delete(void* p, std::align_val_t) noexcept { lamina::mm::kfree(p); }
void operator delete[](void* p, std::align_val_t) noexcept { lamina::mm::kfree(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { lamina::mm::kfree(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { lamina::mm::kfree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { lamina::mm::kfree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { lamina::mm::kfree(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { lamina::mm::kfree(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { lamina::mm::kfree(p); }

extern "C" void __cxa_pure_virtual() { lamina::panic("pure virtual function called"); }
