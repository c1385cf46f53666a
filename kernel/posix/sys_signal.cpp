// Signal system calls: rt_sigaction, rt_sigprocmask, rt_sigreturn, rt_sigpending,
// rt_sigsuspend, rt_sigtimedwait, pause, sigaltstack, kill, tkill, tgkill.
//
// Contract
//   - Signal sets are 8 bytes (sigsetsize must be 8: EINVAL otherwise). SIGKILL and SIGSTOP
//     cannot be caught, ignored or blocked: rt_sigaction on them is EINVAL, and masks drop them.
//   - rt_sigaction stores struct k_sigaction as given; a handler must come with SA_RESTORER
//     (musl always supplies one), or its delivery kills the process with SIGSEGV, as on Linux.
//     Setting SIGCHLD to HANDLER_IGNORE (or SA_NOCLDWAIT) makes children reap themselves.
//   - Delivery happens on the way back to user mode (signal.h): one handler frame per return,
//     Linux's rt_sigframe; rt_sigreturn restores registers, FPU state, mask and altstack.
//   - kill: pid > 0 that process, 0 the caller's group, -1 every process but init and the
//     caller, < -1 group -pid; signal 0 only checks. ESRCH when nothing matched. Permission is
//     Linux's (may_signal in kernel/posix/cred.h: CAP_KILL, or a real or effective uid that
//     is the target's real or saved uid; SIGCONT to any process of the caller's session):
//     EPERM when every match was refused (kill(-1) is quietly skipped instead). kill and the
//     group forms are directed at processes (any thread that does not block the signal takes
//     it); tkill/tgkill at one thread (tgkill: ESRCH unless the thread belongs to tgid), with
//     the same permission rule. A signal whose default action ends the process ends every
//     thread of it.
//   - init (the process run_init started) only receives signals it has a handler for or blocks.
//   - rt_sigsuspend and pause always end with EINTR after a handler ran.
//   - rt_sigtimedwait takes a pending signal of the set (normally blocked by the caller) without
//     running its handler: its number, and its siginfo when asked. While it waits, the set is
//     unblocked so that a new one wakes it. EAGAIN when the timeout passes (at once for a zero
//     timeout), EINVAL for a bad timeout, EINTR when a signal outside the set was handled.
//   - sigaltstack: ss_flag::DISABLE, ss_flag::AUTODISARM accepted (AUTODISARM is not applied); EPERM while
//     running on it; ENOMEM below MIN_SIGNAL_STACK.
#include "kernel/posix/process.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"

