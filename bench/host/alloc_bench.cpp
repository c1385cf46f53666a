// Host benchmark for the kernel's memory allocators (kernel/mm/buddy.h, kernel/mm/slab.h),
// with glibc malloc/free of the same sizes measured in the same run as a baseline.
//
// The Heap is wired as in the kernel: its pages come from a BuddyAllocator, turned into pointers
// through a "direct map" (here one big host buffer standing in for physical memory).
//
// Every figure is one alloc plus one free, averaged over rounds of BATCH allocations followed by
// BATCH frees (best of 5 slices), so free lists are exercised rather than one slot ping-ponging.
// "cycles" are TSC ticks (rdtsc), which run at the nominal frequency, not the current core
// clock. glibc is told not to trim or mmap (see main), so it too runs on warm, reused memory.
//
// Build: g++ -std=c++20 -O2 -I. -Iinclude bench/host/alloc_bench.cpp kernel/mm/buddy.cpp
//        kernel/mm/slab.cpp -o alloc_bench
#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/host/measure.h"
#include "kernel/mm/buddy.h"
#include "kernel/mm/slab.h"
#include "tests/unit/host_domains.cpp"  // ninja links every portable file; some need the host exchange heap

namespace {

using lamina::mm::BuddyAllocator;
using lamina::mm::Heap;
using lamina::mm::Owner;
using lamina::mm::PAGE_SIZE;
using lamina::mm::PageMeta;
using lamina::mm::PageProvider;

constexpr size_t BATCH = 512;
constexpr uint64_t FAKE_MEMORY_PAGES = 32768;  // 128 MiB of pretend physical memory

volatile uintptr_t g_sink;  // keeps the compiler from dropping allocations it deems unused

using lamina::bench::Figure;

// Every figure is per alloc+free pair, the best of 5 slices of `rounds` batches.
template <typename Body>
Figure measure(size_t rounds, Body&& body) {
    return lamina::bench::measure(rounds, BATCH, 1, body);
}

// The kernel's arrangement: frames from the buddy allocator, addressed through a direct map.
class DirectMappedFrames final : public PageProvider {
public:
    DirectMappedFrames(BuddyAllocator& frames, unsigned char* direct_map) : frames_(frames), direct_map_(direct_map) {}
    void* alloc_pages(unsigned order) override {
        auto phys = frames_.alloc(order, Owner::kernel());
        return phys.is_ok() ? direct_map_ + phys.value() : nullptr;
    }
    void free_pages(void* pages, unsigned order) override {
        auto phys = static_cast<uint64_t>(static_cast<unsigned char*>(pages) - direct_map_);
        if (frames_.free(phys, order).is_error()) {
            std::fprintf(stderr, "bench: bad free_pages\n");
            std::abort();
        }
    }

private:
    BuddyAllocator& frames_;
    unsigned char* direct_map_;
};

void print_row(const char* what, Figure ours, Figure glibc) {
    std::printf("%-28s %9.1f %9.1f   %9.1f %9.1f   %6.2fx\n", what, ours.ns, ours.cycles, glibc.ns, glibc.cycles,
                ours.ns / glibc.ns);
}

Figure bench_malloc(size_t size, size_t rounds) {
    std::vector<void*> held(BATCH);
    return measure(rounds, [&] {
        for (size_t i = 0; i < BATCH; i++) {
            held[i] = std::malloc(size);
            static_cast<unsigned char*>(held[i])[0] = 1;
        }
        for (size_t i = 0; i < BATCH; i++) {
            g_sink = g_sink + reinterpret_cast<uintptr_t>(held[i]);
            std::free(held[i]);
        }
    });
}

}  // namespace

