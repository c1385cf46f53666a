// Time: a monotonic nanosecond clock, busy waits, the per-CPU tick and one-shot timers.
//
// The clock is the TSC, calibrated once at boot against the HPET (or the PIT without one) and
// scaled to nanoseconds with an integer multiply and shift (kernel/time/scale.h). It assumes the
// TSCs of all CPUs run at one rate from a common start, which holds for invariant TSCs (the boot
// log says whether CPUID reports one) and for QEMU.
//
// The tick and timers run on each CPU's local APIC timer in one-shot mode: every interrupt
// fires the expired timers, then re-arms the APIC timer for the earlier of the next tick and
// the earliest remaining timer, and finally calls the tick handler if a tick was due. Ticks are
// TICK_HZ on a fixed grid; ticks missed while interrupts were off are not replayed.
//
// Boot order: time::init() on the boot CPU after lapic::init() (it calibrates and starts the
// boot CPU's tick), then time::init_this_cpu() on each application processor after
// lapic::init_this_cpu(). The tick and timers need interrupts enabled to run.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

namespace lamina::time {

inline constexpr unsigned TICK_HZ = 100;
inline constexpr uint64_t TICK_PERIOD_NS = 1'000'000'000 / TICK_HZ;

Result<void> init();
void init_this_cpu();

// Nanoseconds since time::init; 0 before it. Monotonic on each CPU; cheap (an RDTSC, a 64x64
// multiply and a shift).
uint64_t now_ns();
// Spins (interrupts as they were) for at least ns nanoseconds. Panics before time::init.
void busy_wait_ns(uint64_t ns);

uint64_t tsc_hz();
uint64_t lapic_timer_hz();
const char* reference_name();  // "HPET" or "PIT"
bool tsc_invariant();

// Called on every CPU's tick in interrupt context, interrupts off, after the interrupt has
// been acknowledged and the next timer interrupt armed, so it may switch threads (the scheduler
// preempts from here). nullptr removes it.
using TickHandler = void (*)();
void set_tick_handler(TickHandler handler);
// Ticks the calling CPU has taken.
uint64_t ticks();
// Ticks the calling CPU skipped because its timer interrupt came more than a period late.
uint64_t missed_ticks();

// A one-shot timer. It fires on the CPU that armed it, in that CPU's timer interrupt: the
// callback runs in interrupt context with interrupts off, so it must be short and must not
// sleep or switch threads (wake a thread instead). The callback may re-arm or cancel its own
// timer. The Timer must stay alive while armed and until cancel() has returned.
//
// Timers of a CPU sit in a queue ordered by deadline (equal deadlines fire in arming order),
// under that queue's lock; arming costs a walk of the queue. Lock order: a CPU's timer queue
// lock is a leaf (nothing is taken under it), and callbacks run without it. Since cancel() may
// wait for a running callback, a callback must not take a lock that a canceller holds while
// calling cancel(). A CPU must have run time::init_this_cpu before arming timers.
class Timer {
public:
    using Callback = void (*)(void* context);

    constexpr Timer() = default;
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    // Fires callback(context) once now_ns() >= deadline_ns, never earlier. Arming an armed
    // timer moves it (to the calling CPU). A deadline in the past fires at the next interrupt.
    void arm(uint64_t deadline_ns, Callback callback, void* context = nullptr);
    void arm_after(uint64_t delay_ns, Callback callback, void* context = nullptr) {
        arm(now_ns() + delay_ns, callback, context);
    }
    // True if the timer was armed and will now not fire. Returns only once a callback already
    // running on another CPU has finished, so the Timer may be freed afterwards (except from
    // inside its own callback, which cannot wait for itself).
    bool cancel();
    bool armed() const { return __atomic_load_n(&queue_, __ATOMIC_ACQUIRE) != nullptr; }
    uint64_t deadline() const { return deadline_; }

private:
    friend struct TimerQueue;
    uint64_t deadline_ = 0;
    Callback callback_ = nullptr;
    void* context_ = nullptr;
    Timer* next_ = nullptr;
    Timer* prev_ = nullptr;
    struct TimerQueue* queue_ = nullptr;     // the queue holding it, while armed
    struct TimerQueue* fired_by_ = nullptr;  // the queue that last fired it
};

}  // namespace lamina::time
