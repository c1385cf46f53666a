// Advisory file locks: POSIX record locks (fcntl F_GETLK/F_SETLK/F_SETLKW, owned by the
// process), open file description locks (F_OFD_GETLK/F_OFD_SETLK/F_OFD_SETLKW, owned by the
// description) and flock(2) locks (whole file, owned by the description).
//
// Contract (Linux's fcntl(2), flock(2))
//   - A file is its (dev, ino) (an object outside the name space, a pipe or socket, is itself).
//     Record locks (POSIX and OFD alike) and flock locks live side by side and never conflict
//     with each other, as on Linux. Two locks conflict when their owners differ, their ranges
//     overlap, and one of them is a write lock; an owner's own locks never conflict.
//   - A record lock replaces the owner's locks in its range (splitting them) and merges with
//     the owner's overlapping or adjacent locks of the same type; F_UNLCK removes the range.
//     F_RDLCK needs a description open for reading, F_WRLCK one open for writing (EBADF).
//     Ranges: l_whence SEEK_SET/CUR/END, negative l_len counts backwards, l_len 0 to the end
//     of any file; a start before 0 is EINVAL, one past the largest offset EOVERFLOW.
//   - F_GETLK reports one conflicting lock (l_pid -1 for an OFD lock) or sets l_type F_UNLCK.
//     The OFD calls want l_pid 0 (EINVAL otherwise).
//   - F_SETLK and flock with LOCK_NB fail with EAGAIN on a conflict; F_SETLKW and flock wait
//     (EINTR on a signal, restarted under SA_RESTART). A POSIX F_SETLKW that would wait for a
//     process that (through at most 10 others) waits for the caller fails with EDEADLK.
//   - flock converts an owned lock by dropping it first (as Linux does, not atomically);
//     LOCK_UN removes it; other operations EINVAL.
//   - Release: a process's POSIX locks on a file go when it closes any descriptor of that file
//     (POSIX's rule), and all of them when it ends; OFD and flock locks go with the
//     description's last close. Locks are not inherited by fork (POSIX) and stay with shared
//     descriptions (OFD, flock), as on Linux.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"

namespace lamina::posix {

// fcntl's lock commands on f (arg: the caller's struct flock).
Result<void> fcntl_lock(OpenFile& f, int cmd, uint64_t arg);
bool is_lock_command(int cmd);
// flock(2).
Result<void> flock_file(OpenFile& f, int operation);
// The process with this pid ended: its POSIX locks go.
void release_process_locks(uint32_t pid);
// Installs the close hooks (POSIX init).
void init_file_locks();

}  // namespace lamina::posix
