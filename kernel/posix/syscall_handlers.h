// Every system-call handler, by the file that defines it, for the table in syscalls.cpp.
//
// A handler takes the arguments it uses, in Linux's register order (rdi, rsi, rdx, r10, r8,
// r9), each typed as Linux declares it where that matters: the table's adapter converts each
// register to the parameter's type as a C cast does (an `int dirfd` is the low 32 bits, as in
// Linux's SYSCALL_DEFINE). It returns a Result: Result<void> for calls that return 0, or a
// value (SyscallResult, Result<int>). The dispatcher turns an error into -errno in one place
// (syscalls.cpp); no handler does. A handler that needs the whole user frame (fork, execve,
// rt_sigreturn) finds it in current_task()->syscall_frame. docs/posix.md has the picture.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

namespace lamina::posix {

using SyscallResult = Result<int64_t>;

// sys_file.cpp: descriptors.
SyscallResult sys_read(uint64_t fd, uint64_t buf, uint64_t count);
SyscallResult sys_write(uint64_t fd, uint64_t buf, uint64_t count);
SyscallResult sys_pread64(uint64_t fd, uint64_t buf, uint64_t count, uint64_t offset);
SyscallResult sys_pwrite64(uint64_t fd, uint64_t buf, uint64_t count, uint64_t offset);
SyscallResult sys_readv(uint64_t fd, uint64_t iov, uint64_t iovcnt);
SyscallResult sys_writev(uint64_t fd, uint64_t iov, uint64_t iovcnt);
SyscallResult sys_preadv(uint64_t fd, uint64_t iov, uint64_t iovcnt, uint64_t offset);
SyscallResult sys_pwritev(uint64_t fd, uint64_t iov, uint64_t iovcnt, uint64_t offset);
SyscallResult sys_lseek(uint64_t fd, uint64_t offset, uint64_t whence);
SyscallResult sys_close(uint64_t fd);
SyscallResult sys_dup(uint64_t fd);
SyscallResult sys_dup2(uint64_t oldfd, uint64_t newfd);
SyscallResult sys_dup3(uint64_t oldfd, uint64_t newfd, uint64_t flags);
SyscallResult sys_fcntl(uint64_t fd, uint64_t cmd, uint64_t arg);
Result<void> sys_flock(int32_t fd, int32_t operation);
Result<void> sys_fallocate(int32_t fd, int32_t mode, int64_t offset, int64_t len);
SyscallResult sys_ioctl(uint64_t fd, uint64_t request, uint64_t arg);
SyscallResult sys_fstat(uint64_t fd, uint64_t buf);
SyscallResult sys_getdents64(uint64_t fd, uint64_t buf, uint64_t count);
SyscallResult sys_ftruncate(uint64_t fd, uint64_t length);
SyscallResult sys_fsync(uint64_t fd);
SyscallResult sys_fdatasync(uint64_t fd);
SyscallResult sys_sendfile(uint64_t out_fd, uint64_t in_fd, uint64_t offset_ptr, uint64_t count);

// sys_fs.cpp: names, directories, attributes, mounts.
Result<int> sys_open(uint64_t path, uint64_t flags, uint64_t mode);
Result<int> sys_openat(int dirfd, uint64_t path, uint64_t flags, uint64_t mode);
Result<int> sys_creat(uint64_t path, uint64_t mode);
Result<void> sys_stat(uint64_t path, uint64_t buf);
Result<void> sys_lstat(uint64_t path, uint64_t buf);
Result<void> sys_newfstatat(int dirfd, uint64_t path, uint64_t buf, uint64_t flags);
SyscallResult sys_statx(int dirfd, uint64_t path, uint64_t flags, uint64_t mask, uint64_t buf);
Result<void> sys_mkdirat(int dirfd, uint64_t path, uint64_t mode);
Result<void> sys_mkdir(uint64_t path, uint64_t mode);
Result<void> sys_rmdir(uint64_t path);
Result<void> sys_unlinkat(int dirfd, uint64_t path, uint64_t flags);
Result<void> sys_unlink(uint64_t path);
Result<void> sys_renameat2(int olddirfd, uint64_t oldpath, int newdirfd, uint64_t newpath, uint64_t flags);
Result<void> sys_renameat(int olddirfd, uint64_t oldpath, int newdirfd, uint64_t newpath);
Result<void> sys_rename(uint64_t oldpath, uint64_t newpath);
Result<void> sys_linkat(int olddirfd, uint64_t oldpath, int newdirfd, uint64_t newpath, uint64_t flags);
Result<void> sys_link(uint64_t oldpath, uint64_t newpath);
Result<void> sys_symlinkat(uint64_t target, int newdirfd, uint64_t linkpath);
Result<void> sys_symlink(uint64_t target, uint64_t linkpath);
SyscallResult sys_readlinkat(int dirfd, uint64_t path, uint64_t buf, uint64_t bufsiz);
SyscallResult sys_readlink(uint64_t path, uint64_t buf, uint64_t bufsiz);
Result<void> sys_fchmodat(int dirfd, uint64_t path, uint64_t mode);
Result<void> sys_chmod(uint64_t path, uint64_t mode);
Result<void> sys_fchmod(int fd, uint64_t mode);
Result<void> sys_fchownat(int dirfd, uint64_t path, uint64_t uid, uint64_t gid, uint64_t flags);
Result<void> sys_chown(uint64_t path, uint64_t uid, uint64_t gid);
Result<void> sys_lchown(uint64_t path, uint64_t uid, uint64_t gid);
Result<void> sys_fchown(int fd, uint64_t uid, uint64_t gid);
Result<void> sys_utimensat(int dirfd, uint64_t path, uint64_t times, uint64_t flags);
Result<void> sys_faccessat2(int dirfd, uint64_t path, uint64_t mode, uint64_t flags);
Result<void> sys_faccessat(int dirfd, uint64_t path, uint64_t mode);
Result<void> sys_access(uint64_t path, uint64_t mode);
Result<void> sys_truncate(uint64_t path, uint64_t length);
SyscallResult sys_umask(uint64_t mask);
SyscallResult sys_chdir(uint64_t path);
SyscallResult sys_fchdir(int fd);
SyscallResult sys_getcwd(uint64_t buf, uint64_t size);
Result<void> sys_mount(uint64_t source, uint64_t target, uint64_t fstype, uint64_t flags);
Result<void> sys_umount2(uint64_t target, uint64_t flags);
SyscallResult sys_statfs(uint64_t path, uint64_t buf);
SyscallResult sys_fstatfs(int fd, uint64_t buf);
SyscallResult sys_sync();

// sys_memory.cpp: memory.
SyscallResult sys_brk(uint64_t addr);
SyscallResult sys_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd, uint64_t off);
Result<void> sys_munmap(uint64_t addr, uint64_t len);
SyscallResult sys_mremap(uint64_t old_addr, uint64_t old_len, uint64_t new_len, uint64_t flags, uint64_t new_addr);
Result<void> sys_mprotect(uint64_t addr, uint64_t len, uint64_t prot);
Result<void> sys_madvise(uint64_t addr, uint64_t len, uint64_t advice);

