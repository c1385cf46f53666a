// In-kernel benchmarks of the memory manager: TSC ticks per operation pair, averaged over a
// batch (allocate BATCH, then free BATCH) so free lists are exercised, best of a few rounds.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/ktest/kbench.h"
#include "kernel/mm/memory.h"
#include "kernel/mm/page_table.h"

namespace lamina::mm {
namespace {

constexpr size_t BATCH = 256;
constexpr int ROUNDS = 8;

template <typename Round>
uint64_t best_of(Round&& round) {
    uint64_t best = ~0ull;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t t0 = cpu::rdtsc();
        round();
        uint64_t t = (cpu::rdtsc() - t0) / BATCH;
        if (t < best) best = t;
    }
    return best;
}

KBENCH(mm_frame_alloc_free) {
    uint64_t frames[BATCH];
    uint64_t cycles = best_of([&] {
        for (auto& f : frames) f = alloc_frames(0, Owner::kernel()).value();
        for (auto f : frames) (void)free_frames(f, 0);
    });
    kbench_ctx.report("cycles_per_alloc_free_order0", cycles, "cycles");
}

void bench_kmalloc(kbench::Context& ctx, size_t size, const char* metric) {
    void* blocks[BATCH];
    uint64_t cycles = best_of([&] {
        for (auto& b : blocks) b = kmalloc(size);
        for (auto b : blocks) kfree(b);
    });
    ctx.report(metric, cycles, "cycles");
}

KBENCH(mm_kmalloc_kfree) {
    bench_kmalloc(kbench_ctx, 64, "cycles_per_kmalloc_kfree_64");
    bench_kmalloc(kbench_ctx, 512, "cycles_per_kmalloc_kfree_512");
}

KBENCH(mm_map_unmap_4k) {
    constexpr uint64_t VA = 0xffffb00000000000;
    uint64_t frame = alloc_frames(0, Owner::kernel()).value();
    // Keep one page mapped so the tables stay: the figure is the map/unmap itself.
    (void)map_kernel_page(VA, frame, PageFlag::Writable | PageFlag::NoExecute);
    uint64_t cycles = best_of([&] {
        for (size_t i = 1; i <= BATCH; i++)
            (void)map_kernel_page(VA + i * PAGE_SIZE, frame, PageFlag::Writable | PageFlag::NoExecute);
        for (size_t i = 1; i <= BATCH; i++) (void)unmap_kernel_page(VA + i * PAGE_SIZE);
    });
    (void)unmap_kernel_page(VA);
    (void)free_frames(frame, 0);
    kbench_ctx.report("cycles_per_map_unmap_4k", cycles, "cycles");
}

}  // namespace
}  // namespace lamina::mm
