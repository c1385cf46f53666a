// The kernel's PollWaker: a thread sleeping until any of the poll queues it subscribed to is
// notified (poll/select over many objects, or one blocking read through fd/waiting.h).
// wake() runs under a PollQueue's lock, possibly in interrupt context: it bumps a generation
// and wakes the wait queue, nothing else.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/fd/file_object.h"
#include "kernel/posix/process_hooks.h"
#include "kernel/sched/wait_queue.h"
#include "kernel/time/time.h"

namespace lamina::posix {

class PollSleeper final : public PollWaker {
public:
    static constexpr uint64_t NEVER = ~uint64_t(0);

    void wake() override {
        __atomic_add_fetch(&generation_, 1, __ATOMIC_RELEASE);
        queue_.wake_all();
    }
    uint64_t generation() const { return __atomic_load_n(&generation_, __ATOMIC_ACQUIRE); }

    // Until a wake after `seen`: Intr on a signal, TimedOut at `deadline` (absolute ns, NEVER
    // for none).
    Result<void> sleep(uint64_t seen, uint64_t deadline = NEVER) {
        uint64_t timeout = 0;
        if (deadline != NEVER) {
            uint64_t now = time::now_ns();
            if (now >= deadline) return Errno::TimedOut;
            timeout = deadline - now;
        }
        return wait_interruptible(
            queue_, [&] { return generation() != seen; }, timeout);
    }

    // Until cond() holds, re-checked at every wake (cond runs under the wait queue's lock).
    template <typename Cond>
    Result<void> sleep_until(Cond&& cond) {
        return wait_interruptible(queue_, cond);
    }

private:
    uint64_t generation_ = 0;
    sched::WaitQueue queue_;
};

}  // namespace lamina::posix
