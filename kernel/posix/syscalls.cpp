// The system-call table (Linux x86-64 numbers; kernel/posix/SYSCALLS.md lists what is done) and
// the dispatcher syscall.S calls. Handlers (syscall_handlers.h) take typed arguments and return
// a Result; this file is the one place where an error becomes -errno in rax.
#include <stddef.h>

#include <type_traits>
#include <utility>

#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/lib/log.h"
#include "kernel/posix/process.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/syscall_handlers.h"

namespace lamina::posix {

namespace {

constexpr size_t TABLE_SIZE = 512;

// A handler as the dispatcher calls it: the six argument registers in, rax out.
using Handler = int64_t (*)(const uint64_t (&args)[6]);

template <typename T>
int64_t to_rax(Result<T>&& r) {
    if (r.is_error()) return -int64_t(r.error().code());
    if constexpr (std::is_void_v<T>) {
        return 0;
    } else {
        static_assert(std::is_integral_v<T>, "a handler's value must fit rax");
        return int64_t(r.value());
    }
}

// Adapts a typed handler: each register converted to its parameter's type (a C cast, as
// Linux's SYSCALL_DEFINE does), the Result turned into rax.
template <auto F>
struct Adapter;
template <typename R, typename... Args, R (*F)(Args...)>
struct Adapter<F> {
    static_assert(sizeof...(Args) <= 6, "x86-64 system calls take at most six arguments");
    template <size_t... I>
    static int64_t call(const uint64_t (&args)[6], std::index_sequence<I...>) {
        return to_rax(F(Args(args[I])...));
    }
    static int64_t call(const uint64_t (&args)[6]) { return call(args, std::index_sequence_for<Args...>{}); }
};
template <auto F>
constexpr Handler handler = &Adapter<F>::call;

struct Entry {
    uint16_t nr;
    const char* name;
    Handler handler;  // nullptr: known by name, not implemented (ENOSYS)
};

// One line per call in number order (checked below). Names without a handler are there for the
// ENOSYS log.
constexpr Entry ENTRIES[] = {
    {0, "read", handler<sys_read>},
    {1, "write", handler<sys_write>},
    {2, "open", handler<sys_open>},
    {3, "close", handler<sys_close>},
    {4, "stat", handler<sys_stat>},
    {5, "fstat", handler<sys_fstat>},
    {6, "lstat", handler<sys_lstat>},
    {7, "poll", handler<sys_poll>},
    {8, "lseek", handler<sys_lseek>},
    {9, "mmap", handler<sys_mmap>},
    {10, "mprotect", handler<sys_mprotect>},
    {11, "munmap", handler<sys_munmap>},
    {12, "brk", handler<sys_brk>},
    {13, "rt_sigaction", handler<sys_rt_sigaction>},
    {14, "rt_sigprocmask", handler<sys_rt_sigprocmask>},
    {15, "rt_sigreturn", handler<sys_rt_sigreturn>},
    {16, "ioctl", handler<sys_ioctl>},
    {17, "pread64", handler<sys_pread64>},
    {18, "pwrite64", handler<sys_pwrite64>},
    {19, "readv", handler<sys_readv>},
    {20, "writev", handler<sys_writev>},
    {21, "access", handler<sys_access>},
    {22, "pipe", handler<sys_pipe>},
    {23, "select", handler<sys_select>},
    {24, "sched_yield", handler<sys_sched_yield>},
    {25, "mremap", handler<sys_mremap>},
    {28, "madvise", handler<sys_madvise>},
    {32, "dup", handler<sys_dup>},
    {33, "dup2", handler<sys_dup2>},
    {34, "pause", handler<sys_pause>},
    {35, "nanosleep", handler<sys_nanosleep>},
    {36, "getitimer", handler<sys_getitimer>},
    {37, "alarm", handler<sys_alarm>},
    {38, "setitimer", handler<sys_setitimer>},
    {39, "getpid", handler<sys_getpid>},
    {40, "sendfile", handler<sys_sendfile>},
    {41, "socket", handler<sys_socket>},
    {42, "connect", handler<sys_connect>},
    {43, "accept", handler<sys_accept>},
    {44, "sendto", handler<sys_sendto>},
    {45, "recvfrom", handler<sys_recvfrom>},
    {46, "sendmsg", handler<sys_sendmsg>},
    {47, "recvmsg", handler<sys_recvmsg>},
    {48, "shutdown", handler<sys_shutdown>},
    {49, "bind", handler<sys_bind>},
    {50, "listen", handler<sys_listen>},
    {51, "getsockname", handler<sys_getsockname>},
    {52, "getpeername", handler<sys_getpeername>},
    {53, "socketpair", handler<sys_socketpair>},
    {54, "setsockopt", handler<sys_setsockopt>},
    {55, "getsockopt", handler<sys_getsockopt>},
    {56, "clone", handler<sys_clone>},
    {57, "fork", handler<sys_fork>},
    {58, "vfork", handler<sys_vfork>},
    {59, "execve", handler<sys_execve>},
    {60, "exit", handler<sys_exit>},
    {61, "wait4", handler<sys_wait4>},
    {62, "kill", handler<sys_kill>},
    {63, "uname", handler<sys_uname>},
    {72, "fcntl", handler<sys_fcntl>},
    {73, "flock", handler<sys_flock>},
    {74, "fsync", handler<sys_fsync>},
    {75, "fdatasync", handler<sys_fdatasync>},
    {76, "truncate", handler<sys_truncate>},
    {77, "ftruncate", handler<sys_ftruncate>},
    {78, "getdents", nullptr},
    {79, "getcwd", handler<sys_getcwd>},
    {80, "chdir", handler<sys_chdir>},
    {81, "fchdir", handler<sys_fchdir>},
    {82, "rename", handler<sys_rename>},
    {83, "mkdir", handler<sys_mkdir>},
    {84, "rmdir", handler<sys_rmdir>},
    {85, "creat", handler<sys_creat>},
    {86, "link", handler<sys_link>},
    {87, "unlink", handler<sys_unlink>},
    {88, "symlink", handler<sys_symlink>},
    {89, "readlink", handler<sys_readlink>},
    {90, "chmod", handler<sys_chmod>},
    {91, "fchmod", handler<sys_fchmod>},
    {92, "chown", handler<sys_chown>},
    {93, "fchown", handler<sys_fchown>},
    {94, "lchown", handler<sys_lchown>},
    {95, "umask", handler<sys_umask>},
    {96, "gettimeofday", handler<sys_gettimeofday>},
    {97, "getrlimit", handler<sys_getrlimit>},
    {98, "getrusage", handler<sys_getrusage>},
    {99, "sysinfo", handler<sys_sysinfo>},
    {100, "times", handler<sys_times>},
    {102, "getuid", handler<sys_getuid>},
    {103, "syslog", handler<sys_syslog>},
    {104, "getgid", handler<sys_getgid>},
    {105, "setuid", handler<sys_setuid>},
    {106, "setgid", handler<sys_setgid>},
    {107, "geteuid", handler<sys_geteuid>},
    {108, "getegid", handler<sys_getegid>},
    {109, "setpgid", handler<sys_setpgid>},
    {110, "getppid", handler<sys_getppid>},
    {111, "getpgrp", handler<sys_getpgrp>},
    {112, "setsid", handler<sys_setsid>},
    {113, "setreuid", handler<sys_setreuid>},
    {114, "setregid", handler<sys_setregid>},
    {115, "getgroups", handler<sys_getgroups>},
    {116, "setgroups", handler<sys_setgroups>},
    {117, "setresuid", handler<sys_setresuid>},
    {118, "getresuid", handler<sys_getresuid>},
    {119, "setresgid", handler<sys_setresgid>},
    {120, "getresgid", handler<sys_getresgid>},
    {121, "getpgid", handler<sys_getpgid>},
    {122, "setfsuid", handler<sys_setfsuid>},
    {123, "setfsgid", handler<sys_setfsgid>},
    {124, "getsid", handler<sys_getsid>},
    {125, "capget", handler<sys_capget>},
    {126, "capset", handler<sys_capset>},
    {127, "rt_sigpending", handler<sys_rt_sigpending>},
    {128, "rt_sigtimedwait", handler<sys_rt_sigtimedwait>},
    {130, "rt_sigsuspend", handler<sys_rt_sigsuspend>},
    {131, "sigaltstack", handler<sys_sigaltstack>},
    {137, "statfs", handler<sys_statfs>},
    {138, "fstatfs", handler<sys_fstatfs>},
    {140, "getpriority", handler<sys_getpriority>},
    {141, "setpriority", handler<sys_setpriority>},
    {143, "sched_getparam", handler<sys_sched_getparam>},
    {145, "sched_getscheduler", handler<sys_sched_getscheduler>},
    {146, "sched_get_priority_max", handler<sys_sched_get_priority_max>},
    {147, "sched_get_priority_min", handler<sys_sched_get_priority_min>},
    {157, "prctl", handler<sys_prctl>},
    {158, "arch_prctl", handler<sys_arch_prctl>},
    {160, "setrlimit", handler<sys_setrlimit>},
    {162, "sync", handler<sys_sync>},
    {163, "acct", nullptr},
    {165, "mount", handler<sys_mount>},
    {166, "umount2", handler<sys_umount2>},
    {169, "reboot", handler<sys_reboot>},
    {170, "sethostname", handler<sys_sethostname>},
    {171, "setdomainname", handler<sys_setdomainname>},
    {186, "gettid", handler<sys_gettid>},
    {200, "tkill", handler<sys_tkill>},
    {201, "time", handler<sys_time>},
    {202, "futex", handler<sys_futex>},
    {203, "sched_setaffinity", handler<sys_sched_setaffinity>},
    {204, "sched_getaffinity", handler<sys_sched_getaffinity>},
    {213, "epoll_create", handler<sys_epoll_create>},
    {217, "getdents64", handler<sys_getdents64>},
    {218, "set_tid_address", handler<sys_set_tid_address>},
    {222, "timer_create", handler<sys_timer_create>},
    {223, "timer_settime", handler<sys_timer_settime>},
    {224, "timer_gettime", handler<sys_timer_gettime>},
    {225, "timer_getoverrun", handler<sys_timer_getoverrun>},
    {226, "timer_delete", handler<sys_timer_delete>},
    {228, "clock_gettime", handler<sys_clock_gettime>},
    {229, "clock_getres", handler<sys_clock_getres>},
    {230, "clock_nanosleep", handler<sys_clock_nanosleep>},
    {231, "exit_group", handler<sys_exit_group>},
    {232, "epoll_wait", handler<sys_epoll_wait>},
    {233, "epoll_ctl", handler<sys_epoll_ctl>},
    {234, "tgkill", handler<sys_tgkill>},
    {247, "waitid", handler<sys_waitid>},
    {257, "openat", handler<sys_openat>},
    {258, "mkdirat", handler<sys_mkdirat>},
    {260, "fchownat", handler<sys_fchownat>},
    {262, "newfstatat", handler<sys_newfstatat>},
    {263, "unlinkat", handler<sys_unlinkat>},
    {264, "renameat", handler<sys_renameat>},
    {265, "linkat", handler<sys_linkat>},
    {266, "symlinkat", handler<sys_symlinkat>},
    {267, "readlinkat", handler<sys_readlinkat>},
    {268, "fchmodat", handler<sys_fchmodat>},
    {269, "faccessat", handler<sys_faccessat>},
    {270, "pselect6", handler<sys_pselect6>},
    {271, "ppoll", handler<sys_ppoll>},
    {273, "set_robust_list", handler<sys_set_robust_list>},
    {274, "get_robust_list", handler<sys_get_robust_list>},
    {280, "utimensat", handler<sys_utimensat>},
    {281, "epoll_pwait", handler<sys_epoll_pwait>},
    {283, "timerfd_create", handler<sys_timerfd_create>},
    {284, "eventfd", handler<sys_eventfd>},
    {285, "fallocate", handler<sys_fallocate>},
    {286, "timerfd_settime", handler<sys_timerfd_settime>},
    {287, "timerfd_gettime", handler<sys_timerfd_gettime>},
    {288, "accept4", handler<sys_accept4>},
    {290, "eventfd2", handler<sys_eventfd2>},
    {291, "epoll_create1", handler<sys_epoll_create1>},
    {292, "dup3", handler<sys_dup3>},
    {293, "pipe2", handler<sys_pipe2>},
    {295, "preadv", handler<sys_preadv>},
    {296, "pwritev", handler<sys_pwritev>},
    {302, "prlimit64", handler<sys_prlimit64>},
    {309, "getcpu", handler<sys_getcpu>},
    {316, "renameat2", handler<sys_renameat2>},
    {318, "getrandom", handler<sys_getrandom>},
    {332, "statx", handler<sys_statx>},
    {334, "rseq", nullptr},
    {435, "clone3", nullptr},
    {439, "faccessat2", handler<sys_faccessat2>},
};

constexpr bool in_number_order() {
    for (size_t i = 1; i < sizeof ENTRIES / sizeof ENTRIES[0]; i++)
        if (ENTRIES[i - 1].nr >= ENTRIES[i].nr) return false;
    return ENTRIES[sizeof ENTRIES / sizeof ENTRIES[0] - 1].nr < TABLE_SIZE;
}
static_assert(in_number_order(), "ENTRIES: one entry per number, ascending, below TABLE_SIZE");

struct Table {
    Handler handlers[TABLE_SIZE] = {};
    const char* names[TABLE_SIZE] = {};
    constexpr Table() {
        for (const Entry& e : ENTRIES) {
            handlers[e.nr] = e.handler;
            names[e.nr] = e.name;
        }
    }
};
constexpr Table TABLE;

uint64_t g_logged[TABLE_SIZE / 64 + 1];  // unknown calls already logged (one bit each)

int64_t unknown(uint64_t nr) {
    size_t bit = nr < TABLE_SIZE ? nr : TABLE_SIZE;
    uint64_t mask = 1ull << (bit % 64);
    if (!(__atomic_fetch_or(&g_logged[bit / 64], mask, __ATOMIC_RELAXED) & mask)) {
        Process* p = current_process();
        const char* name = nr < TABLE_SIZE ? TABLE.names[nr] : nullptr;
        kinfo("pid %u (%s): system call %lu (%s) is not implemented: ENOSYS\n", p->pid, p->name, nr,
              name ? name : "unknown");
    }
    return -int64_t(Errno::NoSys);
}

}  // namespace

}  // namespace lamina::posix

extern "C" void syscall_dispatch(lamina::arch::InterruptFrame* frame) {
    using namespace lamina::posix;
    lamina::arch::InterruptFrame& f = *frame;
    uint64_t nr = f.rax;
    Task* p = current_task();
    p->syscall_frame = &f;
    p->restartable = false;
    Handler h = nr < TABLE_SIZE ? TABLE.handlers[nr] : nullptr;
    const uint64_t args[6] = {f.rdi, f.rsi, f.rdx, f.r10, f.r8, f.r9};
    int64_t r = h ? h(args) : unknown(nr);
    // execve and rt_sigreturn rewrote the frame; their result is already in place or is 0.
    f.rax = uint64_t(r);
    // Signals go out on the way back to user mode (an unlocked look first: the common case).
    if (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) || __atomic_load_n(&p->process->pending, __ATOMIC_ACQUIRE) ||
        p->restartable || p->saved_mask_valid || __atomic_load_n(&p->process->stopped, __ATOMIC_ACQUIRE))
        deliver_signals(f, int64_t(nr));
}
