// The clocks system calls name (clock_gettime, timers, timerfd), shared by sys_time.cpp and
// kernel/posix/timer.
//
// The realtime clocks are the CMOS clock read at first use plus the monotonic clock
// (kernel/time/rtc.h); the monotonic and boot-time clocks are time::now_ns (no suspend). The
// CPU-time clocks are the scheduler's per-thread accounting (sched::Thread::cpu_ns): a process's
// is the sum over its threads, the ones that ended included.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/vfs/inode.h"

namespace lamina::posix {

struct Process;

// Linux's clock ids (include/uapi/linux/time.h).
namespace clockid {
inline constexpr int32_t REALTIME = 0, MONOTONIC = 1, PROCESS_CPUTIME = 2, THREAD_CPUTIME = 3, MONOTONIC_RAW = 4,
                         REALTIME_COARSE = 5, MONOTONIC_COARSE = 6, BOOTTIME = 7, REALTIME_ALARM = 8,
                         BOOTTIME_ALARM = 9;
}
inline constexpr uint64_t NS_PER_SEC = 1'000'000'000;

// The clock's time now, for the calling thread (its CPU clocks); EINVAL for an unknown id.
Result<uint64_t> clock_now(int32_t clk);
// CPU time of a process: its live threads' plus the ended ones'. Takes the table lock; the
// _locked one wants it held.
uint64_t process_cpu_ns(Process& p);
uint64_t process_cpu_ns_locked(Process& p);
// What ps shows of the process (table lock held): Z (zombie), T (stopped), S (every thread
// sleeps), R.
char process_state_letter_locked(Process& p);

// A timespec as nanoseconds: EINVAL for a negative one or tv_nsec outside [0, 1e9); seconds
// beyond 100 years are cut to 100 years (as the sleeps do).
Result<uint64_t> timespec_to_ns(const Timespec& ts);
inline Timespec ns_to_timespec(uint64_t ns) { return Timespec{int64_t(ns / NS_PER_SEC), int64_t(ns % NS_PER_SEC)}; }

}  // namespace lamina::posix
