// The per-CPU tick and one-shot timer queues, driven by each CPU's local APIC timer in one-shot
// mode. See time.h for the design and the rules for callbacks.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/lapic.h"
#include "kernel/dev/acpi/acpi.h"
#include "kernel/irq/vectors.h"
#include "kernel/lib/log.h"
#include "kernel/profile/profile.h"
#include "kernel/sync/spinlock.h"
#include "kernel/time/internal.h"
#include "kernel/time/time.h"

namespace lamina::time {

// One per CPU. `lock` protects head, next_tick_ns and the links of the queued timers; `running`
// is written under it and read without it by cancel().
struct TimerQueue {
    Spinlock lock;
    Timer* head = nullptr;
    Timer* running = nullptr;
    uint64_t next_tick_ns = 0;
    uint64_t ticks = 0;
    uint64_t missed_ticks = 0;
    uint32_t apic_id = 0;
    bool started = false;

    void insert(Timer& t) {
        Timer* prev = nullptr;
        Timer* at = head;
        while (at && at->deadline_ <= t.deadline_) {
            prev = at;
            at = at->next_;
        }
        t.prev_ = prev;
        t.next_ = at;
        if (at) at->prev_ = &t;
        if (prev)
            prev->next_ = &t;
        else
            head = &t;
        __atomic_store_n(&t.queue_, this, __ATOMIC_RELEASE);
    }

    void remove(Timer& t) {
        if (t.prev_)
            t.prev_->next_ = t.next_;
        else
            head = t.next_;
        if (t.next_) t.next_->prev_ = t.prev_;
        t.next_ = t.prev_ = nullptr;
        __atomic_store_n(&t.queue_, nullptr, __ATOMIC_RELEASE);
    }

    // Fires every expired timer, dropping the lock around each callback; returns the time after
    // the last one. Called with the lock held, in the timer interrupt.
    uint64_t run_expired() {
        uint64_t now = now_ns();
        while (head && head->deadline_ <= now) {
            Timer* t = head;
            remove(*t);
            __atomic_store_n(&t->fired_by_, this, __ATOMIC_RELAXED);
            __atomic_store_n(&running, t, __ATOMIC_RELEASE);
            Timer::Callback callback = t->callback_;
            void* context = t->context_;
            lock.unlock_noirq();
            callback(context);  // may re-arm, cancel or free t
            lock.lock_noirq();
            __atomic_store_n(&running, nullptr, __ATOMIC_RELEASE);
            now = now_ns();
        }
        return now;
    }

