// lamina:portable
#include "kernel/posix/fd/waiting.h"

namespace lamina::posix {

namespace {
WaitFunction g_wait = nullptr;
TimedWaitFunction g_timed_wait = nullptr;
SignalFunction g_signal = nullptr;
}  // namespace

void set_wait_function(WaitFunction fn) { g_wait = fn; }
void set_timed_wait_function(TimedWaitFunction fn) { g_timed_wait = fn; }
void set_signal_function(SignalFunction fn) { g_signal = fn; }

Result<void> wait_on(PollQueue& queue, WaitCondition& condition) {
    if (!g_wait) return Errno::Again;
    return g_wait(queue, condition);
}

Result<void> wait_on_until(PollQueue& queue, WaitCondition& condition, uint64_t deadline_ns) {
    if (!deadline_ns || !g_timed_wait) return wait_on(queue, condition);
    return g_timed_wait(queue, condition, deadline_ns);
}

void raise_signal_self(int sig) {
    if (g_signal) g_signal(sig);
}

}  // namespace lamina::posix
