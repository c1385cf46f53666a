// Processes: a user address space shared by one or more threads (Task) that run the program in
// ring 3, a place in the process tree (parent, process group, session), signal state, and an
// exit status for whoever waits.
//
// Lifetime
//   - spawn() (the kernel starting a program: init, ktests) loads the program and starts its
//     first thread; the kernel collects it with wait(). fork() (kernel/posix/sys_process.cpp)
//     makes a child of the calling process, which its parent collects with wait4/waitid.
//     clone_thread() adds a thread; ids of threads and processes come from one counter, and a
//     process's first thread has the pid as its tid.
//   - A thread ends on exit (alone) or when its process ends; the process ends on exit_group, a
//     fatal signal or a fatal fault: the other threads get SIGKILL, and the last thread to
//     leave frees the address space (on the kernel's cr3), reparents the children to init (or,
//     when there is no live init, to the kernel, which frees them as soon as they are zombies),
//     and makes the process a zombie that its parent reaps. A child whose parent ignores
//     SIGCHLD or set SA_NOCLDWAIT is freed at once, as on Linux. execve from a thread ends the
//     others first.
//
// Locking
//   process_table_lock() (a spinlock, interrupts off) guards the table, every tree field
//   (parent_pid, pgid, sid, state), the thread list, the signal fields of processes and threads
//   (pending, info, signal_mask, actions, stop state) and interruptible_queue. A thread reads its
//   own fields without it when only it writes them (user, restartable, syscall_frame), and its
//   process's when only its threads write them (name, as, rlimits, ids). Lock order: the table
//   lock, then wait-queue locks; it is never held across a user copy. Wait conditions never take
//   it (they read counters with atomics), so a waker may call into signals while holding a
//   queue's lock only if that queue is not the one being woken.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/posix/address_space.h"
#include "kernel/posix/cred.h"
#include "kernel/posix/signal_abi.h"
#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/files.h"
#include "kernel/posix/vfs/mount.h"
#include "kernel/sched/mutex.h"
#include "kernel/sched/thread.h"
#include "kernel/sync/spinlock.h"
#include "kernel/time/time.h"

namespace lamina::posix {

enum class ProcessState : uint8_t { Running, Zombie };

struct Rlimit {
    uint64_t cur, max;
};
// Linux's resource ids (getrlimit(2)), indexes into Process::rlimits.
inline constexpr int RLIMIT_CPU = 0, RLIMIT_FSIZE = 1, RLIMIT_DATA = 2, RLIMIT_STACK = 3, RLIMIT_CORE = 4,
                     RLIMIT_RSS = 5, RLIMIT_NPROC = 6, RLIMIT_NOFILE = 7, RLIMIT_MEMLOCK = 8, RLIMIT_AS = 9,
                     RLIMIT_LOCKS = 10, RLIMIT_SIGPENDING = 11, RLIMIT_MSGQUEUE = 12, RLIMIT_NICE = 13,
                     RLIMIT_RTPRIO = 14, RLIMIT_RTTIME = 15, RLIMIT_COUNT = 16;
inline constexpr uint64_t RLIM_INFINITY = ~uint64_t(0);

struct Process;

// One thread of a process (Linux's task): what each thread has of its own. The process's
// threads are linked through `next` (table lock); a thread's Task lives until that thread has
// left ring 3 for good (exit_task). The first thread's tid is the pid.
struct Task {
    uint32_t tid;
    Process* process;
    sched::Thread::UserState user{};
    alignas(16) uint8_t fpu[512];  // Thread::UserState::fpu
    uint64_t clear_child_tid;      // set_tid_address / CLONE_CHILD_CLEARTID: zeroed and woken at exit
    uint64_t robust_list;          // set_robust_list: musl's list head, walked at exit
    int kill_signal;               // set by the fault path before the thread is sent to end the process
    uint64_t affinity;             // sched_setaffinity's CPU mask (0: every CPU); recorded, not enforced
    sched::Thread* thread;         // the kernel thread running it, once it started (atomic)
    Task* next;                    // table lock

    // --- signals (table lock) ---
    uint64_t signal_mask;
    uint64_t pending;      // directed at this thread (tgkill, its own faults, a group exit's SIGKILL)
    SigInfo info[64];      // for each pending standard signal of `pending`
    uint64_t sigwait_set;  // rt_sigtimedwait's set while it waits: counts as blocked
    AltStack altstack;
    uint64_t saved_mask;  // sigsuspend's mask to put back after the handler
    bool saved_mask_valid;
    sched::WaitQueue* interruptible_queue;  // the queue the thread sleeps on, interruptibly
    bool restartable;                       // the current system call's EINTR came from an interruptible wait
    arch::InterruptFrame* syscall_frame;    // the frame of the system call being served
    arch::InterruptFrame trap_frame;        // user state parked while signals are delivered
};

// The argument vector of a running program as /proc/PID/cmdline shows it: each string with its
// NUL, one after the other. Immutable once made, shared by a fork child until it execs.
struct ArgText final : RefCounted {
    char* data = nullptr;
    size_t size = 0;
    ~ArgText();
    static Result<RefPtr<ArgText>> create(const char* const* argv, size_t argc);
};

struct Process {
    uint32_t pid;         // the thread group id
    uint32_t parent_pid;  // 0: the kernel
    char name[32];
    AddressSpace* as;
    // Exit: wait status in the Linux encoding (status << 8, or the signal number).
    volatile bool exited;
    int wait_status;
    uint64_t entry, initial_rsp;  // where spawn() starts the first thread