    // Arms the APIC timer for the earlier of the next tick and the first deadline. Called with
    // the lock held, on this queue's CPU.
    void program(uint64_t now) {
        uint64_t target = next_tick_ns;
        if (head && head->deadline_ < target) target = head->deadline_;
        uint64_t sample = profile::next_sample_ns();
        if (sample < target) target = sample;
        lapic::timer_set_count(internal::lapic_counts_for(target > now ? target - now : 0));
    }
};

namespace {

TimerQueue g_queues[acpi::MAX_CPUS];
unsigned g_queue_count;
TickHandler g_tick_handler;

// The calling CPU's queue; interrupts must be off so that the caller stays on this CPU.
TimerQueue& this_cpu_queue() {
    uint32_t id = lapic::id();
    unsigned n = __atomic_load_n(&g_queue_count, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++)
        if (g_queues[i].apic_id == id) return g_queues[i];
    panic("time: CPU with APIC id %u has no timer queue (time::init_this_cpu not called)", id);
}

// A counter of this CPU's queue, read with interrupts off so that the thread cannot move to
// another CPU between finding the queue and reading it.
uint64_t this_cpu_counter(uint64_t TimerQueue::*counter) {
    uint64_t flags = cpu::read_flags();
    cpu::cli();
    uint64_t n = this_cpu_queue().*counter;
    if (flags & (1u << 9)) cpu::sti();
    return n;
}

void timer_interrupt(arch::InterruptFrame& frame) {
    TimerQueue& q = this_cpu_queue();
    // One-shot mode: no new timer interrupt until program() below, so the early EOI cannot let
    // this handler nest.
    lapic::eoi();
    q.lock.lock_noirq();
    uint64_t now = q.run_expired();
    profile::on_timer_interrupt(frame, now);
    bool tick = now >= q.next_tick_ns;
    if (tick) {
        q.ticks++;
        q.next_tick_ns += TICK_PERIOD_NS;
        if (q.next_tick_ns <= now) {  // missed ticks are dropped, not replayed; the grid stays
            uint64_t behind = (now - q.next_tick_ns) / TICK_PERIOD_NS + 1;
            q.missed_ticks += behind;
            q.next_tick_ns += behind * TICK_PERIOD_NS;
        }
    }
    q.program(now);
    q.lock.unlock_noirq();
    if (tick) {
        if (TickHandler h = __atomic_load_n(&g_tick_handler, __ATOMIC_ACQUIRE)) h();
    }
}

}  // namespace

void internal::start_cpu_tick() {
    uint64_t flags = cpu::read_flags();
    cpu::cli();
    uint32_t id = lapic::id();
    unsigned n = __atomic_load_n(&g_queue_count, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++)
        if (g_queues[i].apic_id == id) panic("time: tick started twice on APIC id %u", id);
    // CPUs may come up concurrently: the slot count is only advanced under this lock, and
    // readers see a slot only once it is filled in.
    static Spinlock registration;
    registration.lock_noirq();
    unsigned slot = g_queue_count;
    if (slot >= acpi::MAX_CPUS) panic("time: more than %zu CPUs", acpi::MAX_CPUS);
    TimerQueue& q = g_queues[slot];
    q.apic_id = id;
    q.started = true;
    __atomic_store_n(&g_queue_count, slot + 1, __ATOMIC_RELEASE);
    registration.unlock_noirq();

    arch::set_interrupt_handler(irq::VECTOR_LAPIC_TIMER, timer_interrupt);
    q.lock.lock_noirq();
    uint64_t now = now_ns();
    q.next_tick_ns = now + TICK_PERIOD_NS;
    lapic::timer_start(irq::VECTOR_LAPIC_TIMER, lapic::TimerMode::OneShot, internal::lapic_counts_for(TICK_PERIOD_NS));
    q.lock.unlock_noirq();
    if (flags & (1u << 9)) cpu::sti();
}

void set_tick_handler(TickHandler handler) { __atomic_store_n(&g_tick_handler, handler, __ATOMIC_RELEASE); }

uint64_t ticks() { return this_cpu_counter(&TimerQueue::ticks); }

uint64_t missed_ticks() { return this_cpu_counter(&TimerQueue::missed_ticks); }

void Timer::arm(uint64_t deadline_ns, Callback callback, void* context) {
    cancel();
    uint64_t flags = cpu::read_flags();
    cpu::cli();
    TimerQueue& q = this_cpu_queue();
    q.lock.lock_noirq();
    deadline_ = deadline_ns;
    callback_ = callback;
    context_ = context;
    q.insert(*this);
    // From inside a callback (running is set only then, on this CPU) the interrupt handler
    // programs the APIC timer once all callbacks are done; save the register write.
    if (q.head == this && q.started && !q.running) q.program(now_ns());
    q.lock.unlock_noirq();
    if (flags & (1u << 9)) cpu::sti();
}

bool Timer::cancel() {
    bool removed = false;
    for (;;) {
        TimerQueue* q = __atomic_load_n(&queue_, __ATOMIC_ACQUIRE);
        if (!q) break;
        uint64_t flags = q->lock.lock();
        bool still_there = __atomic_load_n(&queue_, __ATOMIC_RELAXED) == q;
        if (still_there) q->remove(*this);
        q->lock.unlock(flags);
        if (still_there) {
            removed = true;
            break;
        }
    }
    // A callback running elsewhere may still touch the timer's owner; wait it out, unless it is
    // this CPU's (then we are that callback, or it finished before we could run).
    TimerQueue* fired = __atomic_load_n(&fired_by_, __ATOMIC_ACQUIRE);
    if (fired && __atomic_load_n(&fired->running, __ATOMIC_ACQUIRE) == this) {
        uint64_t flags = cpu::read_flags();
        cpu::cli();
        bool mine = &this_cpu_queue() == fired;
        if (flags & (1u << 9)) cpu::sti();
        if (!mine)
            while (__atomic_load_n(&fired->running, __ATOMIC_ACQUIRE) == this) cpu::pause();
    }
    return removed;
}

}  // namespace lamina::time
