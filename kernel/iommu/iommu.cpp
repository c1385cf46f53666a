#include "kernel/iommu/iommu.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/lapic.h"
#include "kernel/dev/acpi/platform.h"
#include "kernel/iommu/vtd.h"
#include "kernel/irq/irq.h"
#include "kernel/irq/msi.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/sched/thread.h"
#include "kernel/sched/wait_queue.h"
#include "kernel/sync/spinlock.h"
#include "kernel/time/time.h"

namespace lamina::iommu {

namespace {

using namespace vtd;

constexpr size_t MAX_SPACES = 32;
constexpr size_t MAX_ATTACHED = 32;
constexpr size_t MAX_GRANTS = 1024;                      // exchange-heap grants per space
constexpr uint64_t REGISTER_TIMEOUT_NS = 1'000'000'000;  // hardware answers in microseconds

struct Unit {
    volatile uint8_t* regs = nullptr;
    const acpi::DmarUnit* desc = nullptr;
    Capability cap{0};
    ExtendedCapability ecap{0};
    uint32_t gcmd = 0;  // the persistent command bits turned on (TE, QIE)
    uint64_t root_phys = 0;
    uint64_t context_phys[ROOT_ENTRIES] = {};  // per bus, made on first use
    unsigned levels = 0;
    // Queued invalidation (when offered): the ring, and the word wait descriptors write.
    uint64_t queue_phys = 0;
    uint32_t queue_tail = 0;
    volatile uint32_t wait_status = 0;
};

struct Grant {
    const void* object;
    uint64_t phys;  // page aligned
    uint64_t pages;
};

struct Space {
    uint32_t owner = 0;  // 0: free slot
    uint16_t did = 0;
    uint64_t top_phys = 0;  // the second-level table's top
    Grant* grants = nullptr;
    size_t grant_count = 0;
};

struct Attached {
    uint32_t owner = 0;  // 0: free slot
    DeviceId dev{};
    Unit* unit = nullptr;
};

Spinlock g_lock;
Unit g_units[acpi::MAX_DMAR_UNITS];
size_t g_unit_count;
unsigned g_levels;  // the same for every space: the smallest every unit supports
Space g_spaces[MAX_SPACES];
Attached g_attached[MAX_ATTACHED];
void (*g_fault_handler)(const Fault&);
uint64_t g_fault_count;  // atomic
uint64_t g_fault_irqs;   // atomic: what the fault thread has caught up with
sched::WaitQueue g_fault_queue;

uint32_t read32(Unit& u, uint32_t off) { return *reinterpret_cast<volatile uint32_t*>(u.regs + off); }
uint64_t read64(Unit& u, uint32_t off) { return *reinterpret_cast<volatile uint64_t*>(u.regs + off); }
void write32(Unit& u, uint32_t off, uint32_t v) { *reinterpret_cast<volatile uint32_t*>(u.regs + off) = v; }
void write64(Unit& u, uint32_t off, uint64_t v) { *reinterpret_cast<volatile uint64_t*>(u.regs + off) = v; }

template <typename Done>
bool poll(Done&& done) {
    uint64_t deadline = time::now_ns() + REGISTER_TIMEOUT_NS;
    while (!done()) {
        if (time::now_ns() > deadline) return false;
        cpu::pause();
    }
    return true;
}

// Table writes reach memory before the hardware walks them: a unit that does not snoop the
// caches (ECAP.C = 0) reads memory directly.
void flush(const void* p, size_t bytes) {
    for (uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(63); a < reinterpret_cast<uintptr_t>(p) + bytes;
         a += 64)
        asm volatile("clflush (%0)" ::"r"(a) : "memory");
    asm volatile("mfence" ::: "memory");
}
bool needs_flush() {
    for (size_t i = 0; i < g_unit_count; i++)
        if (!g_units[i].ecap.coherent()) return true;
    return false;
}
void publish(const void* p, size_t bytes) {
    if (needs_flush()) flush(p, bytes);
}

Result<uint64_t> zeroed_frame() {
    uint64_t phys = TRY(mm::alloc_frames(0, mm::Owner::kernel()));
    __builtin_memset(mm::phys_to_virt(phys), 0, mm::PAGE_SIZE);
    publish(mm::phys_to_virt(phys), mm::PAGE_SIZE);
    return phys;
}

// One global command (11.4.4): the persistent bits that are on, plus `bit`; waits for the status.
bool command(Unit& u, uint32_t bit, bool persistent) {
    if (persistent) u.gcmd |= bit;
    write32(u, reg::GCMD, u.gcmd | bit);
    return poll([&] { return (read32(u, reg::GSTS) & bit) != 0; });
}

bool submit(Unit& u, const Descriptor* ds, size_t n) {
    auto* ring = static_cast<Descriptor*>(mm::phys_to_virt(u.queue_phys));
    u.wait_status = 0;
    for (size_t i = 0; i <= n; i++) {
        Descriptor d = i < n ? ds[i]
                             : Descriptor{desc::WAIT | desc::WAIT_SW | desc::wait_data(1),
                                          mm::virt_to_phys(const_cast<uint32_t*>(&u.wait_status))};
        ring[u.queue_tail] = d;
        publish(&ring[u.queue_tail], sizeof(d));
        u.queue_tail = (u.queue_tail + 1) % QUEUE_DESCRIPTORS;
    }
    write64(u, reg::IQT, uint64_t(u.queue_tail) << IQT_SHIFT);
    return poll([&] { return __atomic_load_n(&u.wait_status, __ATOMIC_ACQUIRE) == 1; });
}

// Context caches of the unit, then its IOTLB entries of domain id `did` (0: all), drained.
void invalidate(Unit& u, bool context, uint16_t did) {
    bool ok;
    if (u.queue_phys) {
        Descriptor ds[2];
        size_t n = 0;
        if (context) ds[n++] = {desc::CONTEXT | desc::CONTEXT_GLOBAL, 0};
        ds[n++] = {desc::IOTLB | desc::IOTLB_DRAIN | (did ? desc::IOTLB_DOMAIN | desc::did(did) : desc::IOTLB_GLOBAL),
                   0};
        ok = submit(u, ds, n);
    } else {
        ok = true;
        if (context) {
            write64(u, reg::CCMD, ccmd::ICC | ccmd::GLOBAL);
            ok = poll([&] { return (read64(u, reg::CCMD) & ccmd::ICC) == 0; });
        }
        uint32_t at = u.ecap.iotlb_offset() + reg::IOTLB;
        write64(u, at, iotlb::IVT | iotlb::DRAIN | (did ? iotlb::DOMAIN | iotlb::did(did) : iotlb::GLOBAL));
        ok = ok && poll([&] { return (read64(u, at) & iotlb::IVT) == 0; });
    }
    // A unit that does not answer cannot be trusted to have stopped using the old entries.
    if (!ok) panic("iommu: unit at %#lx does not complete invalidations", u.desc->register_base);
}

void invalidate_all(bool context, uint16_t did) {
    for (size_t i = 0; i < g_unit_count; i++) invalidate(g_units[i], context, did);
}

Space* space_of(uint32_t owner) {
    for (Space& s : g_spaces)
        if (s.owner == owner && owner != 0) return &s;
    return nullptr;
}

uint64_t* table(uint64_t phys) { return static_cast<uint64_t*>(mm::phys_to_virt(phys)); }

// The leaf entry of iova in the space, with the tables above it made when `create`.
Result<uint64_t*> walk(const Space& s, uint64_t iova, bool create) {
    uint64_t phys = s.top_phys;
    for (unsigned level = g_levels; level > 1; level--) {
        uint64_t* e = &table(phys)[(iova >> (12 + 9 * (level - 1))) & 511];
        if (!(*e & SL_READ)) {
            if (!create) return Errno::NoEnt;
            uint64_t next = TRY(zeroed_frame());
            *e = next | SL_READ | SL_WRITE;
            publish(e, sizeof(*e));
        }
        phys = *e & SL_ADDRESS;
    }
    return &table(phys)[(iova >> 12) & 511];
}

void free_tables(uint64_t phys, unsigned level) {
    if (level > 1) {
        for (size_t i = 0; i < SL_ENTRIES; i++)
            if (table(phys)[i] & SL_READ) free_tables(table(phys)[i] & SL_ADDRESS, level - 1);
    }
    (void)mm::free_frames(phys, 0);
}

Result<void> map_locked(Space& s, uint64_t phys, uint64_t pages) {
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t at = phys + i * mm::PAGE_SIZE;
        uint64_t* e = TRY(walk(s, at, true));
        *e = at | SL_READ | SL_WRITE;
        publish(e, sizeof(*e));
    }
    // Caching mode: the hardware may have cached the not-present entries.
    for (size_t i = 0; i < g_unit_count; i++)
        if (g_units[i].cap.caching_mode()) invalidate(g_units[i], false, s.did);
    return {};
}

// Clears the leaves; the caller invalidates.
void unmap_locked(Space& s, uint64_t phys, uint64_t pages) {
    for (uint64_t i = 0; i < pages; i++) {
        auto e = walk(s, phys + i * mm::PAGE_SIZE, false);
        if (e.is_error()) continue;
        *e.value() = 0;
        publish(e.value(), sizeof(uint64_t));
    }
}

uint64_t pages_of(uint64_t phys, size_t bytes) {
    return ((phys + bytes + mm::PAGE_SIZE - 1) / mm::PAGE_SIZE) - phys / mm::PAGE_SIZE;
}

// The unit whose scope lists the device, else the unit that includes all of segment 0.
Unit* unit_for(DeviceId dev) {
    Unit* all = nullptr;
    for (size_t i = 0; i < g_unit_count; i++) {
        Unit& u = g_units[i];
        if (u.desc->segment != 0) continue;
        if (u.desc->include_pci_all) all = &u;
        for (const acpi::DmarScope& sc : u.desc->scopes)
            if (sc.type == acpi::DmarScopeType::PciEndpoint && sc.path_length == 1 && sc.start_bus == dev.bus &&
                sc.path[0].device == dev.device && sc.path[0].function == dev.function)
                return &u;
    }
    return all;
}

Result<ContextEntry*> context_entry(Unit& u, DeviceId dev, bool create) {
    if (!u.context_phys[dev.bus]) {
        if (!create) return Errno::NoEnt;
        u.context_phys[dev.bus] = TRY(zeroed_frame());
        auto* root = static_cast<RootEntry*>(mm::phys_to_virt(u.root_phys));
        root[dev.bus] = {u.context_phys[dev.bus] | ENTRY_PRESENT, 0};
        publish(&root[dev.bus], sizeof(RootEntry));
    }
    auto* ctx = static_cast<ContextEntry*>(mm::phys_to_virt(u.context_phys[dev.bus]));
    return &ctx[dev.device << 3 | dev.function];
}

const char* reason_name(uint8_t r) {
    switch (r) {
        case FAULT_ROOT_NOT_PRESENT:
            return "root entry not present";
        case FAULT_CONTEXT_NOT_PRESENT:
            return "no context (device not held by a driver domain)";
        case FAULT_BEYOND_WIDTH:
            return "address beyond the address width";
        case FAULT_NO_WRITE:
            return "write not permitted: not granted";
        case FAULT_NO_READ:
            return "read not permitted: not granted";
        case FAULT_PAGE_NOT_PRESENT:
            return "page not granted";
        default:
            return "other";
    }
}

// Reads and clears every pending fault record of the unit (11.4.14), reporting each.
void drain_faults(Unit& u) {
    uint32_t records = u.cap.fault_records();
    for (uint32_t i = 0; i < records; i++) {
        uint32_t at = u.cap.fault_record_offset() + i * sizeof(FaultRecord);
        FaultRecord r{read64(u, at), read64(u, at + 8)};
        if (!r.fault()) continue;
        write64(u, at + 8, FAULT_RECORD_F);  // RW1C: the record is free again
        Fault f{{uint8_t(r.source_id() >> 8), uint8_t((r.source_id() >> 3) & 31), uint8_t(r.source_id() & 7)},
                r.address(),
                r.reason(),
                !r.read(),
                0};
        {
            SpinlockGuard g(g_lock);
            for (const Attached& a : g_attached)
                if (a.owner && a.unit == &u && a.dev.bus == f.device.bus && a.dev.device == f.device.device &&
                    a.dev.function == f.device.function)
                    f.owner = a.owner;
        }
        __atomic_fetch_add(&g_fault_count, 1, __ATOMIC_RELEASE);
        kprintf("iommu: DMA fault: device %02x:%02x.%u %s %#lx (%s), domain id %u\n", f.device.bus, f.device.device,
                f.device.function, f.write ? "write" : "read", f.address, reason_name(f.reason), f.owner);
        if (f.owner && g_fault_handler) g_fault_handler(f);
    }
    // Overflow (faults lost while the records were full) is only worth a line.
    if (read32(u, reg::FSTS) & fsts::PFO) {
        kprintf("iommu: fault records overflowed; some faults were not recorded\n");
        write32(u, reg::FSTS, fsts::PFO);
    }
}

void fault_thread(void*) {
    uint64_t seen = 0;
    for (;;) {
        (void)g_fault_queue.wait_for([&] { return __atomic_load_n(&g_fault_irqs, __ATOMIC_ACQUIRE) != seen; },
                                     1'000'000'000);
        seen = __atomic_load_n(&g_fault_irqs, __ATOMIC_ACQUIRE);
        // Also on the timeout: a unit whose interrupt could not be set up is polled.
        for (size_t i = 0; i < g_unit_count; i++) drain_faults(g_units[i]);
    }
}

void on_fault_interrupt(arch::InterruptFrame&) {
    __atomic_fetch_add(&g_fault_irqs, 1, __ATOMIC_RELEASE);
    g_fault_queue.wake_all();
    lapic::eoi();
}

Result<void> bring_up(Unit& u, const acpi::DmarUnit& desc, uint8_t fault_vector) {
    u.desc = &desc;
    u.regs = static_cast<volatile uint8_t*>(TRY(mm::map_mmio(desc.register_base, desc.register_pages * mm::PAGE_SIZE)));
    u.cap = {read64(u, reg::CAP)};
    u.ecap = {read64(u, reg::ECAP)};
    if (read32(u, reg::GSTS) & gcmd::TE) {
        kprintf("iommu: unit at %#lx already translating (firmware); left alone\n", desc.register_base);
        return Errno::Busy;
    }
    u.levels = (u.cap.sagaw() & 4) ? 4 : (u.cap.sagaw() & 2) ? 3 : 0;
    if (u.levels == 0) return Errno::NotSup;
    u.root_phys = TRY(zeroed_frame());
    write64(u, reg::RTADDR, u.root_phys | RTADDR_TTM_LEGACY);
    if (!command(u, gcmd::SRTP, false)) return Errno::TimedOut;
    if (u.cap.rwbf() && !command(u, gcmd::WBF, false)) return Errno::TimedOut;
    if (u.ecap.queued_invalidation()) {
        u.queue_phys = TRY(zeroed_frame());
        write64(u, reg::IQT, 0);
        write64(u, reg::IQA, u.queue_phys);  // DW = 0 (128-bit descriptors), QS = 0 (one page)
        if (!command(u, gcmd::QIE, true)) return Errno::TimedOut;
    }
    invalidate(u, true, 0);
    irq::MsiMessage m = irq::compose_msi(lapic::id(), fault_vector);
    write32(u, reg::FEDATA, m.data);
    write32(u, reg::FEADDR, uint32_t(m.address));
    write32(u, reg::FEUADDR, uint32_t(uint64_t(m.address) >> 32));
    write32(u, reg::FECTL, 0);  // unmasked
    if (!command(u, gcmd::TE, true)) return Errno::TimedOut;
    return {};
}

}  // namespace

void init() {
    const acpi::Acpi* a = acpi::platform();
    if (!a || !a->dmar().present || a->dmar().units.empty()) {
        kprintf("iommu: no DMA remapping hardware (no ACPI DMAR); devices reach all memory\n");
        return;
    }
    const acpi::DmarInfo& dmar = a->dmar();
    auto vector = irq::allocate_vector();
    if (vector.is_ok()) arch::set_interrupt_handler(vector.value(), on_fault_interrupt);
    unsigned levels = 4;
    for (const acpi::DmarUnit& desc : dmar.units) {
        Unit& u = g_units[g_unit_count];
        auto up = bring_up(u, desc, vector.is_ok() ? vector.value() : 0);
        if (up.is_error()) {
            // A unit we cannot drive, next to ones we do, would leave its devices unconfined.
            panic("iommu: cannot bring up the unit at %#lx: %s", desc.register_base, up.error().name());
        }
        if (u.levels < levels) levels = u.levels;
        kprintf(
            "iommu: VT-d %u.%u unit at %#lx: %s (%lu scopes), %u-level tables, %u domains, %u fault records, %s "
            "invalidation\n",
            read32(u, reg::VER) >> 4 & 0xF, read32(u, reg::VER) & 0xF, desc.register_base,
            desc.include_pci_all ? "all devices" : "listed devices", desc.scopes.size(), u.levels, u.cap.domains(),
            u.cap.fault_records(), u.queue_phys ? "queued" : "register");
        g_unit_count++;
    }
    g_levels = levels;
    if (dmar.rmrrs.size())
        kprintf("iommu: %lu reserved regions (RMRR) are not mapped: their devices are not given to domains\n",
                dmar.rmrrs.size());
    auto t = sched::Thread::create("iommu-faults", fault_thread, nullptr, sched::ThreadOptions{.detached = true});
    if (t.is_error()) kprintf("iommu: no fault thread (%s): faults are not reported\n", t.error().name());
}

bool enabled() { return g_unit_count != 0; }

Result<void> attach(uint32_t owner, DeviceId dev) {
    if (!enabled()) return {};
    Unit* u = unit_for(dev);
    if (!u) return Errno::NoEnt;
    SpinlockGuard g(g_lock);
    Attached* slot = nullptr;
    for (Attached& a : g_attached)
        if (!a.owner && !slot) slot = &a;
    if (!slot) return Errno::NoSpc;
    Space* s = space_of(owner);
    if (!s) {
        for (size_t i = 0; i < MAX_SPACES && !s; i++)
            if (!g_spaces[i].owner) s = &g_spaces[i];
        if (!s) return Errno::NoSpc;
        uint64_t top = TRY(zeroed_frame());
        *s = Space{owner, uint16_t(s - g_spaces + 1), top, nullptr, 0};
    }
    ContextEntry* ce = TRY(context_entry(*u, dev, true));
    ce->hi = context_aw(g_levels) | context_did(s->did);
    __atomic_store_n(&ce->lo, s->top_phys | CONTEXT_TT_UNTRANSLATED | ENTRY_PRESENT, __ATOMIC_RELEASE);
    publish(ce, sizeof(*ce));
    // A not-present context entry may be cached (caching mode) and the device's earlier owner
    // may have left IOTLB entries: both go.
    invalidate(*u, true, s->did);
    *slot = {owner, dev, u};
    return {};
}

namespace {

// The device's context entry goes, then the unit's caches of it and of the space's pages.
void detach_locked(Attached& a) {
    auto ce = context_entry(*a.unit, a.dev, false);
    if (ce.is_ok()) {
        *ce.value() = {0, 0};
        publish(ce.value(), sizeof(ContextEntry));
    }
    Space* s = space_of(a.owner);
    invalidate(*a.unit, true, s ? s->did : 0);
    a = Attached{};
}

}  // namespace

void detach(uint32_t owner, DeviceId dev) {
    if (!enabled()) return;
    SpinlockGuard g(g_lock);
    for (Attached& a : g_attached)
        if (a.owner == owner && a.dev.bus == dev.bus && a.dev.device == dev.device && a.dev.function == dev.function)
            detach_locked(a);
}

void destroy_space(uint32_t owner) {
    if (!enabled()) return;
    SpinlockGuard g(g_lock);
    Space* s = space_of(owner);
    if (!s) return;
    // Teardown detaches every device first; one still here would walk freed tables.
    for (Attached& a : g_attached) {
        if (a.owner != owner) continue;
        kprintf("iommu: device %02x:%02x.%u of domain %u still attached at teardown; detached\n", a.dev.bus,
                a.dev.device, a.dev.function, owner);
        detach_locked(a);
    }
    free_tables(s->top_phys, g_levels);
    if (s->grants) mm::kfree(s->grants);
    *s = Space{};
}

Result<void> map(uint32_t owner, uint64_t phys, size_t bytes) {
    if (!enabled()) return {};
    SpinlockGuard g(g_lock);
    Space* s = space_of(owner);
    if (!s) return {};
    uint64_t base = phys & ~(mm::PAGE_SIZE - 1);
    auto r = map_locked(*s, base, pages_of(phys, bytes));
    if (r.is_error()) {
        unmap_locked(*s, base, pages_of(phys, bytes));
        invalidate_all(false, s->did);
    }
    return r;
}

void unmap(uint32_t owner, uint64_t phys, size_t bytes) {
    if (!enabled()) return;
    SpinlockGuard g(g_lock);
    Space* s = space_of(owner);
    if (!s) return;
    unmap_locked(*s, phys & ~(mm::PAGE_SIZE - 1), pages_of(phys, bytes));
    invalidate_all(false, s->did);
}

Result<void> grant(uint32_t owner, const void* object, uint64_t phys, size_t bytes) {
    if (!enabled()) return {};
    SpinlockGuard g(g_lock);
    Space* s = space_of(owner);
    if (!s) return {};  // no device: nothing to map for
    uint64_t base = phys & ~(mm::PAGE_SIZE - 1);
    uint64_t pages = pages_of(phys, bytes);
    for (size_t i = 0; i < s->grant_count; i++)
        if (s->grants[i].object == object && s->grants[i].phys == base && s->grants[i].pages == pages) return {};
    if (!s->grants) {
        s->grants = static_cast<Grant*>(mm::kmalloc(MAX_GRANTS * sizeof(Grant)));
        if (!s->grants) return Errno::NoMem;
    }
    if (s->grant_count == MAX_GRANTS) return Errno::NoSpc;
    TRY(map_locked(*s, base, pages));
    s->grants[s->grant_count++] = {object, base, pages};
    return {};
}

bool has_grants(uint32_t owner) {
    if (!enabled()) return false;
    SpinlockGuard g(g_lock);
    Space* s = space_of(owner);
    return s && s->grant_count;
}

void revoke_stale(uint32_t owner, bool (*still_held)(void*, const void*), void* context) {
    if (!enabled()) return;
    SpinlockGuard g(g_lock);
    Space* s = space_of(owner);
    if (!s || !s->grant_count) return;
    bool changed = false;
    for (size_t i = 0; i < s->grant_count;) {
        Grant gr = s->grants[i];
        if (still_held(context, gr.object)) {
            i++;
            continue;
        }
        s->grants[i] = s->grants[--s->grant_count];
        // Objects share pages: a page stays while another grant still covers it.
        for (uint64_t p = 0; p < gr.pages; p++) {
            uint64_t at = gr.phys + p * mm::PAGE_SIZE;
            bool covered = false;
            for (size_t j = 0; j < s->grant_count && !covered; j++)
                covered = at >= s->grants[j].phys && at < s->grants[j].phys + s->grants[j].pages * mm::PAGE_SIZE;
            if (!covered) unmap_locked(*s, at, 1);
        }
        changed = true;
    }
    if (changed) invalidate_all(false, s->did);
}

void set_fault_handler(void (*handler)(const Fault&)) { g_fault_handler = handler; }

uint64_t fault_count() { return __atomic_load_n(&g_fault_count, __ATOMIC_ACQUIRE); }

bool is_mapped(uint32_t owner, uint64_t phys) {
    if (!enabled()) return false;
    SpinlockGuard g(g_lock);
    Space* s = space_of(owner);
    if (!s) return false;
    auto e = walk(*s, phys, false);
    return e.is_ok() && (*e.value() & SL_READ);
}

}  // namespace lamina::iommu
