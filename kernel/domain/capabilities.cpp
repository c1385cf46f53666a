// The capability table (include/lamina/domain_abi.h): everything a domain may do in the kernel.
//
// Each capability runs on the thread that called it from domain code, so the calling domain is
// the callee of the thread's innermost continuation. Every one (but panic, which never returns,
// and time_now_ns, which touches nothing of the domain's) goes through entry(): it
// resolves the calling domain, runs the capability's body (a function returning Result), turns
// an error into the ABI's positive errno in that one place, and, whatever path the body takes,
// returns to the domain through back_to_domain() (the watchdog starts again; a domain that
// failed while the thread was in the kernel is left at once). Capabilities without a result
// (free_pages, exchange_free, dma_free, log) go through checked_entry(): there an error means
// the domain broke a rule, which fails it.
//
// What a domain hands in is checked before use: pointers the kernel reads or writes must lie in
// mapped kernel memory (readable()), functions a thread runs must lie in the domain's image,
// and objects, pages and regions must be the domain's own.
#include <lamina/scope_guard.h>

#include "kernel/dev/pci/pci.h"
#include "kernel/domain/device.h"
#include "kernel/domain/interfaces.h"
#include "kernel/domain/internal.h"
#include <lamina/format.h>
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/mm/page_table.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::domain {

namespace {

// [p, p + len) lies in mapped kernel memory: what a domain hands the kernel is used only then.
bool readable(const void* p, size_t len) {
    uintptr_t a = reinterpret_cast<uintptr_t>(p);
    if (len == 0) return true;
    if (a < KERNEL_DIRECT_MAP || a + len < a) return false;
    for (uintptr_t page = a & ~(mm::PAGE_SIZE - 1); page < a + len; page += mm::PAGE_SIZE)
        if (mm::translate_kernel(page).is_error()) return false;
    return true;
}

Result<void> check_memory(const void* p, size_t len) {
    return readable(p, len) ? Result<void>() : Result<void>(Errno::Inval);
}

int32_t abi_error(const Error& e) { return e.is_domain_error() ? int32_t(Errno::IO) : int32_t(e.code()); }

// back_to_domain() when the capability's body is done, whichever way it ends. The guard comes
// before anything else in the entry, so that every other local is gone when it may unwind
// (domain_resume runs no destructors).
template <typename Fn>
int32_t entry(Fn&& body) {
    ScopeGuard back([] { back_to_domain(); });
    Domain* d = calling_domain();
    if (!d) return int32_t(Errno::Inval);
    Result<void> r = body(*d);
    return r.is_error() ? abi_error(r.error()) : 0;
}

// A capability with one result, stored at out (which the domain hands in) on success.
template <typename T, typename Fn>
int32_t entry(T* out, Fn&& body) {
    return entry([&](Domain& d) -> Result<void> {
        TRY(check_memory(out, sizeof(*out)));
        *out = TRY(body(d));
        return {};
    });
}

// A capability without a result: an error is the domain breaking `rule`, and fails it.
template <typename Fn>
void checked_entry(const char* rule, Fn&& body) {
    ScopeGuard back([] { back_to_domain(); });
    Domain* d = calling_domain();
    if (!d) return;
    if (body(*d).is_error()) fail_calling_domain(d, rule);
}

void cap_log(const char* msg, size_t len) {
    checked_entry("log: message is not readable memory", [&](Domain& d) -> Result<void> {
        if (len > 1024) len = 1024;
        TRY(check_memory(msg, len));
        kprintf("[%s] %.*s\n", d.name, int(len), msg);
        return {};
    });
}

[[noreturn]] void cap_panic(const char* msg, size_t len) {
    Domain* d = calling_domain();
    if (!d) panic("domain panic outside any domain call");
    if (len > 1024) len = 1024;
    if (readable(msg, len) && verbose_faults())
        kprintf("domain %s (id %u): panic: %.*s\n", d->name, d->id, int(len), msg);
    fail_calling_domain(d, "panicked", FaultRecord::Cause::Panic);
}

int32_t cap_alloc_pages(size_t count, void** out) {
    return entry(out, [&](Domain& d) { return alloc_pages(d, count); });
}

void cap_free_pages(void* base, size_t count) {
    checked_entry("free_pages: not pages this domain was given", [&](Domain& d) { return free_pages(d, base, count); });
}

uint64_t cap_time_now_ns() { return time::now_ns(); }

// Sleeps in slices, so a thread of a domain that fails meanwhile leaves within one slice.
constexpr uint64_t SLEEP_SLICE = 10'000'000;

int32_t cap_sleep_ns(uint64_t ns) {
    return entry([&](Domain&) -> Result<void> {
        uint64_t end = time::now_ns() + ns;
        for (uint64_t now = time::now_ns(); now < end; now = time::now_ns()) {
            sched::sleep_ns(end - now < SLEEP_SLICE ? end - now : SLEEP_SLICE);
            back_to_domain();
        }
        return {};
    });
}

void domain_thread_main(void* p) {
    auto* own = static_cast<OwnThread*>(p);
    DomainError e = call_thunk(own->domain, own->fn, own->arg);
    sched::Thread* self = sched::current_thread();
    if (e != DomainError::None && verbose_faults())
        kprintf("domain %s: thread %lu '%s' left the domain (%s)\n", own->domain->name, self->id(), self->name(),
                own->domain->get_state() == State::Dead ? "torn down" : "failed");
}

int32_t cap_thread_create(void (*fn)(void*), void* arg, const char* name, size_t name_len, uint64_t* out_thread) {
    return entry([&](Domain& d) -> Result<void> {
        if (!fn || !d.contains(reinterpret_cast<uintptr_t>(fn))) return Errno::Inval;
        TRY(check_memory(name, name_len));
        if (out_thread) TRY(check_memory(out_thread, sizeof(*out_thread)));
        OwnThread* own;
        {
            SpinlockGuard g(d.resources.lock);
            own = d.resources.threads.take(fn, arg, &d);
        }
        if (!own) return Errno::NoSpc;
        char full[32];
        size_t n = snformat(full, sizeof(full), "%s/", d.name);
        for (size_t i = 0; i < name_len && n + 1 < sizeof(full); i++) full[n++] = name[i];
        full[n < sizeof(full) ? n : sizeof(full) - 1] = 0;
        // The thread may run (on another CPU) before own->thread is set; it never reads it. The
        // creator is inside the domain until this returns, so destroy() cannot see it unset.
        auto t = sched::Thread::create(full, domain_thread_main, own);
        if (t.is_error()) {
            SpinlockGuard g(d.resources.lock);
            d.resources.threads.give_back(own);  // its own slot: others may have taken slots since
            return Errno::NoMem;
        }
        own->thread = t.value();
        if (out_thread) *out_thread = t.value()->id();
        return {};
    });
}

int32_t cap_exchange_alloc(size_t size, size_t align, uint64_t type, void** out) {
    return entry(out, [&](Domain& d) -> Result<void*> {
        if (align == 0 || align > 16 || (align & (align - 1)) || type > 0xffffffffull) return Errno::Inval;
        return with_exchange_heap([&](ExchangeHeap& x) { return x.allocate(d.id, TypeId(type), size); });
    });
}

void cap_exchange_free(void* object) {
    checked_entry("exchange_free: not an object it owns (ownership violation)", [&](Domain& d) -> Result<void> {
        TRY(with_exchange_heap([&](ExchangeHeap& x) { return x.free(d.id, object); }));
        device::revoke_exchange(d.id);
        return {};
    });
}

// A fresh instance of a driver whose previous instance failed (a shadow's recovery starts the
// fresh one before it destroys the failed one) takes the device over: the failed instance's
// claim is quiesced and released first (MSI-X masked, bus mastering off, BARs unmapped), so
// nothing the dead driver set up can reach memory once the new one resets the device. Only
// an instance of the same domain may do this, and only from a Failed or Dead holder, or from
// a healthy one that has drained for a restart or a live update (no call is inside it).
Result<pci::PciDevice*> take_over_from_failed(Domain& d, uint16_t vendor, uint16_t device) {
    Domain* holder = nullptr;
    pci::PciDevice* dev = nullptr;
    size_t handle = 0;
    {
        SpinlockGuard g(g_domains_lock);
        for (Domain* o : g_slots) {
            if (!is_live(o) || o == &d || __builtin_strcmp(o->name, d.name) != 0) continue;
            State s = o->get_state();
            if (s != State::Failed && s != State::Dead && !__atomic_load_n(&o->draining, __ATOMIC_ACQUIRE)) continue;
            SpinlockGuard og(o->resources.lock);
            for (size_t i = 0; i < Manifest::MAX_DEVICES && !holder; i++) {
                pci::PciDevice* p = o->resources.devices[i];
                if (p && p->info().vendor == vendor && p->info().device == device) {
                    holder = o;
                    dev = p;
                    handle = i + 1;
                    o->resources.devices[i] = nullptr;  // its teardown no longer releases it
                }
            }
            if (holder) break;
        }
    }
    if (!holder) return Errno::Busy;
    kprintf("domain %s (id %u): takes %04x:%04x over from %s instance %u\n", d.name, d.id, vendor, device,
            __atomic_load_n(&holder->draining, __ATOMIC_ACQUIRE) ? "the replaced" : "failed", holder->id);
    device::release_device(*holder, handle, *dev);
    return pci::claim(pci::Match::id(vendor, device), d.name);
}

Result<pci::PciDevice*> claim_device(Domain& d, uint16_t vendor, uint16_t device) {
    auto claimed = pci::claim(pci::Match::id(vendor, device), d.name);
    bool busy = claimed.is_error() && claimed.error().code() == Errno::Busy;
    pci::PciDevice* dev = busy ? TRY(take_over_from_failed(d, vendor, device)) : TRY(std::move(claimed));
    // Its DMA goes through d's IOMMU space from now on (nothing mapped yet: it reaches nothing).
    if (auto a = device::attach(d, *dev); a.is_error()) {
        (void)pci::release(dev);
        return a.error();
    }
    return dev;
}

int32_t cap_device_claim(uint16_t vendor, uint16_t device, uint32_t index, lamina_device_info* out) {
    return entry([&](Domain& d) -> Result<void> {
        TRY(check_memory(out, sizeof(*out)));
        const Manifest& m = d.package.manifest;
        bool listed = false;
        for (size_t i = 0; i < m.device_count; i++)
            listed |= m.devices[i].vendor == vendor && m.devices[i].device == device;
        if (!listed) {
            kprintf("domain %s: refused to claim %04x:%04x: not in its manifest\n", d.name, vendor, device);
            return Errno::Perm;
        }
        if (index != 0) return Errno::NoSys;  // the n-th match is not supported yet
        Resources& r = d.resources;
        size_t slot = Manifest::MAX_DEVICES;
        {
            SpinlockGuard g(r.lock);
            for (size_t i = 0; i < Manifest::MAX_DEVICES && slot == Manifest::MAX_DEVICES; i++)
                if (!r.devices[i]) slot = i;
        }
        if (slot == Manifest::MAX_DEVICES) return Errno::NoSpc;
        pci::PciDevice* dev = TRY(claim_device(d, vendor, device));
        {
            SpinlockGuard g(r.lock);
            __atomic_store_n(&r.devices[slot], dev, __ATOMIC_RELEASE);
        }
        __builtin_memset(out, 0, sizeof(*out));
        out->handle = slot + 1;
        out->vendor = vendor;
        out->device = device;
        out->bus = dev->address().bus;
        out->slot = dev->address().device;
        out->function = dev->address().function;
        uint16_t msix = dev->msix_vector_count();
        out->irq_count = uint8_t(msix > MAX_IRQS ? MAX_IRQS : msix);
        for (size_t i = 0; i < 6 && i < dev->info().bar_count; i++)
            out->bar_size[i] = dev->info().bars[i].is_memory() ? dev->info().bars[i].size : 0;
        return {};
    });
}

Result<pci::PciDevice*> claimed(Domain& d, uint64_t handle) {
    pci::PciDevice* dev = device_of(d, handle);
    if (!dev) return Errno::NoEnt;
    return dev;
}

int32_t cap_device_map_bar(uint64_t handle, uint32_t bar, void** out, size_t* out_size) {
    return entry([&](Domain& d) -> Result<void> {
        TRY(check_memory(out, sizeof(*out)));
        TRY(check_memory(out_size, sizeof(*out_size)));
        pci::PciDevice* dev = TRY(claimed(d, handle));
        // A BAR is only reachable with memory decoding on (release leaves decoding as it is).
        TRY(dev->enable_memory_space());
        volatile void* mapped = TRY(dev->map_bar(bar));
        *out = const_cast<void*>(mapped);
        *out_size = bar < dev->info().bar_count ? size_t(dev->info().bars[bar].size) : 0;
        return {};
    });
}

// Waits in slices, like sleep_ns, so that a waiter of a domain that fails meanwhile leaves
// within one slice.
int32_t cap_device_irq_wait(uint64_t handle, uint32_t entry_index, uint64_t timeout_ns) {
    return entry([&](Domain& d) -> Result<void> {
        TRY(claimed(d, handle));
        uint64_t now = time::now_ns();
        uint64_t deadline = timeout_ns > ~uint64_t(0) - now ? ~uint64_t(0) : now + timeout_ns;
        for (;;) {
            auto r = device::irq_wait_slice(d, handle, entry_index, deadline, SLEEP_SLICE);
            if (r.is_ok() || r.error().code() != Errno::Again) return r;
            back_to_domain();
        }
    });
}

int32_t cap_device_irq_setup(uint64_t handle, uint32_t count, uint32_t* out_count) {
    return entry(out_count, [&](Domain& d) -> Result<uint32_t> {
        pci::PciDevice* dev = TRY(claimed(d, handle));
        return device::irq_setup(d, handle, *dev, count);
    });
}

int32_t cap_device_config_read(uint64_t handle, uint32_t offset, uint32_t width, uint32_t* out) {
    return entry(out, [&](Domain& d) -> Result<uint32_t> {
        pci::PciDevice* dev = TRY(claimed(d, handle));
        if ((width != 1 && width != 2 && width != 4) || offset % width != 0 || offset + width > 256)
            return Errno::Inval;
        if (width == 1) return uint32_t(TRY(dev->config_read8(uint16_t(offset))));
        if (width == 2) return uint32_t(TRY(dev->config_read16(uint16_t(offset))));
        return TRY(dev->config_read32(uint16_t(offset)));
    });
}

int32_t cap_dma_alloc(uint64_t handle, size_t size, void** out, uint64_t* out_bus_address) {
    return entry([&](Domain& d) -> Result<void> {
        TRY(check_memory(out, sizeof(*out)));
        TRY(check_memory(out_bus_address, sizeof(*out_bus_address)));
        pci::PciDevice* dev = TRY(claimed(d, handle));
        // Asking for DMA memory is asking for DMA: the device may master the bus from now on
        // (teardown turns it off again).
        TRY(dev->enable_bus_mastering());
        device::DmaBuffer b = TRY(device::dma_alloc(d, size));
        *out = b.base;
        *out_bus_address = b.bus;
        return {};
    });
}

void cap_dma_free(uint64_t, void* base, size_t size) {
    // Regions belong to the domain, not to one device: the handle is not needed.
    checked_entry("dma_free: not a DMA region this domain was given",
                  [&](Domain& d) { return device::dma_free(d, base, size); });
}

// The bus addresses of [offset, offset + length) of an exchange-heap object the domain owns or
// borrows. Exchange-heap pages come from the direct map, so an object is usually one segment;
// the walk does not depend on it.
int32_t cap_exchange_dma_segments(const void* object, uint64_t offset, uint64_t length, lamina_dma_segment* out,
                                  uint32_t max, uint32_t* out_count) {
    return entry(out_count, [&](Domain& d) -> Result<uint32_t> {
        if (max == 0 || max > 4096 || length == 0) return Errno::Inval;
        TRY(check_memory(out, size_t(max) * sizeof(*out)));
        TRY(with_exchange_heap([&](ExchangeHeap& x) -> Result<void> {
            const ObjectHeader* h = TRY(x.header_of(object));
            if (h->owner != d.id && !(h->lend_count && h->borrower == d.id)) return Errno::Perm;
            if (offset > h->size || length > h->size - offset) return Errno::Inval;
            return {};
        }));
        uintptr_t at = reinterpret_cast<uintptr_t>(object) + offset;
        uint64_t left = length;
        uint32_t n = 0;
        while (left) {
            auto t = mm::translate_kernel(at);
            if (t.is_error()) return Errno::Inval;
            uint64_t in_page = mm::PAGE_SIZE - (at & (mm::PAGE_SIZE - 1));
            uint64_t piece = left < in_page ? left : in_page;
            if (n && out[n - 1].bus_address + out[n - 1].length == t.value().phys) {
                out[n - 1].length += piece;
            } else {
                if (n == max) return Errno::NoSpc;
                out[n++] = {t.value().phys, piece};
            }
            at += piece;
            left -= piece;
        }
        // Asking for the bus address is handing the bytes to the device: mapped until the
        // object leaves d (device::revoke_exchange).
        for (uint32_t i = 0; i < n; i++) TRY(device::grant_exchange(d, object, out[i].bus_address, out[i].length));
        return n;
    });
}

int32_t cap_interface_lookup(const char* name, size_t len, void** out) {
    return entry(out, [&](Domain& d) -> Result<void*> {
        TRY(check_memory(name, len));
        return lookup_interface(&d, name, len);
    });
}

int32_t cap_interface_publish_typed(const char* name, size_t len, void* object, uint32_t type_id) {
    return entry([&](Domain& d) -> Result<void> {
        if (len > Manifest::MAX_INTERFACE_NAME) return Errno::Inval;
        TRY(check_memory(name, len));
        return publish(d, name, len, object, type_id);
    });
}

int32_t cap_interface_publish(const char* name, size_t len, void* object) {
    return cap_interface_publish_typed(name, len, object, 0);
}

}  // namespace

const lamina_domain_caps CAPS_TEMPLATE = {
    LAMINA_DOMAIN_ABI_VERSION,
    sizeof(lamina_domain_caps),
    0,
    cap_log,
    cap_panic,
    cap_alloc_pages,
    cap_free_pages,
    cap_time_now_ns,
    cap_sleep_ns,
    cap_thread_create,
    cap_exchange_alloc,
    cap_exchange_free,
    cap_device_claim,
    cap_device_map_bar,
    cap_device_irq_wait,
    cap_dma_alloc,
    cap_dma_free,
    cap_interface_lookup,
    cap_interface_publish,
    cap_device_irq_setup,
    cap_exchange_dma_segments,
    cap_device_config_read,
    cap_interface_publish_typed,
};

}  // namespace lamina::domain