// sys_process.cpp: processes, identity, limits, futex.
SyscallResult sys_fork();
SyscallResult sys_vfork();
SyscallResult sys_clone(uint64_t flags, uint64_t stack, uint64_t parent_tid, uint64_t child_tid, uint64_t tls);
Result<void> sys_execve(uint64_t path, uint64_t argv, uint64_t envp);
SyscallResult sys_exit(uint64_t status);
SyscallResult sys_exit_group(uint64_t status);
SyscallResult sys_gettid();
SyscallResult sys_wait4(uint64_t pid, uint64_t status, uint64_t options, uint64_t rusage);
SyscallResult sys_waitid(uint64_t idtype, uint64_t id, uint64_t infop, uint64_t options, uint64_t rusage);
SyscallResult sys_getpid();
SyscallResult sys_getppid();
SyscallResult sys_setpgid(uint64_t pid_arg, uint64_t pgid_arg);
SyscallResult sys_getpgid(uint64_t pid);
SyscallResult sys_getpgrp();
SyscallResult sys_getsid(uint64_t pid);
SyscallResult sys_setsid();
SyscallResult sys_getrlimit(uint64_t resource, uint64_t old_limit);
SyscallResult sys_setrlimit(uint64_t resource, uint64_t new_limit);
SyscallResult sys_prlimit64(uint64_t pid, uint64_t resource, uint64_t new_limit, uint64_t old_limit);
SyscallResult sys_set_tid_address(uint64_t tidptr);
Result<void> sys_set_robust_list(uint64_t head, uint64_t len);
Result<void> sys_get_robust_list(uint64_t tid, uint64_t head_ptr, uint64_t len_ptr);
SyscallResult sys_arch_prctl(uint64_t code, uint64_t addr);
SyscallResult sys_sched_getaffinity(uint64_t pid, uint64_t len, uint64_t mask);
SyscallResult sys_sched_yield();
SyscallResult sys_sched_getaffinity(uint64_t tid, uint64_t len, uint64_t mask);
Result<void> sys_sched_setaffinity(uint64_t tid, uint64_t len, uint64_t mask);
Result<void> sys_getcpu(uint64_t cpu, uint64_t node);

