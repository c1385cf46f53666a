// A timer on one of the wall or monotonic clocks, set to a first expiry and an interval, that
// counts expirations: what timerfd and the POSIX timers share.
//
// The expiry runs on a kernel one-shot timer (kernel/time/time.h) in interrupt context. A
// periodic timer re-arms on its own grid (first expiry + k * interval); when interrupts came
// late and several periods passed, one callback reports them all (the count timerfd reads and
// the POSIX timers' overrun). Realtime deadlines are turned into monotonic ones when the timer
// is set: the realtime clock is never stepped (there is no clock_settime), so the two agree.
// set() and get() are serialized by the timer's own mutex (they may sleep: set() waits for a
// callback running on another CPU); the callback never takes it.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/vfs/inode.h"
#include "kernel/sched/mutex.h"
#include "kernel/time/time.h"

namespace lamina::posix {

// struct itimerspec (include/uapi/linux/time_types.h).
struct Itimerspec {
    Timespec interval, value;
};
static_assert(sizeof(Itimerspec) == 32);

class IntervalTimer {
public:
    // Interrupt context, interrupts off: `expirations` (at least 1) periods ended.
    using Expired = void (*)(IntervalTimer& timer, uint64_t expirations);

    IntervalTimer() = default;
    IntervalTimer(const IntervalTimer&) = delete;
    IntervalTimer& operator=(const IntervalTimer&) = delete;
    ~IntervalTimer() { stop(); }

    // The clocks a timer may run on: REALTIME, MONOTONIC, BOOTTIME.
    static bool clock_supported(int32_t clk);
    void init(int32_t clk, Expired expired) {
        clock_ = clk;
        expired_ = expired;
    }
    int32_t clock() const { return clock_; }

    // Replaces the setting (a value of zero disarms; absolute: the value is a time of the clock,
    // already past means at once) and returns the old one, as get() would have. EINVAL for a
    // malformed timespec. `before_arm` runs with the timer stopped, before it is armed again
    // (timerfd clears its count there).
    template <typename F>
    Result<Itimerspec> set(const Itimerspec& spec, bool absolute, F&& before_arm) {
        uint64_t value = TRY(checked(spec.value)), interval = TRY(checked(spec.interval));
        sched::MutexGuard g(mutex_);
        Itimerspec old = get_locked();
        timer_.cancel();
        before_arm();
        arm_locked(value, interval, absolute);
        return old;
    }
    // Time left to the next expiry (0: disarmed) and the interval.
    Itimerspec get();
    // Disarms for good, waiting for a running callback (before the owner is freed).
    void stop() { timer_.cancel(); }

private:
    static Result<uint64_t> checked(const Timespec& ts);
    static void fired(void* self);
    Itimerspec get_locked();
    void arm_locked(uint64_t value_ns, uint64_t interval_ns, bool absolute);

    sched::Mutex mutex_;
    time::Timer timer_;
    uint64_t interval_ns_ = 0;  // mutex_ (read by the callback, which set() waits out)
    int32_t clock_ = 0;
    Expired expired_ = nullptr;
};

}  // namespace lamina::posix
