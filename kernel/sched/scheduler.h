// The scheduler: per-CPU run queues, priority round-robin, preemption from the tick.
//
// Each CPU has a RunQueue with one FIFO per priority level; it runs the head of the highest
// non-empty level, for a time slice of SLICE_TICKS ticks, then goes to the tail of its level if
// another thread of the same or higher priority is waiting. A thread belongs to one CPU's queue
// (chosen when it is created: the pinned CPU, or the least loaded online CPU) and is only ever
// dequeued by that CPU, so a thread that is woken while still switching out cannot be run twice.
//
// Preemption: the tick sets Cpu::need_resched; the switch happens on the way out of the interrupt
// (arch::set_interrupt_exit_hook), after the handler has sent its EOI, on the interrupted
// thread's stack. The interrupt frame stays on that stack below the switch, and the thread
// resumes by returning through it with iretq when it is next chosen. Code that must not be
// switched away holds a spinlock (interrupts off) or a PreemptGuard. A wake-up that should
// preempt (a higher priority, or an idle CPU) sets need_resched on the target CPU and, if that is
// another CPU, sends it the reschedule IPI; on the waker's own CPU it takes effect at the next
// interrupt (at most one tick later).
//
// Lock order: WaitQueue / Mutex locks, then one RunQueue lock. Two run queue locks are never held
// together. A RunQueue lock is held across context_switch and released by the thread that
// resumes (finish_switch).
#pragma once

#include <stdint.h>

#include "kernel/arch/x86_64/percpu.h"
#include "kernel/sched/thread.h"
#include "kernel/sync/spinlock.h"

namespace lamina::sched {

constexpr unsigned SLICE_TICKS = 3;

// A FIFO of runnable threads linked through Thread::run_link_.
struct ThreadList {
    IntrusiveList<Thread, &Thread::run_link_> list;
    void push_back(Thread* t) { list.push_back(t); }
    Thread* pop_front() { return list.pop_front(); }
    bool empty() const { return list.empty(); }
};

struct RunQueue {
    Spinlock lock;
    ThreadList levels[PRIORITY_LEVELS];  // lock
    unsigned queued = 0;                 // lock: threads in levels
    unsigned load = 0;                   // atomic: live threads (not idle) that belong here
};

// Brings the scheduler up on the boot CPU: the code running kernel_start becomes CPU 0's first
// thread ("boot"), and CPU 0 gets its idle thread and the reaper.
void init();

// Starts scheduling on an application processor: the calling code (on the stack the AP started
// with) becomes that CPU's idle thread. Never returns.
[[noreturn]] void run_ap(arch::Cpu& cpu, const mm::KernelStack& stack);

// For code that may be interrupted but must not be switched away (per-CPU data access).
void preempt_disable();
void preempt_enable();
struct PreemptGuard {
    PreemptGuard() { preempt_disable(); }
    ~PreemptGuard() { preempt_enable(); }
};

// The tick on each CPU (interrupt context).
void on_tick();

// Threads that took an expected fault (ThreadOptions::faults_expected) since boot.
uint64_t contained_fault_count();

class Scheduler {
public:
    // Runs the next thread on this CPU. Interrupts must be off; the caller restores them.
    static void schedule();
    // Makes a blocked thread runnable (any context, with or without a wait queue lock held).
    static void wake(Thread* t);
    static void finish_switch(Thread* prev);
    static void enqueue_new(Thread* t);
    [[noreturn]] static void exit_current(ExitReason reason);
    // Frees ended detached threads (the reaper thread).
    static void reap(Thread* list);
};

}  // namespace lamina::sched
