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

// The caller's credentials for file checks: its file-system ids, groups and effective
// capabilities (root's for the kernel itself).
const Credentials& current_credentials();
// Those access(2) checks with: the real ids, with root's permitted capabilities only when the
// real uid is 0 (Linux's rule for access and faccessat without AT_EACCESS).
Credentials real_credentials();

// An executable opened through the VFS: its first bytes are read at once (the ELF and program
// headers, or a #! line), the rest on demand, so that exec never holds the whole file in kernel
// memory (a 16 MiB program needs no 16 MiB buffer). Release with free().
struct LoadedFile {
    static constexpr size_t HEAD_SIZE = 4096;
    uint8_t* data = nullptr;              // the first head_size bytes (kmalloc'd)
    size_t head_size = 0;                 // min(size, HEAD_SIZE)
    size_t size = 0;                      // the file's
    uint32_t mode = 0, uid = 0, gid = 0;  // the file's, when it was opened
    RefPtr<Inode> inode;
    Stat stat{};  // as the file was when opened (the program page cache's key)
    // Exactly n bytes at offset (Inval past the end; IO when the file shrank meanwhile).
    Result<void> read(uint64_t offset, void* dst, size_t n) const;
    void free();
};
// The VFS-backed executable lookup execve and spawn read programs through: `path` resolved
// from the calling process's cwd and root (the kernel's root when there is no process);
// EACCES unless it is a regular file with an execute bit; NoEnt, NotDir, Loop, NoMem...
Result<LoadedFile> load_executable_file(const char* path);
// The same lookup for any regular file the caller may access with access_mask (access::Read...):
// a domain package for a live update (read() the rest past the head).
Result<LoadedFile> load_regular_file(const char* path, int access_mask);
// A whole regular file in kernel memory, looked up as load_regular_file does: for files the
// kernel itself consumes at once (a domain package). `data` is kmalloc'd; the caller kfree()s it.
struct WholeFile {
    uint8_t* data = nullptr;
    size_t size = 0;
};
Result<WholeFile> read_whole_file(const char* path, int access_mask);

// Wall-clock time, for timestamps (the RTC at boot plus the monotonic clock).
Timespec realtime_now();

}  // namespace lamina::posix
