// Signals: generation (kill, faults, child exits, and the other POSIX layers: Ctrl-C, SIGPIPE),
// and delivery on every return to user mode (after a system call, an interrupt or a fault).
//
// Contract for other layers
//   - send_signal(p, sig): p must be the calling process, or one the caller keeps alive by
//     holding process_table_lock() (use send_signal_locked then) — otherwise use signal_pid.
//     Ignored signals (HANDLER_IGNORE, or ignored by default: SIGCHLD, SIGURG, SIGWINCH) are dropped
//     unless blocked, as on Linux. SIGKILL and SIGCONT wake a stopped process.
//   - signal_pid(pid, sig) / signal_process_group(pgrp, sig): Srch when no process matched.
//     Safe from any thread context (not from interrupt handlers: they take the table lock with
//     interrupts off, which is fine, but keep them out of hard-IRQ paths all the same).
//   - signal_pending(): the calling process has a signal that is not blocked, i.e. one that
//     must interrupt a blocking system call.
//   - wait_interruptible(q, cond, ns = 0) / wait_interruptible_for(q, cond, ns): like
//     WaitQueue::wait, but also return Intr as soon as a signal is pending for the calling
//     process (TimedOut after ns; for wait_interruptible 0 means no timeout, for
//     wait_interruptible_for 0 means already expired). The system call then returns -EINTR, and the delivery path
//     restarts it instead when the handler has SA_RESTART or no handler runs (Linux's ERESTARTSYS): a layer that
//     returns Intr from these must be restartable, i.e. have no side effect visible yet. cond
//     runs under q's lock with interrupts off: it must be cheap and must not take the process
//     table lock. Whoever makes cond true wakes q as usual.
//     Outside a process (a kernel thread) they behave as the plain waits.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/posix/process.h"
#include "kernel/posix/signal_abi.h"
#include "kernel/sched/wait_queue.h"

namespace lamina::posix {

Result<void> send_signal(Process& p, int sig);
// Directed at the process: any thread that does not block it takes it.
void send_signal_locked(Process& p, int sig, const SigInfo& info);
// Directed at one thread (tgkill, a group exit's SIGKILL). Table lock held.
void send_signal_to_task_locked(Task& t, int sig, const SigInfo& info);
Result<void> signal_pid(uint32_t pid, int sig);
Result<void> signal_process_group(uint32_t pgrp, int sig);
bool signal_pending();
// Linux's SIGNAL_UNKILLABLE: init takes no default action for a signal another process sent it
// (si_code <= 0: kill, tkill), not even SIGKILL; it receives only the signals it handles, or
// blocks to take them with sigtimedwait (as busybox init does). The kernel's own signals
// (si_code > 0: the tty's SIGINT, SIGPIPE) still act, so a test program run as init dies as on
// the host. `action` is p's disposition of the signal (refused: default or ignore).
bool init_refuses(const Process& p, const SigAction& action, int32_t code);

// Registers q as the queue the calling thread sleeps on, so that a signal wakes it.
class InterruptibleSleep {
public:
    explicit InterruptibleSleep(sched::WaitQueue& q);
    ~InterruptibleSleep();
    InterruptibleSleep(const InterruptibleSleep&) = delete;
    InterruptibleSleep& operator=(const InterruptibleSleep&) = delete;
    // After the wait: Intr (and the system call marked restartable) when a signal cut it short.
    Result<void> interrupted();

private:
    Task* p_;
};

// timeout_ns 0: no timeout (the files layer's convention).
template <typename Cond>
Result<void> wait_interruptible(sched::WaitQueue& q, Cond&& cond, uint64_t timeout_ns = 0) {
    InterruptibleSleep s(q);
    bool woke_for_signal = false;
    auto ready = [&] {
        if (cond()) return true;
        if (signal_pending()) return woke_for_signal = true;
        return false;
    };
    if (timeout_ns) {
        TRY(q.wait_for(ready, timeout_ns));
    } else {
        q.wait(ready);
    }
    if (woke_for_signal) return s.interrupted();
    return {};
}

// A timed wait where 0 means "already expired" (TimedOut unless cond() holds now).
template <typename Cond>
Result<void> wait_interruptible_for(sched::WaitQueue& q, Cond&& cond, uint64_t timeout_ns) {
    if (!timeout_ns) {
        if (cond()) return {};
        if (signal_pending()) return InterruptibleSleep(q).interrupted();
        return Errno::TimedOut;
    }
    return wait_interruptible(q, static_cast<Cond&&>(cond), timeout_ns);
}

// --- the kernel's side ---------------------------------------------------------------------

// Delivers what is pending before `f` returns to user mode (thread context, interrupts on):
// runs handlers (building their frames), stops, or ends the process. `syscall_nr` is the
// system call that `f` returns from (its result in f.rax), or -1.
void deliver_signals(arch::InterruptFrame& f, int64_t syscall_nr);

// From an interrupt or exception hook (interrupts off, maybe on an IST stack) for a frame about
// to return to user mode: when there is something to deliver, parks the user state in the
// process and points the frame at a kernel-mode path that delivers and then returns to it.
void divert_for_signals(arch::InterruptFrame& f);
// The same for a fault the program has a handler for: queues sig with its info and diverts.
// False when the program has no usable handler (the caller kills it).
bool divert_for_fault_signal(arch::InterruptFrame& f, int sig, int code, uint64_t addr);

// Enters ring 3 with exactly the registers in f (IRETQ). Interrupts off on entry.
[[noreturn]] void return_to_user(const arch::InterruptFrame& f);

// rt_sigreturn: restores the frame a handler was entered with. SIGSEGV kill when it is bad.
int64_t sigreturn(arch::InterruptFrame& f);

}  // namespace lamina::posix
