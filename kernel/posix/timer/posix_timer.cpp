// POSIX timers: timer_create, timer_settime, timer_gettime, timer_getoverrun, timer_delete.
//
// Contract
//   - A process has up to Process::MAX_POSIX_TIMERS timers (EAGAIN beyond), with ids 0, 1, ...
//     as Linux hands them out; they are not inherited by fork, and execve and the process's
//     exit delete them.
//   - Clocks: REALTIME, MONOTONIC, BOOTTIME (IntervalTimer); the CPU-time clocks and the alarm
//     clocks are EINVAL here (Linux has them).
//   - Notification (struct sigevent): SIGEV_SIGNAL (to the process), SIGEV_THREAD_ID (to one
//     thread of the process: musl's SIGEV_THREAD creates a thread and asks for this),
//     SIGEV_NONE (nothing; timer_gettime still counts down); a null sigevent is SIGEV_SIGNAL
//     with SIGALRM and the timer id as value. SIGEV_THREAD itself is the C library's: EINVAL,
//     as are a bad signal number and a tid outside the process.
//   - The signal carries si_code SI_TIMER, si_timerid, si_value and si_overrun. While it is
//     still pending, further expirations are not queued but counted; the count goes into the
//     signal when it is taken (delivered or sigwaited) and is what timer_getoverrun returns
//     until the next one, as Linux's it_overrun_last (capped at DELAYTIMER_MAX).
//   - timer_settime: TIMER_ABSTIME; a zero value disarms; old value as timer_gettime; resets
//     the overrun counts. An unknown id is EINVAL everywhere.
#include "kernel/posix/clocks.h"
#include "kernel/posix/process.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/timer/interval_timer.h"
#include "kernel/posix/user_access.h"

#include <new>