// sys_futex.cpp: futexes.
SyscallResult sys_futex(uint64_t addr, uint64_t op, uint64_t val, uint64_t timeout, uint64_t addr2, uint64_t val3);

// sys_cred.cpp: user and group ids, capabilities.
SyscallResult sys_getuid();
SyscallResult sys_geteuid();
SyscallResult sys_getgid();
SyscallResult sys_getegid();
SyscallResult sys_getresuid(uint64_t r, uint64_t e, uint64_t s);
SyscallResult sys_getresgid(uint64_t r, uint64_t e, uint64_t s);
Result<void> sys_setuid(uint64_t id);
Result<void> sys_setgid(uint64_t id);
Result<void> sys_setreuid(uint64_t r, uint64_t e);
Result<void> sys_setregid(uint64_t r, uint64_t e);
Result<void> sys_setresuid(uint64_t r, uint64_t e, uint64_t s);
Result<void> sys_setresgid(uint64_t r, uint64_t e, uint64_t s);
SyscallResult sys_setfsuid(uint64_t id);
SyscallResult sys_setfsgid(uint64_t id);
SyscallResult sys_getgroups(uint64_t size, uint64_t list);
Result<void> sys_setgroups(uint64_t size, uint64_t list);
Result<void> sys_capget(uint64_t header, uint64_t data);
Result<void> sys_capset(uint64_t header, uint64_t data);
SyscallResult sys_prctl(uint64_t option, uint64_t arg2, uint64_t arg3, uint64_t arg4, uint64_t arg5);

// sys_signal.cpp: signals.
SyscallResult sys_rt_sigaction(uint64_t s, uint64_t act, uint64_t oldact, uint64_t sigsetsize);
SyscallResult sys_rt_sigprocmask(uint64_t how, uint64_t set, uint64_t oldset, uint64_t sigsetsize);
SyscallResult sys_rt_sigreturn();
SyscallResult sys_rt_sigpending(uint64_t set, uint64_t sigsetsize);
SyscallResult sys_rt_sigsuspend(uint64_t set, uint64_t sigsetsize);
SyscallResult sys_rt_sigtimedwait(uint64_t set, uint64_t info, uint64_t timeout, uint64_t sigsetsize);
SyscallResult sys_pause();
SyscallResult sys_sigaltstack(uint64_t ss, uint64_t old_ss);
Result<void> sys_kill(uint64_t pid_arg, uint64_t s);
Result<void> sys_tkill(uint64_t tid, uint64_t s);
Result<void> sys_tgkill(uint64_t tgid, uint64_t tid, uint64_t s);

// sys_time.cpp: clocks and sleeps.
Result<void> sys_clock_gettime(int32_t clk, uint64_t tp);
Result<void> sys_clock_getres(int32_t clk, uint64_t tp);
Result<void> sys_gettimeofday(uint64_t tv, uint64_t tz);
SyscallResult sys_time(uint64_t t);
Result<void> sys_nanosleep(uint64_t req, uint64_t rem);
Result<void> sys_clock_nanosleep(int32_t clk, uint64_t flags, uint64_t req, uint64_t rem);
SyscallResult sys_times(uint64_t buf);

// sys_process.cpp: priorities (recorded, not applied) and the scheduling policy.
SyscallResult sys_getpriority(int32_t which, uint32_t who);
Result<void> sys_setpriority(int32_t which, uint32_t who, int32_t nice);
SyscallResult sys_sched_get_priority_max(int32_t policy);
SyscallResult sys_sched_get_priority_min(int32_t policy);
SyscallResult sys_sched_getscheduler(int32_t pid);
Result<void> sys_sched_getparam(int32_t pid, uint64_t param);
Result<void> sys_getrusage(int32_t who, uint64_t usage);

// timer/posix_timer.cpp: POSIX timers.
Result<void> sys_timer_create(int32_t clk, uint64_t sevp, uint64_t timerid);
Result<void> sys_timer_settime(int32_t timerid, int32_t flags, uint64_t new_value, uint64_t old_value);
Result<void> sys_timer_gettime(int32_t timerid, uint64_t value);
Result<int> sys_timer_getoverrun(int32_t timerid);
Result<void> sys_timer_delete(int32_t timerid);

