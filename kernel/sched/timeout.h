// Timed waits: a one-shot timer per waiting thread that takes it off its wait queue when the
// deadline passes. Internal to the scheduler.
#pragma once

#include <stdint.h>

namespace lamina::sched {

class Thread;
class WaitQueue;

uint64_t timeout_now_ns();
uint64_t timeout_deadline_after(uint64_t timeout_ns);

// Arms t's wake-up timer for its wait on q (called with q's lock held).
void arm_timeout(Thread* t, WaitQueue* q, uint64_t deadline_ns);
// After t wakes: stops the timer, or waits for its callback to finish if it already started, so
// that q and t outlive every use the callback makes of them.
void disarm_timeout(Thread* t);

}  // namespace lamina::sched
