#include "kernel/domain/device.h"

#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/lapic.h"
#include "kernel/dev/pci/pci.h"
#include "kernel/domain/exchange_heap.h"
#include "kernel/domain/internal.h"
#include "kernel/iommu/iommu.h"
#include "kernel/domain/domain.h"
#include "kernel/irq/irq.h"
#include "kernel/irq/msi.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/sched/wait_queue.h"
#include "kernel/time/time.h"

namespace lamina::domain::device {

namespace {

// What the interrupt handler touches, per CPU vector.
struct VectorWait {
    uint64_t count = 0;  // atomic: interrupts since boot
    sched::WaitQueue queue;
};
VectorWait g_vectors[256];

void on_device_interrupt(arch::InterruptFrame& f) {
    VectorWait& v = g_vectors[f.vector & 0xff];
    __atomic_fetch_add(&v.count, 1, __ATOMIC_RELEASE);
    v.queue.wake_all();
    lapic::eoi();
}

bool valid_handle(uint64_t handle) { return handle >= 1 && handle <= Manifest::MAX_DEVICES; }

iommu::DeviceId iommu_id(pci::PciDevice& dev) {
    return {dev.address().bus, dev.address().device, dev.address().function};
}

// A DMA the IOMMU refused is the fault of the domain that holds the device, as a CPU fault in
// its code would be: marked Failed (its devices stop mastering the bus), its shadow recovers.
void on_dma_fault(const iommu::Fault& f) {
    SpinlockGuard g(g_domains_lock);
    for (Domain* d : g_slots) {
        if (!is_live(d) || d->id != f.owner) continue;
        kprintf("domain %s (id %u): its device %02x:%02x.%u %s %#lx outside its grants\n", d->name, d->id, f.device.bus,
                f.device.device, f.device.function, f.write ? "wrote" : "read", f.address);
        mark_failed(d, {FaultRecord::Cause::Violation, 0, f.address, f.reason});
    }
}

struct HeldBy {
    ExchangeHeap& heap;
    uint32_t owner;
};

bool still_held(void* context, const void* object) {
    auto& held = *static_cast<HeldBy*>(context);
    auto h = held.heap.header_of(object);
    return h.is_ok() &&
           (h.value()->owner == held.owner || (h.value()->lend_count && h.value()->borrower == held.owner));
}

}  // namespace

Result<DmaBuffer> dma_alloc(Domain& d, size_t size) {
    if (size == 0 || size > MAX_DMA_BYTES) return Errno::Inval;
    uint64_t phys = TRY(alloc_run(d, d.resources.dma, size));
    // IOVA = physical address: with or without the IOMMU the device is told the physical one.
    if (auto m = iommu::map(d.id, phys, size); m.is_error()) {
        (void)free_run(d, d.resources.dma, mm::phys_to_virt(phys), size);
        return m.error();
    }
    return DmaBuffer{mm::phys_to_virt(phys), phys};
}

Result<void> dma_free(Domain& d, void* base, size_t size) {
    // Unmapped before the frames can go to anyone else.
    iommu::unmap(d.id, mm::virt_to_phys(base), size);
    return free_run(d, d.resources.dma, base, size);
}

Result<void> attach(Domain& d, pci::PciDevice& dev) {
    static bool handler_set;
    if (!__atomic_exchange_n(&handler_set, true, __ATOMIC_ACQ_REL)) iommu::set_fault_handler(on_dma_fault);
    return iommu::attach(d.id, iommu_id(dev));
}

Result<void> grant_exchange(Domain& d, const void* object, uint64_t phys, size_t bytes) {
    return iommu::grant(d.id, object, phys, bytes);
}

void revoke_exchange(uint32_t owner) {
    if (!iommu::has_grants(owner)) return;
    // One look at the heap for all of the owner's grants (lock order: the heap, then the IOMMU).
    with_exchange_heap([&](ExchangeHeap& x) {
        HeldBy held{x, owner};
        iommu::revoke_stale(owner, still_held, &held);
    });
}

Result<uint32_t> irq_setup(Domain& d, uint64_t handle, pci::PciDevice& dev, uint32_t count) {
    if (!valid_handle(handle) || count == 0) return Errno::Inval;
    Resources& r = d.resources;
    size_t slot = handle - 1;
    {
        SpinlockGuard g(r.lock);
        if (r.irq_granted[slot]) return Errno::Exist;
    }
    uint16_t table = dev.msix_vector_count();
    if (table == 0) return Errno::NotSup;
    uint32_t n = count;
    if (n > table) n = table;
    if (n > MAX_IRQS) n = MAX_IRQS;
    // The table is reached through its BAR: memory decoding must be on.
    TRY(dev.enable_memory_space());
    uint8_t vectors[MAX_IRQS] = {};
    uint32_t got = 0;
    for (; got < n; got++) {
        auto v = irq::allocate_vector();
        if (v.is_error()) break;
        vectors[got] = v.value();
    }
    if (got == 0) return Errno::NoSpc;
    auto undo = [&](Error e) -> Result<uint32_t> {
        for (uint32_t i = 0; i < got; i++) {
            (void)dev.msix_mask(uint16_t(i));
            arch::set_interrupt_handler(vectors[i], nullptr);
            (void)irq::free_vector(vectors[i]);
        }
        return e;
    };
    uint32_t apic = lapic::id();
    for (uint32_t i = 0; i < got; i++) {
        arch::set_interrupt_handler(vectors[i], on_device_interrupt);
        irq::MsiMessage m = irq::compose_msi(apic, vectors[i]);
        if (auto e = dev.msix_set_entry(uint16_t(i), m.address, m.data, /*masked=*/false); e.is_error())
            return undo(e.error());
    }
    if (auto e = dev.msix_enable(); e.is_error()) return undo(e.error());
    (void)dev.msix_set_function_mask(false);
    {
        SpinlockGuard g(r.lock);
        for (uint32_t i = 0; i < got; i++)
            r.irqs[slot][i] = {vectors[i], __atomic_load_n(&g_vectors[vectors[i]].count, __ATOMIC_ACQUIRE)};
        r.irq_granted[slot] = got;
    }
    return got;
}

Result<void> irq_wait_slice(Domain& d, uint64_t handle, uint32_t entry, uint64_t deadline_ns, uint64_t slice_ns) {
    if (!valid_handle(handle)) return Errno::NoEnt;
    Resources& r = d.resources;
    Resources::IrqEntry* e;
    {
        SpinlockGuard g(r.lock);
        if (entry >= r.irq_granted[handle - 1]) return Errno::NoEnt;
        e = &r.irqs[handle - 1][entry];
    }
    VectorWait& v = g_vectors[e->vector];
    uint64_t now = time::now_ns();
    uint64_t seen = __atomic_load_n(&e->consumed, __ATOMIC_ACQUIRE);
    uint64_t wait = deadline_ns > now ? deadline_ns - now : 0;
    bool last_slice = wait <= slice_ns;
    if (!last_slice) wait = slice_ns;
    auto arrived = v.queue.wait_for([&] { return __atomic_load_n(&v.count, __ATOMIC_ACQUIRE) != seen; }, wait);
    if (arrived.is_error()) return last_slice ? Errno::TimedOut : Errno::Again;
    // Several threads may wait on one entry: each moves `consumed` forward, none backward.
    uint64_t now_count = __atomic_load_n(&v.count, __ATOMIC_ACQUIRE);
    __atomic_compare_exchange_n(&e->consumed, &seen, now_count, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return {};
}

uint64_t irq_count(const Domain& d, uint64_t handle, uint32_t entry) {
    if (!valid_handle(handle)) return 0;
    const Resources& r = d.resources;
    SpinlockGuard g(r.lock);
    if (entry >= r.irq_granted[handle - 1]) return 0;
    return __atomic_load_n(&g_vectors[r.irqs[handle - 1][entry].vector].count, __ATOMIC_ACQUIRE);
}

void release_device(Domain& d, uint64_t handle, pci::PciDevice& dev) {
    Resources& r = d.resources;
    uint8_t vectors[MAX_IRQS] = {};
    uint32_t n = 0;
    if (valid_handle(handle)) {
        SpinlockGuard g(r.lock);
        n = r.irq_granted[handle - 1];
        for (uint32_t i = 0; i < n; i++) vectors[i] = r.irqs[handle - 1][i].vector;
        r.irq_granted[handle - 1] = 0;
    }
    // Silence the device first (masks every MSI-X entry, bus mastering off), then take the
    // vectors away: a message already in flight still finds the handler.
    if (auto e = pci::release(&dev); e.is_error())
        kprintf("domain %s: releasing a device failed: %s\n", d.name, e.error().name());
    // Quiet now: its translation goes, so nothing of d is reachable through it any more.
    iommu::detach(d.id, iommu_id(dev));
    for (uint32_t i = 0; i < n; i++) {
        arch::set_interrupt_handler(vectors[i], nullptr);
        // Waiters (threads of the dying domain) see their slice end and leave.
        (void)irq::free_vector(vectors[i]);
    }
}

uint64_t dma_pages(const Domain& d) {
    SpinlockGuard g(d.resources.lock);
    return d.resources.dma.pages();
}

}  // namespace lamina::domain::device