int main() {
    auto start = std::chrono::steady_clock::now();
    // Keep glibc in its steady state: by default freeing a batch of page-sized blocks trims the
    // heap top back to the kernel, and every round then pays brk and page faults, which would
    // measure Linux rather than malloc.
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_MMAP_THRESHOLD, 1 << 30);

    std::vector<PageMeta> meta(BuddyAllocator::metadata_bytes(FAKE_MEMORY_PAGES * PAGE_SIZE) / sizeof(PageMeta));
    auto created = BuddyAllocator::create(meta.data(), meta.size() * sizeof(PageMeta), FAKE_MEMORY_PAGES * PAGE_SIZE);
    if (created.is_error()) {
        std::fprintf(stderr, "bench: BuddyAllocator::create failed\n");
        return 1;
    }
    BuddyAllocator frames = created.release_value();
    // Skip frame 0 and leave the range unaligned, as real memory maps are.
    if (frames.add_range(PAGE_SIZE, FAKE_MEMORY_PAGES - 1).is_error()) {
        std::fprintf(stderr, "bench: add_range failed\n");
        return 1;
    }

    std::printf("lamina allocator benchmark: per alloc+free pair, batches of %zu\n", BATCH);
    std::printf("%-28s %9s %9s   %9s %9s   %7s\n", "", "lamina ns", "cycles", "glibc ns", "cycles", "ratio");

    std::vector<uint64_t> phys(BATCH);
    for (unsigned order : {0u, 3u}) {
        Figure ours = measure(8000, [&] {
            for (size_t i = 0; i < BATCH; i++) phys[i] = frames.alloc(order, Owner::kernel()).value();
            for (size_t i = 0; i < BATCH; i++) {
                g_sink = g_sink + phys[i];
                (void)frames.free(phys[i], order).is_ok();
            }
        });
        Figure glibc = bench_malloc(PAGE_SIZE << order, 8000);
        char label[64];
        std::snprintf(label, sizeof label, "frame order %u (%zu KiB)", order,
                      static_cast<size_t>((PAGE_SIZE << order) / 1024));
        print_row(label, ours, glibc);
    }

    auto* direct_map = static_cast<unsigned char*>(std::aligned_alloc(PAGE_SIZE, FAKE_MEMORY_PAGES * PAGE_SIZE));
    if (direct_map == nullptr) {
        std::fprintf(stderr, "bench: no memory for the fake direct map\n");
        return 1;
    }
    {
        DirectMappedFrames provider(frames, direct_map);
        Heap heap(provider);
        std::vector<void*> held(BATCH);
        struct Case {
            const char* label;
            size_t size;
            size_t rounds;
        };
        const Case cases[] = {{"slab 64 B", 64, 16000},
                              {"slab 512 B", 512, 8000},
                              {"large 16 KiB (order 3)", 16384, 4000},
                              {"large 64 KiB (order 5)", 65536, 2000}};
        for (const Case& c : cases) {
            Figure ours = measure(c.rounds, [&] {
                for (size_t i = 0; i < BATCH; i++) {
                    held[i] = heap.allocate(c.size);
                    static_cast<unsigned char*>(held[i])[0] = 1;
                }
                for (size_t i = 0; i < BATCH; i++) {
                    g_sink = g_sink + reinterpret_cast<uintptr_t>(held[i]);
                    (void)heap.deallocate(held[i]).is_ok();
                }
            });
            print_row(c.label, ours, bench_malloc(c.size, c.rounds));
        }
        std::printf("\nslab caches after the run:\n");
        heap.for_each_cache([](const lamina::mm::SlabStats& s) {
            if (s.total_allocs != 0)
                std::printf(
                    "  %-10s size %4zu  per-slab %3zu  in use %zu  slabs %zu  allocs %llu  frees "
                    "%llu  failed %llu\n",
                    s.name, s.object_size, s.objects_per_slab, s.objects_in_use, s.slabs,
                    static_cast<unsigned long long>(s.total_allocs), static_cast<unsigned long long>(s.total_frees),
                    static_cast<unsigned long long>(s.failed_allocs));
        });
    }
    std::free(direct_map);

    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("\ntotal run time %.2f s\n", seconds);
    return 0;
}