// timer/timerfd.cpp: timers as descriptors.
Result<int> sys_timerfd_create(int32_t clk, int32_t flags);
Result<void> sys_timerfd_settime(int32_t fd, int32_t flags, uint64_t new_value, uint64_t old_value);
Result<void> sys_timerfd_gettime(int32_t fd, uint64_t value);

// sys_itimer.cpp: interval timers.
SyscallResult sys_alarm(unsigned seconds);
Result<void> sys_setitimer(int which, uint64_t new_value, uint64_t old_value);
Result<void> sys_getitimer(int which, uint64_t value);

// sys_system.cpp: system-wide.
SyscallResult sys_uname(uint64_t buf);
Result<void> sys_sethostname(uint64_t name, uint64_t len);
Result<void> sys_setdomainname(uint64_t name, uint64_t len);
SyscallResult sys_sysinfo(uint64_t info);
SyscallResult sys_syslog(uint64_t type, uint64_t buf, uint64_t len);
SyscallResult sys_reboot(uint64_t magic1, uint64_t magic2, uint64_t cmd);
SyscallResult sys_getrandom(uint64_t buf, uint64_t len, uint64_t flags);

// pipe/pipe_syscalls.cpp: pipes.
Result<void> sys_pipe2(uint64_t ufds, uint64_t flags);
Result<void> sys_pipe(uint64_t ufds);

// poll/poll_syscalls.cpp: poll and select.
Result<int> sys_poll(uint64_t fds, uint64_t nfds, int32_t timeout_ms);
Result<int> sys_ppoll(uint64_t fds, uint64_t nfds, uint64_t tsp, uint64_t sigmask, uint64_t sigsetsize);
Result<int> sys_select(uint64_t nfds, uint64_t in, uint64_t out, uint64_t ex, uint64_t tvp);
Result<int> sys_pselect6(uint64_t nfds, uint64_t in, uint64_t out, uint64_t ex, uint64_t tsp, uint64_t sig);

// net/sys_socket.cpp: sockets.
Result<int> sys_socket(uint64_t domain, uint64_t type, uint64_t protocol);
Result<void> sys_socketpair(uint64_t domain, uint64_t type, uint64_t protocol, uint64_t sv);
Result<void> sys_bind(uint64_t fd, uint64_t addr, uint64_t len);
Result<void> sys_listen(uint64_t fd, uint64_t backlog);
Result<void> sys_connect(uint64_t fd, uint64_t addr, uint64_t len);
Result<int> sys_accept(uint64_t fd, uint64_t addr, uint64_t len);
Result<int> sys_accept4(uint64_t fd, uint64_t addr, uint64_t len, uint64_t flags);
SyscallResult sys_sendto(uint64_t fd, uint64_t buf, uint64_t len, uint64_t flags, uint64_t addr, uint64_t alen);
SyscallResult sys_recvfrom(uint64_t fd, uint64_t buf, uint64_t len, uint64_t flags, uint64_t addr, uint64_t alen);
SyscallResult sys_sendmsg(uint64_t fd, uint64_t msg, uint64_t flags);
SyscallResult sys_recvmsg(uint64_t fd, uint64_t msg, uint64_t flags);
Result<void> sys_shutdown(uint64_t fd, uint64_t how);
Result<void> sys_getsockname(uint64_t fd, uint64_t addr, uint64_t len);
Result<void> sys_getpeername(uint64_t fd, uint64_t addr, uint64_t len);
Result<void> sys_setsockopt(uint64_t fd, uint64_t level, uint64_t name, uint64_t val, uint64_t len);
Result<void> sys_getsockopt(uint64_t fd, uint64_t level, uint64_t name, uint64_t val, uint64_t len);

// event/sys_event.cpp: eventfd and epoll.
Result<int> sys_eventfd(uint64_t initval);
Result<int> sys_eventfd2(uint64_t initval, uint64_t flags);
Result<int> sys_epoll_create(int32_t size);
Result<int> sys_epoll_create1(uint64_t flags);
Result<void> sys_epoll_ctl(int32_t epfd, int32_t op, int32_t fd, uint64_t event);
Result<int> sys_epoll_wait(int32_t epfd, uint64_t events, int32_t maxevents, int32_t timeout);
Result<int> sys_epoll_pwait(int32_t epfd, uint64_t events, int32_t maxevents, int32_t timeout, uint64_t sigmask,
                            uint64_t sigsetsize);

}  // namespace lamina::posix
