// Process system calls: fork, vfork, clone (processes and threads), execve, exit and
// exit_group, wait4, waitid, getpid/getppid/gettid, process groups and sessions, resource
// limits, set_tid_address, set_robust_list, arch_prctl, sched_yield, affinity, getcpu. (futex:
// sys_futex.cpp; ids: sys_cred.cpp.)
//
// Contract
//   - fork/vfork/clone: the child is a copy-on-write copy of the caller (process.h); only the
//     calling thread goes on in it. vfork (and clone with CLONE_VFORK) returns in the parent
//     only once the child has called execve or ended. clone makes a process with an exit signal
//     in the low byte and CLONE_VFORK, CLONE_VM (only with CLONE_VFORK: the child runs on a
//     copy of the memory, which a vfork child cannot tell apart while its parent waits),
//     CLONE_PARENT_SETTID, CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID.
//   - clone with CLONE_THREAD makes a thread (clone_thread, process.h): CLONE_VM, CLONE_FS,
//     CLONE_FILES and CLONE_SIGHAND must come with it (what pthread_create passes), a stack is
//     required, CLONE_SETTLS sets its FS base, CLONE_SYSVSEM and CLONE_DETACHED are accepted.
//     Anything else (namespaces, CLONE_PARENT, ...) is EINVAL, logged once.
//   - exit ends the calling thread (the process with it when it was the last); exit_group ends
//     every thread. gettid is the caller's thread id; getpid the thread group's.
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
#include "kernel/sched/scheduler.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::posix {

