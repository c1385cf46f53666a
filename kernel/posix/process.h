// Processes: a user address space, a main thread that runs the program in ring 3, and an exit
// status for whoever waits.
//
// Lifetime: spawn() loads the program and starts its thread; the process ends on exit/exit_group
// or a fatal fault (its address space is freed by its own thread, on the kernel's cr3, before
// the thread ends). wait() blocks until then, returns the status and frees the Process.
//
// Locking: g_processes_lock guards the process table (taken alone). A Process's fields are
// written only by its own thread, except `state`, published with the exit wait queue.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/address_space.h"
#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/vfs/mount.h"
#include "kernel/sched/thread.h"

namespace lamina::posix {

struct SigAction {
    uint64_t handler, flags, restorer, mask;
};

struct Process {
    uint32_t pid;
    uint32_t parent_pid;
    char name[32];
    AddressSpace* as;
    sched::Thread* main_thread;
    sched::Thread::UserState user{};
    // Exit: wait status in the Linux encoding (status << 8, or the signal number).
    volatile bool exited;
    int wait_status;
    uint64_t clear_child_tid;
    uint64_t entry, initial_rsp;
    int kill_signal;  // set by the fault path before the thread is sent to end the process
    uint64_t signal_mask;
    SigAction actions[64];
    sched::WaitQueue exit_waiters;
    alignas(16) uint8_t fpu[512];  // Thread::UserState::fpu

    // --- files (own thread; kernel/posix/files.h) ---
    RefPtr<FdTable> fds;
    Location root, cwd;
    uint32_t umask;
};

struct SpawnArgs {
    const char* path;          // boot-module name for now
    const char* const* argv;   // argc strings; argv[0] is the program name
    size_t argc;
    const char* const* envp;
    size_t envc;
    uint32_t parent_pid;
};

// Loads the program and starts it. NoEnt (no such program), NoExec (not a static x86-64
// executable), Inval (malformed), NoMem.
Result<Process*> spawn(const SpawnArgs& args);
// Waits for the process to end, frees it, and returns its wait status.
int wait(Process* p);

Process* current_process();
Process* find_process(uint32_t pid);
// Live pids in ascending order (at most max); returns how many were written.
size_t list_pids(uint32_t* out, size_t max);
// Processes in the table (zombies included), for sysinfo.
size_t process_count();

// Ends the calling process (from its own thread, in a system call or after a fatal fault).
[[noreturn]] void exit_current(int wait_status);


}  // namespace lamina::posix