    // --- threads (table lock) ---
    Task* tasks;                  // the live threads; the process ends when the last one leaves
    uint32_t task_count;          // atomic reads: more than one means the address space is shared
    bool group_exiting;           // exit_group, a fatal signal or an execve: the other threads end
    int group_exit_status;        // the wait status once group_exiting (execve: unused)
    Task* exec_task;              // the thread in execve waiting for the others to end
    sched::WaitQueue task_exits;  // a thread left (execve waits here)

    // --- process tree (table lock) ---
    ProcessState state;
    uint32_t pgid, sid;
    bool kernel_waited;      // started by spawn(): the kernel's wait() frees it
    bool did_exec;           // setpgid on it is EACCES
    int exit_signal;         // sent to the parent at exit (fork: SIGCHLD)
    uint32_t child_events;   // bumped on each child exit/stop/continue (wait4 sleeps on it)
    uint32_t vfork_child;    // this process waits in fork/vfork until that child releases it
    uint32_t vfork_parent;   // the parent waiting for this child (fork_current says until when)
    bool releases_on_sleep;  // a fork child: its first sleep or stop releases the parent too
    bool stopped;
    int stop_report;       // a stop not yet reported to wait4(WUNTRACED), its signal
    bool continue_report;  // a continue not yet reported to wait4(WCONTINUED)

    // --- signals directed at the process (table lock) ---
    uint64_t pending;
    SigInfo info[64];  // for each pending standard signal
    SigAction actions[64];

    // --- interval timer (sys_itimer.cpp; set by the own thread, read by the callback) ---
    time::Timer real_timer;
    uint64_t real_interval_ns;

    // --- POSIX timers (kernel/posix/timer/posix_timer.cpp): the table changes under
    // posix_timers_mutex and the table lock both, so either keeps an entry alive ---
    static constexpr size_t MAX_POSIX_TIMERS = 32;
    struct PosixTimer* posix_timers[MAX_POSIX_TIMERS];
    sched::Mutex posix_timers_mutex;

    // --- CPU time (table lock) ---
    uint64_t ended_tasks_cpu_ns;  // threads that have ended
    uint64_t children_cpu_ns;     // reaped children, with what they had reaped

    // --- identity (kernel/posix/cred.h): changed only by the own threads, through set_cred,
    // under the table lock; other processes read it under that lock ---
    Cred cred;
    Credentials fs_cred;   // cred's file-system view (current_credentials), kept in step by set_cred
    bool undumpable;       // prctl(PR_SET_DUMPABLE, 0)
    RefPtr<ArgText> args;  // the program's argv (table lock: others take a reference under it)

    // --- limits (own threads) ---
    Rlimit rlimits[RLIMIT_COUNT];
    int32_t nice;  // setpriority's -20..19; recorded, inherited by fork, not applied (table lock)

