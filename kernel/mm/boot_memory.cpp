// PROVISIONAL, to be replaced by the memory manager (issue 3): the boot page tables map the
// first 4 GiB in the direct map, so MMIO below 4 GiB is reachable there; the heap is a bump
// allocator over a static arena that never reuses memory. Enough for subsystems to be brought up
// while the real memory manager is written; mm::init() replaces all of this.
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"

namespace lamina::mm {

namespace {
constexpr size_t ARENA_SIZE = 16u << 20;
alignas(4096) uint8_t g_arena[ARENA_SIZE];
size_t g_arena_used = 0;
TlbShootdown g_shootdown;
}  // namespace

void init(const boot::BootInfo&) {}

uint64_t virt_to_phys(const void* virt) {
    auto v = reinterpret_cast<uint64_t>(virt);
    if (v >= KERNEL_VMA) return v - KERNEL_VMA;
    return v - KERNEL_DIRECT_MAP;
}

Result<uint64_t> alloc_frames(unsigned, Owner) { return Errno::NoSys; }
Result<void> free_frames(uint64_t, unsigned) { return Errno::NoSys; }
uint64_t total_pages() { return 0; }
uint64_t free_pages() { return 0; }
uint64_t pages_owned_by(Owner) { return 0; }

Result<void*> map_mmio(uint64_t phys, size_t size, Cache) {
    if (phys + size > (4ull << 30)) return Errno::NoMem;
    return phys_to_virt(phys);
}
void unmap_mmio(void*, size_t) {}

void* kmalloc(size_t size) {
    size = (size + 15) & ~size_t(15);
    size_t at = __atomic_fetch_add(&g_arena_used, size, __ATOMIC_RELAXED);
    if (at + size > ARENA_SIZE) return nullptr;
    return &g_arena[at];
}
void kfree(void*) {}

Result<KernelStack> alloc_kernel_stack(size_t bytes) {
    void* p = kmalloc(bytes);
    if (!p) return Errno::NoMem;
    auto b = reinterpret_cast<uintptr_t>(p);
    return KernelStack{b, b + bytes};
}
void free_kernel_stack(const KernelStack&) {}

void flush_tlb_range(uintptr_t virt, size_t size) {
    for (uintptr_t a = virt & ~uintptr_t(4095); a < virt + size; a += 4096)
        asm volatile("invlpg (%0)" ::"r"(a) : "memory");
    if (g_shootdown) g_shootdown(virt, size);
}
void set_tlb_shootdown(TlbShootdown fn) { g_shootdown = fn; }

}  // namespace lamina::mm