namespace {

// clone(2)'s flags (include/uapi/linux/sched.h).
constexpr uint64_t CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800, CLONE_VFORK = 0x4000,
                   CLONE_THREAD = 0x10000, CLONE_SYSVSEM = 0x40000, CLONE_SETTLS = 0x80000,
                   CLONE_PARENT_SETTID = 0x100000, CLONE_CHILD_CLEARTID = 0x200000, CLONE_DETACHED = 0x400000,
                   CLONE_CHILD_SETTID = 0x1000000;
constexpr int WNOHANG = 1, WUNTRACED = 2, WSTOPPED = 2, WEXITED = 4, WCONTINUED = 8, WNOWAIT = 0x01000000,
              WNOTHREAD = 0x20000000, WALL = 0x40000000, WCLONE = int(0x80000000);

Process& self() { return *current_process(); }

// --- fork -----------------------------------------------------------------------------------------

SyscallResult do_fork(uint64_t new_stack, int exit_signal, bool vfork) {
    return TRY(fork_current(*current_task()->syscall_frame, new_stack, exit_signal, vfork));
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
                if (!(w.options & WNOWAIT)) {
                    reaped = &q;
                    me.children_cpu_ns += q.ended_tasks_cpu_ns + q.children_cpu_ns;
                }
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

}  // namespace

// --- the calls ------------------------------------------------------------------------------------

SyscallResult sys_fork() { return do_fork(0, sig::CHLD, false); }
SyscallResult sys_vfork() { return do_fork(0, sig::CHLD, true); }

SyscallResult sys_clone(uint64_t flags, uint64_t stack, uint64_t parent_tid, uint64_t child_tid, uint64_t tls) {
    constexpr uint64_t THREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
    constexpr uint64_t ALLOWED = 0xff | THREAD_FLAGS | CLONE_VFORK | CLONE_SYSVSEM | CLONE_SETTLS |
                                 CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_DETACHED;
    bool thread = flags & CLONE_THREAD;
    // A thread shares everything a process has (Linux's rules: CLONE_THREAD needs
    // CLONE_SIGHAND, which needs CLONE_VM); a process shares nothing but, with CLONE_VFORK,
    // memory its parent does not touch meanwhile.
    bool bad = (flags & ~ALLOWED) || (thread && (flags & THREAD_FLAGS) != THREAD_FLAGS) ||
               (!thread && (flags & (CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_SETTLS))) ||
               (!thread && (flags & CLONE_VM) && !(flags & CLONE_VFORK)) || (thread && (flags & CLONE_VFORK));
    if (bad) {
        static bool logged = false;
        if (!__atomic_exchange_n(&logged, true, __ATOMIC_RELAXED))
            kinfo("pid %u (%s): clone flags 0x%lx are not supported: EINVAL\n", self().pid, self().name, flags);
        return Errno::Inval;
    }
    int64_t id;
    if (thread) {
        if (!stack) return Errno::Inval;
        CloneThreadArgs args{stack,
                             tls,
                             (flags & CLONE_SETTLS) != 0,
                             (flags & CLONE_CHILD_CLEARTID) ? child_tid : 0,
                             (flags & CLONE_CHILD_SETTID) ? child_tid : 0,
                             (flags & CLONE_PARENT_SETTID) ? parent_tid : 0};
        return TRY(clone_thread(*current_task()->syscall_frame, args));
    } else {
        int exit_signal = int(flags & 0xff);
        if (exit_signal && !valid_signal(uint64_t(exit_signal))) return Errno::Inval;
        id = TRY(do_fork(stack, exit_signal, flags & CLONE_VFORK));
        // The child's copy of the word is written through its own copy-on-write page later;
        // here only the parent's side is set (CLONE_PARENT_SETTID), and the child's
        // CHILD_SETTID word is written by the child's first return (not needed by musl or
        // busybox: left out).
    }
    if ((flags & CLONE_PARENT_SETTID) && parent_tid) (void)UserPtr<uint32_t>(parent_tid).write(uint32_t(id));
    return id;
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
    return exec_current(*current_task()->syscall_frame, name, args, argc, args + argc, envc);
}

SyscallResult sys_exit(uint64_t status) { exit_thread(int((status & 0xff) << 8)); }
SyscallResult sys_exit_group(uint64_t status) { exit_current(int((status & 0xff) << 8)); }

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

SyscallResult sys_set_tid_address(uint64_t tidptr) {
    Task& t = *current_task();
    t.clear_child_tid = tidptr;
    return t.tid;
}

SyscallResult sys_gettid() { return current_task()->tid; }

// The list stays musl's until the thread ends (release_robust_list).
Result<void> sys_set_robust_list(uint64_t head, uint64_t len) {
    constexpr uint64_t ROBUST_LIST_HEAD_SIZE = 24;
    if (len != ROBUST_LIST_HEAD_SIZE) return Errno::Inval;
    current_task()->robust_list = head;
    return {};
}

// tid 0: the caller; another thread's list only within the caller's process (everyone is
// root, so Linux's ptrace check would let any through; no caller needs that).
Result<void> sys_get_robust_list(uint64_t tid, uint64_t head_ptr, uint64_t len_ptr) {
    constexpr uint64_t ROBUST_LIST_HEAD_SIZE = 24;
    uint64_t head;
    {
        SpinlockGuard g(process_table_lock());
        Task* t = tid ? find_task_locked(uint32_t(tid)) : current_task();
        if (!t || int32_t(tid) < 0) return Errno::Srch;
        if (t->process != current_process()) return Errno::Perm;
        head = t->robust_list;
    }
    TRY(UserPtr<uint64_t>(head_ptr).write(head));
    TRY(UserPtr<uint64_t>(len_ptr).write(ROBUST_LIST_HEAD_SIZE));
    return {};
}

SyscallResult sys_arch_prctl(uint64_t code, uint64_t addr) {
    constexpr uint64_t ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003;
    Task* t = current_task();
    if (code == ARCH_SET_FS) {
        if (addr >= USER_LIMIT) return Errno::Perm;
        cpu::cli();  // the scheduler saves the MSR into user.fs_base on a switch
        cpu::wrmsr(MSR_IA32_FS_BASE, addr);
        t->user.fs_base = addr;
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

// The CPU the caller runs on now (it may run elsewhere by the time it looks); one NUMA node.
Result<void> sys_getcpu(uint64_t cpu, uint64_t node) {
    uint32_t index;
    {
        sched::PreemptGuard g;
        index = arch::this_cpu()->index;
    }
    if (cpu) TRY(UserPtr<uint32_t>(cpu).write(index));
    if (node) TRY(UserPtr<uint32_t>(node).write(0));
    return {};
}

namespace {

constexpr uint64_t CPU_MASK_BYTES = 8;  // Linux's cpumask_size() for up to 64 CPUs

uint64_t online_cpus() {
    uint64_t m = 0;
    for (unsigned i = 0; i < arch::cpu_count() && i < 64; i++)
        if (arch::cpu_by_index(i).online) m |= 1ull << i;
    return m;
}

}  // namespace

// The mask is the online CPUs, or what sched_setaffinity recorded for the thread. The
// scheduler places a thread when it starts and does not move it, so a recorded mask does not
// change where the thread runs (nothing in the tests or ports depends on pinning).
SyscallResult sys_sched_getaffinity(uint64_t tid, uint64_t len, uint64_t mask) {
    if (len < CPU_MASK_BYTES || (len % sizeof(uint64_t))) return Errno::Inval;
    uint64_t online = online_cpus(), m;
    {
        SpinlockGuard g(process_table_lock());
        Task* t = tid ? find_task_locked(uint32_t(tid)) : current_task();
        if (!t || int32_t(tid) < 0) return Errno::Srch;
        m = t->affinity & online;
    }
    TRY(UserPtr<uint64_t>(mask).write(m ? m : online));
    return int64_t(CPU_MASK_BYTES);
}

namespace {

// Linux's check_same_owner: a process may change its own scheduling, another's when its
// effective uid is that one's real or effective uid, or with CAP_SYS_NICE. Table lock held.
bool may_reschedule_locked(const Process& target) {
    const Cred& me = current_process()->cred;
    return &target == current_process() || me.capable(cap::SYS_NICE) || me.euid == target.cred.uid ||
           me.euid == target.cred.euid;
}

constexpr int PRIO_PROCESS = 0, PRIO_PGRP = 1, PRIO_USER = 2;
constexpr int32_t NICE_MIN = -20, NICE_MAX = 19;

// Calls f(Process&) for each live process setpriority/getpriority's (which, who) names (table
// lock held); false for an unknown `which`.
template <typename F>
bool for_each_prio_target_locked(int which, uint32_t who, F&& f) {
    Process& me = *current_process();
    if (which != PRIO_PROCESS && which != PRIO_PGRP && which != PRIO_USER) return false;
    if (!who) who = which == PRIO_PROCESS ? me.pid : which == PRIO_PGRP ? me.pgid : me.cred.uid;
    for_each_process_locked([&](Process& q) {
        if (q.state != ProcessState::Running) return;
        bool hit = which == PRIO_PROCESS ? q.pid == who : which == PRIO_PGRP ? q.pgid == who : q.cred.uid == who;
        if (hit) f(q);
    });
    return true;
}

}  // namespace

Result<void> sys_sched_setaffinity(uint64_t tid, uint64_t len, uint64_t mask) {
    uint64_t m = 0;
    TRY(copy_from_user(&m, mask, len < CPU_MASK_BYTES ? len : CPU_MASK_BYTES));
    if (!(m & online_cpus())) return Errno::Inval;
    SpinlockGuard g(process_table_lock());
    Task* t = tid ? find_task_locked(uint32_t(tid)) : current_task();
    if (!t || int32_t(tid) < 0) return Errno::Srch;
    if (!may_reschedule_locked(*t->process)) return Errno::Perm;
    t->affinity = m;
    return {};
}

// getpriority's kernel ABI: 20 - nice (1..40), so that no success is negative.
SyscallResult sys_getpriority(int32_t which, uint32_t who) {
    int32_t best = NICE_MAX + 1;
    SpinlockGuard g(process_table_lock());
    if (!for_each_prio_target_locked(which, who, [&](Process& q) {
            if (q.nice < best) best = q.nice;
        }))
        return Errno::Inval;
    if (best > NICE_MAX) return Errno::Srch;
    return int64_t(20 - best);
}

// Clamped to -20..19; lowering the value needs CAP_SYS_NICE (EACCES), another owner's process
// EPERM, as on Linux. Recorded only: the scheduler has no nice levels.
Result<void> sys_setpriority(int32_t which, uint32_t who, int32_t nice) {
    if (nice < NICE_MIN) nice = NICE_MIN;
    if (nice > NICE_MAX) nice = NICE_MAX;
    bool found = false;
    Errno error = Errno::None;
    SpinlockGuard g(process_table_lock());
    if (!for_each_prio_target_locked(which, who, [&](Process& q) {
            found = true;
            if (!may_reschedule_locked(q)) {
                error = Errno::Perm;
            } else if (nice < q.nice && !current_process()->cred.capable(cap::SYS_NICE)) {
                error = Errno::Acces;
            } else {
                q.nice = nice;
            }
        }))
        return Errno::Inval;
    if (!found) return Errno::Srch;
    if (error != Errno::None) return error;
    return {};
}

// SCHED_OTHER (0), SCHED_BATCH (3), SCHED_IDLE (5): priority 0; SCHED_FIFO (1), SCHED_RR (2):
// 1..99; others EINVAL.
SyscallResult sys_sched_get_priority_max(int32_t policy) {
    if (policy == 1 || policy == 2) return 99;
    if (policy == 0 || policy == 3 || policy == 5) return 0;
    return Errno::Inval;
}

SyscallResult sys_sched_get_priority_min(int32_t policy) {
    if (policy == 1 || policy == 2) return 1;
    if (policy == 0 || policy == 3 || policy == 5) return 0;
    return Errno::Inval;
}

// Every thread runs under SCHED_OTHER with static priority 0.
SyscallResult sys_sched_getscheduler(int32_t pid) {
    if (pid < 0) return Errno::Inval;
    if (pid && !find_process(uint32_t(pid))) return Errno::Srch;
    return 0;
}

Result<void> sys_sched_getparam(int32_t pid, uint64_t param) {
    if (pid < 0 || !param) return Errno::Inval;
    if (pid && !find_process(uint32_t(pid))) return Errno::Srch;
    return UserPtr<int32_t>(param).write(0);
}

SyscallResult sys_sched_yield() {
    sched::yield();
    return 0;
}

}  // namespace lamina::posix
