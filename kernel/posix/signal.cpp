#include "kernel/posix/signal.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/lib/log.h"
#include "kernel/posix/user_access.h"

extern "C" [[noreturn]] void arch_return_to_user(const lamina::arch::InterruptFrame* f);

namespace lamina::posix {

namespace {

// Marks a system-call frame that must leave through IRETQ: SYSRET would clobber rcx and r11,
// which rt_sigreturn restores (syscall.S checks the vector field).
constexpr uint64_t FORCE_IRET_VECTOR = 257;

// What t may take: its own pending signals and its process's.
uint64_t load_pending(const Task& t) {
    return __atomic_load_n(&t.pending, __ATOMIC_ACQUIRE) | __atomic_load_n(&t.process->pending, __ATOMIC_ACQUIRE);
}
uint64_t load_mask(const Task& t) { return __atomic_load_n(&t.signal_mask, __ATOMIC_ACQUIRE); }

// A signal to take, or a stop of the process that this thread has not joined yet.
bool deliverable(const Task& t) {
    return (load_pending(t) & ~(load_mask(t) & ~UNBLOCKABLE)) != 0 ||
           __atomic_load_n(&t.process->stopped, __ATOMIC_ACQUIRE);
}

void wake_locked(Task& t) {
    if (t.interruptible_queue) t.interruptible_queue->wake_all();
}

// Blocked (or waited for with sigwait) by some thread of p: an ignored signal stays pending.
bool blocked_by_any_locked(const Process& p, uint64_t bit) {
    for (const Task* t = p.tasks; t; t = t->next)
        if ((t->signal_mask | t->sigwait_set) & bit) return true;
    return false;
}

UserRegs to_regs(const arch::InterruptFrame& f) {
    return {f.r8,  f.r9,  f.r10, f.r11, f.r12, f.r13, f.r14,    f.r15, f.rdi, f.rsi, f.rbp,
            f.rbx, f.rdx, f.rax, f.rcx, f.rsp, f.rip, f.rflags, 0,     0,     0};
}

void from_regs(arch::InterruptFrame& f, const UserRegs& r) {
    f.r8 = r.r8;
    f.r9 = r.r9;
    f.r10 = r.r10;
    f.r11 = r.r11;
    f.r12 = r.r12;
    f.r13 = r.r13;
    f.r14 = r.r14;
    f.r15 = r.r15;
    f.rdi = r.rdi;
    f.rsi = r.rsi;
    f.rbp = r.rbp;
    f.rbx = r.rbx;
    f.rdx = r.rdx;
    f.rax = r.rax;
    f.rcx = r.rcx;
    f.rsp = r.rsp;
    f.rip = r.rip;
    f.rflags = r.rflags;
    f.cs = arch::USER_CS;
    f.ss = arch::USER_DS;
}

// A handler frame could not be written (bad stack): the process dies of SIGSEGV, as on Linux.
[[noreturn]] void kill_bad_frame(const Process& p, int sig, uint64_t where) {
    kinfo("pid %u (%s): SIGSEGV at 0x%lx: cannot write the frame for %s\n", p.pid, p.name, where, signal_name(sig));
    exit_current(sig::SEGV);
}

// A stopped process's threads each wait here until SIGCONT or SIGKILL.
void wait_while_stopped(const Task& t) {
    const Process& p = *t.process;
    process_events().wait(
        [&] { return !__atomic_load_n(&p.stopped, __ATOMIC_ACQUIRE) || (load_pending(t) & sigbit(sig::KILL)); });
}

// Stops the calling process until SIGCONT or SIGKILL (stop signals' default action): every
// thread stops, each on its way back to user mode (a sleeping one is woken for it and
// restarts its call once continued).
void stop_current(Task& t, int sig) {
    Process& p = *t.process;
    {
        SpinlockGuard g(process_table_lock());
        __atomic_store_n(&p.stopped, true, __ATOMIC_RELEASE);
        for (Task* other = p.tasks; other; other = other->next) wake_locked(*other);
        p.stop_report = sig;
        release_fork_parent_locked(p);  // woken below in any case
        p.continue_report = false;
        for_each_process_locked([&](Process& parent) {
            if (parent.pid != p.parent_pid) return;
            parent.child_events++;
            if (!(parent.actions[sig::CHLD - 1].flags & sa::NOCLDSTOP)) {
                SigInfo info{};
                info.signo = sig::CHLD;
                info.code = si::CLD_STOPPED;
                info.child.pid = int32_t(p.pid);
                info.child.status = sig;
                send_signal_locked(parent, sig::CHLD, info);
            }
        });
    }
    wake_process_events();
    wait_while_stopped(t);
}

// Handler frame on the user stack; false when it cannot be written.
bool setup_frame(Task& p, arch::InterruptFrame& f, int sig, const SigInfo& info, const SigAction& a,
                 uint64_t old_mask) {
    UserRegs regs = to_regs(f);
    if (f.vector < 32) {
        regs.trapno = f.vector;
        regs.err = f.error_code;
        if (f.vector == 14) regs.cr2 = info.fault.addr;
    }
    FramePlace place = place_frame(f.rsp, a.flags & sa::ONSTACK, p.altstack);
    alignas(16) uint8_t fx[FPSTATE_SIZE] = {};
    asm volatile("fxsave64 %0" : "=m"(fx));
    if (copy_to_user(place.fpstate, fx, sizeof fx).is_error()) return false;
    RtSigFrame frame;
    fill_frame(frame, regs, info, old_mask, a, p.altstack, place.fpstate);
    if (copy_to_user(place.frame, &frame, sizeof frame).is_error()) return false;
    from_regs(f, handler_entry(regs, place, sig, a));
    f.vector = FORCE_IRET_VECTOR;
    return true;
}

[[noreturn]] void signal_trampoline() {
    Task* p = current_task();
    arch::InterruptFrame f = p->trap_frame;
    cpu::sti();
    deliver_signals(f, -1);
    cpu::cli();
    return_to_user(f);
}

void divert(arch::InterruptFrame& f, Task& p) {
    p.trap_frame = f;
    f.rip = reinterpret_cast<uint64_t>(&signal_trampoline);
    f.cs = arch::KERNEL_CS;
    f.ss = arch::KERNEL_DS;
    f.rsp = sched::current_thread()->stack().top - 8;  // as if called: rsp + 8 is 16-byte aligned
    f.rflags = 2;
}

}  // namespace

// --- generation ---------------------------------------------------------------------------------

namespace {

// What every signal does to a process before it is queued: SIGKILL and SIGCONT resume a
// stopped process, SIGCONT cancels pending stops and a stop cancels a pending SIGCONT.
void stop_and_continue_locked(Process& p, int s) {
    uint64_t bit = sigbit(s);
    if (s == sig::KILL || s == sig::CONT) {
        __atomic_and_fetch(&p.pending, ~STOP_SIGNALS, __ATOMIC_ACQ_REL);
        for (Task* t = p.tasks; t; t = t->next) __atomic_and_fetch(&t->pending, ~STOP_SIGNALS, __ATOMIC_ACQ_REL);
        if (p.stopped) {
            __atomic_store_n(&p.stopped, false, __ATOMIC_RELEASE);
            p.stop_report = 0;
            if (s == sig::CONT) {
                p.continue_report = true;
                for_each_process_locked([&](Process& parent) {
                    if (parent.pid == p.parent_pid) parent.child_events++;
                });
            }
            process_events().wake_all();
        }
    } else if (bit & STOP_SIGNALS) {
        __atomic_and_fetch(&p.pending, ~sigbit(sig::CONT), __ATOMIC_ACQ_REL);
        for (Task* t = p.tasks; t; t = t->next) __atomic_and_fetch(&t->pending, ~sigbit(sig::CONT), __ATOMIC_ACQ_REL);
    }
}

}  // namespace

void send_signal_locked(Process& p, int s, const SigInfo& info) {
    if (p.state != ProcessState::Running || !valid_signal(uint64_t(s))) return;
    uint64_t bit = sigbit(s);
    stop_and_continue_locked(p, s);
    if (ignored(p.actions[s - 1], s) && !blocked_by_any_locked(p, bit)) return;
    if (!(p.pending & bit)) p.info[s - 1] = info;  // standard signals do not queue
    __atomic_or_fetch(&p.pending, bit, __ATOMIC_ACQ_REL);
    // Any thread that does not block it takes it; each sleeping one checks for itself.
    for (Task* t = p.tasks; t; t = t->next) wake_locked(*t);
    if (s == sig::KILL) process_events().wake_all();  // a stopped or vfork-waiting process
}

void send_signal_to_task_locked(Task& t, int s, const SigInfo& info) {
    Process& p = *t.process;
    if (p.state != ProcessState::Running || !valid_signal(uint64_t(s))) return;
    uint64_t bit = sigbit(s);
    stop_and_continue_locked(p, s);
    if (ignored(p.actions[s - 1], s) && !((t.signal_mask | t.sigwait_set) & bit)) return;
    if (!(t.pending & bit)) t.info[s - 1] = info;
    __atomic_or_fetch(&t.pending, bit, __ATOMIC_ACQ_REL);
    wake_locked(t);
    if (s == sig::KILL) {
        process_events().wake_all();
        p.task_exits.wake_all();  // an execve waiting for its other threads to end
    }
}

bool init_refuses(const Process& p, const SigAction& action, int32_t code) {
    return code <= 0 && action.handler <= HANDLER_IGNORE && p.pid == init_pid();
}

Result<void> send_signal(Process& p, int s) {
    if (!valid_signal(uint64_t(s))) return Errno::Inval;
    SigInfo info{};
    info.signo = s;
    info.code = si::KERNEL;
    SpinlockGuard g(process_table_lock());
    send_signal_locked(p, s, info);
    return {};
}

namespace {

// A kernel signal (si::KERNEL) to every process `match` accepts; Srch when it accepted none.
template <typename Match>
Result<void> signal_matching(int s, Match match) {
    if (!valid_signal(uint64_t(s))) return Errno::Inval;
    SigInfo info{};
    info.signo = s;
    info.code = si::KERNEL;
    SpinlockGuard g(process_table_lock());
    bool found = false;
    for_each_process_locked([&](Process& p) {
        if (!match(p)) return;
        found = true;
        send_signal_locked(p, s, info);
    });
    if (!found) return Errno::Srch;
    return {};
}

}  // namespace

Result<void> signal_pid(uint32_t pid, int s) {
    return signal_matching(s, [pid](const Process& p) { return p.pid == pid; });
}

Result<void> signal_process_group(uint32_t pgrp, int s) {
    return signal_matching(s, [pgrp](const Process& p) { return p.pgid == pgrp && p.state == ProcessState::Running; });
}

bool signal_pending() {
    Task* t = current_task();
    return t && deliverable(*t);
}

InterruptibleSleep::InterruptibleSleep(sched::WaitQueue& q) : p_(current_task()) {
    if (!p_) return;
    bool released;
    {
        SpinlockGuard g(process_table_lock());
        p_->interruptible_queue = &q;
        released = release_fork_parent_locked(*p_->process);
    }
    if (released) wake_process_events();
}

InterruptibleSleep::~InterruptibleSleep() {
    if (!p_) return;
    SpinlockGuard g(process_table_lock());
    p_->interruptible_queue = nullptr;
}

Result<void> InterruptibleSleep::interrupted() {
    if (p_) p_->restartable = true;
    return Errno::Intr;
}

// --- delivery -----------------------------------------------------------------------------------

void deliver_signals(arch::InterruptFrame& f, int64_t syscall_nr) {
    Task* p = current_task();
    if (!p) return;
    Process* proc = p->process;
    if (__atomic_load_n(&proc->stopped, __ATOMIC_ACQUIRE)) wait_while_stopped(*p);  // another thread stopped it
    bool interrupted = syscall_nr >= 0 && int64_t(f.rax) == -int64_t(Errno::Intr) && p->restartable;
    p->restartable = false;
    for (;;) {
        int s;
        SigInfo info;
        SigAction a;
        uint64_t old_mask = 0;
        bool group_kill = false;
        {
            SpinlockGuard g(process_table_lock());
            // The thread's own signals first (a fault's must run before anything else), then
            // the process's.
            uint64_t* from = &p->pending;
            SigInfo* infos = p->info;
            s = next_signal(p->pending, p->signal_mask);
            if (!s) {
                from = &proc->pending;
                infos = proc->info;
                s = next_signal(proc->pending, p->signal_mask);
            }
            if (!s) break;
            __atomic_and_fetch(from, ~sigbit(s), __ATOMIC_ACQ_REL);
            info = infos[s - 1];
            posix_timer_signal_taken_locked(*proc, info);
            a = proc->actions[s - 1];
            // The group is ending (exit_group, a fatal signal, an execve): this thread leaves
            // without a say in the status.
            if (s == sig::KILL && proc->group_exiting) group_kill = true;
            if (a.handler == HANDLER_IGNORE) continue;
            if (a.handler != HANDLER_DEFAULT) {
                old_mask = p->saved_mask_valid ? p->saved_mask : p->signal_mask;
                p->saved_mask_valid = false;
                __atomic_store_n(&p->signal_mask, handler_mask(p->signal_mask, a, s), __ATOMIC_RELEASE);
                if (a.flags & sa::RESETHAND) proc->actions[s - 1] = {};
            }
        }
        if (group_kill) exit_thread(sig::KILL);
        if (a.handler == HANDLER_DEFAULT) {
            // Another process's signal that reached init while init blocked it (musl's fork
            // blocks all): the rule kill applies when it sends, applied again now.
            if (init_refuses(*proc, a, info.code)) continue;
            switch (default_action(s)) {
                case DefaultAction::Ignore:
                case DefaultAction::Continue:
                    continue;
                case DefaultAction::Stop:
                    stop_current(*p, s);
                    continue;
                case DefaultAction::Terminate:
                case DefaultAction::Core:
                    exit_current(s);  // no core files: WCOREDUMP stays clear
            }
        }
        // A handler: it runs first, then the interrupted call restarts or fails with EINTR.
        if (interrupted) {
            if (restart_decision(true, &a) == Restart::Yes) {
                f.rax = uint64_t(syscall_nr);
                f.rip -= 2;  // the SYSCALL instruction again
            }
            interrupted = false;
        }
        if (!(a.flags & sa::RESTORER) || !setup_frame(*p, f, s, info, a, old_mask)) kill_bad_frame(*proc, s, f.rsp);
        return;  // one handler frame per return; the rest come at the next kernel exit
    }
    if (interrupted) {
        // Nothing ran in user mode (ignored, or stopped and continued): restart the call.
        f.rax = uint64_t(syscall_nr);
        f.rip -= 2;
    }
    if (p->saved_mask_valid) {
        // sigsuspend ended without a handler: its mask goes back now.
        SpinlockGuard g(process_table_lock());
        __atomic_store_n(&p->signal_mask, p->saved_mask, __ATOMIC_RELEASE);
        p->saved_mask_valid = false;
    }
}

void divert_for_signals(arch::InterruptFrame& f) {
    if (!(f.cs & 3)) return;
    Task* p = current_task();
    if (!p || !deliverable(*p)) return;
    divert(f, *p);
}

bool divert_for_fault_signal(arch::InterruptFrame& f, int s, int code, uint64_t addr) {
    Task* p = current_task();
    if (!p || !(f.cs & 3)) return false;
    {
        SpinlockGuard g(process_table_lock());
        const SigAction& a = p->process->actions[s - 1];
        // Blocked or ignored synchronous signals cannot be held back: the process dies.
        if (a.handler == HANDLER_DEFAULT || a.handler == HANDLER_IGNORE || (p->signal_mask & sigbit(s))) return false;
        SigInfo info{};
        info.signo = s;
        info.code = code;
        info.fault.addr = addr;
        p->info[s - 1] = info;
        __atomic_or_fetch(&p->pending, sigbit(s), __ATOMIC_ACQ_REL);
    }
    divert(f, *p);
    return true;
}

void return_to_user(const arch::InterruptFrame& f) { arch_return_to_user(&f); }

int64_t sigreturn(arch::InterruptFrame& f) {
    Task* p = current_task();
    uint64_t frame_addr = f.rsp - 8;  // the handler's ret popped pretcode
    RtSigFrame frame;
    UserRegs regs{};
    if (copy_from_user(&frame, frame_addr, sizeof frame).is_error() || !restore_from_frame(frame.uc, f.rflags, regs)) {
        kinfo("pid %u (%s): SIGSEGV at 0x%lx: bad signal frame in rt_sigreturn\n", p->process->pid, p->process->name,
              frame_addr);
        exit_current(sig::SEGV);
    }
    if (uint64_t fp = frame.uc.mcontext.fpstate) {
        alignas(16) uint8_t fx[FPSTATE_SIZE];
        if (copy_from_user(fx, fp, sizeof fx).is_ok()) {
            uint32_t mxcsr;
            __builtin_memcpy(&mxcsr, fx + 24, 4);
            mxcsr &= MXCSR_VALID;
            __builtin_memcpy(fx + 24, &mxcsr, 4);
            asm volatile("fxrstor64 %0" ::"m"(fx));
        }
    }
    {
        SpinlockGuard g(process_table_lock());
        __atomic_store_n(&p->signal_mask, frame.uc.sigmask & ~UNBLOCKABLE, __ATOMIC_RELEASE);
        const StackT& ss = frame.uc.stack;
        if (!p->altstack.on(regs.rsp)) {
            if (ss.flags & ss_flag::DISABLE)
                p->altstack = {};
            else if (ss.size >= MIN_SIGNAL_STACK)
                p->altstack = {ss.sp, ss.size, true};
        }
    }
    from_regs(f, regs);
    f.vector = FORCE_IRET_VECTOR;
    return int64_t(regs.rax);
}

}  // namespace lamina::posix
