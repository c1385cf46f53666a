// In-kernel tests of the memory manager on the real memory map and page tables.
#include <new>

#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/ktest/ktest.h"
#include "kernel/mm/internal.h"
#include "kernel/mm/memory.h"
#include "kernel/mm/page_table.h"

extern "C" char __text_start[], __rodata_start[], __data_start[];

namespace lamina::mm {
namespace {

// A virtual range no one else uses: below the MMIO range, its own PML4 slot.
constexpr uint64_t TEST_VA = 0xffffb00000000000;

// Holds frame addresses in frames of its own (the kernel heap could be what we are testing).
struct FrameList {
    static constexpr size_t PER_PAGE = PAGE_SIZE / sizeof(uint64_t) - 1;  // slot 0 links pages
    uint64_t* head = nullptr;
    size_t count_in_head = 0;
    size_t total = 0;

    // Starts a new list page in the given frame (which is then freed with the list).
    void adopt(uint64_t page) {
        auto* fresh = static_cast<uint64_t*>(phys_to_virt(page));
        fresh[0] = head ? virt_to_phys(head) : 0;
        head = fresh;
        count_in_head = 0;
    }
    bool push(uint64_t phys) {
        if (!head || count_in_head == PER_PAGE) {
            auto page = alloc_frames(0, Owner::kernel());
            if (page.is_error()) return false;
            adopt(page.value());
        }
        head[1 + count_in_head++] = phys;
        total++;
        return true;
    }
    // Calls fn(phys) for every entry, freeing the list pages as it goes.
    template <typename F>
    void drain(F&& fn) {
        while (head) {
            for (size_t i = 0; i < count_in_head; i++) fn(head[1 + i]);
            uint64_t next = head[0];
            (void)free_frames(virt_to_phys(head), 0);
            head = next ? static_cast<uint64_t*>(phys_to_virt(next)) : nullptr;
            count_in_head = PER_PAGE;
        }
        total = 0;
    }
};

KTEST(mm, frames_exhaust_and_recover) {
    uint64_t free_before = free_pages();
    KASSERT_TRUE(free_before > 1000);
    FrameList list;
    size_t got = 0;
    bool list_full = false;
    for (;;) {
        auto f = alloc_frames(0, Owner::domain(99));
        if (f.is_error()) {
            KEXPECT(f.error().code() == Errno::NoMem);
            break;
        }
        if (list.push(f.value())) {
            got++;
        } else {  // no frame left for the list itself: this one becomes a list page
            list.adopt(f.value());
            list_full = true;
        }
    }
    KEXPECT_EQ(free_pages(), 0u);
    KEXPECT(got > 1000);
    KEXPECT_EQ(pages_owned_by(Owner::domain(99)), got + (list_full ? 1 : 0));
    // Every frame distinct and outside the kernel image and low memory.
    uint64_t image_end = reinterpret_cast<uint64_t>(__data_start) - KERNEL_VMA;
    bool below_1m = false, in_image = false;
    list.drain([&](uint64_t phys) {
        if (phys < (1u << 20)) below_1m = true;
        if (phys >= KERNEL_PHYS_BASE && phys < image_end) in_image = true;
        (void)free_frames(phys, 0);
    });
    KEXPECT(!below_1m);
    KEXPECT(!in_image);
    KEXPECT_EQ(free_pages(), free_before);
    KEXPECT_EQ(pages_owned_by(Owner::domain(99)), 0u);
}

KTEST(mm, frames_fragmentation) {
    uint64_t free_before = free_pages();
    uint64_t max_blocks_before = free_blocks(MAX_ORDER);
    constexpr size_t N = 4096;
    FrameList list;
    for (size_t i = 0; i < N; i++) {
        auto f = alloc_frames(0, Owner::kernel());
        KASSERT_TRUE(f.is_ok());
        KASSERT_TRUE(list.push(f.value()));
    }
    // Free every other one: the holes are single frames, no order-1 block among them.
    FrameList kept;
    size_t i = 0;
    list.drain([&](uint64_t phys) {
        if (i++ % 2)
            (void)free_frames(phys, 0);
        else
            (void)kept.push(phys);
    });
    // A big block still comes from the untouched part of memory.
    auto big = alloc_frames(MAX_ORDER, Owner::kernel());
    KEXPECT(big.is_ok());
    if (big.is_ok()) {
        KEXPECT_EQ(big.value() & ((PAGE_SIZE << MAX_ORDER) - 1), 0u);
        KEXPECT(free_frames(big.value(), MAX_ORDER).is_ok());
    }
    KEXPECT(alloc_frames(MAX_ORDER + 1, Owner::kernel()).is_error());
    kept.drain([&](uint64_t phys) { KEXPECT(free_frames(phys, 0).is_ok()); });
    KEXPECT_EQ(free_pages(), free_before);
    KEXPECT_EQ(free_blocks(MAX_ORDER), max_blocks_before);
}

KTEST(mm, frame_owner_counters) {
    const Owner d7 = Owner::domain(7);
    KEXPECT_EQ(pages_owned_by(d7), 0u);
    uint64_t domains_before = pages_of_kind(OwnerKind::Domain);
    auto a = alloc_frames(0, d7);
    auto b = alloc_frames(3, d7);
    KASSERT_TRUE(a.is_ok() && b.is_ok());
    KEXPECT_EQ(pages_owned_by(d7), 9u);
    KEXPECT_EQ(pages_of_kind(OwnerKind::Domain), domains_before + 9);
    KEXPECT(frame_owner(b.value() + 2 * PAGE_SIZE).value() == d7);
    KEXPECT(free_frames(b.value(), 2).is_error());  // wrong order
    KEXPECT(free_frames(a.value(), 0).is_ok());
    KEXPECT(free_frames(b.value(), 3).is_ok());
    KEXPECT(free_frames(a.value(), 0).is_error());  // double free
    KEXPECT_EQ(pages_owned_by(d7), 0u);
    KEXPECT_EQ(pages_of_kind(OwnerKind::Domain), domains_before);
}

KTEST(mm, map_translate_unmap) {
    uint64_t tables_before = pages_owned_by(Owner::page_table());
    auto frame = alloc_frames(0, Owner::kernel());
    KASSERT_TRUE(frame.is_ok());
    constexpr uint64_t N = 16;
    uint64_t frames[N];
    for (uint64_t i = 0; i < N; i++) {
        auto f = alloc_frames(0, Owner::kernel());
        KASSERT_TRUE(f.is_ok());
        frames[i] = f.value();
        KASSERT_TRUE(
            map_kernel_page(TEST_VA + i * PAGE_SIZE, f.value(), PageFlag::Writable | PageFlag::NoExecute).is_ok());
    }
    // Fresh PML4 slot: a PD and a PT had to be created.
    KEXPECT_EQ(pages_owned_by(Owner::page_table()), tables_before + 2);
    KEXPECT(map_kernel_page(TEST_VA, frame.value(), PageFlag::Writable).error().code() == Errno::Exist);
    KEXPECT(map_kernel_page(0x1000, frame.value(), 0).is_error());         // lower half
    KEXPECT(map_kernel_page(TEST_VA + 123, frame.value(), 0).is_error());  // misaligned
    for (uint64_t i = 0; i < N; i++) {
        *reinterpret_cast<volatile uint64_t*>(TEST_VA + i * PAGE_SIZE + 8) = 0xC0FFEE00 + i;
        KEXPECT_EQ(static_cast<uint64_t*>(phys_to_virt(frames[i]))[1], 0xC0FFEE00 + i);
        auto t = translate_kernel(TEST_VA + i * PAGE_SIZE + 8);
        KASSERT_TRUE(t.is_ok());
        KEXPECT_EQ(t.value().phys, frames[i] + 8);
        KEXPECT(t.value().flags & PageFlag::Writable);
        KEXPECT_EQ(t.value().page_size, PAGE_SIZE);
    }
    for (uint64_t i = 0; i < N; i++) {
        auto u = unmap_kernel_page(TEST_VA + i * PAGE_SIZE);
        KEXPECT(u.is_ok() && u.value() == frames[i]);
        KEXPECT(translate_kernel(TEST_VA + i * PAGE_SIZE).error().code() == Errno::NoEnt);
        (void)free_frames(frames[i], 0);
    }
    KEXPECT(unmap_kernel_page(TEST_VA).is_error());
    KEXPECT_EQ(pages_owned_by(Owner::page_table()), tables_before);
    (void)free_frames(frame.value(), 0);
}

// The range forms: one shoot-down for many pages; holes are skipped and reported as 0.
KTEST(mm, protect_and_unmap_ranges) {
    uint64_t tables_before = pages_owned_by(Owner::page_table());
    constexpr uint64_t N = 100;  // more than one unmap chunk
    uint64_t frames[N];
    for (uint64_t i = 0; i < N; i++) {
        frames[i] = 0;
        if (i % 10 == 3) continue;  // holes
        auto f = alloc_frames(0, Owner::kernel());
        KASSERT_TRUE(f.is_ok());
        frames[i] = f.value();
        KASSERT_TRUE(
            map_kernel_page(TEST_VA + i * PAGE_SIZE, f.value(), PageFlag::Writable | PageFlag::NoExecute).is_ok());
    }
    KEXPECT(protect_kernel_range(TEST_VA, 10, PageFlag::NoExecute).error().code() == Errno::NoEnt);  // a hole
    KEXPECT(protect_kernel_range(TEST_VA + 20 * PAGE_SIZE, 3, PageFlag::NoExecute).is_ok());
    for (uint64_t i = 20; i < 23; i++)
        KEXPECT(!(translate_kernel(TEST_VA + i * PAGE_SIZE).value().flags & PageFlag::Writable));
    KEXPECT(translate_kernel(TEST_VA + 24 * PAGE_SIZE).value().flags & PageFlag::Writable);
    KEXPECT(protect_kernel_range(0x1000, 1, 0).is_error());
    uint64_t unmapped[N];
    unmap_kernel_range(TEST_VA, N, unmapped);
    for (uint64_t i = 0; i < N; i++) {
        KEXPECT_EQ(unmapped[i], frames[i]);
        KEXPECT(translate_kernel(TEST_VA + i * PAGE_SIZE).is_error());
        if (frames[i]) (void)free_frames(frames[i], 0);
    }
    KEXPECT_EQ(pages_owned_by(Owner::page_table()), tables_before);
}

KTEST(mm, split_direct_map_large_page) {
    // Find a 2 MiB page of the direct map, make one 4 KiB page in it read-only, check the rest.
    auto frame = alloc_frames(MAX_ORDER, Owner::kernel());  // 4 MiB: contains an aligned 2 MiB
    KASSERT_TRUE(frame.is_ok());
    uint64_t base = (frame.value() + LARGE_PAGE_SIZE - 1) & ~(LARGE_PAGE_SIZE - 1);
    uint64_t v = KERNEL_DIRECT_MAP + base;
    auto before = translate_kernel(v);
    KASSERT_TRUE(before.is_ok());
    KEXPECT_EQ(before.value().page_size, LARGE_PAGE_SIZE);
    uint64_t target = v + 5 * PAGE_SIZE;
    KEXPECT(protect_kernel_page(target, PageFlag::NoExecute | PageFlag::Global).is_ok());
    auto t = translate_kernel(target);
    KEXPECT(t.is_ok() && t.value().page_size == PAGE_SIZE && !(t.value().flags & PageFlag::Writable));
    auto other = translate_kernel(v + 6 * PAGE_SIZE + 16);
    KEXPECT(other.is_ok() && other.value().phys == base + 6 * PAGE_SIZE + 16 &&
            (other.value().flags & PageFlag::Writable));
    *reinterpret_cast<volatile uint64_t*>(v + 6 * PAGE_SIZE) = 42;  // still writable
    KEXPECT(protect_kernel_page(target, PageFlag::Writable | PageFlag::NoExecute | PageFlag::Global).is_ok());
    *reinterpret_cast<volatile uint64_t*>(target) = 43;
    (void)free_frames(frame.value(), MAX_ORDER);
}

KTEST(mm, kernel_image_is_wx) {
    auto text = translate_kernel(reinterpret_cast<uint64_t>(__text_start));
    KASSERT_TRUE(text.is_ok());
    KEXPECT(!(text.value().flags & PageFlag::Writable));
    KEXPECT(!(text.value().flags & PageFlag::NoExecute));
    KEXPECT_EQ(text.value().phys, reinterpret_cast<uint64_t>(__text_start) - KERNEL_VMA);
    bool nx = cpu::cpuid(0x80000001).edx & (1u << 20);
    auto ro = translate_kernel(reinterpret_cast<uint64_t>(__rodata_start));
    KASSERT_TRUE(ro.is_ok());
    KEXPECT(!(ro.value().flags & PageFlag::Writable));
    if (nx) KEXPECT(ro.value().flags & PageFlag::NoExecute);
    static int data_probe = 1;
    auto data = translate_kernel(reinterpret_cast<uint64_t>(&data_probe));
    KASSERT_TRUE(data.is_ok());
    KEXPECT(data.value().flags & PageFlag::Writable);
    if (nx) KEXPECT(data.value().flags & PageFlag::NoExecute);
    auto direct = translate_kernel(KERNEL_DIRECT_MAP + (2u << 20));
    KASSERT_TRUE(direct.is_ok());
    if (nx) KEXPECT(direct.value().flags & PageFlag::NoExecute);
    KEXPECT(translate_kernel(0x200000).error().code() == Errno::NoEnt);  // no identity map
    KEXPECT(translate_kernel(0x8000).error().code() == Errno::NoEnt);
    KEXPECT(translate_kernel(KERNEL_DIRECT_MAP + 0x8000).is_ok());  // low memory is direct-mapped
    // Not RAM on q35 (the LAPIC window): not in the direct map any more.
    KEXPECT(translate_kernel(KERNEL_DIRECT_MAP + 0xFEE00000).is_error());
    KEXPECT_EQ(cpu::read_cr3() & pte::AddressMask, kernel_root_phys());
}

KTEST(mm, mmio_mapping) {
    auto p = map_mmio(0xFEE00000, 0x1000);
    KASSERT_TRUE(p.is_ok());
    auto v = reinterpret_cast<uint64_t>(p.value());
    KEXPECT(v >= MMIO_BASE && v < MMIO_BASE + MMIO_SIZE);
    auto t = translate_kernel(v);
    KASSERT_TRUE(t.is_ok());
    KEXPECT(t.value().flags & PageFlag::CacheDisable);
    KEXPECT(t.value().flags & PageFlag::WriteThrough);
    KEXPECT_EQ(t.value().phys, 0xFEE00000u);
    // The LAPIC version register reads sensibly (version 0x1x, some LVT entries).
    uint32_t version = *reinterpret_cast<volatile uint32_t*>(v + 0x30);
    KEXPECT((version & 0xFF) >= 0x10 && (version & 0xFF) < 0x20);
    // Unaligned start keeps its offset; a second mapping gets another address.
    auto q = map_mmio(0xFED00010, 0x20, Cache::WriteCombining);
    KASSERT_TRUE(q.is_ok());
    KEXPECT_EQ(reinterpret_cast<uint64_t>(q.value()) & 0xFFF, 0x10u);
    KEXPECT(q.value() != p.value());
    unmap_mmio(p.value(), 0x1000);
    KEXPECT(translate_kernel(v).is_error());
    unmap_mmio(q.value(), 0x20);
    // RAM and nonsense are refused.
    KEXPECT(map_mmio(0x1000000, 0x1000).is_error());
    KEXPECT(map_mmio(0xFEE00000, 0).is_error());
    // Freed virtual space is reused.
    auto r = map_mmio(0xFEE00000, 0x1000);
    KEXPECT(r.is_ok() && r.value() == p.value());
    if (r.is_ok()) unmap_mmio(r.value(), 0x1000);
}

KTEST(mm, kmalloc_sizes_and_patterns) {
    constexpr size_t SIZES[] = {1, 8, 16, 17, 64, 100, 256, 511, 512, 1000, 2048, 2049, 4096, 10000, 70000};
    constexpr size_t PER = 24;
    void* blocks[sizeof(SIZES) / sizeof(SIZES[0])][PER];
    size_t pages_before = heap_pages();
    HeapCacheStats s64 = heap_class_stats(64);
    for (size_t i = 0; i < sizeof(SIZES) / sizeof(SIZES[0]); i++) {
        for (size_t j = 0; j < PER; j++) {
            auto* p = static_cast<uint8_t*>(kmalloc(SIZES[i]));
            blocks[i][j] = p;
            KASSERT_TRUE(p != nullptr);
            KEXPECT_EQ(reinterpret_cast<uint64_t>(p) & 15, 0u);
            for (size_t k = 0; k < SIZES[i]; k++) p[k] = uint8_t(i * 31 + j * 7 + k);
        }
    }
    HeapCacheStats s64_mid = heap_class_stats(64);
    KEXPECT_EQ(s64_mid.objects_in_use, s64.objects_in_use + PER);  // only the 64-byte requests
    KEXPECT_EQ(s64_mid.total_allocs, s64.total_allocs + PER);
    bool intact = true;
    for (size_t i = 0; i < sizeof(SIZES) / sizeof(SIZES[0]); i++) {
        for (size_t j = 0; j < PER; j++) {
            auto* p = static_cast<uint8_t*>(blocks[i][j]);
            for (size_t k = 0; k < SIZES[i]; k++)
                if (p[k] != uint8_t(i * 31 + j * 7 + k)) intact = false;
            kfree(p);
        }
    }
    KEXPECT(intact);
    HeapCacheStats s64_after = heap_class_stats(64);
    KEXPECT_EQ(s64_after.objects_in_use, s64.objects_in_use);
    KEXPECT_EQ(s64_after.total_frees, s64.total_frees + PER);
    // Each cache keeps at most one empty slab.
    KEXPECT(heap_pages() <= pages_before + 8);
    kfree(nullptr);
    print_heap_stats();
}

struct Tracked {
    static inline int live = 0;
    uint64_t payload[5];
    Tracked() { live++; }
    ~Tracked() { live--; }
};

struct alignas(256) Aligned {
    uint8_t bytes[300];
};

KTEST(mm, operator_new_delete) {
    auto* t = new Tracked;
    KEXPECT_EQ(Tracked::live, 1);
    delete t;
    KEXPECT_EQ(Tracked::live, 0);
    auto* arr = new Tracked[10];
    KEXPECT_EQ(Tracked::live, 10);
    delete[] arr;
    KEXPECT_EQ(Tracked::live, 0);
    auto* a = new Aligned;
    KEXPECT_EQ(reinterpret_cast<uint64_t>(a) % 256, 0u);
    delete a;
    auto* n = new (std::nothrow) uint8_t[1ull << 40];  // far more than exists
    KEXPECT(n == nullptr);
    auto* small = new (std::nothrow) int(5);
    KEXPECT(small && *small == 5);
    delete small;
}

KTEST(mm, kernel_stacks) {
    auto a = alloc_kernel_stack(16 * 1024);
    KASSERT_TRUE(a.is_ok());
    KEXPECT_EQ(a.value().top - a.value().bottom, 16u * 1024);
    // Usable from bottom to top, zeroed.
    auto* bottom = reinterpret_cast<volatile uint64_t*>(a.value().bottom);
    KEXPECT_EQ(bottom[0], 0u);
    bottom[0] = 1;
    reinterpret_cast<volatile uint64_t*>(a.value().top)[-1] = 2;
    uint64_t guard = a.value().bottom - PAGE_SIZE;
    KEXPECT(translate_kernel(guard).is_error());
    KEXPECT(is_stack_guard_address(guard));
    KEXPECT(is_stack_guard_address(a.value().bottom - 1));
    KEXPECT(!is_stack_guard_address(a.value().bottom));
    auto b = alloc_kernel_stack(8 * 1024);
    KASSERT_TRUE(b.is_ok());
    KEXPECT(b.value().top != a.value().top);
    uint64_t free_before = free_pages();
    free_kernel_stack(a.value());
    KEXPECT(!is_stack_guard_address(guard));
    // free_pages() gives the cached stack back: unmapped, its frames free.
    KEXPECT(free_pages() >= free_before + 4);
    KEXPECT(translate_kernel(a.value().bottom).is_error());
    // The freed slot comes back.
    auto c = alloc_kernel_stack(16 * 1024);
    KASSERT_TRUE(c.is_ok());
    KEXPECT_EQ(c.value().top, a.value().top);
    KEXPECT(alloc_kernel_stack(0).is_error());
    KEXPECT(alloc_kernel_stack(MAX_KERNEL_STACK + 1).is_error());
    free_kernel_stack(c.value());
    free_kernel_stack(b.value());
}

KTEST(mm, kernel_stack_cache_reuses_without_unmapping) {
    release_kernel_stack_cache();
    auto a = alloc_kernel_stack(16 * 1024);
    KASSERT_TRUE(a.is_ok());
    auto* words = reinterpret_cast<volatile uint64_t*>(a.value().bottom);
    size_t count = (a.value().top - a.value().bottom) / sizeof(uint64_t);
    for (size_t i = 0; i < count; i++) words[i] = 0x5a5a5a5a5a5a5a5aull + i;
    StackCacheStats before = kernel_stack_cache_stats();
    free_kernel_stack(a.value());
    StackCacheStats cached = kernel_stack_cache_stats();
    KEXPECT_EQ(cached.cached_stacks, before.cached_stacks + 1);
    KEXPECT_EQ(cached.trims, before.trims);  // no unmap, no shoot-down
    KEXPECT(translate_kernel(a.value().bottom).is_ok());
    // Another size does not take it.
    auto other = alloc_kernel_stack(8 * 1024);
    KASSERT_TRUE(other.is_ok());
    KEXPECT(other.value().top != a.value().top);
    // The same size does, zeroed like a fresh stack.
    auto b = alloc_kernel_stack(16 * 1024);
    KASSERT_TRUE(b.is_ok());
    KEXPECT_EQ(b.value().top, a.value().top);
    KEXPECT_EQ(b.value().bottom, a.value().bottom);
    StackCacheStats after = kernel_stack_cache_stats();
    KEXPECT_EQ(after.hits, cached.hits + 1);
    KEXPECT_EQ(after.trims, before.trims);
    size_t nonzero = 0;
    for (size_t i = 0; i < count; i++) nonzero += words[i] != 0;
    KEXPECT_EQ(nonzero, 0u);
    KEXPECT(is_stack_guard_address(b.value().bottom - 1));
    free_kernel_stack(b.value());
    free_kernel_stack(other.value());
    KEXPECT(release_kernel_stack_cache() >= 6u);
    KEXPECT_EQ(kernel_stack_cache_stats().cached_stacks, 0u);
    KEXPECT(translate_kernel(b.value().bottom).is_error());
}

// What the trim hook saw: the unmapped slots, and whether a fresh stack landed on one of them or
// one of them was still mapped before the shoot-down.
struct TrimWatch {
    uint64_t tops[STACK_CACHE_STACKS + 1];
    size_t count;
    size_t calls;
    size_t still_mapped;
    size_t reused;
    size_t probes;
    bool passed_victims;
} g_trim_watch;

// A stack size nothing else in the kernel uses, so that it never comes from the cache.
constexpr size_t PROBE_STACK = 5 * PAGE_SIZE;

void watch_trim(const uint32_t* slots, size_t count) {
    set_stack_trim_hook(nullptr);  // the probes' own frees may trim
    TrimWatch& w = g_trim_watch;
    w.calls++;
    w.count = count;
    uint64_t highest = 0;
    for (size_t i = 0; i < count; i++) {
        w.tops[i] = STACK_BASE + (uint64_t(slots[i]) + 1) * STACK_SLOT_SIZE;
        if (w.tops[i] > highest) highest = w.tops[i];
        if (translate_kernel(w.tops[i] - PAGE_SIZE).is_ok()) w.still_mapped++;
    }
    // Fresh stacks from the lowest free slot up, past the highest unmapped one: not one of them
    // may take a slot whose old entries other CPUs may still hold.
    rewind_stack_hint();
    constexpr size_t MAX_PROBES = 1024;
    static KernelStack probes[MAX_PROBES];
    size_t n = 0;
    while (n < MAX_PROBES) {
        auto p = alloc_kernel_stack(PROBE_STACK);
        if (p.is_error()) break;
        probes[n++] = p.value();
        for (size_t i = 0; i < count; i++) w.reused += p.value().top == w.tops[i];
        if (p.value().top > highest) {
            w.passed_victims = true;
            break;
        }
    }
    w.probes = n;
    for (size_t i = 0; i < n; i++) free_kernel_stack(probes[i]);
}

KTEST(mm, kernel_stack_cache_trims_in_one_batch_and_never_reuses_before_the_flush) {
    release_kernel_stack_cache();
    constexpr size_t N = STACK_CACHE_STACKS + 1;
    static KernelStack stacks[N];
    for (size_t i = 0; i < N; i++) {
        auto s = alloc_kernel_stack(16 * 1024);
        KASSERT_TRUE(s.is_ok());
        stacks[i] = s.value();
    }
    g_trim_watch = {};
    StackCacheStats before = kernel_stack_cache_stats();
    set_stack_trim_hook(watch_trim);
    // The cache takes STACK_CACHE_STACKS; the next free trims the oldest down to half of that.
    for (size_t i = 0; i < N; i++) free_kernel_stack(stacks[i]);
    set_stack_trim_hook(nullptr);
    StackCacheStats after = kernel_stack_cache_stats();
    // One batch, of at least the oldest N - STACK_CACHE_STACKS / 2 (more if another thread's
    // stack went into the cache meanwhile): the first ones freed, unmapped before the shoot-down,
    // and no fresh stack took their slots until it was done.
    size_t trimmed = N - STACK_CACHE_STACKS / 2;
    KEXPECT_EQ(g_trim_watch.calls, 1u);
    KEXPECT(g_trim_watch.count >= trimmed);
    KEXPECT(after.trimmed_stacks >= before.trimmed_stacks + trimmed);
    KEXPECT_EQ(g_trim_watch.still_mapped, 0u);
    KEXPECT(g_trim_watch.passed_victims);
    KEXPECT(g_trim_watch.probes > 0);
    KEXPECT_EQ(g_trim_watch.reused, 0u);
    for (size_t i = 0; i < trimmed; i++) {
        bool in_batch = false;
        for (size_t j = 0; j < g_trim_watch.count; j++) in_batch |= g_trim_watch.tops[j] == stacks[i].top;
        KEXPECT(in_batch);
    }
    // After the shoot-down their slots are free again.
    rewind_stack_hint();
    bool back = false;
    static KernelStack again[1024];
    size_t n = 0;
    while (n < 1024 && !back) {
        auto s = alloc_kernel_stack(PROBE_STACK);
        if (s.is_error()) break;
        again[n++] = s.value();
        back = s.value().top == stacks[0].top;
    }
    KEXPECT(back);
    for (size_t i = 0; i < n; i++) free_kernel_stack(again[i]);
    release_kernel_stack_cache();
}

}  // namespace
}  // namespace lamina::mm
