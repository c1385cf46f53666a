// The host proxy runtime (see host_domains.h). Also included by bench/host/proxy_bench.cpp.
#include "tests/unit/host_domains.h"

#include <cstdio>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

// lamina_host_enter(cont, thunk, frame): saves the callee-saved registers, records the stack
// pointer in *cont, calls thunk(frame) and returns 0. lamina_host_unwind(cont) makes that call
// return 1 instead, from wherever the thread is: the frames in between are dropped without
// running anything (as the kernel drops a failed domain's frames).
extern "C" uint64_t lamina_host_enter(lamina::host::HostDomains::Continuation* cont, lamina::proxy_rt::Thunk thunk,
                                      void* frame);
extern "C" [[noreturn]] void lamina_host_unwind(lamina::host::HostDomains::Continuation* cont);

asm(R"(
    .text
    .globl lamina_host_enter
    .type lamina_host_enter, @function
lamina_host_enter:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    .cfi_adjust_cfa_offset 56
    movq %rsp, (%rdi)
    movq %rsi, %rax
    movq %rdx, %rdi
    callq *%rax
    xorl %eax, %eax
1:  addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    .cfi_adjust_cfa_offset -56
    retq
    .cfi_endproc
    .size lamina_host_enter, .-lamina_host_enter

    .globl lamina_host_unwind
    .type lamina_host_unwind, @function
lamina_host_unwind:
    movq (%rdi), %rsp
    movl $1, %eax
    jmp 1b
    .size lamina_host_unwind, .-lamina_host_unwind
    .section .note.GNU-stack,"",@progbits
    .text
)");

namespace lamina::host {

namespace {
HostDomains* g_installed = nullptr;
}

void* MallocPages::alloc_pages(unsigned order) {
    void* p = std::aligned_alloc(mm::PAGE_SIZE, mm::PAGE_SIZE << order);
    if (p != nullptr) outstanding_ += size_t{1} << order;
    return p;
}

void MallocPages::free_pages(void* pages, unsigned order) {
    std::free(pages);
    outstanding_ -= size_t{1} << order;
}

HostDomains::HostDomains() : heap_(pages_), previous_(g_installed) {
    domains_.push_back({KERNEL_DOMAIN, static_cast<uint32_t>(proxy_rt::DomainState::Running)});
    g_installed = this;
}

HostDomains::~HostDomains() { g_installed = previous_; }

HostDomains& HostDomains::installed() {
    if (g_installed == nullptr) {
        std::fprintf(stderr, "host_domains: no HostDomains installed\n");
        std::abort();
    }
    return *g_installed;
}

proxy_rt::DomainRecord& HostDomains::create_domain() {
    domains_.push_back({static_cast<DomainId>(domains_.size()), static_cast<uint32_t>(proxy_rt::DomainState::Running)});
    return domains_.back();
}

proxy_rt::DomainRecord& HostDomains::record(DomainId id) { return domains_.at(id); }

void HostDomains::kill(DomainId d) {
    __atomic_store_n(&record(d).state, static_cast<uint32_t>(proxy_rt::DomainState::Dead), __ATOMIC_RELEASE);
}

domain::ReclaimStats HostDomains::reclaim(DomainId d) {
    kill(d);
    return heap_.reclaim_domain(d);
}

DomainError HostDomains::call_into(proxy_rt::DomainRecord& callee, proxy_rt::Thunk thunk, void* frame) {
    if (!proxy_rt::is_alive(callee)) return DomainError::Dead;
    if (depth_ == MAX_DEPTH) return DomainError::Faulted;  // the kernel would fail the runaway domain
    if (DomainError how = std::exchange(fail_on_entry_, DomainError::None); how != DomainError::None) {
        __atomic_store_n(&callee.state, static_cast<uint32_t>(proxy_rt::DomainState::Failed), __ATOMIC_RELEASE);
        return how;
    }
    size_t index = depth_++;
    CallFrame& f = stack_[index];
    f.caller = current_;
    f.callee = callee.id;
    current_ = callee.id;
    uint64_t unwound = lamina_host_enter(&f.cont, thunk, frame);
    depth_ = index;
    current_ = f.caller;
    if (!unwound && fault_on_return_) {
        fault_on_return_ = false;
        __atomic_store_n(&callee.state, static_cast<uint32_t>(proxy_rt::DomainState::Failed), __ATOMIC_RELEASE);
        return DomainError::Faulted;
    }
    return unwound ? DomainError::Faulted : DomainError::None;
}

void HostDomains::fault() {
    DomainId failed = current_;
    if (failed == KERNEL_DOMAIN) {
        std::fprintf(stderr, "host_domains: fault outside any domain\n");
        std::abort();
    }
    __atomic_store_n(&record(failed).state, static_cast<uint32_t>(proxy_rt::DomainState::Failed), __ATOMIC_RELEASE);
    size_t target = depth_;
    for (size_t i = 0; i < depth_; i++)
        if (stack_[i].callee == failed) {
            target = i;
            break;
        }
    depth_ = target;
#if defined(__SANITIZE_ADDRESS__)
    __asan_handle_no_return();  // the dropped frames' redzones would otherwise stay poisoned
#endif
    lamina_host_unwind(&stack_[target].cont);
}

void HostDomains::violation(DomainId culprit, Error e) {
    violations_++;
    last_culprit_ = culprit;
    last_violation_ = e;
}

}  // namespace lamina::host

namespace lamina {

using host::HostDomains;

Result<void*> exchange::allocate(TypeId type, size_t size) {
    HostDomains& h = HostDomains::installed();
    return h.heap().allocate(h.current(), type, size);
}

Result<void> exchange::free(void* object) {
    HostDomains& h = HostDomains::installed();
    Result<void> r = h.heap().free(h.current(), object);
    if (r.is_error()) h.violation(h.current(), r.error());
    return r;
}

DomainId proxy_rt::current_domain() { return HostDomains::installed().current(); }

DomainError proxy_rt::call_into(DomainRecord& callee, Thunk thunk, void* frame) {
    return HostDomains::installed().call_into(callee, thunk, frame);
}

Result<void> proxy_rt::move_rref(void* object, TypeId type, DomainId from, DomainId to) {
    return HostDomains::installed().heap().transfer_typed(object, type, from, to);
}

Result<DomainId> proxy_rt::lend_rref(const void* object, DomainId lender, DomainId borrower) {
    return HostDomains::installed().heap().lend(object, lender, borrower);
}

void proxy_rt::end_loan(const void* object, DomainId borrower, DomainId previous) {
    (void)HostDomains::installed().heap().end_loan(object, borrower, previous);
}

bool proxy_rt::rescue_rref(void* object, TypeId type, DomainId from, DomainId to) {
    auto h = HostDomains::installed().heap().header_of(object);
    if (h.is_error() || h.value()->type != type) return false;
    return HostDomains::installed().heap().transfer(object, from, to).is_ok();
}

void proxy_rt::ownership_violation(DomainId culprit, Error error) {
    HostDomains::installed().violation(culprit, error);
}

}  // namespace lamina
