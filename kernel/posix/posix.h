// The POSIX layer's entry points for the rest of the kernel (see docs/posix.md): user programs
// in ring 3 with a subset of the Linux x86-64 system calls (kernel/posix/SYSCALLS.md).
#pragma once

namespace lamina::boot {
struct BootInfo;
class CommandLine;
}  // namespace lamina::boot

namespace lamina::posix {

// After the scheduler is up: the program source (boot modules), the fault hook for user faults
// and user copies.
void init(const boot::BootInfo& info);

// `init=NAME args...` (the last init= word): runs the boot-module program NAME with the words
// after it as arguments, waits for it and logs "init exited with status N" (or "init killed by
// signal N"). In test mode, QEMU then exits with Success when the status is 0 and Failure
// otherwise (also when NAME cannot be started). Returns when there is no init=, or when NAME
// is a path (a file of the root file system, which the VFS will serve; not started yet).
void run_init(const boot::CommandLine& cmdline);
// The command line run_init was given (it lives as long as the kernel), "" before: /proc/cmdline.
const char* kernel_command_line();

// Whether the last init= names a path (init=/sbin/init: a file of the root file system) rather
// than a boot-module program (init=NAME, run from the kernel's tmpfs root).
bool init_is_path(const boot::CommandLine& cmdline);

}  // namespace lamina::posix
