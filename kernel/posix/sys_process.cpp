// Process system calls: fork, vfork, clone (fork-like flag sets only), execve, exit and
// exit_group, wait4, waitid, getpid/getppid, process groups and sessions, resource limits,
// futex, set_tid_address, set_robust_list, arch_prctl, sched_yield, sched_getaffinity.
//
// Contract
//   - fork/vfork/clone: the child is a copy-on-write copy of the caller (process.h). vfork (and
//     clone with CLONE_VFORK) returns in the parent only once the child has called execve or
//     ended. clone accepts an exit signal in the low byte and CLONE_VFORK, CLONE_VM (only with
//     CLONE_VFORK: the child runs on a copy of the memory, which a vfork child cannot tell
//     apart while its parent waits), CLONE_PARENT_SETTID, CLONE_CHILD_SETTID,
//     CLONE_CHILD_CLEARTID; any other flag (threads, namespaces) is EINVAL, logged once.
//   - execve: the program is found by load_executable (boot modules by last path component for
//     now); `#!interpreter [arg]` scripts run the interpreter with the script's path. Linux's
//     limits (E2BIG beyond): 128 KiB per string, and strings plus pointers within a quarter of
//     RLIMIT_STACK (2 MiB by default; at least 128 KiB, at most 3 MiB where Linux allows 6). Handled signals
//     go back to their default action; ignored ones, the mask and pending signals stay. On
//     failure the calling program is untouched.
//   - wait4/waitid: children only; pid -1 (any), > 0, 0 (the caller's group), < -1 (group
//     -pid). WNOHANG, WUNTRACED/WSTOPPED, WCONTINUED, WNOWAIT (waitid), __WALL and __WCLONE
//     are accepted. Blocking waits end early on a signal (EINTR, or restarted per SA_RESTART).
//     rusage is written as zeros.
//   - Sessions and groups follow POSIX: setpgid only on the caller or its children in the same
//     session (EACCES once a child has exec'd, EPERM for a session leader or a group in another
//     session); setsid fails with EPERM for a group leader.
//   - Identity: the user and group id calls are kernel/posix/sys_cred.cpp's.
//   - Limits: getrlimit/setrlimit/prlimit64 keep per-process values, inherited by children;
//     nothing enforces them yet except the checks Linux makes on the values (soft <= hard;
//     raising hard needs CAP_SYS_RESOURCE).
//   - futex: FUTEX_WAIT, FUTEX_WAKE and their _BITSET forms (the bitset must be nonzero and is
//     otherwise treated as all ones), private or not (the key is the address space and the
//     address; shared-memory futexes across processes are not keyed by frame yet).
//   - prctl is kernel/posix/sys_cred.cpp's.
//   - sched_getaffinity: every online CPU (nothing pins a process yet), as a 64-bit mask.
#include <lamina/scope_guard.h>

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/arch/x86_64/registers.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/process.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::posix {

namespace {

constexpr uint64_t CLONE_VM = 0x100, CLONE_VFORK = 0x4000, CLONE_PARENT_SETTID = 0x100000,
                   CLONE_CHILD_CLEARTID = 0x200000, CLONE_CHILD_SETTID = 0x1000000;
constexpr int WNOHANG = 1, WUNTRACED = 2, WSTOPPED = 2, WEXITED = 4, WCONTINUED = 8, WNOWAIT = 0x01000000,
              WNOTHREAD = 0x20000000, WALL = 0x40000000, WCLONE = int(0x80000000);

Process& self() { return *current_process(); }

// --- fork -----------------------------------------------------------------------------------------

SyscallResult do_fork(uint64_t new_stack, int exit_signal, bool vfork) {
    return TRY(fork_current(*self().syscall_frame, new_stack, exit_signal, vfork));
}

// --- execve -------------------------------------------------------------------------------------

// Linux's limits (fs/exec.c): one string at most MAX_ARG_STRLEN bytes with its NUL; the
// strings (the path too) and the argv/envp pointers at most a quarter of the stack limit, at
// least ARG_MAX. Linux caps that at 6 MiB; Lamina at 3 MiB, because the copies are contiguous
// heap blocks (4 MiB at most) and the stack is a fixed 8 MiB: only a stack limit raised past
// 12 MiB tells the difference.
constexpr size_t MAX_ARG_STRLEN = 32 * mm::PAGE_SIZE;
constexpr size_t ARG_MAX = 32 * mm::PAGE_SIZE;
constexpr size_t ARG_LIMIT_CAP = 3u << 20;
constexpr size_t PATH_BYTES = 4096;

size_t exec_arg_limit(const Process& p) {
    uint64_t quarter = p.rlimits[RLIMIT_STACK].cur / 4;
    if (quarter > ARG_LIMIT_CAP) quarter = ARG_LIMIT_CAP;
    return quarter < ARG_MAX ? ARG_MAX : size_t(quarter);
}

// execve's kernel copy of argv and envp: the strings back to back in one block that grows,
// their offsets in another (the block moves as it grows), and the pointer arrays made at the end.
class ArgCopy {
public:
    explicit ArgCopy(size_t limit) : limit_(limit) {}
    ~ArgCopy() {
        mm::kfree(strings_);
        mm::kfree(offsets_);
        mm::kfree(pointers_);
    }
    ArgCopy(const ArgCopy&) = delete;
    ArgCopy& operator=(const ArgCopy&) = delete;

    // Appends a NULL-terminated user array of strings; returns how many it held.
    Result<size_t> add_array(uint64_t user_array) {
        if (!user_array) return size_t(0);  // Linux accepts NULL as an empty list
        for (size_t i = 0;; i++) {
            uint64_t ptr = TRY(UserPtr<uint64_t>(user_array + i * 8).read());
            if (!ptr) return i;
            TRY(add_string(ptr));
        }
    }

    Result<void> add_string(uint64_t user_string) {
        if (count_ == offsets_cap_) TRY(grow(reinterpret_cast<void*&>(offsets_), offsets_cap_, count_ * 8, 8));
        for (;;) {
            size_t room = strings_cap_ - used_ < MAX_ARG_STRLEN ? strings_cap_ - used_ : MAX_ARG_STRLEN;
            auto n = room ? strncpy_from_user(strings_ + used_, user_string, room) : Result<size_t>(Errno::NameTooLong);
            if (n.is_ok()) {
                offsets_[count_++] = used_;
                used_ += n.value() + 1;
                if (!fits(count_ - 1)) return Errno::TooBig;  // the path has no pointer
                return {};
            }
            if (n.error().code() != Errno::NameTooLong) return n.error();
            if (room == MAX_ARG_STRLEN) return Errno::TooBig;
            TRY(grow(reinterpret_cast<void*&>(strings_), strings_cap_, used_, 1));
        }
    }

    // The strings plus `pointers` argv/envp entries within the limit? (Linux counts one argv
    // pointer even for an empty argv.)
    bool fits(size_t pointers) const { return used_ + 8 * pointers <= limit_; }

    // Every string as a pointer, in the order added (valid until the copy is destroyed).
    Result<const char* const*> pointers() {
        pointers_ = static_cast<const char**>(mm::kmalloc((count_ ? count_ : 1) * sizeof(char*)));
        if (!pointers_) return Errno::NoMem;
        for (size_t i = 0; i < count_; i++) pointers_[i] = strings_ + offsets_[i];
        return static_cast<const char* const*>(pointers_);
    }

private:
    // Doubles a block (first size 4 KiB), keeping its first `keep` bytes. Neither block needs
    // more than the limit plus one string (fits() bounds the strings and the offsets alike),
    // which stays below the heap's largest block.
    Result<void> grow(void*& block, size_t& cap, size_t keep, size_t elem) {
        size_t most = (limit_ + MAX_ARG_STRLEN) / elem;
        if (cap >= most) return Errno::TooBig;
        size_t next = cap ? (cap * 2 < most ? cap * 2 : most) : 4096 / elem;
        void* bigger = mm::kmalloc(next * elem);
        if (!bigger) return Errno::NoMem;
        if (keep) __builtin_memcpy(bigger, block, keep);
        mm::kfree(block);
        block = bigger;
        cap = next;
        return {};
    }

    size_t limit_;
    char* strings_ = nullptr;
    size_t used_ = 0, strings_cap_ = 0;
    size_t* offsets_ = nullptr;
    size_t count_ = 0, offsets_cap_ = 0;
    const char** pointers_ = nullptr;
};

// --- wait ---------------------------------------------------------------------------------------

struct WaitSelect {
    int64_t pid;  // -1 any, > 0 that pid, 0 the caller's group, < -1 group -pid
    int options;
};

struct Waited {
    uint32_t pid;
    int status;  // wait status
    int code;    // CLD_*
    int si_status;
};

bool matches(const Process& caller, const Process& q, int64_t pid) {
    if (q.parent_pid != caller.pid || q.kernel_waited) return false;
    if (pid == -1) return true;
    if (pid > 0) return q.pid == uint64_t(pid);
    if (pid == 0) return q.pgid == caller.pgid;
    return q.pgid == uint64_t(-pid);
}

// One round over the children: Child when there is none that matches, else what was found
// (pid 0: nothing to report yet); `events` is the caller's child_events seen.
Result<Waited> scan_children(const WaitSelect& w, uint32_t& events) {
    Process& me = self();
    Process* reaped = nullptr;
    Waited found{};
    bool any = false;
    {
        SpinlockGuard g(process_table_lock());
        events = me.child_events;
        for_each_process_locked([&](Process& q) {
            if (found.pid || !matches(me, q, w.pid)) return;
            any = true;
            if (q.state == ProcessState::Zombie && (w.options & WEXITED)) {
                int st = q.wait_status;
                found = {q.pid, st, (st & 0x7f) ? si::CLD_KILLED : si::CLD_EXITED,
                         (st & 0x7f) ? (st & 0x7f) : ((st >> 8) & 0xff)};
                if (!(w.options & WNOWAIT)) reaped = &q;
            } else if (q.stop_report && (w.options & WSTOPPED)) {
                found = {q.pid, 0x7f | (q.stop_report << 8), si::CLD_STOPPED, q.stop_report};
                if (!(w.options & WNOWAIT)) q.stop_report = 0;
            } else if (q.continue_report && (w.options & WCONTINUED)) {
                found = {q.pid, 0xffff, si::CLD_CONTINUED, sig::CONT};
                if (!(w.options & WNOWAIT)) q.continue_report = false;
            }
        });
        if (reaped) {
            for (auto& slot : detail::g_processes)
                if (slot == reaped) slot = nullptr;
        }
    }
    if (reaped) delete reaped;  // a zombie: its address space and thread are gone
    if (!any) return Errno::Child;
    return found;
}

Result<Waited> do_wait(const WaitSelect& w) {
    for (;;) {
        uint32_t events;
        Waited r = TRY(scan_children(w, events));
        if (r.pid || (w.options & WNOHANG)) return r;
        Process* me = &self();
        TRY(wait_interruptible(
            process_events(), [me, events] { return __atomic_load_n(&me->child_events, __ATOMIC_ACQUIRE) != events; }));
    }
}

// --- ids ----------------------------------------------------------------------------------------

// --- futex --------------------------------------------------------------------------------------

struct FutexWaiter {
    const AddressSpace* as;
    uint64_t addr;
    uint32_t bitset;
    bool woken;
    FutexWaiter* next;
};

struct FutexBucket {
    Spinlock lock;  // guards waiters; taken alone (before the queue's lock, never inside it)
    FutexWaiter* waiters = nullptr;
    sched::WaitQueue queue;
};
constexpr size_t FUTEX_BUCKETS = 64;
FutexBucket g_futex[FUTEX_BUCKETS];

FutexBucket& bucket(const AddressSpace* as, uint64_t addr) {
    uint64_t h = (reinterpret_cast<uint64_t>(as) >> 4) ^ (addr >> 2) * 0x9e3779b97f4a7c15ull;
    return g_futex[(h >> 32) % FUTEX_BUCKETS];
}

SyscallResult futex_wait(uint64_t addr, uint32_t expected, uint64_t timeout_ns, bool timed, uint32_t bitset) {
    const AddressSpace* as = self().as;
    FutexBucket& b = bucket(as, addr);
    // Queue first, then read the word: a waker that changes it afterwards finds us on the list;
    // one that changed it before makes the read differ (EAGAIN). The read is a user copy, so it
    // cannot happen under the bucket lock.
    FutexWaiter w{as, addr, bitset, false, nullptr};
    {
        SpinlockGuard g(b.lock);
        w.next = b.waiters;
        b.waiters = &w;
    }
    auto value = UserPtr<uint32_t>(addr).read();
    Result<void> r = {};
    if (value.is_ok() && value.value() == expected) {
        auto cond = [&w] { return __atomic_load_n(&w.woken, __ATOMIC_ACQUIRE); };
        r = timed ? wait_interruptible_for(b.queue, cond, timeout_ns) : wait_interruptible(b.queue, cond);
    }
    bool woken;
    {
        SpinlockGuard g(b.lock);
        woken = w.woken;
        if (!woken) {
            for (FutexWaiter** l = &b.waiters; *l; l = &(*l)->next)
                if (*l == &w) {
                    *l = w.next;
                    break;
                }
        }
    }
    if (woken) return 0;
    if (value.is_error()) return Errno::Fault;
    if (value.value() != expected) return Errno::Again;
    if (r.is_error()) return r.error().code() == Errno::TimedOut ? Errno::TimedOut : Errno::Intr;
    return 0;
}

SyscallResult futex_wake(uint64_t addr, uint32_t count, uint32_t bitset) {
    const AddressSpace* as = self().as;
    FutexBucket& b = bucket(as, addr);
    int64_t n = 0;
    {
        SpinlockGuard g(b.lock);
        for (FutexWaiter** l = &b.waiters; *l && uint64_t(n) < count;) {
            FutexWaiter* w = *l;
            if (w->as == as && w->addr == addr && (w->bitset & bitset)) {
                *l = w->next;
                __atomic_store_n(&w->woken, true, __ATOMIC_RELEASE);
                n++;
            } else {
                l = &w->next;
            }
        }
    }
    if (n) b.queue.wake_all();
    return n;
}

struct TimeSpec {
    int64_t sec, nsec;
};

}  // namespace

// --- the calls ------------------------------------------------------------------------------------

SyscallResult sys_fork() { return do_fork(0, sig::CHLD, false); }
SyscallResult sys_vfork() { return do_fork(0, sig::CHLD, true); }

SyscallResult sys_clone(uint64_t flags, uint64_t stack, uint64_t parent_tid, uint64_t child_tid) {
    constexpr uint64_t ALLOWED =
        0xff | CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    if ((flags & ~ALLOWED) || ((flags & CLONE_VM) && !(flags & CLONE_VFORK))) {
        static bool logged = false;
        if (!__atomic_exchange_n(&logged, true, __ATOMIC_RELAXED))
            kinfo("pid %u (%s): clone flags 0x%lx are not supported (threads): EINVAL\n", self().pid, self().name,
                  flags);
        return Errno::Inval;
    }
    int exit_signal = int(flags & 0xff);
    if (exit_signal && !valid_signal(uint64_t(exit_signal))) return Errno::Inval;
    int64_t pid = TRY(do_fork(stack, exit_signal, flags & CLONE_VFORK));
    // The child's copy of the word is written through its own copy-on-write page later; here
    // only the parent's side is set (CLONE_PARENT_SETTID), and the child's CHILD_SETTID word is
    // written by the child's first return (not needed by musl or busybox: left out).
    if ((flags & CLONE_PARENT_SETTID) && parent_tid) (void)UserPtr<uint32_t>(parent_tid).write(uint32_t(pid));
    (void)child_tid;
    return pid;
}

Result<void> sys_execve(uint64_t path, uint64_t argv, uint64_t envp) {
    auto* name = static_cast<char*>(mm::kmalloc(PATH_BYTES));
    if (!name) return Errno::NoMem;
    ScopeGuard free_name([name] { mm::kfree(name); });
    TRY(strncpy_from_user(name, path, PATH_BYTES));
    ArgCopy c(exec_arg_limit(self()));
    TRY(c.add_string(path));  // counts against the limit as on Linux; not passed on
    size_t argc = TRY(c.add_array(argv));
    size_t envc = TRY(c.add_array(envp));
    if (!c.fits((argc ? argc : 1) + envc)) return Errno::TooBig;
    const char* const* args = TRY(c.pointers()) + 1;
    return exec_current(*self().syscall_frame, name, args, argc, args + argc, envc);
}

SyscallResult sys_exit(uint64_t status) { exit_current(int((status & 0xff) << 8)); }

SyscallResult sys_wait4(uint64_t pid, uint64_t status, uint64_t options, uint64_t rusage) {
    int opt = int(options);
    if (opt & ~(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE)) return Errno::Inval;
    auto r = TRY(do_wait({int64_t(int32_t(pid)), opt | WEXITED}));
    if (r.pid) {
        if (status && UserPtr<int32_t>(status).write(r.status).is_error()) return Errno::Fault;
        if (rusage && clear_user(rusage, 144).is_error()) return Errno::Fault;
    }
    return r.pid;
}

SyscallResult sys_waitid(uint64_t idtype, uint64_t id, uint64_t infop, uint64_t options, uint64_t rusage) {
    constexpr uint64_t P_ALL = 0, P_PID = 1, P_PGID = 2;
    int opt = int(options);
    if (opt & ~(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE)) return Errno::Inval;
    if (!(opt & (WEXITED | WSTOPPED | WCONTINUED))) return Errno::Inval;
    int64_t sel;
    if (idtype == P_ALL)
        sel = -1;
    else if (idtype == P_PID) {
        if (int32_t(id) <= 0) return Errno::Inval;
        sel = int32_t(id);
    } else if (idtype == P_PGID) {
        if (int32_t(id) < 0) return Errno::Inval;
        sel = id ? -int64_t(id) : 0;
    } else
        return Errno::Inval;
    auto r = TRY(do_wait({sel, opt}));
    SigInfo info{};
    if (r.pid) {
        info.signo = sig::CHLD;
        info.code = r.code;
        info.child.pid = int32_t(r.pid);
        info.child.status = r.si_status;
    }
    if (infop && copy_to_user(infop, &info, sizeof info).is_error()) return Errno::Fault;
    if (rusage && clear_user(rusage, 144).is_error()) return Errno::Fault;
    return 0;
}

SyscallResult sys_getpid() { return self().pid; }

SyscallResult sys_getppid() {
    SpinlockGuard g(process_table_lock());
    return self().parent_pid;
}

SyscallResult sys_setpgid(uint64_t pid_arg, uint64_t pgid_arg) {
    int32_t pid = int32_t(pid_arg), pgid = int32_t(pgid_arg);
    if (pgid < 0 || pid < 0) return Errno::Inval;
    Process& me = self();
    SpinlockGuard g(process_table_lock());
    Process* target = nullptr;
    uint32_t want = pid ? uint32_t(pid) : me.pid;
    for_each_process_locked([&](Process& q) {
        if (q.pid == want) target = &q;
    });
    if (!target || (target != &me && target->parent_pid != me.pid)) return Errno::Srch;
    if (target != &me) {
        if (target->sid != me.sid) return Errno::Perm;
        if (target->did_exec) return Errno::Acces;
    }
    if (target->sid == target->pid) return Errno::Perm;  // a session leader
    uint32_t group = pgid ? uint32_t(pgid) : target->pid;
    if (group != target->pid) {
        bool exists = false;
        for_each_process_locked([&](Process& q) {
            if (q.pgid == group && q.sid == me.sid) exists = true;  // zombies count, as on Linux
        });
        if (!exists) return Errno::Perm;
    }
    target->pgid = group;
    return 0;
}

SyscallResult sys_getpgid(uint64_t pid) {
    if (int32_t(pid) < 0) return Errno::Srch;
    SpinlockGuard g(process_table_lock());
    if (!pid) return self().pgid;
    const Process* found = nullptr;
    for_each_process_locked([&](Process& q) {
        if (q.pid == pid) found = &q;
    });
    if (!found) return Errno::Srch;
    return found->pgid;
}

SyscallResult sys_getpgrp() { return sys_getpgid(0); }

SyscallResult sys_getsid(uint64_t pid) {
    if (int32_t(pid) < 0) return Errno::Srch;
    SpinlockGuard g(process_table_lock());
    if (!pid) return self().sid;
    const Process* found = nullptr;
    for_each_process_locked([&](Process& q) {
        if (q.pid == pid) found = &q;
    });
    if (!found) return Errno::Srch;
    return found->sid;
}

SyscallResult sys_setsid() {
    Process& me = self();
    SpinlockGuard g(process_table_lock());
    bool leader = false;
    for_each_process_locked([&](Process& q) {
        if (q.pgid == me.pid) leader = true;
    });
    if (leader) return Errno::Perm;
    me.sid = me.pgid = me.pid;
    return me.pid;
}

namespace {
SyscallResult do_prlimit(Process& p, uint64_t resource, uint64_t new_limit, uint64_t old_limit) {
    if (resource >= uint64_t(RLIMIT_COUNT)) return Errno::Inval;
    Rlimit next{};
    if (new_limit) {
        auto n = UserPtr<Rlimit>(new_limit).read();
        if (n.is_error()) return Errno::Fault;
        next = n.value();
        if (next.cur > next.max) return Errno::Inval;
        if (next.max > p.rlimits[resource].max && !capable(cap::SYS_RESOURCE)) return Errno::Perm;
    }
    if (old_limit && UserPtr<Rlimit>(old_limit).write(p.rlimits[resource]).is_error()) return Errno::Fault;
    if (new_limit) p.rlimits[resource] = next;
    return 0;
}
}  // namespace

SyscallResult sys_getrlimit(uint64_t resource, uint64_t old_limit) {
    if (!old_limit) return Errno::Fault;
    return do_prlimit(self(), resource, 0, old_limit);
}

SyscallResult sys_setrlimit(uint64_t resource, uint64_t new_limit) {
    if (!new_limit) return Errno::Fault;
    return do_prlimit(self(), resource, new_limit, 0);
}

SyscallResult sys_prlimit64(uint64_t pid, uint64_t resource, uint64_t new_limit, uint64_t old_limit) {
    // Other processes' limits: only the caller's own for now (the table lock cannot be held
    // across the user copies; no caller of ours needs another's).
    if (pid && pid != self().pid) return find_process(uint32_t(pid)) ? Errno::Perm : Errno::Srch;
    return do_prlimit(self(), resource, new_limit, old_limit);
}

SyscallResult sys_futex(uint64_t addr, uint64_t op, uint64_t val, uint64_t timeout, uint64_t, uint64_t val3) {
    constexpr uint64_t WAIT = 0, WAKE = 1, WAIT_BITSET = 9, WAKE_BITSET = 10, PRIVATE = 128, REALTIME = 256;
    uint64_t cmd = op & ~(PRIVATE | REALTIME);
    if (addr & 3) return Errno::Inval;
    switch (cmd) {
        case WAIT:
        case WAIT_BITSET: {
            uint32_t bitset = cmd == WAIT ? ~0u : uint32_t(val3);
            if (!bitset) return Errno::Inval;
            uint64_t ns = 0;
            bool timed = timeout != 0;
            if (timed) {
                auto ts = UserPtr<TimeSpec>(timeout).read();
                if (ts.is_error()) return Errno::Fault;
                if (ts.value().sec < 0 || ts.value().nsec < 0 || ts.value().nsec >= 1'000'000'000) return Errno::Inval;
                ns = uint64_t(ts.value().sec) * 1'000'000'000ull + uint64_t(ts.value().nsec);
                if (cmd == WAIT_BITSET) {  // absolute, on CLOCK_MONOTONIC (REALTIME: close enough)
                    uint64_t now = time::now_ns();
                    ns = ns > now ? ns - now : 0;
                }
            }
            return futex_wait(addr, uint32_t(val), ns, timed, bitset);
        }
        case WAKE:
        case WAKE_BITSET: {
            uint32_t bitset = cmd == WAKE ? ~0u : uint32_t(val3);
            if (!bitset) return Errno::Inval;
            return futex_wake(addr, uint32_t(val > 0x7fffffff ? 0x7fffffff : val), bitset);
        }
    }
    return Errno::NoSys;
}

SyscallResult sys_set_tid_address(uint64_t tidptr) {
    current_process()->clear_child_tid = tidptr;
    return current_process()->pid;
}

// The list is musl's business until threads exist: only its header size is checked.
Result<void> sys_set_robust_list(uint64_t, uint64_t len) {
    constexpr uint64_t ROBUST_LIST_HEAD_SIZE = 24;
    if (len != ROBUST_LIST_HEAD_SIZE) return Errno::Inval;
    return {};
}

SyscallResult sys_arch_prctl(uint64_t code, uint64_t addr) {
    constexpr uint64_t ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003;
    Process* p = current_process();
    if (code == ARCH_SET_FS) {
        if (addr >= USER_LIMIT) return Errno::Perm;
        cpu::cli();  // the scheduler saves the MSR into user.fs_base on a switch
        cpu::wrmsr(MSR_IA32_FS_BASE, addr);
        p->user.fs_base = addr;
        cpu::sti();
        return 0;
    }
    if (code == ARCH_GET_FS) {
        uint64_t v = cpu::rdmsr(MSR_IA32_FS_BASE);
        TRY(UserPtr<uint64_t>(addr).write(v));
        return 0;
    }
    return Errno::Inval;
}

SyscallResult sys_sched_getaffinity(uint64_t pid, uint64_t len, uint64_t mask) {
    // The kernel's cpumask is one unsigned long (MAX_CPUS <= 64); Linux wants room for it, in
    // whole longs.
    static_assert(arch::MAX_CPUS <= 64);
    if (len < sizeof(uint64_t) || len % sizeof(uint64_t)) return Errno::Inval;
    if (int32_t(pid) < 0) return Errno::Srch;
    if (pid != 0) {
        bool found = false;
        SpinlockGuard g(process_table_lock());
        for_each_process_locked([&](Process& q) { found |= q.pid == uint32_t(pid); });
        if (!found) return Errno::Srch;
    }
    uint64_t bits = 0;
    for (unsigned i = 0; i < arch::cpu_count(); i++)
        if (arch::cpu_by_index(i).online) bits |= uint64_t(1) << i;
    TRY(UserPtr<uint64_t>(mask).write(bits));
    return int64_t(sizeof bits);
}

SyscallResult sys_sched_yield() {
    sched::yield();
    return 0;
}

}  // namespace lamina::posix
