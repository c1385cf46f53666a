// Domain calls and unwinding (see domain.h, "Domain calls", and domain_call.S): entering a
// domain on the calling thread's own stack, leaving it when it fails, and the watchdog.
#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/domain/internal.h"
#include "kernel/lib/log.h"
#include "kernel/mm/page_table.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

extern "C" uint64_t domain_enter(lamina::domain::Continuation* c, void (*fn)(void*), void* arg);
extern "C" [[noreturn]] void domain_resume(lamina::domain::Continuation* c);

namespace lamina::domain {

namespace {

arch::ExceptionHook g_next_exception_hook;
arch::InterruptExitHook g_next_exit_hook;
uint64_t g_watchdog_ns = DEFAULT_WATCHDOG_NS;

// Makes an interrupt or exception frame return into domain_resume(c) on the thread's own stack.
void redirect(arch::InterruptFrame& f, Continuation* c) {
    f.rip = reinterpret_cast<uint64_t>(&domain_resume);
    f.rdi = reinterpret_cast<uint64_t>(c);
    f.rsp = (c->rsp & ~uint64_t(15)) - 128;  // dead frames of the callee; domain_resume leaves it at once
    f.rflags = 0x202;                        // domain calls run with interrupts on
    f.cs = arch::KERNEL_CS;
    f.ss = arch::KERNEL_DS;
}

bool on_exception(arch::InterruptFrame& f) {
    arch::Cpu* cpu = arch::this_cpu();
    sched::Thread* t = cpu ? cpu->current : nullptr;
    Continuation* top = top_of(t);
    Domain* d = top && !(f.cs & 3) ? domain_at(f.rip) : nullptr;
    if (d && on_call_stack(top, d)) {
        report_fault(d, t, f);
        uint64_t cr2 = f.vector == 14 ? cpu::read_cr2() : 0;
        mark_failed(d, {FaultRecord::Cause::Exception, uint32_t(f.vector), f.rip, cr2,
                        f.vector == 14 && is_stack_guard_address(cr2)});
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
    uint64_t ran = time::now_ns() - top->progress_ns;
    if (top->callee == d && ran > g_watchdog_ns) {
        report_watchdog(d, t, f, ran);
        mark_failed(d, {FaultRecord::Cause::Watchdog, 0, f.rip, 0});
        redirect(f, unwind_to_caller_of(t, d, DomainError::TimedOut));
    }
}

}  // namespace

void install_fault_hooks() {
    g_next_exception_hook = arch::exception_hook();
    arch::set_exception_hook(on_exception);
    g_next_exit_hook = arch::interrupt_exit_hook();
    arch::set_interrupt_exit_hook(on_interrupt_exit);
}

Continuation* top_of(sched::Thread* t) { return t ? static_cast<Continuation*>(t->domain_call_top()) : nullptr; }

Domain* calling_domain() {
    Continuation* c = top_of(sched::current_thread());
    return c ? c->callee : nullptr;
}

Domain* current() { return calling_domain(); }

bool on_call_stack(Continuation* top, Domain* d) {
    for (Continuation* c = top; c; c = c->prev)
        if (c->callee == d) return true;
    return false;
}

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

[[noreturn]] void leave_failed_domain(sched::Thread* t, Domain* d, DomainError why) {
    domain_resume(unwind_to_caller_of(t, d, why));
}

void back_to_domain() {
    sched::Thread* t = sched::current_thread();
    Continuation* c = top_of(t);
    if (!c) return;
    State s = c->callee->get_state();
    if (s == State::Failed || s == State::Dead) leave_failed_domain(t, c->callee, DomainError::Faulted);
    c->progress_ns = time::now_ns();
}

DomainError call_thunk(Domain* d, void (*thunk)(void*), void* frame) {
    KASSERT(cpu::interrupts_enabled());
    // Counted inside before the state check: destroy() marks the domain Dead, then waits for the
    // count to drop, so a caller either sees Dead here or is waited for.
    __atomic_fetch_add(&d->threads_inside, 1, __ATOMIC_SEQ_CST);
    State s = d->get_state();
    // A draining instance (Recovery::drain) lets no new call in: the caller's shadow waits for
    // the instance replacing it, then calls again.
    if (s == State::Failed || s == State::Dead || __atomic_load_n(&d->draining, __ATOMIC_SEQ_CST)) {
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

namespace {

struct CallFrame {
    CallFn fn;
    uint64_t arg;
    uint64_t result;
};

void call_fn_thunk(void* p) {
    auto* f = static_cast<CallFrame*>(p);
    f->result = f->fn(f->arg);
}

}  // namespace

DomainError call(Domain* d, CallFn fn, uint64_t arg, uint64_t* result) {
    CallFrame f{fn, arg, 0};
    DomainError e = call_thunk(d, call_fn_thunk, &f);
    if (e == DomainError::None && result) *result = f.result;
    return e;
}

void set_watchdog_ns(uint64_t ns) { __atomic_store_n(&g_watchdog_ns, ns, __ATOMIC_RELAXED); }
uint64_t watchdog_ns() { return __atomic_load_n(&g_watchdog_ns, __ATOMIC_RELAXED); }

}  // namespace lamina::domain
