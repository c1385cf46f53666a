// The kernel's memory services: physical frames, the direct map, MMIO mappings, the kernel heap
// and kernel stacks. Everything else in the kernel allocates through here.
//
// Layout (see kernel/arch/x86_64/layout.h): the kernel image runs at KERNEL_VMA (top 2 GiB),
// mapped W^X by section; all physical RAM is mapped read/write, no-execute, at
// KERNEL_DIRECT_MAP + phys; MMIO and kernel stacks get their own virtual ranges.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/arch/x86_64/layout.h"
#include "kernel/mm/buddy.h"

namespace lamina::boot {
struct BootInfo;
}

namespace lamina::mm {

// PAGE_SIZE and PAGE_SHIFT come from buddy.h.

// Virtual ranges of the kernel half (besides the direct map and the image, see layout.h).
inline constexpr uint64_t DIRECT_MAP_SIZE = 1ull << 46;    // 64 TiB of physical space
inline constexpr uint64_t MMIO_BASE = 0xffffc00000000000;  // map_mmio
inline constexpr uint64_t MMIO_SIZE = 1ull << 30;
inline constexpr uint64_t STACK_BASE = 0xffffe00000000000;  // kernel stacks
inline constexpr uint64_t STACK_SLOT_SIZE = 512 * 1024;     // stack at the top, guard below
inline constexpr uint64_t STACK_SLOTS = 8192;
inline constexpr uint64_t MAX_KERNEL_STACK = 256 * 1024;

// Brings memory management up from the loader's memory map: the frame allocator over usable RAM
// (less the kernel image, the loader's structures and the boot modules), the kernel's own page
// tables (W^X sections, direct map of all RAM, no identity map), and the kernel heap.
void init(const boot::BootInfo& info);

inline void* phys_to_virt(uint64_t phys) { return reinterpret_cast<void*>(KERNEL_DIRECT_MAP + phys); }
// Physical address of a direct-map or kernel-image address.
uint64_t virt_to_phys(const void* virt);

// Physical frames, 2^order pages, recorded as owned by owner.
Result<uint64_t> alloc_frames(unsigned order, Owner owner);
Result<void> free_frames(uint64_t phys, unsigned order);
uint64_t total_pages();
uint64_t free_pages();
uint64_t pages_owned_by(Owner owner);    // exact owner (kind and id); scans: not for hot paths
uint64_t pages_of_kind(OwnerKind kind);  // all owners of a kind; O(1)
Result<Owner> frame_owner(uint64_t phys);
uint64_t free_blocks(unsigned order);  // free buddy blocks of exactly this order
uint64_t phys_end();                   // end of the physical range the allocator describes

// Maps device memory (uncached unless asked otherwise) and returns its kernel address.
enum class Cache : uint8_t { Uncached, WriteCombining, WriteBack };
Result<void*> map_mmio(uint64_t phys, size_t size, Cache cache = Cache::Uncached);
void unmap_mmio(void* virt, size_t size);

// The kernel heap. kmalloc returns nullptr when memory is exhausted; memory is 16-byte aligned
// (blocks up to 2048 bytes are aligned to their power-of-two size class). kfree(nullptr) is a
// no-op; kfree of anything else that is not a live kmalloc block (a foreign pointer, an interior
// pointer, a double free) panics. Global operator new/delete use the same heap; plain `new`
// panics when memory is exhausted, `new (std::nothrow)` returns nullptr.
void* kmalloc(size_t size);
void kfree(void* p);
// One line per slab cache and one for large blocks, on the kernel log.
void print_heap_stats();
struct HeapCacheStats {
    size_t object_size;
    size_t objects_in_use;
    size_t pages;
    uint64_t total_allocs;
    uint64_t total_frees;
};
// Statistics of the size class serving `size` bytes (size <= 2048), for tests.
HeapCacheStats heap_class_stats(size_t size);
// Pages the heap holds from the frame allocator (slabs and large blocks).
size_t heap_pages();

// A kernel stack with an unmapped guard page below it, so an overflow faults (and is reported
// as an overflow) instead of corrupting memory.
struct KernelStack {
    uintptr_t bottom;  // lowest usable address
    uintptr_t top;     // initial stack pointer
};
// A freed stack is kept mapped for the next allocation of its size (see memory.cpp); the frame
// counts above (free_pages(), pages_of_kind(), ...) and a failing allocation give them back.
Result<KernelStack> alloc_kernel_stack(size_t bytes);
void free_kernel_stack(const KernelStack& stack);
inline constexpr size_t STACK_CACHE_STACKS = 32;  // freed stacks kept at most
inline constexpr size_t STACK_CACHE_PAGES = 256;  // and the pages they may hold
struct StackCacheStats {
    uint64_t fresh;           // allocations that mapped new frames
    uint64_t hits;            // allocations served from the cache
    uint64_t trims;           // batches unmapped with one shoot-down
    uint64_t trimmed_stacks;  // stacks in those batches
    size_t cached_stacks, cached_pages;
};
StackCacheStats kernel_stack_cache_stats();
// Unmaps every cached stack (one shoot-down) and frees its frames; returns the pages freed.
size_t release_kernel_stack_cache();

// Invalidates TLB entries for a kernel range on every CPU. Until SMP registers its shoot-down,
// only the calling CPU is flushed.
void flush_tlb_range(uintptr_t virt, size_t size);
// The same on this CPU only (what a shootdown request runs on each of the others).
void flush_tlb_local(uintptr_t virt, size_t size);
using TlbShootdown = void (*)(uintptr_t virt, size_t size);
void set_tlb_shootdown(TlbShootdown fn);

// Per-CPU paging setup, for every application processor after it loads kernel_root_phys():
// PAT entry 7 becomes write-combining (an AP that skips this maps Cache::WriteCombining as
// uncached, which is safe) and global pages are enabled. mm::init does it for the boot CPU.
void init_cpu();

}  // namespace lamina::mm