namespace lamina::posix {

// One timer; Process::posix_timers holds it.
struct PosixTimer : IntervalTimer {
    Process* process;
    int32_t id;
    int32_t notify, signo;
    uint32_t tid;    // SIGEV_THREAD_ID's thread
    uint64_t value;  // sigev_value
    // Table lock: expirations while the signal was pending, and their count at the last take.
    int32_t overrun_pending = 0, overrun_last = 0;
};

namespace {

// struct sigevent (include/uapi/asm-generic/siginfo.h).
struct SigEvent {
    uint64_t value;
    int32_t signo, notify;
    int32_t tid;  // sigev_notify_thread_id, first word of the union
    int32_t pad[11];
};
static_assert(sizeof(SigEvent) == 64);
constexpr int32_t SIGEV_SIGNAL = 0, SIGEV_NONE = 1, SIGEV_THREAD_ID = 4;
constexpr int32_t TIMER_ABSTIME = 1;
constexpr int32_t DELAYTIMER_MAX = 0x7fffffff;

int32_t add_overruns(int32_t have, uint64_t more) {
    uint64_t sum = uint64_t(have) + more;
    return sum > uint64_t(DELAYTIMER_MAX) ? DELAYTIMER_MAX : int32_t(sum);
}

// Interrupt context: send the signal, or count the expirations while it is still pending.
void expired(IntervalTimer& it, uint64_t expirations) {
    auto& t = static_cast<PosixTimer&>(it);
    if (t.notify == SIGEV_NONE) return;
    SpinlockGuard g(process_table_lock());
    Process& p = *t.process;
    Task* task = nullptr;
    if (t.notify == SIGEV_THREAD_ID) {
        task = find_task_locked(t.tid);
        if (!task || task->process != &p) return;  // the thread has ended
    }
    uint64_t pending = task ? task->pending : p.pending;
    const SigInfo& there = task ? task->info[t.signo - 1] : p.info[t.signo - 1];
    bool queued = (pending & sigbit(t.signo)) && there.code == si::TIMER && there.timer.id == t.id;
    t.overrun_pending = add_overruns(t.overrun_pending, queued ? expirations : expirations - 1);
    if (queued) return;
    SigInfo info{};
    info.signo = t.signo;
    info.code = si::TIMER;
    info.timer.id = t.id;
    info.timer.value = t.value;
    if (task)
        send_signal_to_task_locked(*task, t.signo, info);
    else
        send_signal_locked(p, t.signo, info);
}

// The caller's timer `id`, kept alive by posix_timers_mutex (held by the caller).
Result<PosixTimer*> find(Process& p, int32_t id) {
    if (id < 0 || size_t(id) >= Process::MAX_POSIX_TIMERS || !p.posix_timers[id]) return Errno::Inval;
    return p.posix_timers[id];
}

// Takes timer `id` out of the table (both locks) and frees it once its callback is done.
void remove(Process& p, int32_t id) {
    PosixTimer* t;
    {
        SpinlockGuard g(process_table_lock());
        t = p.posix_timers[id];
        p.posix_timers[id] = nullptr;
    }
    if (!t) return;
    t->stop();  // outside the table lock: a running callback takes it
    delete t;
}

}  // namespace

void delete_posix_timers(Process& p) {
    sched::MutexGuard g(p.posix_timers_mutex);
    for (size_t id = 0; id < Process::MAX_POSIX_TIMERS; id++) remove(p, int32_t(id));
}

void posix_timer_signal_taken_locked(Process& p, SigInfo& info) {
    if (info.code != si::TIMER || info.timer.id < 0 || size_t(info.timer.id) >= Process::MAX_POSIX_TIMERS) return;
    PosixTimer* t = p.posix_timers[info.timer.id];
    if (!t) return;
    info.timer.overrun = t->overrun_last = t->overrun_pending;
    t->overrun_pending = 0;
}

Result<void> sys_timer_create(int32_t clk, uint64_t sevp, uint64_t timerid) {
    if (!IntervalTimer::clock_supported(clk)) return Errno::Inval;
    Process& p = *current_process();
    SigEvent ev{};
    if (sevp) {
        ev = TRY(UserPtr<SigEvent>(sevp).read());
    } else {
        ev.notify = SIGEV_SIGNAL;
        ev.signo = sig::ALRM;
    }
    if (ev.notify != SIGEV_SIGNAL && ev.notify != SIGEV_NONE && ev.notify != SIGEV_THREAD_ID) return Errno::Inval;
    if (ev.notify != SIGEV_NONE && !valid_signal(uint64_t(int64_t(ev.signo)))) return Errno::Inval;
    if (ev.notify == SIGEV_THREAD_ID) {
        SpinlockGuard g(process_table_lock());
        Task* t = ev.tid > 0 ? find_task_locked(uint32_t(ev.tid)) : nullptr;
        if (!t || t->process != &p) return Errno::Inval;
    }
    if (!user_range_ok(timerid, sizeof(int32_t))) return Errno::Fault;

    sched::MutexGuard g(p.posix_timers_mutex);
    int32_t id = -1;
    for (size_t i = 0; i < Process::MAX_POSIX_TIMERS && id < 0; i++)
        if (!p.posix_timers[i]) id = int32_t(i);
    if (id < 0) return Errno::Again;
    auto* t = new (std::nothrow) PosixTimer{};
    if (!t) return Errno::NoMem;
    t->init(clk, expired);
    t->process = &p;
    t->id = id;
    t->notify = ev.notify;
    t->signo = ev.signo;
    t->tid = uint32_t(ev.tid);
    t->value = sevp ? ev.value : uint64_t(id);
    if (auto r = UserPtr<int32_t>(timerid).write(id); r.is_error()) {
        delete t;
        return r;
    }
    SpinlockGuard lock(process_table_lock());
    p.posix_timers[id] = t;
    return {};
}

Result<void> sys_timer_settime(int32_t timerid, int32_t flags, uint64_t new_value, uint64_t old_value) {
    Process& p = *current_process();
    Itimerspec spec = TRY(UserPtr<Itimerspec>(new_value).read());
    sched::MutexGuard g(p.posix_timers_mutex);
    PosixTimer* t = TRY(find(p, timerid));
    Itimerspec old = TRY(t->set(spec, flags & TIMER_ABSTIME, [t] {
        SpinlockGuard lock(process_table_lock());
        t->overrun_pending = t->overrun_last = 0;
    }));
    if (old_value) TRY(UserPtr<Itimerspec>(old_value).write(old));
    return {};
}

Result<void> sys_timer_gettime(int32_t timerid, uint64_t value) {
    Process& p = *current_process();
    sched::MutexGuard g(p.posix_timers_mutex);
    PosixTimer* t = TRY(find(p, timerid));
    return UserPtr<Itimerspec>(value).write(t->get());
}

Result<int> sys_timer_getoverrun(int32_t timerid) {
    Process& p = *current_process();
    sched::MutexGuard g(p.posix_timers_mutex);
    PosixTimer* t = TRY(find(p, timerid));
    SpinlockGuard lock(process_table_lock());
    return t->overrun_last;
}

Result<void> sys_timer_delete(int32_t timerid) {
    Process& p = *current_process();
    sched::MutexGuard g(p.posix_timers_mutex);
    TRY(find(p, timerid));
    remove(p, timerid);
    return {};
}

}  // namespace lamina::posix
