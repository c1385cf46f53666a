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
uint64_t pages_owned_by(Owner owner);

// Maps device memory (uncached unless asked otherwise) and returns its kernel address.
enum class Cache : uint8_t { Uncached, WriteCombining, WriteBack };
Result<void*> map_mmio(uint64_t phys, size_t size, Cache cache = Cache::Uncached);
void unmap_mmio(void* virt, size_t size);

// The kernel heap. kmalloc returns nullptr when memory is exhausted; memory is 16-byte aligned.
void* kmalloc(size_t size);
void kfree(void* p);

// A kernel stack with an unmapped guard page below it, so an overflow faults (and is reported
// as an overflow) instead of corrupting memory.
struct KernelStack {
    uintptr_t bottom;  // lowest usable address
    uintptr_t top;     // initial stack pointer
};
Result<KernelStack> alloc_kernel_stack(size_t bytes);
void free_kernel_stack(const KernelStack& stack);

// Invalidates TLB entries for a kernel range on every CPU. Until SMP registers its shoot-down,
// only the calling CPU is flushed.
void flush_tlb_range(uintptr_t virt, size_t size);
using TlbShootdown = void (*)(uintptr_t virt, size_t size);
void set_tlb_shootdown(TlbShootdown fn);

}  // namespace lamina::mm