namespace lamina::posix {

namespace {

Process& self() { return *current_process(); }
Task& me() { return *current_task(); }

// init (see the contract) takes a signal from another process only when it handles or blocks it.
bool init_refuses_locked(const Process& q, int s) {
    if (!s || !init_refuses(q, q.actions[s - 1], si::USER)) return false;
    for (const Task* t = q.tasks; t; t = t->next)
        if ((__atomic_load_n(&t->signal_mask, __ATOMIC_ACQUIRE) | t->sigwait_set) & sigbit(s)) return false;
    return true;
}

SigInfo user_info(int s, int32_t code) {
    SigInfo info{};
    info.signo = s;
    info.code = code;
    info.kill.pid = int32_t(self().pid);
    info.kill.uid = self().cred.uid;
    return info;
}

// Whether the caller may signal q (kill(2)'s EPERM rule). Table lock held (q.sid).
bool may_signal_locked(const Process& me, const Process& q, int s) {
    return may_signal(me.cred, q.cred) || (s == sig::CONT && q.sid == me.sid);
}

// Shared by kill and the group forms: sends to every process `match` accepts. Perm when it
// accepted some but the caller may signal none of them (unless refusals are skipped: kill(-1)).
template <typename Match>
Result<void> send_matching(int s, int32_t code, Match&& match, bool skip_refused = false) {
    Process& me = self();
    SigInfo info = user_info(s, code);
    bool found = false, refused = false;
    SpinlockGuard g(process_table_lock());
    for_each_process_locked([&](Process& q) {
        if (!match(q)) return;
        if (!may_signal_locked(me, q, s)) {
            refused = true;
            return;
        }
        found = true;
        // As on Linux, init only receives the signals it has handlers for (not even SIGKILL),
        // or blocks (to take them with sigtimedwait, as busybox init does).
        if (init_refuses_locked(q, s)) return;
        if (s) send_signal_locked(q, s, info);
    });
    if (found || (refused && skip_refused)) return {};
    return refused ? Errno::Perm : Errno::Srch;
}

}  // namespace

SyscallResult sys_rt_sigaction(uint64_t s, uint64_t act, uint64_t oldact, uint64_t sigsetsize) {
    if (sigsetsize != 8) return Errno::Inval;
    if (!valid_signal(s)) return Errno::Inval;
    if (act && (s == uint64_t(sig::KILL) || s == uint64_t(sig::STOP))) return Errno::Inval;
    Process& p = self();
    SigAction next{};
    if (act) {
        auto a = UserPtr<SigAction>(act).read();
        if (a.is_error()) return Errno::Fault;
        next = a.value();
        next.mask &= ~UNBLOCKABLE;
    }
    SigAction old;
    {
        SpinlockGuard g(process_table_lock());
        old = p.actions[s - 1];
        if (act) {
            p.actions[s - 1] = next;
            // Setting a signal to be ignored discards it when pending (POSIX).
            if (ignored(next, int(s))) {
                __atomic_and_fetch(&p.pending, ~sigbit(int(s)), __ATOMIC_ACQ_REL);
                for (Task* t = p.tasks; t; t = t->next)
                    __atomic_and_fetch(&t->pending, ~sigbit(int(s)), __ATOMIC_ACQ_REL);
            }
        }
    }
    if (oldact && UserPtr<SigAction>(oldact).write(old).is_error()) return Errno::Fault;
    return 0;
}

SyscallResult sys_rt_sigprocmask(uint64_t how, uint64_t set, uint64_t oldset, uint64_t sigsetsize) {
    if (sigsetsize != 8) return Errno::Inval;
    if (set && how > 2) return Errno::Inval;
    Task& p = me();
    uint64_t v = 0;
    if (set) {
        auto s = UserPtr<uint64_t>(set).read();
        if (s.is_error()) return Errno::Fault;
        v = s.value() & ~UNBLOCKABLE;
    }
    uint64_t old;
    {
        SpinlockGuard g(process_table_lock());
        old = p.signal_mask;
        uint64_t next = old;
        if (set) {
            if (how == 0)
                next |= v;
            else if (how == 1)
                next &= ~v;
            else
                next = v;
        }
        __atomic_store_n(&p.signal_mask, next, __ATOMIC_RELEASE);
    }
    if (oldset && UserPtr<uint64_t>(oldset).write(old).is_error()) return Errno::Fault;
    return 0;
}

SyscallResult sys_rt_sigreturn() { return sigreturn(*me().syscall_frame); }

SyscallResult sys_rt_sigpending(uint64_t set, uint64_t sigsetsize) {
    if (sigsetsize != 8) return Errno::Inval;
    Task& p = me();
    uint64_t v;
    {
        SpinlockGuard g(process_table_lock());
        v = (p.pending | p.process->pending) & p.signal_mask;
    }
    TRY(UserPtr<uint64_t>(set).write(v));
    return 0;
}

SyscallResult sys_rt_sigsuspend(uint64_t set, uint64_t sigsetsize) {
    if (sigsetsize != 8) return Errno::Inval;
    auto s = UserPtr<uint64_t>(set).read();
    if (s.is_error()) return Errno::Fault;
    Task& p = me();
    {
        SpinlockGuard g(process_table_lock());
        p.saved_mask = p.signal_mask;
        p.saved_mask_valid = true;
        __atomic_store_n(&p.signal_mask, s.value() & ~UNBLOCKABLE, __ATOMIC_RELEASE);
    }
    sched::WaitQueue never;
    (void)wait_interruptible(never, [] { return false; });
    p.restartable = false;  // always EINTR; the handler's frame restores the old mask
    return Errno::Intr;
}

SyscallResult sys_rt_sigtimedwait(uint64_t set, uint64_t info, uint64_t timeout, uint64_t sigsetsize) {
    if (sigsetsize != 8) return Errno::Inval;
    auto s = UserPtr<uint64_t>(set).read();
    if (s.is_error()) return Errno::Fault;
    uint64_t want = s.value() & ~UNBLOCKABLE;
    uint64_t ns = 0;
    if (timeout) {
        struct {
            int64_t sec, nsec;
        } ts;
        TRY(copy_from_user(&ts, timeout, sizeof ts));
        if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1'000'000'000) return Errno::Inval;
        ns = ts.sec > int64_t(UINT64_MAX / 2'000'000'000) ? UINT64_MAX / 2
                                                          : uint64_t(ts.sec) * 1'000'000'000 + uint64_t(ts.nsec);
    }
    Task& p = me();
    SigInfo si{};
    auto take = [&]() -> int {
        SpinlockGuard g(process_table_lock());
        // The thread's own first, then the process's.
        uint64_t* from = &p.pending;
        SigInfo* infos = p.info;
        uint64_t hit = __atomic_load_n(&p.pending, __ATOMIC_ACQUIRE) & want;
        if (!hit) {
            from = &p.process->pending;
            infos = p.process->info;
            hit = __atomic_load_n(from, __ATOMIC_ACQUIRE) & want;
        }
        if (!hit) return 0;
        int n = __builtin_ctzll(hit) + 1;
        __atomic_and_fetch(from, ~sigbit(n), __ATOMIC_ACQ_REL);
        si = infos[n - 1];
        si.signo = n;
        posix_timer_signal_taken_locked(*p.process, si);
        return n;
    };
    int n = take();
    if (!n) {
        if (timeout && ns == 0) return Errno::Again;
        uint64_t old;
        {
            SpinlockGuard g(process_table_lock());
            old = p.signal_mask;
            p.sigwait_set = want;
            __atomic_store_n(&p.signal_mask, old & ~want, __ATOMIC_RELEASE);
        }
        sched::WaitQueue never;
        auto r = timeout ? wait_interruptible_for(
                               never, [] { return false; }, ns)
                         : wait_interruptible(never, [] { return false; });
        n = take();
        {
            SpinlockGuard g(process_table_lock());
            p.sigwait_set = 0;
            __atomic_store_n(&p.signal_mask, old, __ATOMIC_RELEASE);
        }
        p.restartable = false;  // Linux never restarts it
        if (!n) return r.is_error() && r.error().code() == Errno::TimedOut ? Errno::Again : Errno::Intr;
    }
    if (info && UserPtr<SigInfo>(info).write(si).is_error()) return Errno::Fault;
    return n;
}

SyscallResult sys_pause() {
    sched::WaitQueue never;
    (void)wait_interruptible(never, [] { return false; });
    me().restartable = false;
    return Errno::Intr;
}

SyscallResult sys_sigaltstack(uint64_t ss, uint64_t old_ss) {
    Task& p = me();
    uint64_t rsp = p.syscall_frame->rsp;
    AltStack cur;
    {
        SpinlockGuard g(process_table_lock());
        cur = p.altstack;
    }
    if (ss) {
        auto n = UserPtr<StackT>(ss).read();
        if (n.is_error()) return Errno::Fault;
        if (cur.on(rsp)) return Errno::Perm;
        uint32_t flags = uint32_t(n.value().flags) & ~ss_flag::AUTODISARM;
        if (flags != 0 && flags != uint32_t(ss_flag::DISABLE) && flags != uint32_t(ss_flag::ON_STACK))
            return Errno::Inval;
        AltStack next{};
        if (!(flags & ss_flag::DISABLE)) {
            if (n.value().size < MIN_SIGNAL_STACK) return Errno::NoMem;
            next = {n.value().sp, n.value().size, true};
        }
        SpinlockGuard g(process_table_lock());
        p.altstack = next;
    }
    if (old_ss) {
        StackT o{cur.sp, cur.enabled ? (cur.on(rsp) ? ss_flag::ON_STACK : 0) : ss_flag::DISABLE, 0, cur.size};
        TRY(UserPtr<StackT>(old_ss).write(o));
    }
    return 0;
}

Result<void> sys_kill(uint64_t pid_arg, uint64_t s) {
    if (s > uint64_t(MAX_SIGNAL)) return Errno::Inval;
    int32_t pid = int32_t(pid_arg);
    Process& caller = self();
    int sg = int(s);
    // kill(-1) spares the processes the kernel started itself (init, ktest programs), as Linux
    // spares init.
    if (pid > 0) return send_matching(sg, si::USER, [&](const Process& q) { return q.pid == uint32_t(pid); });
    if (pid == 0) {
        uint32_t pg = caller.pgid;
        // Zombies count (Linux: a group of zombies takes the signal, which changes nothing).
        return send_matching(sg, si::USER, [&](const Process& q) { return q.pgid == pg; });
    }
    if (pid == -1) {
        return send_matching(
            sg, si::USER,
            [&](const Process& q) {
                return q.pid != caller.pid && !q.kernel_waited && q.state == ProcessState::Running;
            },
            true);
    }
    uint32_t pg = uint32_t(-int64_t(pid));
    return send_matching(sg, si::USER, [&](const Process& q) { return q.pgid == pg; });
}

namespace {

// tkill/tgkill: to one thread (tgid 0: of any process).
Result<void> signal_thread(uint32_t tgid, uint32_t tid, int s) {
    SigInfo info = user_info(s, si::TKILL);
    SpinlockGuard g(process_table_lock());
    Task* t = find_task_locked(tid);
    if (!t || (tgid && t->process->pid != tgid) || t->process->state != ProcessState::Running) return Errno::Srch;
    if (!may_signal_locked(self(), *t->process, s)) return Errno::Perm;
    if (s && !init_refuses_locked(*t->process, s)) send_signal_to_task_locked(*t, s, info);
    return {};
}

}  // namespace

Result<void> sys_tkill(uint64_t tid, uint64_t s) {
    if (int32_t(tid) <= 0 || s > uint64_t(MAX_SIGNAL)) return Errno::Inval;
    return signal_thread(0, uint32_t(tid), int(s));
}

Result<void> sys_tgkill(uint64_t tgid, uint64_t tid, uint64_t s) {
    if (int32_t(tid) <= 0 || int32_t(tgid) <= 0 || s > uint64_t(MAX_SIGNAL)) return Errno::Inval;
    return signal_thread(uint32_t(tgid), uint32_t(tid), int(s));
}

}  // namespace lamina::posix
