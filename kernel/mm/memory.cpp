// The kernel's memory manager: the frame allocator over the loader's memory map, the kernel's own
// page tables, MMIO mappings and guarded kernel stacks. The heap is in heap.cpp.
//
// Locks, outermost first (never take them in another order):
//   g_pt_lock      the kernel half of the page tables, the MMIO and kernel-stack virtual ranges
//   g_heap_lock    (heap.cpp) the slab heap
//   g_frames_lock  the buddy allocator; innermost, taken by both of the above
// No lock is held across flush_tlb_range(): a TLB shoot-down waits for other CPUs, which may be
// spinning on the same lock with interrupts off.
#include "kernel/arch/x86_64/registers.h"
#include "kernel/mm/memory.h"

#include <new>

#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/boot/boot_info.h"
#include "kernel/lib/log.h"
#include "kernel/mm/internal.h"
#include "kernel/mm/page_table.h"
#include "kernel/sync/spinlock.h"

extern "C" char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern "C" char __data_start[], __kernel_end[];

namespace lamina::mm {

namespace {

constexpr uint64_t MIB = 1ull << 20;
constexpr uint64_t LOW_MEMORY_END = 1 * MIB;          // firmware data, the AP trampoline
constexpr uint64_t BOOT_DIRECT_MAP_END = 4ull << 30;  // what the boot tables reach

Spinlock g_frames_lock;
BuddyAllocator g_frames;

Spinlock g_pt_lock;
uint64_t g_root;      // physical address of the kernel PML4
uint64_t g_nx;        // PageFlag::NoExecute when the CPU has NX, else 0
uint64_t g_wc_flags;  // PTE bits selecting write-combining (PAT entry 7), or uncached
TlbShootdown g_shootdown;

constexpr uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

class KernelPhysMemory final : public PhysMemory {
public:
    uint64_t* table(uint64_t phys) override { return static_cast<uint64_t*>(phys_to_virt(phys)); }
    Result<uint64_t> alloc_table() override {
        uint64_t phys = TRY(alloc_frames(0, Owner::page_table()));
        __builtin_memset(phys_to_virt(phys), 0, PAGE_SIZE);
        return phys;
    }
};
KernelPhysMemory g_phys_memory;
PageTable g_kernel_pt(g_phys_memory, 0);

// Frames and tables to return to the allocator once the TLB shoot-down has completed.
struct Deferred {
    static constexpr size_t CAPACITY = 160;
    uint64_t frames[CAPACITY];
    size_t count = 0;
    void add(uint64_t phys) {
        KASSERT(count < CAPACITY);
        frames[count++] = phys;
    }
    void add_tables(const Unmapped& u) {
        for (unsigned i = 0; i < u.released_count; i++) add(u.released_tables[i]);
    }
    void free_all() {
        for (size_t i = 0; i < count; i++)
            if (free_frames(frames[i], 0).is_error()) panic("mm: cannot free frame %#lx after unmapping", frames[i]);
        count = 0;
    }
};

bool in_kernel_half(uint64_t virt) { return virt >= KERNEL_DIRECT_MAP; }

// --- boot-time setup ---------------------------------------------------------------------------

struct PhysRange {
    uint64_t start, end;
    Owner owner;
};
constexpr size_t MAX_EXCLUSIONS = 3 + boot::BootInfo::MAX_MODULES;
PhysRange g_exclusions[MAX_EXCLUSIONS];
size_t g_exclusion_count;

uint64_t kernel_image_end_phys() { return reinterpret_cast<uint64_t>(__kernel_end) - KERNEL_VMA; }

void exclude(uint64_t start, uint64_t end, Owner owner) {
    KASSERT(g_exclusion_count < MAX_EXCLUSIONS);
    g_exclusions[g_exclusion_count++] = {align_down(start, PAGE_SIZE), align_up(end, PAGE_SIZE), owner};
}

bool overlaps_exclusion(uint64_t start, uint64_t end, uint64_t* past) {
    for (size_t i = 0; i < g_exclusion_count; i++) {
        const auto& e = g_exclusions[i];
        if (start < e.end && e.start < end) {
            *past = e.end;
            return true;
        }
    }
    return false;
}

// The buddy metadata must be reachable through the boot direct map (below 4 GiB) and clear of
// everything the kernel still uses.
Result<uint64_t> place_metadata(const boot::BootInfo& info, uint64_t bytes) {
    for (size_t i = 0; i < info.region_count; i++) {
        const auto& r = info.regions[i];
        if (r.type != boot::MemoryType::Usable) continue;
        uint64_t lo = align_up(r.base > LOW_MEMORY_END ? r.base : LOW_MEMORY_END, PAGE_SIZE);
        uint64_t end = r.base + r.length;
        uint64_t hi = align_down(end < BOOT_DIRECT_MAP_END ? end : BOOT_DIRECT_MAP_END, PAGE_SIZE);
        uint64_t p = lo, past = 0;
        while (p + bytes <= hi) {
            if (!overlaps_exclusion(p, p + bytes, &past)) return p;
            p = past;
        }
    }
    return Errno::NoMem;
}

// Adds the usable RAM inside [window_start, window_end) and takes the excluded frames back out.
void add_usable(const boot::BootInfo& info, uint64_t window_start, uint64_t window_end) {
    for (size_t i = 0; i < info.region_count; i++) {
        const auto& r = info.regions[i];
        if (r.type != boot::MemoryType::Usable) continue;
        uint64_t start = r.base > window_start ? r.base : window_start;
        uint64_t end = r.base + r.length < window_end ? r.base + r.length : window_end;
        if (end > g_frames.phys_end()) end = g_frames.phys_end();
        if (start >= end) continue;
        if (g_frames.add_region(start, end - start).is_error())
            kprintf("mm: ignoring memory map region %#lx-%#lx (overlaps another)\n", start, end);
    }
    // Frame by frame: exclusions may straddle regions or each other.
    for (size_t i = 0; i < g_exclusion_count; i++) {
        const auto& e = g_exclusions[i];
        for (uint64_t p = e.start; p < e.end; p += PAGE_SIZE) {
            auto owner = g_frames.owner_of(p);
            if (owner.is_ok() && owner.value() == Owner::free()) KASSERT(g_frames.claim_range(p, 1, e.owner).is_ok());
        }
    }
}

void map_or_die(uint64_t virt, uint64_t phys, uint64_t flags) {
    auto r = g_kernel_pt.map(virt, phys, flags);
    if (r.is_error() && r.error().code() != Errno::Exist)
        panic("mm: cannot map %#lx -> %#lx (%s)", virt, phys, r.error().name());
}

void map_image_section(const char* start, const char* end, uint64_t flags) {
    for (auto v = reinterpret_cast<uint64_t>(start); v < reinterpret_cast<uint64_t>(end); v += PAGE_SIZE)
        map_or_die(v, v - KERNEL_VMA, flags | PageFlag::Global);
}

// RAM the kernel may read (usable, ACPI tables, ACPI NVS): write-back, no-execute, 2 MiB pages
// where a whole aligned 2 MiB lies inside the range.
void direct_map_range(uint64_t start, uint64_t end) {
    start = align_down(start, PAGE_SIZE);
    end = align_up(end, PAGE_SIZE);
    uint64_t flags = PageFlag::Writable | PageFlag::Global | g_nx;
    for (uint64_t p = start; p < end;) {
        if ((p & (LARGE_PAGE_SIZE - 1)) == 0 && end - p >= LARGE_PAGE_SIZE &&
            g_kernel_pt.map_large(KERNEL_DIRECT_MAP + p, p, flags).is_ok()) {
            p += LARGE_PAGE_SIZE;
            continue;
        }
        map_or_die(KERNEL_DIRECT_MAP + p, p, flags);
        p += PAGE_SIZE;
    }
}

bool is_ram_type(boot::MemoryType t) {
    return t == boot::MemoryType::Usable || t == boot::MemoryType::AcpiReclaimable || t == boot::MemoryType::AcpiNvs;
}

void build_kernel_page_tables(const boot::BootInfo& info) {
    g_root = g_phys_memory.alloc_table().value();
    g_kernel_pt = PageTable(g_phys_memory, g_root);
    // Every higher-half slot gets its PDPT now and keeps it forever, so that address spaces
    // created later can copy entries 256..511 and still see every future kernel mapping.
    uint64_t* pml4 = g_phys_memory.table(g_root);
    for (unsigned i = 256; i < 512; i++) {
        auto pdpt = g_phys_memory.alloc_table();
        if (pdpt.is_error()) panic("mm: no memory for the kernel page tables");
        pml4[i] = pdpt.value() | pte::Present | pte::Writable;
    }
    map_image_section(__text_start, __text_end, 0);
    map_image_section(__rodata_start, __rodata_end, g_nx);
    map_image_section(__data_start, __kernel_end, PageFlag::Writable | g_nx);
    direct_map_range(0, LOW_MEMORY_END);
    for (size_t i = 0; i < info.region_count; i++) {
        const auto& r = info.regions[i];
        if (is_ram_type(r.type)) direct_map_range(r.base, r.base + r.length);
    }
}

// --- virtual ranges --------------------------------------------------------------------------

// MMIO: a bitmap of 4 KiB pages; each mapping is followed by one unmapped page so that running
// off the end of a device window faults.
constexpr uint64_t MMIO_PAGES = MMIO_SIZE / PAGE_SIZE;
uint64_t g_mmio_used[MMIO_PAGES / 64];

bool mmio_page_used(uint64_t i) { return g_mmio_used[i / 64] & (1ull << (i % 64)); }
void mmio_set(uint64_t first, uint64_t count, bool used) {
    for (uint64_t i = first; i < first + count; i++) {
        if (used)
            g_mmio_used[i / 64] |= 1ull << (i % 64);
        else
            g_mmio_used[i / 64] &= ~(1ull << (i % 64));
    }
}
Result<uint64_t> mmio_reserve(uint64_t count) {
    uint64_t run = 0;
    for (uint64_t i = 0; i < MMIO_PAGES; i++) {
        if (run == 0 && (i % 64) == 0 && g_mmio_used[i / 64] == ~0ull) {
            i += 63;
            continue;
        }
        run = mmio_page_used(i) ? 0 : run + 1;
        if (run == count) {
            mmio_set(i + 1 - count, count, true);
            return i + 1 - count;
        }
    }
    return Errno::NoMem;
}

// Kernel stacks: fixed slots; a stack occupies the top of its slot, the rest of the slot below
// it stays unmapped and is the guard region.
//
// A freed stack stays mapped in a small cache and the next allocation of the same size takes it
// back as it is: unmapping a stack needs a TLB shoot-down, which waits for every other CPU (under
// TCG for the host to run a halted vCPU), and the reaper did one per dead thread, a fork+exec
// each. The cache is trimmed in batches, one shoot-down for all the stacks of a batch; a trimmed
// slot is Dying from its unmap to the end of that shoot-down and no allocation takes it before.
enum class Slot : uint8_t { Free, Live, Cached, Dying };
Slot g_stack_state[STACK_SLOTS];
uint8_t g_stack_pages[STACK_SLOTS];  // pages mapped at the top of a Live or Cached slot
size_t g_stack_hint;
// The cache, oldest first. Past its limits until the free that went over trims it: other CPUs
// may add theirs meanwhile, up to the array's end, where a free trims before it adds.
constexpr size_t STACK_CACHE_ROOM = 2 * STACK_CACHE_STACKS;
uint32_t g_stack_cache[STACK_CACHE_ROOM];
size_t g_stack_cached;        // entries of g_stack_cache
size_t g_stack_cached_pages;  // pages they hold
StackCacheStats g_stack_stats;
StackTrimHook g_stack_trim_hook;

bool stack_guard_query(uint64_t addr) {
    if (addr < STACK_BASE || addr >= STACK_BASE + STACK_SLOTS * STACK_SLOT_SIZE) return false;
    uint64_t slot = (addr - STACK_BASE) / STACK_SLOT_SIZE;
    if (__atomic_load_n(&g_stack_state[slot], __ATOMIC_RELAXED) != Slot::Live) return false;
    uint8_t pages = __atomic_load_n(&g_stack_pages[slot], __ATOMIC_RELAXED);
    uint64_t top = STACK_BASE + (slot + 1) * STACK_SLOT_SIZE;
    return addr < top - pages * PAGE_SIZE;
}

uint64_t stack_slot_top(size_t slot) { return STACK_BASE + (slot + 1) * STACK_SLOT_SIZE; }
size_t trim_stack_cache(size_t keep_stacks, size_t keep_pages);

void set_cpu_paging_features() {
    // PAT entry 7 (PAT|PCD|PWT) becomes write-combining; the others keep their reset values.
    // A CPU that has not run this still reads entry 7 as uncached, which is safe for devices.
    if (cpu::cpuid(1).edx & (1u << 16)) {
        uint64_t pat = cpu::rdmsr(MSR_IA32_PAT);
        pat = (pat & ~(0xFFull << 56)) | (0x01ull << 56);
        cpu::wrmsr(MSR_IA32_PAT, pat);
    }
    if (cpu::cpuid(1).edx & (1u << 13)) cpu::write_cr4(cpu::read_cr4() | CR4_PGE);
}

}  // namespace

// --- frames ------------------------------------------------------------------------------------

Result<uint64_t> alloc_frames(unsigned order, Owner owner) {
    SpinlockGuard g(g_frames_lock);
    return g_frames.alloc(order, owner);
}

Result<void> free_frames(uint64_t phys, unsigned order) {
    SpinlockGuard g(g_frames_lock);
    return g_frames.free(phys, order);
}

Result<Owner> frame_owner(uint64_t phys) {
    SpinlockGuard g(g_frames_lock);
    return g_frames.owner_of(phys);
}

uint64_t total_pages() {
    SpinlockGuard g(g_frames_lock);
    return g_frames.total_pages();
}

// Cached kernel stacks are free memory kept for reuse: the counts below give them back first, so
// that they say what the allocator can hand out and compare exactly before and after an operation.
namespace {
void settle_stack_cache() {
    if (__atomic_load_n(&g_stack_cached, __ATOMIC_RELAXED)) trim_stack_cache(0, 0);
}
}  // namespace

uint64_t free_pages() {
    settle_stack_cache();
    SpinlockGuard g(g_frames_lock);
    return g_frames.free_pages();
}

uint64_t pages_owned_by(Owner owner) {
    settle_stack_cache();
    SpinlockGuard g(g_frames_lock);
    return g_frames.count_owned(owner);
}

uint64_t pages_of_kind(OwnerKind kind) {
    settle_stack_cache();
    SpinlockGuard g(g_frames_lock);
    return g_frames.pages_of(kind);
}

uint64_t free_blocks(unsigned order) {
    settle_stack_cache();
    SpinlockGuard g(g_frames_lock);
    return g_frames.free_blocks(order);
}

uint64_t phys_end() {
    SpinlockGuard g(g_frames_lock);
    return g_frames.phys_end();
}

uint64_t virt_to_phys(const void* virt) {
    auto v = reinterpret_cast<uint64_t>(virt);
    if (v >= KERNEL_VMA) return v - KERNEL_VMA;
    if (v >= KERNEL_DIRECT_MAP && v < KERNEL_DIRECT_MAP + DIRECT_MAP_SIZE) return v - KERNEL_DIRECT_MAP;
    auto t = translate_kernel(v);
    if (t.is_error()) panic("virt_to_phys(%p): not mapped", virt);
    return t.value().phys;
}

// --- kernel page tables ------------------------------------------------------------------------

uint64_t kernel_root_phys() { return g_root; }

Result<void> map_kernel_page(uintptr_t virt, uint64_t phys, uint64_t flags) {
    if (!in_kernel_half(virt) || (flags & PageFlag::User)) return Errno::Inval;
    SpinlockGuard g(g_pt_lock);
    return g_kernel_pt.map(virt, phys, flags & ~(PageFlag::NoExecute & ~g_nx));
}

Result<uint64_t> unmap_kernel_page(uintptr_t virt) {
    if (!in_kernel_half(virt)) return Errno::Inval;
    Deferred tables;
    uint64_t phys;
    {
        SpinlockGuard g(g_pt_lock);
        Unmapped u = TRY(g_kernel_pt.unmap(virt));
        phys = u.phys;
        tables.add_tables(u);
    }
    flush_tlb_range(virt, PAGE_SIZE);
    tables.free_all();
    return phys;
}

Result<void> protect_kernel_page(uintptr_t virt, uint64_t flags) {
    if (!in_kernel_half(virt) || (flags & PageFlag::User)) return Errno::Inval;
    {
        SpinlockGuard g(g_pt_lock);
        TRY(g_kernel_pt.protect(virt, flags & ~(PageFlag::NoExecute & ~g_nx)));
    }
    flush_tlb_range(virt, PAGE_SIZE);
    return {};
}

Result<void> protect_kernel_range(uintptr_t virt, size_t pages, uint64_t flags) {
    if (!in_kernel_half(virt) || (flags & PageFlag::User)) return Errno::Inval;
    Result<void> r;
    {
        SpinlockGuard g(g_pt_lock);
        for (size_t i = 0; i < pages && r.is_ok(); i++)
            r = g_kernel_pt.protect(virt + i * PAGE_SIZE, flags & ~(PageFlag::NoExecute & ~g_nx));
    }
    flush_tlb_range(virt, pages * PAGE_SIZE);  // also after a partial change
    return r;
}

void unmap_kernel_range(uintptr_t virt, size_t pages, uint64_t* frames) {
    // In chunks whose emptied tables fit the deferred list (at most two per page); each chunk's
    // shoot-down happens without the lock, as other CPUs may be spinning on it with interrupts off.
    constexpr size_t CHUNK = Deferred::CAPACITY / 2;
    for (size_t done = 0; done < pages;) {
        size_t n = pages - done < CHUNK ? pages - done : CHUNK;
        Deferred tables;
        {
            SpinlockGuard g(g_pt_lock);
            for (size_t i = done; i < done + n; i++) {
                frames[i] = 0;
                if (!in_kernel_half(virt + i * PAGE_SIZE)) continue;
                auto u = g_kernel_pt.unmap(virt + i * PAGE_SIZE);
                if (u.is_error()) continue;
                frames[i] = u.value().phys;
                tables.add_tables(u.value());
            }
        }
        flush_tlb_range(virt + done * PAGE_SIZE, n * PAGE_SIZE);
        tables.free_all();
        done += n;
    }
}

Result<Translation> translate_kernel(uintptr_t virt) {
    SpinlockGuard g(g_pt_lock);
    return g_kernel_pt.translate(virt);
}

Result<uint64_t> create_address_space_root() {
    uint64_t root = TRY(g_phys_memory.alloc_table());
    uint64_t* dst = g_phys_memory.table(root);
    const uint64_t* src = g_phys_memory.table(g_root);
    for (unsigned i = 256; i < 512; i++) dst[i] = src[i];
    return root;
}

PhysMemory& kernel_phys_memory() { return g_phys_memory; }

void flush_tlb_local(uintptr_t virt, size_t size) {
    uintptr_t start = virt & ~(PAGE_SIZE - 1);
    uintptr_t end = virt + size;
    if (end - start > 32 * PAGE_SIZE) {
        // Toggling PGE drops global entries too; a CR3 reload alone would keep them.
        uint64_t cr4 = cpu::read_cr4();
        if (cr4 & CR4_PGE) {
            cpu::write_cr4(cr4 & ~uint64_t(CR4_PGE));
            cpu::write_cr4(cr4);
        } else {
            cpu::write_cr3(cpu::read_cr3());
        }
    } else {
        for (uintptr_t a = start; a < end; a += PAGE_SIZE) asm volatile("invlpg (%0)" ::"r"(a) : "memory");
    }
}

void flush_tlb_range(uintptr_t virt, size_t size) {
    flush_tlb_local(virt, size);
    if (TlbShootdown fn = __atomic_load_n(&g_shootdown, __ATOMIC_ACQUIRE)) fn(virt, size);
}

void set_tlb_shootdown(TlbShootdown fn) { __atomic_store_n(&g_shootdown, fn, __ATOMIC_RELEASE); }

void init_cpu() { set_cpu_paging_features(); }

// --- MMIO --------------------------------------------------------------------------------------

Result<void*> map_mmio(uint64_t phys, size_t size, Cache cache) {
    if (size == 0 || phys + size < phys || phys + size > (1ull << 52)) return Errno::Inval;
    uint64_t first = align_down(phys, PAGE_SIZE);
    uint64_t pages = (align_up(phys + size, PAGE_SIZE) - first) / PAGE_SIZE;
    // Device windows only: an uncached alias of RAM the direct map caches is undefined behaviour.
    {
        SpinlockGuard g(g_frames_lock);
        for (uint64_t p = first; p < first + pages * PAGE_SIZE; p += PAGE_SIZE)
            if (g_frames.owner_of(p).is_ok()) return Errno::Inval;
    }
    uint64_t flags = PageFlag::Writable | PageFlag::Global | g_nx;
    switch (cache) {
        case Cache::Uncached:
            flags |= PageFlag::CacheDisable | PageFlag::WriteThrough;
            break;
        case Cache::WriteCombining:
            flags |= g_wc_flags;
            break;
        case Cache::WriteBack:
            break;
        default:
            return Errno::Inval;
    }
    SpinlockGuard g(g_pt_lock);
    uint64_t index = TRY(mmio_reserve(pages + 1));
    uint64_t virt = MMIO_BASE + index * PAGE_SIZE;
    for (uint64_t i = 0; i < pages; i++) {
        auto r = g_kernel_pt.map(virt + i * PAGE_SIZE, first + i * PAGE_SIZE, flags);
        if (r.is_error()) {
            // Never used, so nothing is in any TLB: undo without a shoot-down.
            for (uint64_t j = 0; j < i; j++) {
                auto u = g_kernel_pt.unmap(virt + j * PAGE_SIZE);
                for (unsigned k = 0; u.is_ok() && k < u.value().released_count; k++)
                    (void)free_frames(u.value().released_tables[k], 0);
            }
            mmio_set(index, pages + 1, false);
            return r.error();
        }
    }
    return reinterpret_cast<void*>(virt + (phys - first));
}

void unmap_mmio(void* virt, size_t size) {
    auto v = reinterpret_cast<uint64_t>(virt);
    uint64_t first = align_down(v, PAGE_SIZE);
    if (size == 0 || v < MMIO_BASE || v + size > MMIO_BASE + MMIO_SIZE || v + size < v) {
        kprintf("mm: unmap_mmio(%p, %lu): not an MMIO mapping; ignored\n", virt, size);
        return;
    }
    uint64_t pages = (align_up(v + size, PAGE_SIZE) - first) / PAGE_SIZE;
    uint64_t index = (first - MMIO_BASE) / PAGE_SIZE;
    Deferred tables;
    {
        SpinlockGuard g(g_pt_lock);
        for (uint64_t i = 0; i < pages; i++) {
            if (!mmio_page_used(index + i) || g_kernel_pt.translate(first + i * PAGE_SIZE).is_error()) {
                kprintf("mm: unmap_mmio(%p, %lu): page %#lx is not mapped; ignored\n", virt, size,
                        first + i * PAGE_SIZE);
                return;
            }
        }
        for (uint64_t i = 0; i < pages; i++) tables.add_tables(g_kernel_pt.unmap(first + i * PAGE_SIZE).value());
    }
    flush_tlb_range(first, pages * PAGE_SIZE);
    tables.free_all();
    SpinlockGuard g(g_pt_lock);
    mmio_set(index, pages + 1, false);  // the range and its trailing guard page
}

// --- kernel stacks -----------------------------------------------------------------------------

namespace {

// Unmaps the oldest cached stacks until at most `keep_stacks` stacks and `keep_pages` pages are
// left, with one shoot-down for all of them; their frames go back to the allocator after it.
// Returns the pages released. Called without g_pt_lock; the shoot-down needs interrupts on.
size_t trim_stack_cache(size_t keep_stacks, size_t keep_pages) {
    uint32_t victims[STACK_CACHE_ROOM];
    size_t count = 0, pages = 0;
    uint64_t low = ~0ull, high = 0;
    // The frames wait for the shoot-down in a chain through their own first word (the direct
    // map), so a trim of any size needs no memory. A page table's first entry then holds a
    // frame address with the present bit clear: a walk through a stale cached pointer to it
    // finds nothing mapped.
    uint64_t chain = 0;
    auto free_later = [&chain](uint64_t phys) {
        *static_cast<uint64_t*>(phys_to_virt(phys)) = chain;
        chain = phys;
    };
    {
        SpinlockGuard g(g_pt_lock);
        while (g_stack_cached > 0 && (g_stack_cached > keep_stacks || g_stack_cached_pages > keep_pages)) {
            uint32_t slot = g_stack_cache[0];
            g_stack_cached--;
            __builtin_memmove(&g_stack_cache[0], &g_stack_cache[1], g_stack_cached * sizeof(g_stack_cache[0]));
            uint64_t top = stack_slot_top(slot), bottom = top - g_stack_pages[slot] * PAGE_SIZE;
            g_stack_cached_pages -= g_stack_pages[slot];
            pages += g_stack_pages[slot];
            g_stack_state[slot] = Slot::Dying;
            for (uint64_t v = bottom; v < top; v += PAGE_SIZE) {
                auto u = g_kernel_pt.unmap(v).value();
                free_later(u.phys);
                for (unsigned k = 0; k < u.released_count; k++) free_later(u.released_tables[k]);
            }
            if (bottom < low) low = bottom;
            if (top > high) high = top;
            victims[count++] = slot;
        }
    }
    if (count == 0) return 0;
    if (g_stack_trim_hook) g_stack_trim_hook(victims, count);
    flush_tlb_range(low, high - low);
    while (chain) {
        uint64_t phys = chain;
        chain = *static_cast<uint64_t*>(phys_to_virt(phys));
        if (free_frames(phys, 0).is_error()) panic("mm: cannot free kernel stack frame %#lx", phys);
    }
    SpinlockGuard g(g_pt_lock);
    for (size_t i = 0; i < count; i++) {
        __atomic_store_n(&g_stack_pages[victims[i]], uint8_t(0), __ATOMIC_RELAXED);
        g_stack_state[victims[i]] = Slot::Free;
        if (victims[i] < g_stack_hint) g_stack_hint = victims[i];
    }
    g_stack_stats.trims++;
    g_stack_stats.trimmed_stacks += count;
    return pages;
}

// A stack of `pages` from the cache (the most recently freed one of that size), or 0.
uint64_t take_cached_stack(uint64_t pages) {
    SpinlockGuard g(g_pt_lock);
    for (size_t i = g_stack_cached; i-- > 0;) {
        uint32_t slot = g_stack_cache[i];
        if (g_stack_pages[slot] != pages) continue;
        g_stack_cached--;
        __builtin_memmove(&g_stack_cache[i], &g_stack_cache[i + 1], (g_stack_cached - i) * sizeof(g_stack_cache[0]));
        g_stack_cached_pages -= pages;
        __atomic_store_n(&g_stack_state[slot], Slot::Live, __ATOMIC_RELEASE);
        g_stack_stats.hits++;
        return stack_slot_top(slot);
    }
    return 0;
}

Result<KernelStack> map_fresh_stack(uint64_t pages) {
    SpinlockGuard g(g_pt_lock);
    size_t slot = STACK_SLOTS;
    for (size_t n = 0; n < STACK_SLOTS; n++) {
        size_t s = (g_stack_hint + n) % STACK_SLOTS;
        if (g_stack_state[s] == Slot::Free) {
            slot = s;
            break;
        }
    }
    if (slot == STACK_SLOTS) return Errno::NoMem;
    uint64_t top = stack_slot_top(slot);
    uint64_t bottom = top - pages * PAGE_SIZE;
    for (uint64_t v = bottom; v < top; v += PAGE_SIZE) {
        auto frame = alloc_frames(0, Owner::kernel());
        Result<void> mapped = frame.is_ok()
                                  ? g_kernel_pt.map(v, frame.value(), PageFlag::Writable | PageFlag::Global | g_nx)
                                  : Result<void>(frame.error());
        if (frame.is_ok()) __builtin_memset(phys_to_virt(frame.value()), 0, PAGE_SIZE);
        if (mapped.is_error()) {
            if (frame.is_ok()) (void)free_frames(frame.value(), 0);
            // Never used through these addresses: no TLB entries to shoot down.
            for (uint64_t u = bottom; u < v; u += PAGE_SIZE) {
                auto un = g_kernel_pt.unmap(u).value();
                (void)free_frames(un.phys, 0);
                for (unsigned k = 0; k < un.released_count; k++) (void)free_frames(un.released_tables[k], 0);
            }
            return mapped.error();
        }
    }
    __atomic_store_n(&g_stack_pages[slot], uint8_t(pages), __ATOMIC_RELAXED);
    __atomic_store_n(&g_stack_state[slot], Slot::Live, __ATOMIC_RELEASE);
    g_stack_hint = slot + 1;
    g_stack_stats.fresh++;
    return KernelStack{bottom, top};
}

}  // namespace

Result<KernelStack> alloc_kernel_stack(size_t bytes) {
    if (bytes == 0 || bytes > MAX_KERNEL_STACK) return Errno::Inval;
    uint64_t pages = align_up(bytes, PAGE_SIZE) / PAGE_SIZE;
    if (uint64_t top = take_cached_stack(pages)) {
        // A new thread finds its stack zeroed, as it does a fresh one.
        __builtin_memset(reinterpret_cast<void*>(top - pages * PAGE_SIZE), 0, pages * PAGE_SIZE);
        return KernelStack{top - pages * PAGE_SIZE, top};
    }
    auto fresh = map_fresh_stack(pages);
    // The cache's frames (or its slots) may be what is missing: give them back and try again.
    if (fresh.is_error() && fresh.error().code() == Errno::NoMem && trim_stack_cache(0, 0) > 0)
        return map_fresh_stack(pages);
    return fresh;
}

void free_kernel_stack(const KernelStack& stack) {
    uint64_t slot = (stack.top - STACK_BASE) / STACK_SLOT_SIZE - 1;
    bool valid = stack.top > STACK_BASE && stack.top <= STACK_BASE + STACK_SLOTS * STACK_SLOT_SIZE &&
                 (stack.top - STACK_BASE) % STACK_SLOT_SIZE == 0;
    bool added = false;
    while (!added) {
        {
            SpinlockGuard g(g_pt_lock);
            if (!valid || g_stack_state[slot] != Slot::Live ||
                stack.top - stack.bottom != g_stack_pages[slot] * PAGE_SIZE)
                panic("free_kernel_stack(%#lx-%#lx): not a live kernel stack", stack.bottom, stack.top);
            if (g_stack_cached < STACK_CACHE_ROOM) {
                __atomic_store_n(&g_stack_state[slot], Slot::Cached, __ATOMIC_RELAXED);
                g_stack_cache[g_stack_cached++] = uint32_t(slot);
                g_stack_cached_pages += g_stack_pages[slot];
                added = true;
                if (g_stack_cached <= STACK_CACHE_STACKS && g_stack_cached_pages <= STACK_CACHE_PAGES) return;
            }
        }
        trim_stack_cache(STACK_CACHE_STACKS / 2, STACK_CACHE_PAGES / 2);
    }
}

size_t release_kernel_stack_cache() { return trim_stack_cache(0, 0); }

StackCacheStats kernel_stack_cache_stats() {
    SpinlockGuard g(g_pt_lock);
    StackCacheStats s = g_stack_stats;
    s.cached_stacks = g_stack_cached;
    s.cached_pages = g_stack_cached_pages;
    return s;
}

void set_stack_trim_hook(StackTrimHook hook) { g_stack_trim_hook = hook; }

void rewind_stack_hint() {
    SpinlockGuard g(g_pt_lock);
    g_stack_hint = 0;
}

// --- init --------------------------------------------------------------------------------------

void init(const boot::BootInfo& info) {
    g_nx = (cpu::cpuid(0x80000001).edx & (1u << 20)) ? PageFlag::NoExecute : 0;
    g_wc_flags = PageFlag::CacheDisable | PageFlag::WriteThrough;
    if (cpu::cpuid(1).edx & (1u << 16)) g_wc_flags |= PageFlag::Pat;

    uint64_t end = 0;
    for (size_t i = 0; i < info.region_count; i++) {
        const auto& r = info.regions[i];
        if (r.type == boot::MemoryType::Usable && r.base + r.length > end) end = r.base + r.length;
    }
    end = align_down(end, PAGE_SIZE);

    exclude(0, LOW_MEMORY_END, Owner::kernel());
    exclude(KERNEL_PHYS_BASE, kernel_image_end_phys(), Owner::kernel());
    for (size_t i = 0; i < info.module_count; i++)
        exclude(info.modules[i].start, info.modules[i].end, {OwnerKind::Reserved, 0});
    size_t meta_bytes = align_up(BuddyAllocator::metadata_bytes(end), PAGE_SIZE);
    auto meta = place_metadata(info, meta_bytes);
    if (meta.is_error()) panic("mm: no room below 4 GiB for %lu KiB of frame metadata", meta_bytes >> 10);
    exclude(meta.value(), meta.value() + meta_bytes, Owner::kernel());
    auto created = BuddyAllocator::create(phys_to_virt(meta.value()), meta_bytes, end);
    if (created.is_error()) panic("mm: cannot set up the frame allocator (%s)", created.error().name());
    g_frames = created.release_value();

    // Only memory the boot tables reach may hold page tables until the switch.
    add_usable(info, LOW_MEMORY_END, BOOT_DIRECT_MAP_END);
    build_kernel_page_tables(info);
    cpu::write_cr3(g_root);
    set_cpu_paging_features();
    add_usable(info, BOOT_DIRECT_MAP_END, ~0ull);

    init_heap();
    set_stack_guard_query(stack_guard_query);

    uint64_t total = total_pages(), free = free_pages();
    kprintf("mm: %lu MiB total, %lu MiB free (page tables %lu KiB, frame metadata %lu KiB)\n", total * PAGE_SIZE / MIB,
            free * PAGE_SIZE / MIB, pages_of_kind(OwnerKind::PageTable) * PAGE_SIZE >> 10, meta_bytes >> 10);
}

}  // namespace lamina::mm
