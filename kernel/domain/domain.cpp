#include "kernel/domain/domain.h"
#include "kernel/domain/interfaces.h"

#include <type_traits>

#include "kernel/domain/device.h"
#include "kernel/domain/exchange_heap.h"

#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/boot/boot_info.h"
#include "kernel/dev/pci/pci.h"
#include <lamina/format.h>
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/mm/page_table.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::domain {

// The state domain_call.S saves and restores comes first; the rest is the call's bookkeeping.
struct Continuation {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
    Continuation* prev;     // the caller's continuation (null: called from the kernel)
    Domain* callee;
    uint64_t progress_ns;   // when the thread last went (back) into domain code: the watchdog
    DomainError error;      // set by the unwinder before it resumes here
};
static_assert(offsetof(Continuation, rip) == 56);

}  // namespace lamina::domain

extern "C" uint64_t domain_enter(lamina::domain::Continuation* c, void (*fn)(void*), void* arg);
extern "C" [[noreturn]] void domain_resume(lamina::domain::Continuation* c);

namespace lamina::domain {

namespace {

constexpr int32_t kENOSYS = 38, kENOMEM = 12, kEINVAL = 22, kEPERM = 1, kENOENT = 2,
                  kEEXIST = 17, kENOSPC = 28, kEAGAIN = 11;

const boot::BootInfo* g_boot_info;
arch::ExceptionHook g_next_exception_hook;
arch::InterruptExitHook g_next_exit_hook;

// Lock order: g_domains_lock, then Domain::lock.
Spinlock g_domains_lock;
Domain* g_slots[kImageSlots];  // g_domains_lock for writes; read locklessly by the fault paths
uint32_t g_next_id = 1;         // g_domains_lock
uint64_t g_watchdog_ns = kDefaultWatchdogNs;
uint64_t g_faults;
bool g_verbose_faults = true;

// The exchange heap: one for the whole kernel, its pages owned by Owner::exchange_heap(0).
// Lock order: after a Domain's lock (never the other way round); the page provider it calls
// with the lock held only takes the frame allocator's.
class ExchangePages final : public mm::PageProvider {
public:
    void* alloc_pages(unsigned order) override {
        auto frames = mm::alloc_frames(order, mm::Owner::exchange_heap(0));
        return frames.is_ok() ? mm::phys_to_virt(frames.value()) : nullptr;
    }
    void free_pages(void* pages, unsigned order) override { (void)mm::free_frames(mm::virt_to_phys(pages), order); }
};
ExchangePages g_exchange_pages;
alignas(ExchangeHeap) unsigned char g_exchange_storage[sizeof(ExchangeHeap)];
ExchangeHeap* g_exchange;  // g_exchange_lock
Spinlock g_exchange_lock;

Continuation* top_of(sched::Thread* t) { return t ? static_cast<Continuation*>(t->domain_call_top()) : nullptr; }

// The domain whose image holds addr (any CPU, any context).
Domain* domain_at(uintptr_t addr) {
    if (addr < kImageBase || addr - kImageBase >= kImageSlots * kDomainMaxImage) return nullptr;
    Domain* d = __atomic_load_n(&g_slots[(addr - kImageBase) / kDomainMaxImage], __ATOMIC_ACQUIRE);
    return d && d->contains(addr) ? d : nullptr;
}

bool on_call_stack(Continuation* top, Domain* d) {
    for (Continuation* c = top; c; c = c->prev)
        if (c->callee == d) return true;
    return false;
}

// Marks d Failed (once), recording why; true if this call did it.
bool mark_failed(Domain* d, const FaultRecord& why = {FaultRecord::Cause::Violation}) {
    uint32_t s = __atomic_load_n(&d->state, __ATOMIC_ACQUIRE);
    while (s == uint32_t(State::Created) || s == uint32_t(State::Running)) {
        if (__atomic_compare_exchange_n(&d->state, &s, uint32_t(State::Failed), false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            d->fault = why;
            __atomic_store_n(&d->record.state, uint32_t(proxy_rt::DomainState::Failed), __ATOMIC_RELEASE);
            __atomic_fetch_add(&d->counters.faults, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&g_faults, 1, __ATOMIC_RELAXED);
            // A failed driver's device stops mastering the bus at once: the proxies hand the
            // buffers of its unfinished requests back to their callers, and nothing it queued
            // may reach them (teardown or a fresh instance's takeover releases the device).
            for (pci::PciDevice*& slot : d->devices)
                if (pci::PciDevice* dev = __atomic_load_n(&slot, __ATOMIC_ACQUIRE)) (void)dev->disable_bus_mastering();
            return true;
        }
    }
    return false;
}

// Pops every continuation of t down to (and including) the outermost one that entered d, and
// returns it with why recorded: resuming there leaves d for good.
Continuation* unwind_to_caller_of(sched::Thread* t, Domain* d, DomainError why) {
    Continuation* target = nullptr;
    for (Continuation* c = top_of(t); c; c = c->prev)
        if (c->callee == d) target = c;
    KASSERT(target);
    for (Continuation* c = top_of(t);; c = c->prev) {
        __atomic_fetch_sub(&c->callee->threads_inside, 1, __ATOMIC_RELEASE);
        if (c == target) break;
    }
    t->set_domain_call_top(target->prev);
    target->error = why;
    return target;
}

// Makes an interrupt or exception frame return into domain_resume(c) on the thread's own stack.
void redirect(arch::InterruptFrame& f, Continuation* c) {
    f.rip = reinterpret_cast<uint64_t>(&domain_resume);
    f.rdi = reinterpret_cast<uint64_t>(c);
    f.rsp = (c->rsp & ~uint64_t(15)) - 128;  // dead frames of the callee; domain_resume leaves it at once
    f.rflags = 0x202;                        // domain calls run with interrupts on
    f.cs = arch::KERNEL_CS;
    f.ss = arch::KERNEL_DS;
}

// A return address is symbolized by the call before it: after a call to a noreturn function
// it points past the caller's end, often into the next function or padding.
void print_address(const char* prefix, Domain* d, uint64_t addr, bool return_address = false) {
    const char* name = nullptr;
    uintptr_t off = 0;
    Domain* owner = domain_at(addr);
    uint64_t at = return_address ? addr - 1 : addr;
    if (owner && owner->image.symbols.symbolize(at, &name, &off)) {
        kprintf("%s%016lx  [%s] %s+%#lx\n", prefix, addr, owner->name, name, (unsigned long)(off + (addr - at)));
        return;
    }
    // Inside a domain's image but not covered by its symbols: the kernel's would be wrong.
    if (owner) {
        kprintf("%s%016lx  [%s] +%#lx\n", prefix, addr, owner->name, (unsigned long)(addr - owner->image.base));
        return;
    }
    uint64_t koff = 0;
    if (const char* k = symbolize(addr, &koff)) {
        kprintf("%s%016lx  %s+%#lx\n", prefix, addr, k, koff);
        return;
    }
    (void)d;
    kprintf("%s%016lx  ?\n", prefix, addr);
}

// The frame-pointer chain, bounded by the thread's stack, symbolized with the domain's symbols.
void print_domain_backtrace(Domain* d, sched::Thread* t, uint64_t rip, uint64_t rbp) {
    kprintf("  backtrace:\n");
    if (rip) print_address("    ", d, rip);  // 0: a report from inside the kernel (a panic), no faulting rip
    uintptr_t lo = t->stack().bottom, hi = t->stack().top;
    for (int i = 0; i < 16; i++) {
        if (rbp % 8 || rbp < lo || rbp + 16 > hi) break;
        auto* frame = reinterpret_cast<const uint64_t*>(rbp);
        if (frame[1] == 0) break;
        print_address("    ", d, frame[1], true);
        if (frame[0] <= rbp) break;
        rbp = frame[0];
    }
}

void report_fault(Domain* d, sched::Thread* t, const arch::InterruptFrame& f) {
    kprintf("domain %s (id %u): %s (vector %lu) in thread %lu '%s'\n", d->name, d->id,
            arch::exception_name(f.vector), f.vector, t->id(), t->name());
    if (!g_verbose_faults) return;
    arch::print_exception_details(f);
    arch::print_frame(f);
    print_domain_backtrace(d, t, f.rip, f.rbp);
    kprintf("domain %s: failed; unwinding its callers, the kernel continues\n", d->name);
}

bool on_exception(arch::InterruptFrame& f) {
    arch::Cpu* cpu = arch::this_cpu();
    sched::Thread* t = cpu ? cpu->current : nullptr;
    Continuation* top = top_of(t);
    Domain* d = top && !(f.cs & 3) ? domain_at(f.rip) : nullptr;
    if (d && on_call_stack(top, d)) {
        report_fault(d, t, f);
        uint64_t cr2 = f.vector == 14 ? cpu::read_cr2() : 0;
        mark_failed(d, {FaultRecord::Cause::Exception, uint32_t(f.vector), f.rip, cr2, f.vector == 14 && is_stack_guard_address(cr2)});
        redirect(f, unwind_to_caller_of(t, d, DomainError::Faulted));
        return true;
    }
    return g_next_exception_hook && g_next_exception_hook(f);
}

// After every interrupt: a thread interrupted in the code of a domain that has failed (on another
// thread, or by injection) leaves it now; one that has run there too long without coming back
// to the kernel fails it (the watchdog).
void on_interrupt_exit(arch::InterruptFrame& f) {
    if (g_next_exit_hook) g_next_exit_hook(f);
    arch::Cpu* cpu = arch::this_cpu();
    sched::Thread* t = cpu->current;
    Continuation* top = top_of(t);
    if (!top || (f.cs & 3)) return;
    Domain* d = domain_at(f.rip);
    if (!d || !on_call_stack(top, d)) return;
    State s = d->get_state();
    if (s == State::Failed || s == State::Dead) {
        redirect(f, unwind_to_caller_of(t, d, DomainError::Faulted));
        return;
    }
    if (top->callee == d && time::now_ns() - top->progress_ns > g_watchdog_ns) {
        kprintf("domain %s (id %u): watchdog: thread %lu '%s' ran %lu ms in it without returning\n", d->name,
                d->id, t->id(), t->name(), (unsigned long)((time::now_ns() - top->progress_ns) / 1000000));
        arch::print_frame(f);
        print_domain_backtrace(d, t, f.rip, f.rbp);
        mark_failed(d, {FaultRecord::Cause::Watchdog, 0, f.rip, 0});
        redirect(f, unwind_to_caller_of(t, d, DomainError::TimedOut));
    }
}

// ---- the capability table -----------------------------------------------------------------------
// Each function runs on the thread that called it from domain code: the current domain is the
// callee of its innermost continuation.

Domain* calling_domain() {
    Continuation* c = top_of(sched::current_thread());
    return c ? c->callee : nullptr;
}

// Back from the kernel to domain code: the watchdog restarts, and a domain that failed meanwhile
// (another thread faulted it, or it was injected) is left now.
void back_to_domain() {
    sched::Thread* t = sched::current_thread();
    Continuation* c = top_of(t);
    if (!c) return;
    State s = c->callee->get_state();
    if (s == State::Failed || s == State::Dead) domain_resume(unwind_to_caller_of(t, c->callee, DomainError::Faulted));
    c->progress_ns = time::now_ns();
}

// [p, p + len) lies in mapped kernel memory: what a domain hands the kernel is read only then.
bool readable(const void* p, size_t len) {
    uintptr_t a = reinterpret_cast<uintptr_t>(p);
    if (len == 0) return true;
    if (a < KERNEL_DIRECT_MAP || a + len < a) return false;
    for (uintptr_t page = a & ~(mm::PAGE_SIZE - 1); page < a + len; page += mm::PAGE_SIZE)
        if (mm::translate_kernel(page).is_error()) return false;
    return true;
}

[[noreturn]] void fail_calling_domain(Domain* d, const char* why,
                                      FaultRecord::Cause cause = FaultRecord::Cause::Violation) {
    kprintf("domain %s (id %u): %s\n", d->name, d->id, why);
    if (g_verbose_faults) print_domain_backtrace(d, sched::current_thread(), 0, reinterpret_cast<uint64_t>(__builtin_frame_address(0)));
    mark_failed(d, {cause, 0, reinterpret_cast<uint64_t>(__builtin_return_address(0)), 0});
    kprintf("domain %s: failed; unwinding its callers, the kernel continues\n", d->name);
    domain_resume(unwind_to_caller_of(sched::current_thread(), d, DomainError::Faulted));
}

void cap_log(const char* msg, size_t len) {
    Domain* d = calling_domain();
    if (!d) return;
    if (len > 1024) len = 1024;
    if (!readable(msg, len)) fail_calling_domain(d, "log: message is not readable memory");
    kprintf("[%s] %.*s\n", d->name, int(len), msg);
    back_to_domain();
}

[[noreturn]] void cap_panic(const char* msg, size_t len) {
    Domain* d = calling_domain();
    if (!d) panic("domain panic outside any domain call");
    if (len > 1024) len = 1024;
    if (readable(msg, len) && g_verbose_faults) kprintf("domain %s (id %u): panic: %.*s\n", d->name, d->id, int(len), msg);
    fail_calling_domain(d, "panicked", FaultRecord::Cause::Panic);
}

int32_t cap_alloc_pages(size_t count, void** out) {
    Domain* d = calling_domain();
    if (!d || !readable(out, sizeof(*out))) return kEINVAL;
    if (count == 0 || count > (size_t(1) << 10)) return kEINVAL;
    unsigned order = 0;
    while ((size_t(1) << order) < count) order++;
    int32_t rc = 0;
    {
        SpinlockGuard g(d->lock);
        if (d->allocation_count == Domain::kMaxAllocations) rc = kENOMEM;
    }
    if (rc) return rc;
    auto frames = mm::alloc_frames(order, mm::Owner::domain(d->id));
    if (frames.is_error()) return kENOMEM;
    uint64_t phys = frames.value();
    __builtin_memset(mm::phys_to_virt(phys), 0, mm::PAGE_SIZE << order);
    {
        SpinlockGuard g(d->lock);
        if (d->allocation_count == Domain::kMaxAllocations) {
            rc = kENOMEM;
        } else {
            d->allocations[d->allocation_count++] = {phys, order, count};
            d->counters.heap_pages += size_t(1) << order;
        }
    }
    if (rc) {
        (void)mm::free_frames(phys, order);
        return rc;
    }
    *out = mm::phys_to_virt(phys);
    back_to_domain();
    return 0;
}

void cap_free_pages(void* base, size_t count) {
    Domain* d = calling_domain();
    if (!d) return;
    bool found = false;
    Domain::Allocation a{};
    {
        SpinlockGuard g(d->lock);
        for (size_t i = 0; i < d->allocation_count; i++) {
            if (mm::phys_to_virt(d->allocations[i].phys) == base && d->allocations[i].pages == count) {
                a = d->allocations[i];
                d->allocations[i] = d->allocations[--d->allocation_count];
                d->counters.heap_pages -= size_t(1) << a.order;
                found = true;
                break;
            }
        }
    }
    if (!found) fail_calling_domain(d, "free_pages: not pages this domain was given");
    (void)mm::free_frames(a.phys, a.order);
    back_to_domain();
}

uint64_t cap_time_now_ns() { return time::now_ns(); }

// Sleeps in slices, so a thread of a domain that fails meanwhile leaves within one slice.
int32_t cap_sleep_ns(uint64_t ns) {
    constexpr uint64_t kSlice = 10'000'000;
    uint64_t end = time::now_ns() + ns;
    for (;;) {
        uint64_t now = time::now_ns();
        if (now >= end) break;
        sched::sleep_ns(end - now < kSlice ? end - now : kSlice);
        back_to_domain();
    }
    back_to_domain();
    return 0;
}

void domain_thread_main(void* p) {
    auto* own = static_cast<Domain::OwnThread*>(p);
    DomainError e = call_thunk(own->domain, own->fn, own->arg);
    sched::Thread* self = sched::current_thread();
    if (e != DomainError::None && g_verbose_faults)
        kprintf("domain %s: thread %lu '%s' left the domain (%s)\n", own->domain->name, self->id(), self->name(),
                own->domain->get_state() == State::Dead ? "torn down" : "failed");
}

int32_t cap_thread_create(void (*fn)(void*), void* arg, const char* name, size_t name_len, uint64_t* out_thread) {
    Domain* d = calling_domain();
    if (!d || !fn || !d->contains(reinterpret_cast<uintptr_t>(fn)) || !readable(name, name_len)) return kEINVAL;
    if (out_thread && !readable(out_thread, sizeof(*out_thread))) return kEINVAL;
    Domain::OwnThread* own = nullptr;
    {
        SpinlockGuard g(d->lock);
        if (d->thread_count == Domain::kMaxThreads) return kENOSPC;
        own = &d->threads[d->thread_count++];
        *own = {nullptr, fn, arg, d};
    }
    char full[32];
    size_t n = snformat(full, sizeof(full), "%s/", d->name);
    for (size_t i = 0; i < name_len && n + 1 < sizeof(full); i++) full[n++] = name[i];
    full[n < sizeof(full) ? n : sizeof(full) - 1] = 0;
    // The thread may run (on another CPU) before own->thread is set; it never reads it. The
    // creator is inside the domain until this returns, so destroy() cannot see it unset.
    auto t = sched::Thread::create(full, domain_thread_main, own);
    if (t.is_ok()) own->thread = t.value();
    if (t.is_error()) {
        SpinlockGuard g(d->lock);
        d->thread_count--;
        return kENOMEM;
    }
    if (out_thread) *out_thread = t.value()->id();
    back_to_domain();
    return 0;
}

int32_t cap_exchange_alloc(size_t size, size_t align, uint64_t type, void** out) {
    Domain* d = calling_domain();
    if (!d || !readable(out, sizeof(*out)) || align == 0 || align > 16 || (align & (align - 1))) return kEINVAL;
    if (type > 0xffffffffull) return kEINVAL;
    void* object = nullptr;
    Errno e = Errno::None;
    {
        SpinlockGuard g(g_exchange_lock);
        auto r = g_exchange->allocate(d->id, TypeId(type), size);
        if (r.is_ok()) object = r.value();
        else e = r.error().code();
    }
    if (e != Errno::None) return int32_t(e);
    *out = object;
    back_to_domain();
    return 0;
}

void cap_exchange_free(void* object) {
    Domain* d = calling_domain();
    if (!d) return;
    bool ok;
    {
        SpinlockGuard g(g_exchange_lock);
        ok = g_exchange->free(d->id, object).is_ok();
    }
    if (!ok) fail_calling_domain(d, "exchange_free: not an object it owns (ownership violation)");
    back_to_domain();
}

// A fresh instance of a driver whose previous instance failed (a shadow's recovery starts the
// fresh one before it destroys the failed one) takes the device over: the failed instance's
// claim is quiesced and released first (MSI-X masked, bus mastering off, BARs unmapped), so
// nothing the dead driver set up can reach memory once the new one resets the device. Only
// an instance of the same package may do this, and only from a Failed or Dead holder.
Result<pci::PciDevice*> take_over_from_failed(Domain* d, uint16_t vendor, uint16_t device) {
    Domain* holder = nullptr;
    pci::PciDevice* dev = nullptr;
    size_t handle = 0;
    {
        SpinlockGuard g(g_domains_lock);
        for (Domain* o : g_slots) {
            if (uintptr_t(o) <= 1 || o == d || __builtin_strcmp(o->name, d->name) != 0) continue;
            State s = o->get_state();
            if (s != State::Failed && s != State::Dead) continue;
            SpinlockGuard og(o->lock);
            for (size_t i = 0; i < Manifest::kMaxDevices; i++) {
                pci::PciDevice* p = o->devices[i];
                if (p && p->info().vendor == vendor && p->info().device == device) {
                    holder = o;
                    dev = p;
                    handle = i + 1;
                    o->devices[i] = nullptr;  // its teardown no longer releases it
                    break;
                }
            }
            if (holder) break;
        }
    }
    if (!holder) return Errno::Busy;
    kprintf("domain %s (id %u): takes %04x:%04x over from failed instance %u\n", d->name, d->id, vendor, device,
            holder->id);
    device::release_device(*holder, handle, *dev);
    return pci::claim(pci::Match::id(vendor, device), d->name);
}

int32_t cap_device_claim(uint16_t vendor, uint16_t device, uint32_t index, lamina_device_info* out) {
    Domain* d = calling_domain();
    if (!d || !readable(out, sizeof(*out))) return kEINVAL;
    bool listed = false;
    for (size_t i = 0; i < d->package.manifest.device_count; i++)
        listed |= d->package.manifest.devices[i].vendor == vendor && d->package.manifest.devices[i].device == device;
    if (!listed) {
        kprintf("domain %s: refused to claim %04x:%04x: not in its manifest\n", d->name, vendor, device);
        return kEPERM;
    }
    if (index != 0) return kENOSYS;  // the n-th match is not supported yet
    size_t slot = Manifest::kMaxDevices;
    {
        SpinlockGuard g(d->lock);
        for (size_t i = 0; i < Manifest::kMaxDevices; i++)
            if (!d->devices[i]) { slot = i; break; }
    }
    if (slot == Manifest::kMaxDevices) return kENOSPC;
    auto claimed = pci::claim(pci::Match::id(vendor, device), d->name);
    bool busy = claimed.is_error() && claimed.error().code() == Errno::Busy;
    auto taken = busy ? take_over_from_failed(d, vendor, device) : Result<pci::PciDevice*>(Errno::Busy);
    if (claimed.is_error() && !busy) return int32_t(claimed.error().code());
    if (busy && taken.is_error()) return int32_t(taken.error().code());
    pci::PciDevice* dev = busy ? taken.value() : claimed.value();
    {
        SpinlockGuard g(d->lock);
        d->devices[slot] = dev;
    }
    __builtin_memset(out, 0, sizeof(*out));
    out->handle = slot + 1;
    out->vendor = vendor;
    out->device = device;
    out->bus = dev->address().bus;
    out->slot = dev->address().device;
    out->function = dev->address().function;
    uint16_t msix = dev->msix_vector_count();
    out->irq_count = uint8_t(msix > device::kMaxIrqs ? device::kMaxIrqs : msix);
    for (size_t i = 0; i < 6 && i < dev->info().bar_count; i++)
        out->bar_size[i] = dev->info().bars[i].is_memory() ? dev->info().bars[i].size : 0;
    back_to_domain();
    return 0;
}

pci::PciDevice* device_of(Domain* d, uint64_t handle) {
    if (handle == 0 || handle > Manifest::kMaxDevices) return nullptr;
    SpinlockGuard g(d->lock);
    return d->devices[handle - 1];
}

int32_t cap_device_map_bar(uint64_t handle, uint32_t bar, void** out, size_t* out_size) {
    Domain* d = calling_domain();
    if (!d || !readable(out, sizeof(*out)) || !readable(out_size, sizeof(*out_size))) return kEINVAL;
    pci::PciDevice* dev = device_of(d, handle);
    if (!dev) return kENOENT;
    // A BAR is only reachable with memory decoding on (release leaves decoding as it is).
    if (auto r = dev->enable_memory_space(); r.is_error()) return int32_t(r.error().code());
    auto mapped = dev->map_bar(bar);
    if (mapped.is_error()) return int32_t(mapped.error().code());
    *out = const_cast<void*>(mapped.value());
    *out_size = bar < dev->info().bar_count ? size_t(dev->info().bars[bar].size) : 0;
    back_to_domain();
    return 0;
}

// Sleeps in slices, like sleep_ns, so that a waiter of a domain that fails meanwhile leaves
// within one slice.
int32_t cap_device_irq_wait(uint64_t handle, uint32_t entry, uint64_t timeout_ns) {
    constexpr uint64_t kSlice = 10'000'000;
    Domain* d = calling_domain();
    if (!d) return kEINVAL;
    if (!device_of(d, handle)) return kENOENT;
    uint64_t now = time::now_ns();
    uint64_t deadline = timeout_ns > ~uint64_t(0) - now ? ~uint64_t(0) : now + timeout_ns;
    for (;;) {
        int32_t rc = device::irq_wait_slice(*d, handle, entry, deadline, kSlice);
        back_to_domain();
        if (rc != kEAGAIN) return rc;
    }
}

int32_t cap_device_irq_setup(uint64_t handle, uint32_t count, uint32_t* out_count) {
    Domain* d = calling_domain();
    if (!d || !readable(out_count, sizeof(*out_count))) return kEINVAL;
    pci::PciDevice* dev = device_of(d, handle);
    if (!dev) return kENOENT;
    int32_t rc = device::irq_setup(*d, handle, *dev, count, out_count);
    back_to_domain();
    return rc;
}

int32_t cap_dma_alloc(uint64_t handle, size_t size, void** out, uint64_t* out_bus_address) {
    Domain* d = calling_domain();
    if (!d || !readable(out, sizeof(*out)) || !readable(out_bus_address, sizeof(*out_bus_address))) return kEINVAL;
    pci::PciDevice* dev = device_of(d, handle);
    if (!dev) return kENOENT;
    // Asking for DMA memory is asking for DMA: the device may master the bus from now on
    // (teardown turns it off again).
    if (auto r = dev->enable_bus_mastering(); r.is_error()) return int32_t(r.error().code());
    int32_t rc = device::dma_alloc(*d, size, out, out_bus_address);
    back_to_domain();
    return rc;
}

void cap_dma_free(uint64_t handle, void* base, size_t size) {
    Domain* d = calling_domain();
    if (!d) return;
    (void)handle;  // regions belong to the domain, not to one device
    if (device::dma_free(*d, base, size) != 0) fail_calling_domain(d, "dma_free: not a DMA region this domain was given");
    back_to_domain();
}

int32_t cap_exchange_dma_segments(const void* object, uint64_t offset, uint64_t length, lamina_dma_segment* out,
                                  uint32_t max, uint32_t* out_count) {
    Domain* d = calling_domain();
    if (!d || max == 0 || max > 4096 || !readable(out, size_t(max) * sizeof(*out)) ||
        !readable(out_count, sizeof(*out_count)) || length == 0)
        return kEINVAL;
    int32_t rc = 0;
    {
        SpinlockGuard g(g_exchange_lock);
        auto h = g_exchange->header_of(object);
        if (h.is_error()) rc = kEINVAL;
        else if (h.value()->owner != d->id && !(h.value()->lend_count && h.value()->borrower == d->id)) rc = kEPERM;
        else if (offset > h.value()->size || length > h.value()->size - offset) rc = kEINVAL;
    }
    if (rc) return rc;
    // Exchange-heap pages come from the direct map, so an object is usually one segment; the
    // walk does not depend on it.
    uintptr_t at = reinterpret_cast<uintptr_t>(object) + offset;
    uint64_t left = length;
    uint32_t n = 0;
    while (left) {
        auto t = mm::translate_kernel(at);
        if (t.is_error()) return kEINVAL;
        uint64_t in_page = mm::PAGE_SIZE - (at & (mm::PAGE_SIZE - 1));
        uint64_t piece = left < in_page ? left : in_page;
        if (n && out[n - 1].bus_address + out[n - 1].length == t.value().phys) {
            out[n - 1].length += piece;
        } else {
            if (n == max) return kENOSPC;
            out[n++] = {t.value().phys, piece};
        }
        at += piece;
        left -= piece;
    }
    *out_count = n;
    back_to_domain();
    return 0;
}

int32_t cap_interface_lookup(const char* name, size_t len, void** out) {
    Domain* d = calling_domain();
    if (!d || !readable(name, len) || !readable(out, sizeof *out)) return kEINVAL;
    auto found = lookup_interface(d, name, len);
    if (found.is_error()) return int32_t(found.error().code());
    *out = found.value();
    return 0;
}

int32_t cap_interface_publish(const char* name, size_t len, void* object) {
    Domain* d = calling_domain();
    if (!d || len == 0 || len > Manifest::kMaxInterfaceName || !readable(name, len)) return kEINVAL;
    SpinlockGuard g(d->lock);
    for (size_t i = 0; i < d->export_count; i++)
        if (__builtin_strlen(d->exports[i].name) == len && __builtin_memcmp(d->exports[i].name, name, len) == 0)
            return kEEXIST;
    if (d->export_count == Domain::kMaxExports) return kENOSPC;
    Domain::Export& e = d->exports[d->export_count++];
    __builtin_memcpy(e.name, name, len);
    e.name[len] = 0;
    e.object = object;
    return 0;
}

// ---- images ---------------------------------------------------------------------------------------

uint64_t page_flags(uint32_t prot) {
    uint64_t f = 0;
    if (prot & kProtWrite) f |= mm::PageFlag::Writable;
    if (!(prot & kProtExec)) f |= mm::PageFlag::NoExecute;
    return f;
}

// One TLB shoot-down per batch of pages, not per page: most of a small domain's teardown.
void unmap_and_free(uintptr_t start, size_t pages) {
    constexpr size_t kBatch = 64;
    uint64_t frames[kBatch];
    for (size_t done = 0; done < pages; done += kBatch) {
        size_t n = pages - done < kBatch ? pages - done : kBatch;
        mm::unmap_kernel_range(start + done * mm::PAGE_SIZE, n, frames);
        for (size_t i = 0; i < n; i++)
            if (frames[i]) (void)mm::free_frames(frames[i], 0);
    }
}

// The loader's memory: the domain's image slot, backed by frames owned by the domain.
class ImageMemory final : public MemoryProvider {
public:
    ImageMemory(uint32_t id, uintptr_t base) : id_(id), base_(base) {}

    Result<Region> allocate(size_t pages) override {
        if (pages * mm::PAGE_SIZE > kDomainMaxImage) return Errno::TooBig;
        for (size_t i = 0; i < pages; i++) {
            auto frame = mm::alloc_frames(0, mm::Owner::domain(id_));
            Result<void> mapped = frame.is_ok()
                ? mm::map_kernel_page(base_ + i * mm::PAGE_SIZE, frame.value(),
                                      mm::PageFlag::Writable | mm::PageFlag::NoExecute)
                : Result<void>(frame.error());
            if (mapped.is_error()) {
                if (frame.is_ok()) (void)mm::free_frames(frame.value(), 0);
                unmap_and_free(base_, i);
                return mapped.error();
            }
        }
        return Region{base_, reinterpret_cast<uint8_t*>(base_)};
    }

    Result<void> protect(uintptr_t addr, size_t pages, uint32_t prot) override {
        if (prot == 0) {
            unmap_and_free(addr, pages);  // gaps: nothing may touch them
            return {};
        }
        return mm::protect_kernel_range(addr, pages, page_flags(prot));
    }

    void release(const Region& region, size_t pages) override { unmap_and_free(region.base, pages); }

private:
    uint32_t id_;
    uintptr_t base_;
};

// The package name a boot module carries: the last word of its string ("path name"), or the
// path's file name without ".dom".
bool module_is(const boot::Module& m, const char* name) {
    size_t n = __builtin_strlen(name);
    const char* s = m.name;
    size_t len = 0;
    while (len < sizeof(m.name) && s[len]) len++;
    while (len && s[len - 1] == ' ') len--;
    size_t start = len;
    while (start && s[start - 1] != ' ' && s[start - 1] != '/') start--;
    size_t wlen = len - start;
    if (wlen >= 4 && __builtin_memcmp(s + len - 4, ".dom", 4) == 0) wlen -= 4;
    return wlen == n && __builtin_memcmp(s + start, name, n) == 0;
}

const lamina_domain_caps kCapsTemplate = {
    LAMINA_DOMAIN_ABI_VERSION, sizeof(lamina_domain_caps), 0,
    cap_log, cap_panic, cap_alloc_pages, cap_free_pages, cap_time_now_ns, cap_sleep_ns,
    cap_thread_create, cap_exchange_alloc, cap_exchange_free, cap_device_claim, cap_device_map_bar,
    cap_device_irq_wait, cap_dma_alloc, cap_dma_free, cap_interface_lookup, cap_interface_publish,
    cap_device_irq_setup, cap_exchange_dma_segments,
};

struct CallFrame {
    CallFn fn;
    uint64_t arg;
    uint64_t result;
};

void call_fn_thunk(void* p) {
    auto* f = static_cast<CallFrame*>(p);
    f->result = f->fn(f->arg);
}

struct EntryFrame {
    lamina_domain_entry_fn entry;
    const lamina_domain_caps* caps;
    int64_t result;
};

void entry_thunk(void* p) {
    auto* f = static_cast<EntryFrame*>(p);
    f->result = f->entry(f->caps);
}

}  // namespace

const char* state_name(State s) {
    switch (s) {
    case State::Created: return "created";
    case State::Running: return "running";
    case State::Failed: return "failed";
    case State::Dead: return "dead";
    }
    return "?";
}

void init(const boot::BootInfo& info) {
    g_boot_info = &info;
    g_exchange = new (g_exchange_storage) ExchangeHeap(g_exchange_pages);
    g_next_exception_hook = arch::exception_hook();
    arch::set_exception_hook(on_exception);
    g_next_exit_hook = arch::interrupt_exit_hook();
    arch::set_interrupt_exit_hook(on_interrupt_exit);
}

namespace {

// Gives d (its package validated) an image slot, an id, its image and its capability table.
Result<Domain*> instantiate(Domain* d) {
    {
        SpinlockGuard g(g_domains_lock);
        size_t slot = kImageSlots;
        for (size_t i = 0; i < kImageSlots; i++)
            if (!g_slots[i]) { slot = i; break; }
        if (slot == kImageSlots) {
            delete d;
            return Errno::NoSpc;
        }
        d->slot = unsigned(slot);
        d->id = g_next_id++;
        // Reserved so no other create takes it; published for the fault paths once loaded.
        g_slots[slot] = reinterpret_cast<Domain*>(uintptr_t(1));
    }
    __builtin_memcpy(d->name, d->package.manifest.name, sizeof(d->name));
    ImageMemory memory(d->id, kImageBase + d->slot * kDomainMaxImage);
    LoadError err;
    auto loaded = load_image(d->package.elf, memory, err);
    if (loaded.is_error()) {
        kprintf("domain: package '%s' could not be loaded: %s\n", d->name, err.message);
        SpinlockGuard g(g_domains_lock);
        g_slots[d->slot] = nullptr;
        delete d;
        return loaded.error();
    }
    d->image = loaded.release_value();
    d->counters.image_pages = d->image.size / mm::PAGE_SIZE;
    d->caps = kCapsTemplate;
    d->caps.domain_id = d->id;
    d->record = {d->id, uint32_t(proxy_rt::DomainState::Restarting)};
    __atomic_store_n(&g_slots[d->slot], d, __ATOMIC_RELEASE);
    return d;
}

}  // namespace

Result<Domain*> create(const char* package_name) {
    const boot::Module* module = nullptr;
    for (size_t i = 0; g_boot_info && i < g_boot_info->module_count; i++)
        if (module_is(g_boot_info->modules[i], package_name)) module = &g_boot_info->modules[i];
    if (!module) {
        kprintf("domain: no boot module holds package '%s'\n", package_name);
        return Errno::NoEnt;
    }
    auto* d = new (std::nothrow) Domain;
    if (!d) return Errno::NoMem;
    const auto* data = static_cast<const uint8_t*>(mm::phys_to_virt(module->start));
    LoadError err;
    if (auto r = validate_package(data, size_t(module->end - module->start), d->package, err); r.is_error()) {
        kprintf("domain: package '%s' refused: %s\n", package_name, err.message);
        delete d;
        return r.error();
    }
    return instantiate(d);
}

Result<Domain*> create_like(const Domain* original) {
    auto* d = new (std::nothrow) Domain;
    if (!d) return Errno::NoMem;
    // The package lies in a boot module, reserved and never written: what was validated still is.
    d->package = original->package;
    return instantiate(d);
}

DomainError call_thunk(Domain* d, void (*thunk)(void*), void* frame) {
    KASSERT(cpu::interrupts_enabled());
    // Counted inside before the state check: destroy() marks the domain Dead, then waits for the
    // count to drop, so a caller either sees Dead here or is waited for.
    __atomic_fetch_add(&d->threads_inside, 1, __ATOMIC_SEQ_CST);
    State s = d->get_state();
    if (s == State::Failed || s == State::Dead) {
        __atomic_fetch_sub(&d->threads_inside, 1, __ATOMIC_RELEASE);
        return DomainError::Dead;
    }
    sched::Thread* t = sched::current_thread();
    Continuation c{};
    c.prev = top_of(t);
    c.callee = d;
    c.error = DomainError::None;
    c.progress_ns = time::now_ns();
    if (c.prev) __atomic_fetch_add(&c.prev->callee->counters.calls_out, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&d->counters.calls_in, 1, __ATOMIC_RELAXED);
    t->set_domain_call_top(&c);
    domain_enter(&c, thunk, frame);
    // Here either thunk returned, or the unwinder resumed us with c.error set and c popped.
    DomainError e = __atomic_load_n(&c.error, __ATOMIC_ACQUIRE);
    if (e == DomainError::None) {
        t->set_domain_call_top(c.prev);
        __atomic_fetch_sub(&d->threads_inside, 1, __ATOMIC_RELEASE);
    }
    return e;
}

DomainError call(Domain* d, CallFn fn, uint64_t arg, uint64_t* result) {
    CallFrame f{fn, arg, 0};
    DomainError e = call_thunk(d, call_fn_thunk, &f);
    if (e == DomainError::None && result) *result = f.result;
    return e;
}

Result<int64_t> start(Domain* d) {
    if (d->get_state() != State::Created) return Errno::Inval;
    EntryFrame f{reinterpret_cast<lamina_domain_entry_fn>(d->image.entry), &d->caps, 0};
    DomainError e = call_thunk(d, entry_thunk, &f);
    if (e != DomainError::None) {
        kprintf("domain %s: failed to start (%s)\n", d->name, e == DomainError::TimedOut ? "timed out" : "faulted");
        return Errno::IO;
    }
    uint32_t created = uint32_t(State::Created);
    if (f.result >= 0 && __atomic_compare_exchange_n(&d->state, &created, uint32_t(State::Running), false,
                                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        __atomic_store_n(&d->record.state, uint32_t(proxy_rt::DomainState::Running), __ATOMIC_RELEASE);
    return f.result;
}

void destroy(Domain* d) {
    __atomic_store_n(&d->state, uint32_t(State::Dead), __ATOMIC_SEQ_CST);
    __atomic_store_n(&d->record.state, uint32_t(proxy_rt::DomainState::Dead), __ATOMIC_RELEASE);
    // Threads still running its code leave at their next interrupt; ones in a capability when
    // they come back from it.
    uint64_t deadline = time::now_ns() + 5'000'000'000ull;
    while (__atomic_load_n(&d->threads_inside, __ATOMIC_ACQUIRE) != 0 || __atomic_load_n(&d->pins, __ATOMIC_ACQUIRE) != 0) {
        if (time::now_ns() > deadline) {
            kprintf("domain %s: %u threads still inside (%u pins) after 5 s; its memory is kept\n", d->name,
                    d->threads_inside, d->pins);
            return;
        }
        sched::yield();
    }
    // Its own threads have left it: they end now.
    for (size_t i = 0; i < d->thread_count; i++)
        if (d->threads[i].thread) (void)d->threads[i].thread->join();
    d->thread_count = 0;
    {
        SpinlockGuard g(g_domains_lock);
        g_slots[d->slot] = nullptr;
    }
    for (size_t i = 0; i < Manifest::kMaxDevices; i++) {
        pci::PciDevice* dev;
        {
            SpinlockGuard g(d->lock);
            dev = d->devices[i];
            d->devices[i] = nullptr;
        }
        if (dev) device::release_device(*d, i + 1, *dev);
    }
    device::release_dma(*d);  // after the devices: nothing DMAs into it anymore
    for (size_t i = 0; i < d->allocation_count; i++)
        (void)mm::free_frames(d->allocations[i].phys, d->allocations[i].order);
    d->allocation_count = 0;
    ReclaimStats stats;
    {
        SpinlockGuard g(g_exchange_lock);
        stats = g_exchange->reclaim_domain(d->id);
    }
    if (stats.freed || stats.orphaned || stats.loans_returned || stats.corrupt)
        kprintf("domain %s: exchange heap: %zu objects freed (%zu nested), %zu orphaned while lent, %zu loans "
                "returned, %zu corrupt handles\n", d->name, stats.freed, stats.nested, stats.orphaned,
                stats.loans_returned, stats.corrupt);
    unmap_and_free(d->image.base, d->image.size / mm::PAGE_SIZE);
    delete d;
}

void* find_export(Domain* d, const char* name) {
    SpinlockGuard g(d->lock);
    for (size_t i = 0; i < d->export_count; i++)
        if (__builtin_strcmp(d->exports[i].name, name) == 0) return d->exports[i].object;
    return nullptr;
}

Domain* find(const char* name) {
    SpinlockGuard g(g_domains_lock);
    for (Domain* d : g_slots)
        if (uintptr_t(d) > 1 && __builtin_strcmp(d->name, name) == 0) return d;
    return nullptr;
}

Domain* current() { return calling_domain(); }

Domain* pin(const char* name) {
    SpinlockGuard g(g_domains_lock);
    for (Domain* d : g_slots) {
        if (uintptr_t(d) <= 1 || __builtin_strcmp(d->name, name) != 0) continue;
        // As call_thunk counts threads: pinned first, then the state checked. destroy() marks
        // the domain Dead and then waits for the pins, so either it waits for this one or this
        // sees Dead; and it frees d only after taking this lock to empty the slot.
        __atomic_fetch_add(&d->pins, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&d->state, __ATOMIC_SEQ_CST) == uint32_t(State::Dead)) {
            __atomic_fetch_sub(&d->pins, 1, __ATOMIC_RELEASE);
            return nullptr;
        }
        return d;
    }
    return nullptr;
}

void unpin(Domain* d) { __atomic_fetch_sub(&d->pins, 1, __ATOMIC_RELEASE); }

uint64_t inject_kind(const char* kind, size_t len) {
    static const char* const kKinds[] = {"panic", "null", "ud", "div0", "stack", "loop"};
    static_assert(LAMINA_INJECT_PANIC == 1 && LAMINA_INJECT_LOOP == 6, "kKinds follows lamina_inject_kind");
    for (size_t i = 0; i < sizeof(kKinds) / sizeof(kKinds[0]); i++)
        if (__builtin_strlen(kKinds[i]) == len && __builtin_memcmp(kKinds[i], kind, len) == 0) return i + 1;
    return 0;
}

namespace {

struct Injection {
    Domain* d;
    CallFn fn;
    uint64_t kind;
    DomainError result;
};

// On a thread of its own (a fresh, guarded stack for the stack overflow; nothing of the
// requester's to unwind): the fault ends this call, through the normal fault path.
void injection_thread(void* p) {
    auto* in = static_cast<Injection*>(p);
    uint64_t ignored = 0;
    in->result = call(in->d, in->fn, in->kind, &ignored);
    if (in->result == DomainError::None)
        kprintf("domain %s: the injected fault did not happen (its runtime does not know kind %lu)\n",
                in->d->name, (unsigned long)in->kind);
    unpin(in->d);
    if (in->kind == LAMINA_INJECT_LOOP) delete in;  // detached: nobody waits for it
}

}  // namespace

Result<void> inject_fault(const char* name, const char* kind) {
    uint64_t code = inject_kind(kind, __builtin_strlen(kind));
    if (!code) return Errno::Inval;
    Domain* d = pin(name);
    if (!d) return Errno::NoEnt;
    if (d->get_state() != State::Running || __atomic_load_n(&d->restarting, __ATOMIC_ACQUIRE)) {
        unpin(d);
        return Errno::Busy;
    }
    auto fn = reinterpret_cast<CallFn>(find_export(d, LAMINA_INJECT_EXPORT));
    kprintf("domain %s (id %u): injecting a fault (%s)\n", d->name, d->id, kind);
    if (!fn || !d->contains(reinterpret_cast<uintptr_t>(fn))) {
        // Nothing of the domain's own to run (only a function in its image is ever called).
        kprintf("domain %s: no %s function in its image: marked failed without running it\n", d->name,
                LAMINA_INJECT_EXPORT);
        mark_failed(d, {FaultRecord::Cause::Injected});
        unpin(d);
        return {};
    }
    bool detached = code == LAMINA_INJECT_LOOP;
    auto* in = new (std::nothrow) Injection{d, fn, code, DomainError::None};
    if (!in) {
        unpin(d);
        return Errno::NoMem;
    }
    sched::ThreadOptions options;
    options.detached = detached;
    char thread_name[32];
    snformat(thread_name, sizeof(thread_name), "inject/%s", d->name);
    auto t = sched::Thread::create(thread_name, injection_thread, in, options);
    if (t.is_error()) {
        delete in;
        unpin(d);
        return t.error();
    }
    if (detached) return {};
    (void)t.value()->join();
    DomainError e = in->result;
    delete in;
    return e == DomainError::None ? Result<void>(Errno::IO) : Result<void>();
}

void set_verbose_faults(bool verbose) { g_verbose_faults = verbose; }

Recovery::Recovery(Domain* instance, Hook rebind, Hook replay, void* context)
    : Recovery(instance, rebind, replay, context,
               instance->package.manifest.restart == RestartPolicy::Never ? 0 : instance->package.manifest.restart_max,
               uint64_t(instance->package.manifest.restart_window_s) * 1'000'000'000ull) {}

Recovery::Recovery(Domain* instance, Hook rebind, Hook replay, void* context, uint32_t max, uint64_t window_ns)
    : instance_(instance), rebind_(rebind), replay_(replay), context_(context),
      max_(max < kMaxTracked ? max : uint32_t(kMaxTracked)), window_ns_(window_ns) {
    __builtin_memcpy(package_, instance->name, sizeof(package_));
    SpinlockGuard g(g_domains_lock);
    instance->recovery = this;
}

Recovery::~Recovery() {
    // Only live domains are looked at: the instance may have been destroyed already.
    SpinlockGuard g(g_domains_lock);
    for (Domain* d : g_slots)
        if (uintptr_t(d) > 1 && d->recovery == this) d->recovery = nullptr;
}

Result<void> Recovery::recover(DomainError why) {
    // One recovery at a time; a thread that waited for another's finds the fresh instance
    // running, and its call may go again.
    while (__atomic_exchange_n(&busy_, true, __ATOMIC_ACQUIRE)) sched::yield();
    Result<void> r;
    if (instance_->get_state() != State::Running) {
        // The budget: the max-th most recent restart must lie outside the window.
        uint64_t now = time::now_ns();
        uint64_t oldest = max_ ? recent_[recent_next_] : 0;  // the slot max_ restarts ago (0: unused)
        if (max_ == 0) {
            r = Errno::Perm;
        } else if (restarts_ >= max_ && now - oldest < window_ns_) {
            kprintf("domain %s: %u restarts within %lu s: giving up\n", package_, max_,
                    (unsigned long)(window_ns_ / 1'000'000'000ull));
            r = Errno::Again;
        } else {
            r = replace(why);
            if (r.is_ok()) {
                recent_[recent_next_] = now;
                recent_next_ = (recent_next_ + 1) % max_;
            }
        }
    }
    __atomic_store_n(&busy_, false, __ATOMIC_RELEASE);
    return r;
}

Result<void> Recovery::restart() {
    if (__atomic_exchange_n(&busy_, true, __ATOMIC_ACQUIRE)) return Errno::Busy;
    Result<void> r = replace(DomainError::None);
    __atomic_store_n(&busy_, false, __ATOMIC_RELEASE);
    return r;
}

// Fresh instance from the same package, started, replayed, rebound; then the old one goes.
Result<void> Recovery::replace(DomainError why) {
    uint64_t t0 = time::now_ns();
    Domain* old = instance_;
    __atomic_store_n(&old->restarting, true, __ATOMIC_RELEASE);
    auto fail = [&](Domain* fresh, Error e) -> Result<void> {
        if (fresh) destroy(fresh);
        __atomic_store_n(&old->restarting, false, __ATOMIC_RELEASE);
        return e;
    };
    auto created = create_like(old);
    if (created.is_error()) return fail(nullptr, created.error());
    Domain* fresh = created.value();
    auto started = start(fresh);
    if (started.is_error() || started.value() < 0) {
        kprintf("domain %s: the fresh instance did not start\n", package_);
        return fail(fresh, Errno::IO);
    }
    if (replay_) {
        if (auto r = replay_(context_, fresh); r.is_error()) {
            kprintf("domain %s: replay failed: %s\n", package_, r.error().name());
            return fail(fresh, r.error());
        }
    }
    if (auto r = rebind_(context_, fresh); r.is_error()) return fail(fresh, r.error());
    instance_ = fresh;
    fresh->counters.restarts = old->counters.restarts + 1;
    {
        SpinlockGuard g(g_domains_lock);
        fresh->recovery = this;
        old->recovery = nullptr;
    }
    destroy(old);
    restarts_++;
    last_recovery_ns_ = time::now_ns() - t0;
    if (g_verbose_faults)
        kprintf("domain %s: restarted %s (id %u, restart %lu, %lu us)\n", package_,
                why == DomainError::None       ? "on request"
                : why == DomainError::TimedOut ? "after a timeout"
                : why == DomainError::Dead     ? "after its death"
                                               : "after a fault",
                fresh->id, (unsigned long)fresh->counters.restarts, (unsigned long)(last_recovery_ns_ / 1000));
    return {};
}

void set_watchdog_ns(uint64_t ns) { __atomic_store_n(&g_watchdog_ns, ns, __ATOMIC_RELAXED); }
uint64_t watchdog_ns() { return __atomic_load_n(&g_watchdog_ns, __ATOMIC_RELAXED); }
uint64_t fault_count() { return __atomic_load_n(&g_faults, __ATOMIC_RELAXED); }

size_t format_domains(char* buf, size_t size) {
    // The /proc/domains contract (userland/domctl/README.md): key=value fields, one domain a line.
    static const char* const kStates[] = {"starting", "running", "faulted", "stopped"};
    size_t n = 0;
    auto add = [&](size_t m) { n = n + m < size ? n + m : (size ? size - 1 : 0); };
    SpinlockGuard g(g_domains_lock);
    for (Domain* d : g_slots) {
        if (uintptr_t(d) <= 1) continue;
        size_t exchange_objects;
        {
            SpinlockGuard x(g_exchange_lock);
            exchange_objects = g_exchange->objects_owned_by(d->id);
        }
        add(snformat(buf + n, size - n,
                     "id=%u name=%s state=%s restarts=%lu faults=%lu calls_in=%lu calls_out=%lu heap_pages=%lu "
                     "exchange_objects=%zu threads=%zu threads_inside=%u image_pages=%lu\n",
                     d->id, d->name,
                     __atomic_load_n(&d->restarting, __ATOMIC_ACQUIRE) ? "restarting" : kStates[uint32_t(d->get_state()) & 3], (unsigned long)d->counters.restarts,
                     (unsigned long)d->counters.faults, (unsigned long)d->counters.calls_in,
                     (unsigned long)d->counters.calls_out, (unsigned long)d->counters.heap_pages, exchange_objects,
                     d->thread_count, __atomic_load_n(&d->threads_inside, __ATOMIC_RELAXED),
                     (unsigned long)d->counters.image_pages));
    }
    return n;
}

}  // namespace lamina::domain

namespace lamina::domain {

static_assert(std::is_standard_layout_v<Domain>, "the proxy runtime finds a Domain from its record");

size_t exchange_objects_owned_by(DomainId id) {
    SpinlockGuard g(g_exchange_lock);
    return g_exchange->objects_owned_by(id);
}

size_t exchange_live_objects() {
    SpinlockGuard g(g_exchange_lock);
    return g_exchange->live_objects();
}

Result<void> exchange_register_types(const TypeInfo* const* types, size_t count) {
    SpinlockGuard g(g_exchange_lock);
    for (size_t i = 0; i < count; i++) TRY(g_exchange->register_type(*types[i]));
    return {};
}

}  // namespace lamina::domain

// ---- the kernel's proxy runtime (include/lamina/proxy_runtime.h) and exchange:: (rref.h) -------

namespace lamina {

using domain::Domain;
using domain::g_exchange;
using domain::g_exchange_lock;

DomainId proxy_rt::current_domain() {
    Domain* d = domain::calling_domain();
    return d ? d->id : KERNEL_DOMAIN;
}

DomainError proxy_rt::call_into(DomainRecord& callee, Thunk thunk, void* frame) {
    // The record is a Domain's first member (static_assert above).
    auto* d = reinterpret_cast<Domain*>(&callee);
    if (!is_alive(callee)) return DomainError::Dead;
    return domain::call_thunk(d, thunk, frame);
}

Result<void> proxy_rt::move_rref(void* object, TypeId type, DomainId from, DomainId to) {
    SpinlockGuard g(g_exchange_lock);
    return g_exchange->transfer_typed(object, type, from, to);
}

Result<DomainId> proxy_rt::lend_rref(const void* object, DomainId lender, DomainId borrower) {
    SpinlockGuard g(g_exchange_lock);
    return g_exchange->lend(object, lender, borrower);
}

void proxy_rt::end_loan(const void* object, DomainId borrower, DomainId previous) {
    SpinlockGuard g(g_exchange_lock);
    (void)g_exchange->end_loan(object, borrower, previous);
}

bool proxy_rt::rescue_rref(void* object, TypeId type, DomainId from, DomainId to) {
    SpinlockGuard g(g_exchange_lock);
    auto h = g_exchange->header_of(object);
    if (h.is_error() || h.value()->type != type) return false;
    return g_exchange->transfer(object, from, to).is_ok();
}

void proxy_rt::ownership_violation(DomainId culprit, Error error) {
    Domain* current = domain::calling_domain();
    if (current && current->id == culprit)
        domain::fail_calling_domain(current, "ownership violation in a proxy call");
    kprintf("domain: ownership violation by domain %u (%s)\n", culprit, error.name());
    SpinlockGuard g(domain::g_domains_lock);
    for (Domain* d : domain::g_slots)
        if (uintptr_t(d) > 1 && d->id == culprit) domain::mark_failed(d);
}

Result<void*> exchange::allocate(TypeId type, size_t size) {
    DomainId owner = proxy_rt::current_domain();
    SpinlockGuard g(g_exchange_lock);
    return g_exchange->allocate(owner, type, size);
}

Result<void> exchange::free(void* object) {
    DomainId caller = proxy_rt::current_domain();
    Error e = Errno::None;
    {
        SpinlockGuard g(g_exchange_lock);
        auto r = g_exchange->free(caller, object);
        if (r.is_error()) e = r.error();
    }
    if (e.code() == Errno::None) return {};
    proxy_rt::ownership_violation(caller, e);
    return e;
}

}  // namespace lamina
