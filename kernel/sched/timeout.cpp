#include "kernel/sched/timeout.h"

#include "kernel/lib/log.h"
#include "kernel/sched/scheduler.h"
#include "kernel/time/time.h"

namespace lamina::sched {

uint64_t timeout_now_ns() { return time::now_ns(); }

uint64_t timeout_deadline_after(uint64_t timeout_ns) {
    uint64_t now = time::now_ns();
    // Saturate: a huge timeout means "practically never", not a deadline in the past. The
    // result is never 0, which block_locked reads as "no deadline".
    uint64_t d = timeout_ns > ~0ull - now ? ~0ull : now + timeout_ns;
    return d ? d : 1;
}

// Interrupt context on the CPU that armed the timer. The thread is still inside its wait
// (disarm_timeout cancels synchronously before it leaves), so t and its queue are alive.
void timeout_expired(Thread* t) { t->timeout_queue_->remove_timed_out(t); }

void arm_timeout(Thread* t, WaitQueue* q, uint64_t deadline_ns) {
    t->timeout_queue_ = q;
    t->timeout_timer_.arm(
        deadline_ns, [](void* arg) { timeout_expired(static_cast<Thread*>(arg)); }, t);
}

void disarm_timeout(Thread* t) {
    t->timeout_timer_.cancel();
    t->timeout_queue_ = nullptr;
}

}  // namespace lamina::sched
