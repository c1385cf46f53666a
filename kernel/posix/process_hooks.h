// What the tty, pipes and poll need from the process layer (sessions, process groups, signals,
// interruptible sleeps, the caller's descriptors), in one place so that the signal and file
// implementations are connected here without touching them.
//
// PROVISIONAL (until signal delivery exists): every process is its own session and process
// group; a signal whose action is the default "terminate" ends the target when it next leaves a
// system call (the dispatcher checks Process::kill_signal), a signal with a handler or an ignored
// one is dropped; signal_pending() is true once such a fatal signal is on its way, and
// interruptible sleeps re-check it every 50 ms (nothing wakes them for it yet).
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"
#include "kernel/sched/wait_queue.h"
#include "kernel/time/time.h"

namespace lamina::posix {

// Installs the kernel's functions behind fd/waiting.h (at POSIX init).
void init_process_hooks();

// The calling process's identity as the tty sees it.
struct TtyCaller {
    int pid, pgrp, sid;
    bool session_leader() const { return pid == sid; }
};
TtyCaller tty_caller();
// Whether any live process is still in session sid (a terminal whose session ended can be
// taken by a new session leader, as Linux frees it when the old leader exits).
bool session_alive(int sid);
// The session of process group pgrp; Srch when no process is in it.
Result<int> pgrp_session(int pgrp);

// Ctrl-C, Ctrl-\, window changes, hang-ups: a signal to every process in the group. Thread
// context (the console's signal thread, or an ioctl), with no tty or pipe lock held.
void tty_signal_pgrp(int pgrp, int sig);
// SIGPIPE to the calling process (the write still fails with EPIPE).
void signal_current(int sig);
// The calling process ignores sig or blocks it (job control then fails with EIO instead).
bool signal_ignored_or_blocked(int sig);
// A signal is waiting for the calling process: blocking waits give up with Errno::Intr.
bool signal_pending();

// The calling process's descriptors.
Result<RefPtr<OpenFile>> fd_lookup(int fd);
Result<int> fd_install(RefPtr<OpenFile> file, bool cloexec);
Result<void> fd_close(int fd);
// RLIMIT_NOFILE: poll's nfds may not exceed it.
uint64_t fd_limit();

// Sleeps on q until cond() holds (ok), a signal is pending (Intr) or timeout_ns pass (TimedOut;
// 0 means no timeout). cond() runs under q's lock: cheap, no other locks.
template <typename Cond>
Result<void> wait_interruptible(sched::WaitQueue& q, Cond&& cond, uint64_t timeout_ns = 0) {
    constexpr uint64_t kSignalCheck = 50'000'000;  // provisional: see above
    auto ready = [&] { return cond() || signal_pending(); };
    uint64_t deadline = timeout_ns ? time::now_ns() + timeout_ns : 0;
    for (;;) {
        uint64_t slice = kSignalCheck;
        if (deadline) {
            uint64_t now = time::now_ns();
            if (now >= deadline) return Errno::TimedOut;
            if (deadline - now < slice) slice = deadline - now;
        }
        if (q.wait_for(ready, slice).is_ok()) break;
    }
    if (cond()) return {};
    return Errno::Intr;
}

}  // namespace lamina::posix
