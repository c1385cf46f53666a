// Clocks and sleeps: clock_gettime, clock_getres, gettimeofday, time, nanosleep,
// clock_nanosleep; CPU time: times, getrusage.
//
// Contract: the clocks are clocks.h's; every clock reports a resolution of 1 ns. Sleeps longer
// than 100 years are cut to 100 years. A sleep ended by a signal returns EINTR with the time left in rem and is never
// restarted, as Linux does after a handler.
#include "kernel/posix/clocks.h"
#include "kernel/posix/files.h"
#include "kernel/posix/process.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/time/rtc.h"
#include "kernel/time/time.h"

namespace lamina::posix {

namespace {

constexpr uint64_t TIMER_ABSTIME = 1;  // clock_nanosleep: the request is a point in time
constexpr uint64_t MAX_SLEEP_SEC = 100ull * 365 * 86400;
constexpr uint64_t NS_PER_USEC = 1000, CLOCK_TICK_NS = NS_PER_SEC / 100;  // times(): AT_CLKTCK is 100

Timespec to_timespec(uint64_t ns) { return ns_to_timespec(ns); }

Result<uint64_t> read_duration(uint64_t req) { return timespec_to_ns(TRY(UserPtr<Timespec>(req).read())); }

// struct timeval from nanoseconds.
struct Timeval {
    int64_t sec, usec;
};
Timeval to_timeval(uint64_t ns) { return {int64_t(ns / NS_PER_SEC), int64_t(ns % NS_PER_SEC / NS_PER_USEC)}; }

// struct rusage (include/uapi/linux/resource.h): the two times, then 14 longs Lamina leaves 0.
struct Rusage {
    Timeval utime, stime;
    int64_t rest[14];
};
static_assert(sizeof(Rusage) == 144);

uint64_t thread_cpu_ns() { return sched::current_thread()->cpu_ns(); }

uint64_t children_cpu_ns(Process& p) {
    SpinlockGuard g(process_table_lock());
    return p.children_cpu_ns;
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

Result<uint64_t> timespec_to_ns(const Timespec& ts) {
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || uint64_t(ts.tv_nsec) >= NS_PER_SEC) return Errno::Inval;
    if (uint64_t(ts.tv_sec) > MAX_SLEEP_SEC) return MAX_SLEEP_SEC * NS_PER_SEC;
    return uint64_t(ts.tv_sec) * NS_PER_SEC + uint64_t(ts.tv_nsec);
}

Result<uint64_t> clock_now(int32_t clk) {
    switch (clk) {
        case clockid::REALTIME:
        case clockid::REALTIME_COARSE:
            return time::realtime_ns();
        case clockid::MONOTONIC:
        case clockid::MONOTONIC_RAW:
        case clockid::MONOTONIC_COARSE:
        case clockid::BOOTTIME:
            return time::now_ns();
        case clockid::PROCESS_CPUTIME:
            return process_cpu_ns(*current_process());
        case clockid::THREAD_CPUTIME:
            return thread_cpu_ns();
    }
    return Errno::Inval;
}

uint64_t process_cpu_ns_locked(Process& p) {
    uint64_t ns = p.ended_tasks_cpu_ns;
    for (Task* t = p.tasks; t; t = t->next)
        if (sched::Thread* th = __atomic_load_n(&t->thread, __ATOMIC_ACQUIRE)) ns += th->cpu_ns();
    return ns;
}

uint64_t process_cpu_ns(Process& p) {
    SpinlockGuard g(process_table_lock());
    return process_cpu_ns_locked(p);
}

char process_state_letter_locked(Process& p) {
    if (p.exited || p.state == ProcessState::Zombie) return 'Z';
    if (p.stopped) return 'T';
    for (Task* t = p.tasks; t; t = t->next) {
        sched::Thread* th = __atomic_load_n(&t->thread, __ATOMIC_ACQUIRE);
        if (!th || th->state() != sched::ThreadState::Blocked) return 'R';
    }
    return 'S';
}

Timespec realtime_now() { return to_timespec(time::realtime_ns()); }

Result<void> sys_clock_gettime(int32_t clk, uint64_t tp) {
    uint64_t now = TRY(clock_now(clk));
    return UserPtr<Timespec>(tp).write(to_timespec(now));
}

Result<void> sys_clock_getres(int32_t clk, uint64_t tp) {
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

Result<void> sys_clock_nanosleep(int32_t clk, uint64_t flags, uint64_t req, uint64_t rem) {
    // Linux: sleeping on the own thread's CPU clock is EINVAL; a process CPU clock is not
    // supported here either (it would need a wake-up at a CPU-time point).
    if (clk == clockid::PROCESS_CPUTIME || clk == clockid::THREAD_CPUTIME) return Errno::Inval;
    uint64_t now = TRY(clock_now(clk));
    uint64_t ns = TRY(read_duration(req));
    bool absolute = flags & TIMER_ABSTIME;
    if (absolute) ns = ns > now ? ns - now : 0;
    return interruptible_sleep(ns, absolute ? 0 : rem);
}

// times(): CPU time in clock ticks (100 a second); CPU time is not split between user and
// system mode, so all of it counts as user time. Returns the ticks since boot.
SyscallResult sys_times(uint64_t buf) {
    Process& p = *current_process();
    if (buf) {
        int64_t tms[4] = {int64_t(process_cpu_ns(p) / CLOCK_TICK_NS), 0, int64_t(children_cpu_ns(p) / CLOCK_TICK_NS),
                          0};
        TRY(copy_to_user(buf, tms, sizeof tms));
    }
    return int64_t(time::now_ns() / CLOCK_TICK_NS);
}

// getrusage: RUSAGE_SELF (0), RUSAGE_CHILDREN (-1), RUSAGE_THREAD (1); the CPU time as user
// time (see times), every other field 0.
Result<void> sys_getrusage(int32_t who, uint64_t usage) {
    constexpr int32_t RUSAGE_SELF = 0, RUSAGE_CHILDREN = -1, RUSAGE_THREAD = 1;
    Process& p = *current_process();
    uint64_t ns;
    switch (who) {
        case RUSAGE_SELF:
            ns = process_cpu_ns(p);
            break;
        case RUSAGE_CHILDREN:
            ns = children_cpu_ns(p);
            break;
        case RUSAGE_THREAD:
            ns = thread_cpu_ns();
            break;
        default:
            return Errno::Inval;
    }
    Rusage r{};
    r.utime = to_timeval(ns);
    return UserPtr<Rusage>(usage).write(r);
}

}  // namespace lamina::posix
