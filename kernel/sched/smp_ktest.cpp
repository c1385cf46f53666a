// In-kernel tests of multiprocessor operation (suite `smp`): every CPU runs threads, and TLB
// shoot-downs reach every CPU.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/arch/x86_64/smp.h"
#include "kernel/dev/acpi/platform.h"
#include "kernel/ktest/ktest.h"
#include "kernel/mm/memory.h"
#include "kernel/mm/page_table.h"
#include "kernel/sched/scheduler.h"
#include "kernel/time/time.h"

namespace lamina::smp {
namespace {

KTEST(smp, every_described_cpu_is_online) {
    unsigned described = 0;
    if (const acpi::Acpi* p = acpi::platform())
        for (const auto& c : p->madt().cpus)
            if (c.enabled) described++;
    ktest_ctx.note("%u CPUs online of %u described", arch::online_cpu_count(), described);
    KEXPECT_EQ(arch::online_cpu_count(), described ? described : 1u);
}

struct WhereRan {
    volatile unsigned cpu = ~0u;
    volatile uint32_t apic = ~0u;
};

void record_cpu(void* arg) {
    auto* w = static_cast<WhereRan*>(arg);
    // Yield a few times: wherever it resumes must still be its pinned CPU.
    for (int i = 0; i < 5; i++) sched::yield();
    w->cpu = arch::this_cpu()->index;
    w->apic = arch::this_cpu()->apic_id;
}

KTEST(smp, a_thread_pinned_to_each_cpu_runs_there) {
    WhereRan where[arch::MAX_CPUS];
    sched::Thread* threads[arch::MAX_CPUS] = {};
    unsigned n = arch::cpu_count();
    for (unsigned i = 0; i < n; i++) {
        if (!arch::cpu_by_index(i).online) continue;
        sched::ThreadOptions o;
        o.cpu = int(i);
        auto r = sched::Thread::create("pinned", record_cpu, &where[i], o);
        KASSERT_TRUE(r.is_ok());
        threads[i] = r.value();
    }
    for (unsigned i = 0; i < n; i++) {
        if (!threads[i]) continue;
        threads[i]->join();
        KEXPECT_EQ(where[i].cpu, i);
        KEXPECT_EQ(where[i].apic, arch::cpu_by_index(i).apic_id);
    }
}

// Unpinned threads spread over the CPUs (least-loaded placement), and all of them finish.
struct Spread {
    volatile uint32_t seen_mask = 0;
    volatile bool go = false;
};

void spin_then_record(void* arg) {
    auto* s = static_cast<Spread*>(arg);
    while (!s->go) cpu::pause();
    __atomic_fetch_or(&s->seen_mask, 1u << (arch::this_cpu()->index & 31), __ATOMIC_RELAXED);
}

KTEST(smp, unpinned_threads_spread_over_cpus) {
    constexpr unsigned N = 16;
    Spread s;
    sched::Thread* threads[N];
    for (unsigned i = 0; i < N; i++) {
        auto r = sched::Thread::create("spread", spin_then_record, &s);
        KASSERT_TRUE(r.is_ok());
        threads[i] = r.value();
    }
    s.go = true;
    for (unsigned i = 0; i < N; i++) threads[i]->join();
    unsigned cpus = arch::online_cpu_count();
    unsigned seen = 0;
    for (uint32_t m = s.seen_mask; m; m &= m - 1) seen++;
    ktest_ctx.note("threads ran on %u of %u CPUs", seen, cpus);
    KEXPECT_EQ(seen, cpus < 32 ? cpus : 32u);
}

KTEST(smp, shootdown_is_acknowledged_by_every_other_cpu) {
    uint64_t before = tlb_shootdowns_received();
    for (int i = 0; i < 10; i++) tlb_shootdown(0xffff800000000000ull, 4096);
    uint64_t got = tlb_shootdowns_received() - before;
    KEXPECT_EQ(got, 10u * (arch::online_cpu_count() - 1));
}

// A page that other CPUs have read (so their TLBs hold its translation) is remapped to another
// frame; after the shoot-down they must all see the new frame's contents.
constexpr uint64_t SHOOTDOWN_TEST_VA = 0xffffb08000000000;  // an otherwise unused PML4 slot
constexpr uint64_t VALUE_A = 0xAAAA'0000'AAAA'0001, VALUE_B = 0xBBBB'0000'BBBB'0002;

struct Remap {
    volatile bool remapped = false;
    volatile unsigned first_reads = 0;
    uint64_t before[arch::MAX_CPUS];
    uint64_t after[arch::MAX_CPUS];
};

void read_twice(void* arg) {
    auto* r = static_cast<Remap*>(arg);
    unsigned me = arch::this_cpu()->index;
    auto* v = reinterpret_cast<volatile uint64_t*>(SHOOTDOWN_TEST_VA);
    // Read repeatedly so the translation is certainly cached here.
    uint64_t x = 0;
    for (int i = 0; i < 100; i++) x = *v;
    r->before[me] = x;
    __atomic_fetch_add(&r->first_reads, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&r->remapped, __ATOMIC_ACQUIRE)) cpu::pause();
    r->after[me] = *v;
}

KTEST(smp, remapped_page_is_seen_by_every_cpu_after_shootdown) {
    auto a = mm::alloc_frames(0, mm::Owner::kernel());
    auto b = mm::alloc_frames(0, mm::Owner::kernel());
    KASSERT_TRUE(a.is_ok() && b.is_ok());
    *static_cast<volatile uint64_t*>(mm::phys_to_virt(a.value())) = VALUE_A;
    *static_cast<volatile uint64_t*>(mm::phys_to_virt(b.value())) = VALUE_B;
    KASSERT_TRUE(mm::map_kernel_page(SHOOTDOWN_TEST_VA, a.value(), mm::PageFlag::NoExecute).is_ok());

    Remap r;
    sched::Thread* threads[arch::MAX_CPUS] = {};
    unsigned readers = 0;
    unsigned self = arch::this_cpu()->index;  // the test thread is pinned: it is the boot thread
    for (unsigned i = 0; i < arch::cpu_count(); i++) {
        if (i == self || !arch::cpu_by_index(i).online) continue;
        sched::ThreadOptions o;
        o.cpu = int(i);
        auto t = sched::Thread::create("tlb-reader", read_twice, &r, o);
        KASSERT_TRUE(t.is_ok());
        threads[i] = t.value();
        readers++;
    }
    while (__atomic_load_n(&r.first_reads, __ATOMIC_ACQUIRE) != readers) sched::yield();
    uint64_t received = tlb_shootdowns_received();
    auto u = mm::unmap_kernel_page(SHOOTDOWN_TEST_VA);
    KEXPECT(u.is_ok() && u.value() == a.value());
    KASSERT_TRUE(mm::map_kernel_page(SHOOTDOWN_TEST_VA, b.value(), mm::PageFlag::NoExecute).is_ok());
    __atomic_store_n(&r.remapped, true, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < arch::cpu_count(); i++) {
        if (!threads[i]) continue;
        threads[i]->join();
        KEXPECT_EQ(r.before[i], VALUE_A);
        KEXPECT_EQ(r.after[i], VALUE_B);
    }
    KEXPECT(tlb_shootdowns_received() - received >= readers);
    ktest_ctx.note("%u other CPUs read the page before and after the remap", readers);
    (void)mm::unmap_kernel_page(SHOOTDOWN_TEST_VA);
    (void)mm::free_frames(a.value(), 0);
    (void)mm::free_frames(b.value(), 0);
}

}  // namespace
}  // namespace lamina::smp
