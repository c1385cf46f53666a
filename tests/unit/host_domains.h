// A host stand-in for the kernel's domain manager, enough to run generated proxies and shadows
// and the exchange heap in unit tests and host benchmarks: domain records (alive / failed /
// dead), the current domain, a per-thread domain-call stack of continuations, and faults that
// unwind to the innermost continuation outside the failed domain (a small register-saving
// trampoline, the same idea as the kernel's; host only).
//
// It implements include/lamina/proxy_runtime.h and lamina::exchange (include/lamina/rref.h) for
// whichever HostDomains is installed. Single-threaded.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <deque>

#include <lamina/proxy_runtime.h>

#include "kernel/domain/exchange_heap.h"

namespace lamina::host {

// Pages for the exchange heap from aligned_alloc, counted.
class MallocPages final : public mm::PageProvider {
public:
    void* alloc_pages(unsigned order) override;
    void free_pages(void* pages, unsigned order) override;
    size_t outstanding_pages() const { return outstanding_; }

private:
    size_t outstanding_ = 0;
};

class HostDomains {
public:
    static constexpr size_t MAX_DEPTH = 64;

    // Installs itself as the environment; domain 0 (the kernel) is current.
    HostDomains();
    ~HostDomains();
    HostDomains(const HostDomains&) = delete;

    static HostDomains& installed();

    // A new running domain with the next id.
    proxy_rt::DomainRecord& create_domain();
    proxy_rt::DomainRecord& record(DomainId id);
    // Marks d dead (it must not be running on this thread).
    void kill(DomainId d);
    // Called by "domain code": fails the current domain and unwinds to the continuation of the
    // outermost call into it. Does not return.
    [[noreturn]] void fault();
    // The next call that returns normally from a domain fails it on the way out, as a fault
    // injected from another thread can in the kernel: the callee's result exists, its domain
    // is Failed, and the call reports Faulted.
    void fault_on_next_return() { fault_on_return_ = true; }
    // The next call fails its callee before the callee's code runs, after the proxy moved the
    // arguments' ownership: `how` is Dead (the domain failed between the proxy's liveness check
    // and the entry, which the kernel re-checks) or Faulted (a fault injected from another thread
    // unwound the call before the callee took its arguments).
    void fail_on_next_entry(DomainError how) { fail_on_entry_ = how; }
    // Teardown after a fault or kill: dead, and its exchange-heap objects reclaimed.
    domain::ReclaimStats reclaim(DomainId d);

    DomainId current() const { return current_; }
    size_t depth() const { return depth_; }
    domain::ExchangeHeap& heap() { return heap_; }
    MallocPages& pages() { return pages_; }

    // Ownership violations reported by proxies or by exchange::free.
    size_t violations() const { return violations_; }
    DomainId last_culprit() const { return last_culprit_; }
    Error last_violation() const { return last_violation_; }

    // For the proxy_rt / exchange entry points.
    DomainError call_into(proxy_rt::DomainRecord& callee, proxy_rt::Thunk thunk, void* frame);
    void violation(DomainId culprit, Error e);

    struct Continuation {
        uintptr_t sp;
    };

private:
    struct CallFrame {
        Continuation cont;
        DomainId caller;
        DomainId callee;
    };

    MallocPages pages_;
    domain::ExchangeHeap heap_;
    bool fault_on_return_ = false;
    DomainError fail_on_entry_ = DomainError::None;
    std::deque<proxy_rt::DomainRecord> domains_;  // stable addresses
    DomainId current_ = KERNEL_DOMAIN;
    CallFrame stack_[MAX_DEPTH];
    size_t depth_ = 0;
    size_t violations_ = 0;
    DomainId last_culprit_ = NO_DOMAIN;
    Error last_violation_ = Errno::None;
    HostDomains* previous_;
};

}  // namespace lamina::host
