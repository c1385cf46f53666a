// What the tty, pipes and poll need from the process layer (sessions, process groups, signals,
// interruptible sleeps, the caller's descriptors), in one place so that the signal and file
// implementations are connected here without touching them.
//
// Sessions, groups and signals are the process layer's (process.h, signal.h): a signal to a
// group reaches every member with its full semantics (handlers, default actions, stops), and
// wakes an interruptible sleeper at once.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/signal.h"
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

// The calling process's descriptors.
Result<RefPtr<OpenFile>> fd_lookup(int fd);
Result<int> fd_install(RefPtr<OpenFile> file, bool cloexec);
Result<void> fd_close(int fd);
// RLIMIT_NOFILE: poll's nfds may not exceed it.
uint64_t fd_limit();

// wait_interruptible(q, cond, timeout_ns = 0) and signal_pending(): see signal.h.

}  // namespace lamina::posix
