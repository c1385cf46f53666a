#include "kernel/posix/timer/interval_timer.h"

#include "kernel/posix/clocks.h"
#include "kernel/time/rtc.h"

namespace lamina::posix {

bool IntervalTimer::clock_supported(int32_t clk) {
    return clk == clockid::REALTIME || clk == clockid::MONOTONIC || clk == clockid::BOOTTIME;
}

Result<uint64_t> IntervalTimer::checked(const Timespec& ts) { return timespec_to_ns(ts); }

void IntervalTimer::fired(void* self) {
    auto* t = static_cast<IntervalTimer*>(self);
    uint64_t expirations = 1;
    if (uint64_t interval = t->interval_ns_) {
        uint64_t deadline = t->timer_.deadline(), now = time::now_ns();
        if (now > deadline) expirations += (now - deadline) / interval;
        t->timer_.arm(deadline + expirations * interval, fired, t);
    }
    t->expired_(*t, expirations);
}

Itimerspec IntervalTimer::get_locked() {
    uint64_t left = 0;
    if (timer_.armed()) {
        uint64_t now = time::now_ns(), deadline = timer_.deadline();
        left = deadline > now ? deadline - now : 1;  // due: it fires at the next interrupt
    }
    return {ns_to_timespec(timer_.armed() ? interval_ns_ : 0), ns_to_timespec(left)};
}

Itimerspec IntervalTimer::get() {
    sched::MutexGuard g(mutex_);
    return get_locked();
}

void IntervalTimer::arm_locked(uint64_t value_ns, uint64_t interval_ns, bool absolute) {
    interval_ns_ = value_ns ? interval_ns : 0;
    if (!value_ns) return;
    uint64_t now = time::now_ns(), deadline;
    if (!absolute) {
        deadline = now + value_ns;
    } else if (clock_ == clockid::REALTIME) {
        uint64_t wall = time::realtime_ns();
        deadline = value_ns > wall ? now + (value_ns - wall) : now;
    } else {
        deadline = value_ns;
    }
    timer_.arm(deadline, fired, this);
}

}  // namespace lamina::posix
