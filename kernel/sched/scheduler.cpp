#include "kernel/sched/scheduler.h"

#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/registers.h"
#include "kernel/lib/log.h"
#include "kernel/mm/page_table.h"
#include "kernel/sched/ipi.h"
#include "kernel/time/time.h"

extern "C" lamina::sched::Thread* context_switch(uint64_t* save_rsp, uint64_t next_rsp, lamina::sched::Thread* prev);

namespace lamina::sched {

namespace {

// Detached threads that have ended, waiting for the reaper to free them.
// Lock order: taken alone (from finish_switch, with interrupts off).
Spinlock g_zombies_lock;
Thread* g_zombies = nullptr;  // g_zombies_lock
WaitQueue g_reaper_wakeup;
uint64_t g_contained_faults = 0;

RunQueue g_boot_run_queue;

void reaper(void*) {
    for (;;) {
        Thread* list = nullptr;
        g_reaper_wakeup.wait([&] {
            g_zombies_lock.lock_noirq();
            list = g_zombies;
            g_zombies = nullptr;
            g_zombies_lock.unlock_noirq();
            return list != nullptr;
        });
        Scheduler::reap(list);
    }
}

[[noreturn]] void idle_loop() {
    arch::Cpu* cpu = arch::this_cpu();
    for (;;) {
        cpu::cli();
        if (cpu->run_queue->queued || cpu->need_resched) {
            Scheduler::schedule();
            continue;
        }
        // sti takes effect after the next instruction: a wake-up IPI cannot slip in between
        // the check above and the halt.
        asm volatile("sti; hlt" ::: "memory");
    }
}

// The ring-3 half of a switch (see Thread::UserState): FS base, address space and the SYSCALL
// entry's stack.
void switch_user_state(arch::Cpu& cpu, Thread* prev, Thread* next) {
    if (Thread::UserState* u = prev->user_state()) {
        u->fs_base = cpu::rdmsr(MSR_IA32_FS_BASE);
        asm volatile("fxsave64 %0" : "=m"(*reinterpret_cast<uint8_t(*)[512]>(u->fpu)));
    }
    uint64_t cr3 = mm::kernel_root_phys();
    if (Thread::UserState* u = next->user_state()) {
        cpu::wrmsr(MSR_IA32_FS_BASE, u->fs_base);
        asm volatile("fxrstor64 %0" ::"m"(*reinterpret_cast<uint8_t(*)[512]>(u->fpu)));
        cr3 = u->cr3;
    }
    if (cpu::read_cr3() != cr3) cpu::write_cr3(cr3);
    cpu.syscall_kernel_rsp = next->stack().top;
}

void interrupt_exit(arch::InterruptFrame&) {
    arch::Cpu* cpu = arch::this_cpu();
    if (cpu->need_resched && cpu->preempt_disabled == 0 && cpu->current) Scheduler::schedule();
}

void reschedule_ipi(arch::InterruptFrame&) {
    arch::this_cpu()->need_resched = true;
    ipi::eoi();
}

// A thread created with faults_expected that takes an exception in kernel mode: report it as the
// kernel would report a fatal fault, then resume the thread at exit_faulted on the top of its own
// stack (never on the IST stack the fault may have arrived on), which ends it.
[[noreturn]] void exit_faulted() { Scheduler::exit_current(ExitReason::Faulted); }

bool contain_thread_fault(arch::InterruptFrame& f) {
    arch::Cpu* cpu = arch::this_cpu();
    Thread* t = cpu ? cpu->current : nullptr;
    if (!t || !t->faults_expected() || (f.cs & 3)) return false;
    kprintf("lamina: thread %lu '%s' took an expected fault: %s (vector %lu)\n", t->id(), t->name(),
            arch::exception_name(f.vector), f.vector);
    arch::print_exception_details(f);
    arch::print_frame(f);
    print_backtrace_from(f.rip, f.rbp);
    kprintf("lamina: thread %lu '%s' terminated; the kernel continues\n", t->id(), t->name());
    __atomic_fetch_add(&g_contained_faults, 1, __ATOMIC_RELAXED);
    cpu->preempt_disabled = 0;
    f.rip = reinterpret_cast<uint64_t>(&exit_faulted);
    f.rsp = t->stack().top - 8;  // as if called: rsp + 8 is 16-byte aligned
    f.rbp = 0;
    f.rflags = 0x2;  // interrupts off until exit_current switches away
    f.cs = arch::KERNEL_CS;
    f.ss = arch::KERNEL_DS;
    return true;
}

}  // namespace

// ---- lists ----

namespace {

void push_runnable(RunQueue& rq, Thread* t) {
    rq.levels[unsigned(t->priority())].push_back(t);
    rq.queued++;
}

Thread* pop_runnable(RunQueue& rq) {
    for (unsigned level = PRIORITY_LEVELS; level-- > 0;) {
        if (Thread* t = rq.levels[level].pop_front()) {
            rq.queued--;
            return t;
        }
    }
    return nullptr;
}

bool has_runnable_at_or_above(RunQueue& rq, Priority p) {
    for (unsigned level = PRIORITY_LEVELS; level-- > unsigned(p);)
        if (!rq.levels[level].empty()) return true;
    return false;
}

}  // namespace

// ---- the switch ----

void Scheduler::schedule() {
    arch::Cpu* cpu = arch::this_cpu();
    RunQueue& rq = *cpu->run_queue;
    rq.lock.lock_noirq();
    Thread* prev = cpu->current;
    cpu->need_resched = false;
    if (prev->state_ == ThreadState::Running && !prev->idle_) {
        prev->state_ = ThreadState::Runnable;
        push_runnable(rq, prev);
    }
    Thread* next = pop_runnable(rq);
    if (!next) next = cpu->idle;
    if (next == prev) {
        prev->state_ = ThreadState::Running;
        cpu->slice_left = SLICE_TICKS;
        rq.lock.unlock_noirq();
        return;
    }
    // Only after a thread changed CPUs can it still be switching out elsewhere.
    while (__atomic_load_n(&next->on_cpu_, __ATOMIC_ACQUIRE)) cpu::pause();
    // CPU time: the stay of prev ends, next's begins (before next reads as Running).
    uint64_t now = time::now_ns();
    __atomic_store_n(&prev->cpu_ns_, prev->cpu_ns_ + (now - prev->ran_since_), __ATOMIC_RELAXED);
    __atomic_store_n(&next->ran_since_, now, __ATOMIC_RELEASE);
    next->state_ = ThreadState::Running;
    next->on_cpu_ = true;
    cpu->current = next;
    cpu->slice_left = SLICE_TICKS;
    cpu->context_switches++;
    arch::set_kernel_stack(*cpu->tables, next->stack_.top);
    switch_user_state(*cpu, prev, next);
    Thread* left = context_switch(&prev->saved_rsp_, next->saved_rsp_, prev);
    finish_switch(left);
}

void Scheduler::finish_switch(Thread* prev) {
    arch::Cpu* cpu = arch::this_cpu();
    cpu->run_queue->lock.unlock_noirq();
    if (prev->state_ != ThreadState::Dead) {
        __atomic_store_n(&prev->on_cpu_, false, __ATOMIC_RELEASE);
        return;
    }
    if (prev->detached_) {
        __atomic_store_n(&prev->on_cpu_, false, __ATOMIC_RELEASE);
        g_zombies_lock.lock_noirq();
        prev->zombie_next_ = g_zombies;
        g_zombies = prev;
        g_zombies_lock.unlock_noirq();
        g_reaper_wakeup.wake_one();
    } else {
        // The joiner frees prev as soon as it sees on_cpu_ drop: wake it in the same critical
        // section so nothing touches prev afterwards.
        prev->exit_waiters_.update_and_wake_all([prev] { __atomic_store_n(&prev->on_cpu_, false, __ATOMIC_RELEASE); });
    }
}

void Scheduler::reap(Thread* list) {
    while (list) {
        Thread* t = list;
        list = t->zombie_next_;
        t->free_resources();
    }
}

void Scheduler::wake(Thread* t) {
    arch::Cpu* target = t->cpu_;
    RunQueue& rq = *target->run_queue;
    uint64_t flags = rq.lock.lock();
    if (t->state_ != ThreadState::Blocked) {
        rq.lock.unlock(flags);
        return;
    }
    t->state_ = ThreadState::Runnable;
    push_runnable(rq, t);
    Thread* running = target->current;
    bool kick = running == target->idle || t->priority() > running->priority();
    if (kick) target->need_resched = true;
    rq.lock.unlock(flags);
    if (kick && target != arch::this_cpu()) ipi::send_reschedule(*target);
}

void Scheduler::enqueue_new(Thread* t) {
    arch::Cpu* target = nullptr;
    if (t->pinned_cpu() != ANY_CPU) {
        target = &arch::cpu_by_index(unsigned(t->pinned_cpu()));
    } else {
        unsigned best = ~0u;
        for (unsigned i = 0; i < arch::cpu_count(); i++) {
            arch::Cpu& c = arch::cpu_by_index(i);
            if (!c.online) continue;
            unsigned load = __atomic_load_n(&c.run_queue->load, __ATOMIC_RELAXED);
            if (load < best) best = load, target = &c;
        }
    }
    t->cpu_ = target;
    __atomic_fetch_add(&target->run_queue->load, 1, __ATOMIC_RELAXED);
    t->state_ = ThreadState::Blocked;
    wake(t);
}

void Scheduler::exit_current(ExitReason reason) {
    cpu::cli();
    arch::Cpu* cpu = arch::this_cpu();
    Thread* t = cpu->current;
    KASSERT(!t->idle_);
    t->exit_reason_ = reason;
    __atomic_fetch_sub(&t->cpu_->run_queue->load, 1, __ATOMIC_RELAXED);
    t->state_ = ThreadState::Dead;
    schedule();
    panic("a dead thread was scheduled again");
}

// A new thread's first code: finish the switch that started it, then run it.
extern "C" void sched_thread_start(Thread* prev) { thread_start(prev); }

void thread_start(Thread* prev) {
    Scheduler::finish_switch(prev);
    Thread* self = current_thread();
    if (self->idle_) idle_loop();
    cpu::sti();
    self->entry_(self->arg_);
    Scheduler::exit_current(ExitReason::Returned);
}

// ---- public entry points ----

Thread* current_thread() {
    Thread* t;
    asm volatile("mov %%gs:8, %0" : "=r"(t));
    return t;
}

void yield() {
    uint64_t flags = cpu::read_flags();
    cpu::cli();
    Scheduler::schedule();
    if (flags & RFLAGS_IF) cpu::sti();
}

void thread_exit() { Scheduler::exit_current(ExitReason::Exited); }

void sleep_ns(uint64_t ns) {
    WaitQueue never;
    (void)never.wait_for([] { return false; }, ns);
}

void preempt_disable() { __atomic_fetch_add(&arch::this_cpu()->preempt_disabled, 1, __ATOMIC_RELAXED); }

void preempt_enable() {
    // Interrupts off so the CPU cannot change between the count and the need_resched check.
    uint64_t flags = cpu::read_flags();
    cpu::cli();
    arch::Cpu* cpu = arch::this_cpu();
    KASSERT(cpu->preempt_disabled > 0);
    if (--cpu->preempt_disabled == 0 && cpu->need_resched && (flags & RFLAGS_IF)) Scheduler::schedule();
    if (flags & RFLAGS_IF) cpu::sti();
}

void on_tick() {
    arch::Cpu* cpu = arch::this_cpu();
    cpu->ticks++;
    Thread* t = cpu->current;
    if (!t) return;
    if (t == cpu->idle) {
        if (cpu->run_queue->queued) cpu->need_resched = true;
        return;
    }
    if (cpu->slice_left > 1) {
        cpu->slice_left--;
        return;
    }
    // The slice is over: give way only to a thread of the same or higher priority.
    cpu->run_queue->lock.lock_noirq();
    bool others = has_runnable_at_or_above(*cpu->run_queue, t->priority());
    cpu->run_queue->lock.unlock_noirq();
    if (others)
        cpu->need_resched = true;
    else
        cpu->slice_left = SLICE_TICKS;
}

uint64_t contained_fault_count() { return __atomic_load_n(&g_contained_faults, __ATOMIC_RELAXED); }

uint64_t Thread::cpu_ns() const {
    uint64_t done = __atomic_load_n(&cpu_ns_, __ATOMIC_RELAXED);
    if (state() != ThreadState::Running) return done;
    uint64_t since = __atomic_load_n(&ran_since_, __ATOMIC_RELAXED), now = time::now_ns();
    return done + (now > since ? now - since : 0);
}

// ---- bring-up ----

Thread* adopt_boot_thread(arch::Cpu& cpu) {
    Thread* t = Thread::allocate("boot", 0).value();
    t->state_ = ThreadState::Running;
    t->on_cpu_ = true;
    t->cpu_ = &cpu;
    t->pinned_cpu_ = int(cpu.index);
    __atomic_fetch_add(&cpu.run_queue->load, 1, __ATOMIC_RELAXED);
    return t;
}

Thread* make_idle_thread(arch::Cpu& cpu, const mm::KernelStack* stack) {
    char name[32] = "idle/";
    unsigned n = cpu.index, len = 5;
    char digits[8];
    unsigned d = 0;
    do digits[d++] = char('0' + n % 10);
    while ((n /= 10) && d < sizeof(digits));
    while (d) name[len++] = digits[--d];
    name[len] = 0;
    auto made = Thread::allocate(name, stack ? 0 : 8192);
    if (made.is_error()) panic("cannot create %s: %s", name, made.error().name());
    Thread* t = made.value();
    if (stack) t->stack_ = *stack;
    t->idle_ = true;
    t->priority_ = Priority::Low;
    t->cpu_ = &cpu;
    t->pinned_cpu_ = int(cpu.index);
    return t;
}

void init() {
    uint32_t apic_id = cpu::cpuid(1).ebx >> 24;
    arch::Cpu* cpu = arch::add_cpu(apic_id, &arch::boot_cpu_tables());
    KASSERT(cpu && cpu->index == 0);
    cpu->run_queue = &g_boot_run_queue;
    arch::install_this_cpu(*cpu);

    cpu->current = adopt_boot_thread(*cpu);
    cpu->idle = make_idle_thread(*cpu, nullptr);
    // The boot CPU's idle thread starts like any new thread, in thread_start.
    Thread* idle = cpu->idle;
    idle->prepare_first_switch();
    idle->state_ = ThreadState::Runnable;

    cpu->slice_left = SLICE_TICKS;
    cpu->online = true;

    arch::set_interrupt_exit_hook(interrupt_exit);
    arch::set_interrupt_handler(ipi::RESCHEDULE_VECTOR, reschedule_ipi);
    arch::set_exception_hook(contain_thread_fault);
    time::set_tick_handler(on_tick);

    ThreadOptions options;
    options.detached = true;
    options.priority = Priority::High;
    if (auto r = Thread::create("reaper", reaper, nullptr, options); r.is_error())
        panic("cannot start the reaper: %s", r.error().name());
    kprintf("sched: CPU 0 (APIC id %u) scheduling\n", apic_id);
}

void run_ap(arch::Cpu& cpu, const mm::KernelStack& stack) {
    Thread* idle = make_idle_thread(cpu, &stack);
    idle->state_ = ThreadState::Running;
    idle->on_cpu_ = true;
    cpu.idle = idle;
    cpu.current = idle;
    cpu.slice_left = SLICE_TICKS;
    __atomic_store_n(&cpu.online, true, __ATOMIC_RELEASE);
    idle_loop();
}

}  // namespace lamina::sched
