// The kernel's file name space and each process's view of it: the mount table (a tmpfs root
// with /bin holding the boot-module programs, /tmp, devfs on /dev, procfs on /proc), and per
// process the descriptor table, root, cwd and umask (fields of Process).
//
// Process lifecycle hooks (called by the process code):
//   files_spawn  a process the kernel starts (init): console on 0, 1, 2; "/" as root and cwd
//   files_fork   the child shares the parent's descriptions (offsets and status flags)
//   files_exec   close-on-exec descriptors are closed
//   files_exit   every descriptor is closed at exit, so pipe ends see EOF/EPIPE at once
//
// Locking: namespace_lock() (a mutex) is held around every path resolution and every change
// to the mount table; file system locks come after it. Descriptor tables belong to their
// process's single thread (no lock until threads share them).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/vfs/mount.h"
#include "kernel/posix/vfs/path.h"
#include "kernel/sched/mutex.h"

namespace lamina::posix {

struct Process;

void init_files();
MountTable& mount_table();
sched::Mutex& namespace_lock();

Result<void> files_spawn(Process& p);
Result<void> files_fork(const Process& parent, Process& child);
void files_exec(Process& p);
void files_exit(Process& p);

// The root new processes get: the root mount with whatever was mounted over "/" on top.
Location namespace_root();

// At integration, the ext2 root: mounts `root` over "/", then devfs on /dev, procfs on /proc
// and a tmpfs on /tmp of the new root (each only where that directory exists in it). Processes
// started afterwards see the new root; the boot tmpfs stays underneath (with /bin).
Result<void> mount_over_root(RefPtr<Inode> root, const char* type, const char* source);

// mount(2)/umount2(2) below the namespace lock: tmpfs, devtmpfs (devfs), proc.
Result<void> mount_fs(const Location& at, const char* path, const char* type, const char* source);
void forget_mount(const Mount* m);
// Whether a process has its cwd, root or an open file inside the mount (umount's EBUSY).
bool mount_in_use(const Mount* m);

// The caller's credentials (root for now).
const Credentials& current_credentials();

// A whole file read through the VFS into kernel memory (kmalloc'd; release with free()).
struct LoadedFile {
    uint8_t* data = nullptr;
    size_t size = 0;
    void free();
};
// The VFS-backed executable lookup execve and spawn read programs through: `path` resolved
// from the calling process's cwd and root (the kernel's root when there is no process);
// EACCES unless it is a regular file with an execute bit; NoEnt, NotDir, Loop, NoMem...
Result<LoadedFile> load_executable_file(const char* path);
// The same lookup for any regular file the caller may access with access_mask (access::Read...):
// a domain package for a live update.
Result<LoadedFile> load_regular_file(const char* path, int access_mask);

// Wall-clock time, for timestamps (the RTC at boot plus the monotonic clock).
Timespec realtime_now();

}  // namespace lamina::posix
