// Interval timers: alarm, setitimer, getitimer (ITIMER_REAL).
//
// Contract
//   - Each process has one real-time interval timer (Process::real_timer, a one-shot kernel
//     timer re-armed from its callback by the interval). On expiry the process gets SIGALRM with
//     si_code SI_KERNEL, as on Linux. A fork child starts without one; execve keeps it; the
//     process's exit cancels it.
//   - alarm(s): arms it for s seconds without interval (0 disarms) and returns the seconds that
//     were left, rounded to the nearest, at least 1 when any time was left.
//   - setitimer/getitimer: ITIMER_REAL only. ITIMER_VIRTUAL and ITIMER_PROF count CPU time,
//     which Lamina does not account yet: EINVAL. tv_usec outside [0, 1e6) is EINVAL; a null
//     new value disarms (Linux's old behaviour, which it still accepts).
#include "kernel/posix/process.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/time/time.h"

namespace lamina::posix {

namespace {

Process& self_process() { return *current_process(); }

constexpr int ITIMER_REAL = 0;
constexpr uint64_t NS_PER_USEC = 1000, USEC_PER_SEC = 1'000'000, NS_PER_SEC = 1'000'000'000;
constexpr uint64_t MAX_SECONDS = 100ull * 365 * 86400;  // as sleeps: longer is cut to 100 years

// struct itimerval (include/uapi/linux/time.h): two struct timevals.
struct Timeval {
    int64_t tv_sec, tv_usec;
};
struct Itimerval {
    Timeval interval, value;
};
static_assert(sizeof(Itimerval) == 32);

Result<uint64_t> to_ns(const Timeval& tv) {
    if (tv.tv_sec < 0 || tv.tv_usec < 0 || uint64_t(tv.tv_usec) >= USEC_PER_SEC) return Errno::Inval;
    uint64_t sec = uint64_t(tv.tv_sec) > MAX_SECONDS ? MAX_SECONDS : uint64_t(tv.tv_sec);
    return sec * NS_PER_SEC + uint64_t(tv.tv_usec) * NS_PER_USEC;
}

// Rounded up to a microsecond, so that a timer with time left never reads as disarmed.
Timeval to_timeval(uint64_t ns) {
    uint64_t us = (ns + NS_PER_USEC - 1) / NS_PER_USEC;
    return {int64_t(us / USEC_PER_SEC), int64_t(us % USEC_PER_SEC)};
}

// Timer interrupt context: queue SIGALRM and re-arm by the interval, on the old deadline's grid.
void real_timer_fired(void* context) {
    auto* p = static_cast<Process*>(context);
    SigInfo info{};
    info.signo = sig::ALRM;
    info.code = si::KERNEL;
    {
        SpinlockGuard g(process_table_lock());
        send_signal_locked(*p, sig::ALRM, info);
    }
    if (uint64_t interval = p->real_interval_ns) {
        uint64_t next = p->real_timer.deadline() + interval;
        uint64_t now = time::now_ns();
        if (next <= now) next = now + interval;  // overruns are not counted (Linux neither)
        p->real_timer.arm(next, real_timer_fired, p);
    }
}

// The timer as it stands: time left and interval.
Itimerval current(Process& p) {
    uint64_t left = 0;
    if (p.real_timer.armed()) {
        uint64_t now = time::now_ns(), deadline = p.real_timer.deadline();
        left = deadline > now ? deadline - now : 1;  // due: it fires at the next interrupt
    }
    return {to_timeval(p.real_interval_ns), to_timeval(left)};
}

// Replaces the timer; returns the old setting. Only the process's own thread calls this.
Itimerval set(Process& p, uint64_t value_ns, uint64_t interval_ns) {
    Itimerval old = current(p);
    p.real_timer.cancel();  // waits for a callback running on another CPU
    p.real_interval_ns = value_ns ? interval_ns : 0;
    if (value_ns) p.real_timer.arm_after(value_ns, real_timer_fired, &p);
    return old;
}

}  // namespace

void cancel_real_timer(Process& p) {
    p.real_timer.cancel();
    p.real_interval_ns = 0;
}

SyscallResult sys_alarm(unsigned seconds) {
    uint64_t sec = seconds > MAX_SECONDS ? MAX_SECONDS : seconds;
    Itimerval old = set(self_process(), sec * NS_PER_SEC, 0);
    uint64_t left = uint64_t(old.value.tv_sec) + (old.value.tv_usec >= 500000 ? 1 : 0);
    if (!left && old.value.tv_usec) left = 1;
    return int64_t(left);
}

Result<void> sys_setitimer(int which, uint64_t new_value, uint64_t old_value) {
    if (which != ITIMER_REAL) return Errno::Inval;
    Itimerval next{};
    if (new_value) next = TRY(UserPtr<Itimerval>(new_value).read());
    uint64_t value_ns = TRY(to_ns(next.value));
    uint64_t interval_ns = TRY(to_ns(next.interval));
    Itimerval old = set(self_process(), value_ns, interval_ns);
    if (old_value) TRY(UserPtr<Itimerval>(old_value).write(old));
    return {};
}

Result<void> sys_getitimer(int which, uint64_t value) {
    if (which != ITIMER_REAL) return Errno::Inval;
    return UserPtr<Itimerval>(value).write(current(self_process()));
}

}  // namespace lamina::posix
