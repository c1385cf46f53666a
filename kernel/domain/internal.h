// What the domain manager's files share with each other (nothing outside kernel/domain includes
// this): the table of live domains, the domain-call stack, marking a domain failed, and the
// capability table's hand-off back to domain code. docs/domains.md describes how they fit.
//
//   lifecycle.cpp     the table of live domains, loading (create), start, destroy, lookups
//   call.cpp          domain calls and unwinding (with domain_call.S), the watchdog
//   fault_report.cpp  marking a domain failed, fault reports with symbolized backtraces
//   capabilities.cpp  the capability table a domain's entry receives (one entry wrapper)
//   resources.cpp     what a domain holds in the kernel (pages, devices, DMA, vectors, threads)
//   recovery.cpp      Recovery: replacing a failed instance behind a shadow
//   proxy_runtime.cpp the kernel's proxy runtime and the exchange heap instance
//   control.cpp       fault injection and /proc/domctl
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/domain/domain.h"
#include "kernel/domain/exchange_heap.h"
#include "kernel/sync/spinlock.h"

namespace lamina::arch {
struct InterruptFrame;
}
namespace lamina::sched {
class Thread;
}

namespace lamina::domain {

// The state domain_call.S saves and restores comes first; the rest is the call's bookkeeping.
struct Continuation {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
    Continuation* prev;  // the caller's continuation (null: called from the kernel)
    Domain* callee;
    uint64_t progress_ns;  // when the thread last went (back) into domain code: the watchdog
    DomainError error;     // set by the unwinder before it resumes here
};
static_assert(offsetof(Continuation, rip) == 56, "domain_call.S's layout");

// ---- the table of live domains (lifecycle.cpp) ------------------------------------------------
// Lock order: g_domains_lock, then a Domain's Resources::lock, then the exchange heap's lock.
extern Spinlock g_domains_lock;
// One entry per image slot: nullptr (free), RESERVED_SLOT (being loaded) or the live domain.
// Written under g_domains_lock; read locklessly by the fault paths (domain_at).
extern Domain* g_slots[IMAGE_SLOTS];
inline Domain* const RESERVED_SLOT = reinterpret_cast<Domain*>(uintptr_t(1));
inline bool is_live(const Domain* d) { return uintptr_t(d) > uintptr_t(RESERVED_SLOT); }

// The domain whose image holds addr (any CPU, any context), or nullptr.
Domain* domain_at(uintptr_t addr);

// ---- calls and unwinding (call.cpp) -----------------------------------------------------------
Continuation* top_of(sched::Thread* t);
// The domain the calling thread runs in: the callee of its innermost continuation.
Domain* calling_domain();
bool on_call_stack(Continuation* top, Domain* d);
// Pops every continuation of t down to (and including) the outermost one that entered d, and
// returns it with why recorded: resuming there (domain_resume) leaves d for good.
Continuation* unwind_to_caller_of(sched::Thread* t, Domain* d, DomainError why);
// Back from the kernel to domain code: the watchdog starts again, and a domain that failed
// meanwhile (another thread faulted it, or it was injected) is left now (does not return).
void back_to_domain();
// Leaves d for good: resumes t at the continuation of d's outermost caller, with why.
[[noreturn]] void leave_failed_domain(sched::Thread* t, Domain* d, DomainError why);
// Puts the exception and interrupt-exit hooks in front of the scheduler's (init()).
void install_fault_hooks();

// ---- faults (fault_report.cpp) ----------------------------------------------------------------
// Marks d Failed (once), recording why; true if this call did it. A failed driver's devices
// stop mastering the bus at once.
bool mark_failed(Domain* d, const FaultRecord& why = {FaultRecord::Cause::Violation});
// A CPU exception in d's code on thread t: logged with registers and a backtrace.
void report_fault(Domain* d, sched::Thread* t, const arch::InterruptFrame& f);
// The watchdog fired on thread t in d.
void report_watchdog(Domain* d, sched::Thread* t, const arch::InterruptFrame& f, uint64_t ran_ns);
// The calling domain broke a rule of the capability table (or panicked): logged, marked
// Failed, and the thread unwound to the caller of the domain.
[[noreturn]] void fail_calling_domain(Domain* d, const char* why,
                                      FaultRecord::Cause cause = FaultRecord::Cause::Violation);
bool verbose_faults();

// ---- the capability table (capabilities.cpp) --------------------------------------------------
// The table every domain's entry receives (its domain_id filled in per domain).
extern const lamina_domain_caps CAPS_TEMPLATE;

// ---- the exchange heap (proxy_runtime.cpp) ----------------------------------------------------
void init_exchange_heap();
extern Spinlock g_exchange_lock;
extern ExchangeHeap* g_exchange;  // g_exchange_lock

// Runs fn(heap) with the exchange heap's lock held.
template <typename Fn>
decltype(auto) with_exchange_heap(Fn&& fn) {
    SpinlockGuard g(g_exchange_lock);
    return fn(*g_exchange);
}

}  // namespace lamina::domain
