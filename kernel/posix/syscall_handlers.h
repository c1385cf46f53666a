// The system-call families' handlers, as the table in syscalls.cpp registers them: Linux's
// argument registers in order (rdi, rsi, rdx, r10, r8, r9), the result or -errno. A handler that
// needs the whole user frame (fork, execve, rt_sigreturn) finds it in
// current_process()->syscall_frame.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

namespace lamina::posix {

#define LAMINA_SYSCALL(name) int64_t name(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t)

constexpr int64_t err(Errno e) { return -int64_t(e); }
inline int64_t err(const Error& e) { return -int64_t(e.code()); }

// sys_process.cpp: process lifecycle, tree, identity, limits, futex.
LAMINA_SYSCALL(sys_fork);
LAMINA_SYSCALL(sys_vfork);
LAMINA_SYSCALL(sys_clone);
LAMINA_SYSCALL(sys_execve);
LAMINA_SYSCALL(sys_exit);
LAMINA_SYSCALL(sys_wait4);
LAMINA_SYSCALL(sys_waitid);
LAMINA_SYSCALL(sys_getpid);
LAMINA_SYSCALL(sys_getppid);
LAMINA_SYSCALL(sys_setpgid);
LAMINA_SYSCALL(sys_getpgid);
LAMINA_SYSCALL(sys_getpgrp);
LAMINA_SYSCALL(sys_setsid);
LAMINA_SYSCALL(sys_getsid);
LAMINA_SYSCALL(sys_getuid);
LAMINA_SYSCALL(sys_geteuid);
LAMINA_SYSCALL(sys_getgid);
LAMINA_SYSCALL(sys_getegid);
LAMINA_SYSCALL(sys_setuid);
LAMINA_SYSCALL(sys_setgid);
LAMINA_SYSCALL(sys_setreuid);
LAMINA_SYSCALL(sys_setregid);
LAMINA_SYSCALL(sys_setresuid);
LAMINA_SYSCALL(sys_setresgid);
LAMINA_SYSCALL(sys_getresuid);
LAMINA_SYSCALL(sys_getresgid);
LAMINA_SYSCALL(sys_getgroups);
LAMINA_SYSCALL(sys_setgroups);
LAMINA_SYSCALL(sys_setfsuid);
LAMINA_SYSCALL(sys_setfsgid);
LAMINA_SYSCALL(sys_getrlimit);
LAMINA_SYSCALL(sys_setrlimit);
LAMINA_SYSCALL(sys_prlimit64);
LAMINA_SYSCALL(sys_futex);

// sys_signal.cpp: signals.
LAMINA_SYSCALL(sys_rt_sigaction);
LAMINA_SYSCALL(sys_rt_sigprocmask);
LAMINA_SYSCALL(sys_rt_sigreturn);
LAMINA_SYSCALL(sys_rt_sigpending);
LAMINA_SYSCALL(sys_rt_sigtimedwait);
LAMINA_SYSCALL(sys_rt_sigsuspend);
LAMINA_SYSCALL(sys_sigaltstack);
LAMINA_SYSCALL(sys_kill);
LAMINA_SYSCALL(sys_tkill);
LAMINA_SYSCALL(sys_tgkill);
LAMINA_SYSCALL(sys_pause);

#undef LAMINA_SYSCALL

}  // namespace lamina::posix
