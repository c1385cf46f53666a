// lamina:portable
// How portable file objects (pipe ends, ...) sleep and raise signals without knowing the
// scheduler: the kernel installs the functions at POSIX init (kernel/posix/process_hooks.cpp);
// host tests install their own, which can change the object's state to simulate the other end.
//
// wait_on(queue, condition): subscribes to the object's PollQueue, then sleeps until
// condition.satisfied() (checked after subscribing, so a notify in between is not lost) or a
// signal arrives (Errno::Intr). Without an installed function it fails with Errno::Again.
#pragma once

#include <lamina/result.h>

#include "kernel/posix/fd/file_object.h"

namespace lamina::posix {

class WaitCondition {
public:
    virtual bool satisfied() = 0;

protected:
    ~WaitCondition() = default;
};

using WaitFunction = Result<void> (*)(PollQueue& queue, WaitCondition& condition);
// The same with a deadline (absolute ns of the kernel's clock): TimedOut when it passes.
using TimedWaitFunction = Result<void> (*)(PollQueue& queue, WaitCondition& condition, uint64_t deadline_ns);
using SignalFunction = void (*)(int sig);

void set_wait_function(WaitFunction fn);
void set_timed_wait_function(TimedWaitFunction fn);
// The signal the calling process raises on itself (SIGPIPE from a write).
void set_signal_function(SignalFunction fn);

Result<void> wait_on(PollQueue& queue, WaitCondition& condition);
// wait_on with a deadline (0: none), for SO_RCVTIMEO/SO_SNDTIMEO. Without an installed timed
// function it waits as wait_on does.
Result<void> wait_on_until(PollQueue& queue, WaitCondition& condition, uint64_t deadline_ns);
void raise_signal_self(int sig);

}  // namespace lamina::posix
