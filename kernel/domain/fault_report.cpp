// Marking a domain failed, and what the log says about it: the exception with its registers and
// a backtrace whose addresses are symbolized with the domain's own symbols (or the kernel's, for
// kernel frames).
#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/dev/pci/pci.h"
#include "kernel/domain/internal.h"
#include "kernel/lib/log.h"
#include "kernel/sched/thread.h"

namespace lamina::domain {

namespace {

uint64_t g_faults;
bool g_verbose_faults = true;

// A return address is symbolized by the call before it: after a call to a noreturn function
// it points past the caller's end, often into the next function or padding.
void print_address(const char* prefix, uint64_t addr, bool return_address = false) {
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
    kprintf("%s%016lx  ?\n", prefix, addr);
}

// The frame-pointer chain, bounded by the thread's stack.
void print_domain_backtrace(sched::Thread* t, uint64_t rip, uint64_t rbp) {
    kprintf("  backtrace:\n");
    if (rip) print_address("    ", rip);  // 0: a report from inside the kernel (a panic), no faulting rip
    uintptr_t lo = t->stack().bottom, hi = t->stack().top;
    for (int i = 0; i < 16; i++) {
        if (rbp % 8 || rbp < lo || rbp + 16 > hi) break;
        auto* frame = reinterpret_cast<const uint64_t*>(rbp);
        if (frame[1] == 0) break;
        print_address("    ", frame[1], true);
        if (frame[0] <= rbp) break;
        rbp = frame[0];
    }
}

}  // namespace

bool mark_failed(Domain* d, const FaultRecord& why) {
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
            for (pci::PciDevice*& slot : d->resources.devices)
                if (pci::PciDevice* dev = __atomic_load_n(&slot, __ATOMIC_ACQUIRE)) (void)dev->disable_bus_mastering();
            return true;
        }
    }
    return false;
}

void report_fault(Domain* d, sched::Thread* t, const arch::InterruptFrame& f) {
    kprintf("domain %s (id %u): %s (vector %lu) in thread %lu '%s'\n", d->name, d->id, arch::exception_name(f.vector),
            f.vector, t->id(), t->name());
    if (!g_verbose_faults) return;
    arch::print_exception_details(f);
    arch::print_frame(f);
    print_domain_backtrace(t, f.rip, f.rbp);
    kprintf("domain %s: failed; unwinding its callers, the kernel continues\n", d->name);
}

void report_watchdog(Domain* d, sched::Thread* t, const arch::InterruptFrame& f, uint64_t ran_ns) {
    kprintf("domain %s (id %u): watchdog: thread %lu '%s' ran %lu ms in it without returning\n", d->name, d->id,
            t->id(), t->name(), (unsigned long)(ran_ns / 1000000));
    arch::print_frame(f);
    print_domain_backtrace(t, f.rip, f.rbp);
}

void fail_calling_domain(Domain* d, const char* why, FaultRecord::Cause cause) {
    kprintf("domain %s (id %u): %s\n", d->name, d->id, why);
    sched::Thread* t = sched::current_thread();
    if (g_verbose_faults) print_domain_backtrace(t, 0, reinterpret_cast<uint64_t>(__builtin_frame_address(0)));
    mark_failed(d, {cause, 0, reinterpret_cast<uint64_t>(__builtin_return_address(0)), 0});
    kprintf("domain %s: failed; unwinding its callers, the kernel continues\n", d->name);
    leave_failed_domain(t, d, DomainError::Faulted);
}

bool verbose_faults() { return g_verbose_faults; }
void set_verbose_faults(bool verbose) { g_verbose_faults = verbose; }
uint64_t fault_count() { return __atomic_load_n(&g_faults, __ATOMIC_RELAXED); }

}  // namespace lamina::domain
