#include "kernel/domain/device.h"

#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/lapic.h"
#include "kernel/dev/pci/pci.h"
#include "kernel/domain/domain.h"
#include "kernel/irq/irq.h"
#include "kernel/irq/msi.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/sched/wait_queue.h"
#include "kernel/sync/spinlock.h"
#include "kernel/time/time.h"

namespace lamina::domain::device {

namespace {

constexpr int32_t kEINVAL = 22, kENOMEM = 12, kENOENT = 2, kEEXIST = 17, kENOTSUP = 95, kETIMEDOUT = 110,
                  kEAGAIN = 11, kENOSPC = 28;

// What the interrupt handler touches, per CPU vector.
struct VectorWait {
    uint64_t count = 0;  // atomic: interrupts since boot
    sched::WaitQueue queue;
};
VectorWait g_vectors[256];

struct DmaRegion {
    uint64_t phys;
    size_t size;     // as asked for
    unsigned order;  // of the frames behind it
};

struct IrqEntry {
    uint8_t vector;     // 0: not set up
    uint64_t consumed;  // atomic: g_vectors[vector].count the last successful wait saw
};

struct Resources {
    Spinlock lock;
    DmaRegion dma[kMaxDmaRegions];
    size_t dma_count = 0;
    uint64_t dma_pages = 0;
    IrqEntry irqs[Manifest::kMaxDevices][kMaxIrqs];
    uint32_t irq_granted[Manifest::kMaxDevices] = {};
};
Resources g_resources[kImageSlots];

Resources& of(const Domain& d) { return g_resources[d.slot]; }

void on_device_interrupt(arch::InterruptFrame& f) {
    VectorWait& v = g_vectors[f.vector & 0xff];
    __atomic_fetch_add(&v.count, 1, __ATOMIC_RELEASE);
    v.queue.wake_all();
    lapic::eoi();
}

unsigned order_for(size_t bytes) {
    size_t pages = (bytes + mm::PAGE_SIZE - 1) / mm::PAGE_SIZE;
    unsigned order = 0;
    while ((size_t(1) << order) < pages) order++;
    return order;
}

}  // namespace

int32_t dma_alloc(Domain& d, size_t size, void** out, uint64_t* bus) {
    if (size == 0 || size > kMaxDmaBytes) return kEINVAL;
    Resources& r = of(d);
    {
        SpinlockGuard g(r.lock);
        if (r.dma_count == kMaxDmaRegions) return kENOMEM;
    }
    unsigned order = order_for(size);
    auto frames = mm::alloc_frames(order, mm::Owner::domain(d.id));
    if (frames.is_error()) return kENOMEM;
    uint64_t phys = frames.value();
    __builtin_memset(mm::phys_to_virt(phys), 0, mm::PAGE_SIZE << order);
    bool recorded = false;
    {
        SpinlockGuard g(r.lock);
        if (r.dma_count < kMaxDmaRegions) {
            r.dma[r.dma_count++] = {phys, size, order};
            r.dma_pages += size_t(1) << order;
            recorded = true;
        }
    }
    if (!recorded) {
        (void)mm::free_frames(phys, order);
        return kENOMEM;
    }
    *out = mm::phys_to_virt(phys);
    *bus = phys;  // no IOMMU: bus addresses are physical addresses
    return 0;
}

int32_t dma_free(Domain& d, void* base, size_t size) {
    Resources& r = of(d);
    DmaRegion found{};
    {
        SpinlockGuard g(r.lock);
        size_t i = 0;
        for (; i < r.dma_count; i++)
            if (mm::phys_to_virt(r.dma[i].phys) == base && r.dma[i].size == size) break;
        if (i == r.dma_count) return kEINVAL;
        found = r.dma[i];
        r.dma[i] = r.dma[--r.dma_count];
        r.dma_pages -= size_t(1) << found.order;
    }
    (void)mm::free_frames(found.phys, found.order);
    return 0;
}

int32_t irq_setup(Domain& d, uint64_t handle, pci::PciDevice& dev, uint32_t count, uint32_t* granted) {
    if (handle == 0 || handle > Manifest::kMaxDevices || count == 0) return kEINVAL;
    Resources& r = of(d);
    size_t slot = handle - 1;
    {
        SpinlockGuard g(r.lock);
        if (r.irq_granted[slot]) return kEEXIST;
    }
    uint16_t table = dev.msix_vector_count();
    if (table == 0) return kENOTSUP;
    uint32_t n = count;
    if (n > table) n = table;
    if (n > kMaxIrqs) n = kMaxIrqs;
    // The table is reached through its BAR: memory decoding must be on.
    if (auto e = dev.enable_memory_space(); e.is_error()) return int32_t(e.error().code());
    uint8_t vectors[kMaxIrqs] = {};
    uint32_t got = 0;
    for (; got < n; got++) {
        auto v = irq::allocate_vector();
        if (v.is_error()) break;
        vectors[got] = v.value();
    }
    auto undo = [&](uint32_t upto) {
        for (uint32_t i = 0; i < upto; i++) {
            (void)dev.msix_mask(uint16_t(i));
            arch::set_interrupt_handler(vectors[i], nullptr);
            (void)irq::free_vector(vectors[i]);
        }
    };
    if (got == 0) return kENOSPC;
    uint32_t apic = lapic::id();
    for (uint32_t i = 0; i < got; i++) {
        arch::set_interrupt_handler(vectors[i], on_device_interrupt);
        irq::MsiMessage m = irq::compose_msi(apic, vectors[i]);
        if (auto e = dev.msix_set_entry(uint16_t(i), m.address, m.data, /*masked=*/false); e.is_error()) {
            undo(got);
            return int32_t(e.error().code());
        }
    }
    if (auto e = dev.msix_enable(); e.is_error()) {
        undo(got);
        return int32_t(e.error().code());
    }
    (void)dev.msix_set_function_mask(false);
    {
        SpinlockGuard g(r.lock);
        for (uint32_t i = 0; i < got; i++)
            r.irqs[slot][i] = {vectors[i], __atomic_load_n(&g_vectors[vectors[i]].count, __ATOMIC_ACQUIRE)};
        r.irq_granted[slot] = got;
    }
    *granted = got;
    return 0;
}

int32_t irq_wait_slice(Domain& d, uint64_t handle, uint32_t entry, uint64_t deadline_ns, uint64_t slice_ns) {
    if (handle == 0 || handle > Manifest::kMaxDevices) return kENOENT;
    Resources& r = of(d);
    IrqEntry* e;
    {
        SpinlockGuard g(r.lock);
        if (entry >= r.irq_granted[handle - 1]) return kENOENT;
        e = &r.irqs[handle - 1][entry];
    }
    VectorWait& v = g_vectors[e->vector];
    uint64_t now = time::now_ns();
    uint64_t seen = __atomic_load_n(&e->consumed, __ATOMIC_ACQUIRE);
    uint64_t wait = deadline_ns > now ? deadline_ns - now : 0;
    bool last_slice = wait <= slice_ns;
    if (!last_slice) wait = slice_ns;
    auto arrived = v.queue.wait_for([&] { return __atomic_load_n(&v.count, __ATOMIC_ACQUIRE) != seen; }, wait);
    if (arrived.is_error()) return last_slice ? kETIMEDOUT : kEAGAIN;
    // Several threads may wait on one entry: each moves `consumed` forward, none backward.
    uint64_t now_count = __atomic_load_n(&v.count, __ATOMIC_ACQUIRE);
    __atomic_compare_exchange_n(&e->consumed, &seen, now_count, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return 0;
}

uint64_t irq_count(const Domain& d, uint64_t handle, uint32_t entry) {
    if (handle == 0 || handle > Manifest::kMaxDevices) return 0;
    Resources& r = of(d);
    SpinlockGuard g(r.lock);
    if (entry >= r.irq_granted[handle - 1]) return 0;
    return __atomic_load_n(&g_vectors[r.irqs[handle - 1][entry].vector].count, __ATOMIC_ACQUIRE);
}

void release_device(Domain& d, uint64_t handle, pci::PciDevice& dev) {
    Resources& r = of(d);
    uint8_t vectors[kMaxIrqs] = {};
    uint32_t n = 0;
    if (handle >= 1 && handle <= Manifest::kMaxDevices) {
        SpinlockGuard g(r.lock);
        n = r.irq_granted[handle - 1];
        for (uint32_t i = 0; i < n; i++) vectors[i] = r.irqs[handle - 1][i].vector;
        r.irq_granted[handle - 1] = 0;
    }
    // Silence the device first (masks every MSI-X entry, bus mastering off), then take the
    // vectors away: a message already in flight still finds the handler.
    if (auto e = pci::release(&dev); e.is_error())
        kprintf("domain %s: releasing a device failed: %s\n", d.name, e.error().name());
    for (uint32_t i = 0; i < n; i++) {
        arch::set_interrupt_handler(vectors[i], nullptr);
        // Waiters (threads of the dying domain) see their slice end and leave.
        (void)irq::free_vector(vectors[i]);
    }
}

void release_dma(Domain& d) {
    Resources& r = of(d);
    for (;;) {
        DmaRegion region;
        {
            SpinlockGuard g(r.lock);
            if (r.dma_count == 0) break;
            region = r.dma[--r.dma_count];
            r.dma_pages -= size_t(1) << region.order;
        }
        (void)mm::free_frames(region.phys, region.order);
    }
}

uint64_t dma_pages(const Domain& d) {
    Resources& r = of(d);
    SpinlockGuard g(r.lock);
    return r.dma_pages;
}

}  // namespace lamina::domain::device
