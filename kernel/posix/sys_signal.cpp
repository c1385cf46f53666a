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
//     caller, < -1 group -pid; signal 0 only checks. ESRCH when nothing matched. Everyone is
//     root, so there is no EPERM. tkill/tgkill: a thread id is the pid (one thread each).
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

// Shared by kill and the group forms: sends to every process `match` accepts.
template <typename Match>
Result<void> send_matching(int s, int32_t code, Match&& match) {
    Process& me = self();
    SigInfo info{};
    info.signo = s;
    info.code = code;
    info.kill.pid = int32_t(me.pid);
    info.kill.uid = me.uid;
    bool found = false;
    SpinlockGuard g(process_table_lock());
    for_each_process_locked([&](Process& q) {
        if (!match(q)) return;
        found = true;
        // Init's refusal waits for delivery while init blocks the signal (see init_refuses).
        if (s && init_refuses(q, q.actions[s - 1], code) &&
            !((__atomic_load_n(&q.signal_mask, __ATOMIC_ACQUIRE) | q.sigwait_set) & sigbit(s)))
            return;
        if (s) send_signal_locked(q, s, info);
    });
    if (!found) return Errno::Srch;
    return {};
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
            if (ignored(next, int(s))) __atomic_and_fetch(&p.pending, ~sigbit(int(s)), __ATOMIC_ACQ_REL);
        }
    }
    if (oldact && UserPtr<SigAction>(oldact).write(old).is_error()) return Errno::Fault;
    return 0;
}

SyscallResult sys_rt_sigprocmask(uint64_t how, uint64_t set, uint64_t oldset, uint64_t sigsetsize) {
    if (sigsetsize != 8) return Errno::Inval;
    if (set && how > 2) return Errno::Inval;
    Process& p = self();
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

SyscallResult sys_rt_sigreturn() { return sigreturn(*self().syscall_frame); }

SyscallResult sys_rt_sigpending(uint64_t set, uint64_t sigsetsize) {
    if (sigsetsize != 8) return Errno::Inval;
    Process& p = self();
    uint64_t v;
    {
        SpinlockGuard g(process_table_lock());
        v = p.pending & p.signal_mask;
    }
    TRY(UserPtr<uint64_t>(set).write(v));
    return 0;
}

SyscallResult sys_rt_sigsuspend(uint64_t set, uint64_t sigsetsize) {
    if (sigsetsize != 8) return Errno::Inval;
    auto s = UserPtr<uint64_t>(set).read();
    if (s.is_error()) return Errno::Fault;
    Process& p = self();
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
    Process& p = self();
    SigInfo si{};
    auto take = [&]() -> int {
        SpinlockGuard g(process_table_lock());
        uint64_t hit = __atomic_load_n(&p.pending, __ATOMIC_ACQUIRE) & want;
        if (!hit) return 0;
        int n = __builtin_ctzll(hit) + 1;
        __atomic_and_fetch(&p.pending, ~sigbit(n), __ATOMIC_ACQ_REL);
        si = p.info[n - 1];
        si.signo = n;
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
    self().restartable = false;
    return Errno::Intr;
}

SyscallResult sys_sigaltstack(uint64_t ss, uint64_t old_ss) {
    Process& p = self();
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
    Process& me = self();
    int sg = int(s);
    // kill(-1) spares the processes the kernel started itself (init, ktest programs), as Linux
    // spares init.
    if (pid > 0) return send_matching(sg, si::USER, [&](const Process& q) { return q.pid == uint32_t(pid); });
    if (pid == 0) {
        uint32_t pg = me.pgid;
        return send_matching(sg, si::USER,
                             [&](const Process& q) { return q.pgid == pg && q.state == ProcessState::Running; });
    }
    if (pid == -1) {
        return send_matching(sg, si::USER, [&](const Process& q) {
            return q.pid != me.pid && !q.kernel_waited && q.state == ProcessState::Running;
        });
    }
    uint32_t pg = uint32_t(-int64_t(pid));
    return send_matching(sg, si::USER,
                         [&](const Process& q) { return q.pgid == pg && q.state == ProcessState::Running; });
}

Result<void> sys_tkill(uint64_t tid, uint64_t s) {
    if (int32_t(tid) <= 0 || s > uint64_t(MAX_SIGNAL)) return Errno::Inval;
    return send_matching(int(s), si::TKILL, [&](const Process& q) { return q.pid == uint32_t(tid); });
}

Result<void> sys_tgkill(uint64_t tgid, uint64_t tid, uint64_t s) {
    if (int32_t(tid) <= 0 || int32_t(tgid) <= 0 || s > uint64_t(MAX_SIGNAL)) return Errno::Inval;
    if (tgid != tid) return Errno::Srch;
    return send_matching(int(s), si::TKILL, [&](const Process& q) { return q.pid == uint32_t(tid); });
}

}  // namespace lamina::posix
