// lamina:portable
#include "kernel/posix/fd/waiting.h"

namespace lamina::posix {

namespace {
WaitFunction g_wait = nullptr;
SignalFunction g_signal = nullptr;
}  // namespace

void set_wait_function(WaitFunction fn) { g_wait = fn; }
void set_signal_function(SignalFunction fn) { g_signal = fn; }

Result<void> wait_on(PollQueue& queue, WaitCondition& condition) {
    if (!g_wait) return Errno::Again;
    return g_wait(queue, condition);
}

void raise_signal_self(int sig) {
    if (g_signal) g_signal(sig);
}

}  // namespace lamina::posix