    // --- files (own threads; kernel/posix/files.h) ---
    RefPtr<FdTable> fds;
    Location root, cwd;
    uint32_t umask;
};

struct SpawnArgs {
    const char* path;         // boot-module name for now
    const char* const* argv;  // argc strings; argv[0] is the program name
    size_t argc;
    const char* const* envp;
    size_t envc;
    uint32_t parent_pid;
    // The process is init (signals with a default action from others do not reach it). Set
    // before its thread can run: a child it forks at once must already see it as init.
    bool is_init = false;
};

// Loads the program and starts it. NoEnt (no such program), NoExec (not a static x86-64
// executable), Inval (malformed), NoMem, Again (process table full).
Result<Process*> spawn(const SpawnArgs& args);
// Waits for a spawn()ed process to end, frees it, and returns its wait status.
int wait(Process* p);

Process* current_process();
// The calling thread's Task; null outside a process.
Task* current_task();
// Takes the table lock itself (so never call it holding process_table_lock()); the result stays
// valid only for the caller's own process.
Process* find_process(uint32_t pid);
Spinlock& process_table_lock();
// Live pids in ascending order (at most max); returns how many were written.
size_t list_pids(uint32_t* out, size_t max);
// Processes in the table (zombies included): sysinfo, and tests waiting for a baseline.
size_t process_count();
// The process orphans go to (run_init sets it); 0: none.
void set_init_pid(uint32_t pid);
uint32_t init_pid();

// Ends the calling process (exit_group, a fatal signal or fault): every other thread of it is
// sent SIGKILL, and the last thread to leave turns the process into a zombie with wait_status.
[[noreturn]] void exit_current(int wait_status);
// Ends the calling thread alone (exit): its clear_child_tid word is zeroed and woken; when it
// is the last thread, the process ends with wait_status.
[[noreturn]] void exit_thread(int wait_status);

// A new thread of the calling process (clone with CLONE_THREAD): it resumes at `frame` with
// rax = 0 on `stack`, with FS base `tls` when set_tls, the caller's signal mask and no pending
// signals. Returns its tid. Again when the table of ids is exhausted, NoMem.
struct CloneThreadArgs {
    uint64_t stack;
    uint64_t tls;
    bool set_tls;
    uint64_t clear_child_tid;  // CLONE_CHILD_CLEARTID's word, or 0
    uint64_t set_child_tid;    // CLONE_CHILD_SETTID's word, or 0 (written before it runs)
    uint64_t set_parent_tid;   // CLONE_PARENT_SETTID's word, or 0 (written before it runs: musl's
                               // thread reads its own tid from there)
};
Result<uint32_t> clone_thread(const arch::InterruptFrame& frame, const CloneThreadArgs& args);

// The thread with that tid (table lock held); null when there is none.
Task* find_task_locked(uint32_t tid);
// Ids of the process's live threads in ascending order (at most max); how many were written
// (procfs's task directory).
size_t list_tids(uint32_t pid, uint32_t* out, size_t max);
// Stops the process's interval timer for good (sys_itimer.cpp; its exit).
void cancel_real_timer(Process& p);
// Deletes every POSIX timer of the process (its exit and execve; timer/posix_timer.cpp).
void delete_posix_timers(Process& p);
// A signal was taken from a pending set (table lock held): a POSIX timer's gets its overrun
// count filled in (timer/posix_timer.cpp).
void posix_timer_signal_taken_locked(Process& p, SigInfo& info);

// --- used by the system-call families (sys_process.cpp, sys_signal.cpp) -----------------------

// The file the program at `path` names: the one place execve and spawn read programs through.
// In a process (execve) the path goes through the VFS from the caller's cwd and root (/bin
// holds the boot-module programs); the kernel (spawn, no process) may also name a boot module
// by its plain name. A VFS file is read on demand (LoadedFile): `data` holds its first
// head_size() bytes only. release() frees the VFS head.
struct ExecutableFile {
    const uint8_t* data = nullptr;
    size_t size = 0;
    LoadedFile owned;                     // the VFS file, when there is one
    uint32_t mode = 0, uid = 0, gid = 0;  // the file's (set-id bits for execve)
    size_t head_size() const { return owned.inode ? owned.head_size : size; }
    void release() {
        owned.free();
        data = nullptr;
        size = 0;
    }
};
Result<ExecutableFile> load_executable(const char* path);

// A new child of the calling process: a copy-on-write address space, the same signal actions,
// mask and limits, and a thread that resumes at `frame` with rax = 0 (and rsp = new_stack when
// that is not 0). Returns the child's pid: after vfork once the child has exec'd or ended;
// after fork once the child has also slept or stopped, or at most FORK_HEAD_START_NS later.
// That head start is what Linux gives a child on an idle CPU: a shell's child resets the
// signals the shell ignores (SIGTERM) before the shell can send it one, which is then not lost.
Result<uint32_t> fork_current(const arch::InterruptFrame& frame, uint64_t new_stack, int exit_signal, bool vfork);

// Replaces the calling process's program (execve): on success `frame` enters the new program.
// argv/envp are kernel copies. NoEnt, NoExec, TooBig, Loop (#! nested too deep), NoMem.
Result<void> exec_current(arch::InterruptFrame& frame, const char* path, const char* const* argv, size_t argc,
                          const char* const* envp, size_t envc);

// Lets a vfork parent go (the child execs or exits). Table lock held.
void release_vfork_parent_locked(Process& child);
// The calling child sleeps or stops: a fork parent waiting for it goes on. True when the caller
// must wake_process_events() (after dropping the table lock). Table lock held.
bool release_fork_parent_locked(Process& child);

// Replaces the process's credentials (its own thread, or before the process runs), keeping
// fs_cred in step.
void set_cred(Process& p, const Cred& c);

// Wakes whoever waits on process events (wait4, vfork, stop/continue, kernel wait()).
void wake_process_events();
sched::WaitQueue& process_events();

// Called for every process in the table (zombies too) with the table lock held.
template <typename F>
void for_each_process_locked(F&& f);

namespace detail {
inline constexpr size_t MAX_PROCESSES = 128;
extern Process* g_processes[MAX_PROCESSES];
}  // namespace detail

template <typename F>
void for_each_process_locked(F&& f) {
    for (Process* p : detail::g_processes)
        if (p) f(*p);
}

}  // namespace lamina::posix
