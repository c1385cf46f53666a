// Clocks and sleeps: clock_gettime, clock_getres, gettimeofday, time, nanosleep,
// clock_nanosleep.
//
// Contract: the realtime clocks are the CMOS clock read at first use plus the monotonic clock
// (kernel/time/rtc.h); the monotonic and boot-time clocks are time::now_ns (nanoseconds since
// boot, no suspend); the CPU-time clocks read as uptime, since CPU time is not accounted. Every
// clock reports a resolution of 1 ns. Sleeps longer than 100 years are cut to 100 years. A
// sleep ended by a signal returns EINTR with the time left in rem and is never restarted, as
// Linux does after a handler.
#include "kernel/posix/files.h"
#include "kernel/posix/process.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/time/rtc.h"
#include "kernel/time/time.h"

namespace lamina::posix {

namespace {

// Linux's clock ids (include/uapi/linux/time.h).
constexpr uint64_t CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_PROCESS_CPUTIME_ID = 2, CLOCK_THREAD_CPUTIME_ID = 3,
                   CLOCK_MONOTONIC_RAW = 4, CLOCK_REALTIME_COARSE = 5, CLOCK_MONOTONIC_COARSE = 6, CLOCK_BOOTTIME = 7;
constexpr uint64_t TIMER_ABSTIME = 1;  // clock_nanosleep: the request is a point in time
constexpr uint64_t NS_PER_SEC = 1'000'000'000;
constexpr uint64_t MAX_SLEEP_SEC = 100ull * 365 * 86400;

Timespec to_timespec(uint64_t ns) { return Timespec{int64_t(ns / NS_PER_SEC), int64_t(ns % NS_PER_SEC)}; }

Result<uint64_t> clock_now(uint64_t clk) {
    switch (clk) {
        case CLOCK_REALTIME:
        case CLOCK_REALTIME_COARSE:
            return time::realtime_ns();
        case CLOCK_MONOTONIC:
        case CLOCK_MONOTONIC_RAW:
        case CLOCK_MONOTONIC_COARSE:
        case CLOCK_BOOTTIME:
        case CLOCK_PROCESS_CPUTIME_ID:  // CPU time is not accounted: uptime stands in
        case CLOCK_THREAD_CPUTIME_ID:
            return time::now_ns();
    }
    return Errno::Inval;
}

Result<uint64_t> read_duration(uint64_t req) {
    Timespec ts = TRY(UserPtr<Timespec>(req).read());
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || uint64_t(ts.tv_nsec) >= NS_PER_SEC) return Errno::Inval;
    if (uint64_t(ts.tv_sec) > MAX_SLEEP_SEC) return MAX_SLEEP_SEC * NS_PER_SEC;
    return uint64_t(ts.tv_sec) * NS_PER_SEC + uint64_t(ts.tv_nsec);
}

// Sleeps until the deadline or a signal: EINTR with the time left in rem (when given).
Result<void> interruptible_sleep(uint64_t ns, uint64_t rem) {
    if (!ns) return {};
    sched::WaitQueue q;
    uint64_t start = time::now_ns();
    auto r = wait_interruptible_for(
        q, [] { return false; }, ns);
    if (r.is_ok() || r.error().code() == Errno::TimedOut) return {};
    current_task()->restartable = false;
    if (rem) {
        uint64_t slept = time::now_ns() - start;
        TRY(UserPtr<Timespec>(rem).write(to_timespec(slept < ns ? ns - slept : 0)));
    }
    return Errno::Intr;
}

}  // namespace

Timespec realtime_now() { return to_timespec(time::realtime_ns()); }

Result<void> sys_clock_gettime(uint64_t clk, uint64_t tp) {
    uint64_t now = TRY(clock_now(clk));
    return UserPtr<Timespec>(tp).write(to_timespec(now));
}

Result<void> sys_clock_getres(uint64_t clk, uint64_t tp) {
    TRY(clock_now(clk));
    if (!tp) return {};
    return UserPtr<Timespec>(tp).write({0, 1});
}

// The realtime clock in microseconds; the obsolete timezone is written as zeros.
Result<void> sys_gettimeofday(uint64_t tv, uint64_t tz) {
    uint64_t ns = time::realtime_ns();
    struct {
        int64_t sec, usec;
    } v{int64_t(ns / NS_PER_SEC), int64_t(ns % NS_PER_SEC / 1000)};
    if (tv) TRY(copy_to_user(tv, &v, sizeof v));
    uint32_t zone[2] = {0, 0};
    if (tz) TRY(copy_to_user(tz, zone, sizeof zone));
    return {};
}

// Seconds of the realtime clock, also stored at t when given.
SyscallResult sys_time(uint64_t t) {
    int64_t sec = int64_t(time::realtime_ns() / NS_PER_SEC);
    if (t) TRY(UserPtr<int64_t>(t).write(sec));
    return sec;
}

Result<void> sys_nanosleep(uint64_t req, uint64_t rem) {
    uint64_t ns = TRY(read_duration(req));
    return interruptible_sleep(ns, rem);
}

Result<void> sys_clock_nanosleep(uint64_t clk, uint64_t flags, uint64_t req, uint64_t rem) {
    if (clk == CLOCK_PROCESS_CPUTIME_ID || clk == CLOCK_THREAD_CPUTIME_ID) return Errno::Inval;
    uint64_t now = TRY(clock_now(clk));
    uint64_t ns = TRY(read_duration(req));
    bool absolute = flags & TIMER_ABSTIME;
    if (absolute) ns = ns > now ? ns - now : 0;
    return interruptible_sleep(ns, absolute ? 0 : rem);
}

}  // namespace lamina::posix
