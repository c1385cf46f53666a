// The system-call table (Linux x86-64 numbers; kernel/posix/SYSCALLS.md lists what is done) and
// the dispatcher syscall.S calls. Handlers return a value or -errno, as Linux does; every
// pointer argument goes through user_access.h.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/registers.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/address_space.h"
#include "kernel/posix/elf_exec.h"
#include "kernel/posix/pipe/pipe_syscalls.h"
#include "kernel/posix/poll/poll_syscalls.h"
#include "kernel/posix/files.h"
#include "kernel/posix/process.h"
#include "kernel/posix/process_hooks.h"
#include "kernel/posix/random.h"
#include "kernel/posix/sys_file_handlers.h"
#include "kernel/posix/sys_system.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"
#include "kernel/version.h"

namespace lamina::posix {

namespace {

constexpr uint64_t PAGE = 4096;

// --- process ----------------------------------------------------------------------------------


int64_t sys_set_tid_address(uint64_t tidptr, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    current_process()->clear_child_tid = tidptr;
    return current_process()->pid;
}

int64_t sys_set_robust_list(uint64_t, uint64_t len, uint64_t, uint64_t, uint64_t, uint64_t) {
    return len == 24 ? 0 : err(Errno::Inval);
}

int64_t sys_arch_prctl(uint64_t code, uint64_t addr, uint64_t, uint64_t, uint64_t, uint64_t) {
    constexpr uint64_t ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003;
    Process* p = current_process();
    if (code == ARCH_SET_FS) {
        if (addr >= USER_LIMIT) return err(Errno::Perm);
        cpu::cli();  // the scheduler saves the MSR into user.fs_base on a switch
        cpu::wrmsr(MSR_IA32_FS_BASE, addr);
        p->user.fs_base = addr;
        cpu::sti();
        return 0;
    }
    if (code == ARCH_GET_FS) {
        uint64_t v = cpu::rdmsr(MSR_IA32_FS_BASE);
        return UserPtr<uint64_t>(addr).write(v).is_ok() ? 0 : err(Errno::Fault);
    }
    return err(Errno::Inval);
}

int64_t sys_sched_yield(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    sched::yield();
    return 0;
}

// --- memory -----------------------------------------------------------------------------------

uint64_t page_up(uint64_t v) { return (v + PAGE - 1) & ~(PAGE - 1); }

int64_t sys_brk(uint64_t addr, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    AddressSpace& as = *current_process()->as;
    if (addr < as.brk_start || addr >= USER_TOP) return int64_t(as.brk);
    uint64_t old_top = page_up(as.brk), new_top = page_up(addr);
    if (new_top > old_top) {
        if (as.map(old_top, new_top, Prot::Read | Prot::Write).is_error()) return int64_t(as.brk);
    } else if (new_top < old_top) {
        (void)as.unmap(new_top, old_top);
    }
    as.brk = addr;
    return int64_t(addr);
}

// A MAP_PRIVATE file mapping is a private anonymous range filled from the file at mmap time:
// later changes to the file are not seen through it (POSIX leaves that unspecified), and its
// pages are ordinary private pages for fork and munmap. Bytes past the end of the file are zero.
Result<void> fill_from_file(AddressSpace& as, OpenFile& f, uint64_t start, uint64_t len, uint64_t off, uint64_t size) {
    for (uint64_t done = 0; done < len && off + done < size; done += PAGE) {
        uint64_t phys = TRY(as.populate(start + done));
        uint64_t want = size - (off + done) < PAGE ? size - (off + done) : PAGE;
        // The frame is this process's own and fresh (zeroed), and only this thread can map or
        // free it, so pread may sleep while filling it through the direct map.
        uint8_t* dst = static_cast<uint8_t*>(mm::phys_to_virt(phys));
        for (uint64_t got = 0; got < want;) {
            size_t n = TRY(f.object()->pread(f, dst + got, want - got, off + done + got));
            if (n == 0) return {};  // the file shrank since fstat: the rest stays zero
            got += n;
        }
    }
    return {};
}

int64_t sys_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd, uint64_t off) {
    constexpr uint64_t MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20,
                       MAP_FIXED_NOREPLACE = 0x100000, MAP_SHARED_VALIDATE = 3;
    if (len == 0 || (prot & ~uint64_t(7)) || (off & (PAGE - 1))) return err(Errno::Inval);
    uint64_t type = flags & 3;
    if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE) return err(Errno::Inval);
    RefPtr<OpenFile> file;
    uint64_t file_size = 0;
    if (!(flags & MAP_ANONYMOUS)) {
        if (fd > 0x7fffffff) return err(Errno::BadF);
        auto got = current_process()->fds->get(int(fd));
        if (got.is_error() || (got.value()->flags() & oflag::Path)) return err(Errno::BadF);
        file = got.value();
        // Linux checks read access before whether the object can be mapped at all, and for
        // every protection (a PROT_NONE or PROT_WRITE private mapping also needs it).
        if (!file->readable()) return err(Errno::Acces);
        Stat st;
        if (auto r = file->object()->stat(st); r.is_error() || !is_regular(st.st_mode)) return err(Errno::NoDev);
        if (type != MAP_PRIVATE) return err(Errno::NoDev);  // shared file mappings: not yet
        // Past the largest file offset, as Linux checks before looking for room (ENOMEM).
        if (len > uint64_t(INT64_MAX) - PAGE || off > uint64_t(INT64_MAX) - page_up(len)) return err(Errno::Overflow);
        file_size = st.st_size > 0 ? uint64_t(st.st_size) : 0;
    }
    if (len > USER_TOP) return err(Errno::NoMem);
    len = page_up(len);
    AddressSpace& as = *current_process()->as;
    uint64_t start;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        if (addr & (PAGE - 1)) return err(Errno::Inval);
        if (addr < USER_BOTTOM || addr > USER_TOP - len) return err(Errno::NoMem);
        if (flags & MAP_FIXED) {
            if (auto r = as.unmap(addr, addr + len); r.is_error()) return err(r.error());
        }
        start = addr;
    } else {
        auto r = as.find_free(len, addr & ~(PAGE - 1));
        if (r.is_error()) return err(Errno::NoMem);
        start = r.value();
    }
    if (auto r = as.map(start, start + len, uint32_t(prot), type != MAP_PRIVATE); r.is_error())
        return r.error().code() == Errno::Exist ? err(Errno::Exist) : err(r.error());
    if (file) {
        if (auto r = fill_from_file(as, *file, start, len, off, file_size); r.is_error()) {
            (void)as.unmap(start, start + len);
            return err(r.error());
        }
    }
    return int64_t(start);
}

int64_t sys_munmap(uint64_t addr, uint64_t len, uint64_t, uint64_t, uint64_t, uint64_t) {
    if ((addr & (PAGE - 1)) || len == 0 || len > USER_TOP) return err(Errno::Inval);
    uint64_t end = addr + page_up(len);
    if (end > USER_TOP) return err(Errno::Inval);
    auto r = current_process()->as->unmap(addr, end);
    return r.is_ok() ? 0 : err(r.error());
}

int64_t sys_mprotect(uint64_t addr, uint64_t len, uint64_t prot, uint64_t, uint64_t, uint64_t) {
    if ((addr & (PAGE - 1)) || (prot & ~uint64_t(7 | 0x01000000 | 0x02000000))) return err(Errno::Inval);
    if (len == 0) return 0;
    if (len > USER_TOP || addr + page_up(len) > USER_TOP) return err(Errno::NoMem);
    auto r = current_process()->as->protect(addr, addr + page_up(len), uint32_t(prot & 7));
    return r.is_ok() ? 0 : err(r.error());
}

// --- time -------------------------------------------------------------------------------------

struct TimeSpec {
    int64_t sec, nsec;
};

// Wall-clock time at boot from the CMOS RTC (UTC, as Linux's hwclock assumes), read once.
uint64_t g_boot_epoch_ns = 0;
bool g_epoch_read = false;

uint8_t cmos(uint8_t reg) {
    cpu::outb(0x70, reg);
    return cpu::inb(0x71);
}

uint64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = unsigned(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return uint64_t(era * 146097 + int64_t(doe) - 719468);
}

uint64_t boot_epoch_ns() {
    if (__atomic_load_n(&g_epoch_read, __ATOMIC_ACQUIRE)) return g_boot_epoch_ns;
    while (cmos(0x0A) & 0x80) cpu::pause();  // update in progress
    uint8_t sec = cmos(0), min = cmos(2), hour = cmos(4), day = cmos(7), mon = cmos(8), year = cmos(9);
    uint8_t b = cmos(0x0B);
    auto bcd = [&](uint8_t v) -> unsigned { return (b & 4) ? v : (v & 15) + (v >> 4) * 10; };
    bool pm = hour & 0x80;
    unsigned h = bcd(hour & 0x7f);
    if (!(b & 2) && pm) h = (h % 12) + 12;
    uint64_t days = days_from_civil(2000 + int64_t(bcd(year)), bcd(mon), bcd(day));
    uint64_t secs = days * 86400 + h * 3600 + bcd(min) * 60 + bcd(sec);
    g_boot_epoch_ns = secs * 1'000'000'000ull - time::now_ns();
    __atomic_store_n(&g_epoch_read, true, __ATOMIC_RELEASE);
    return g_boot_epoch_ns;
}

Result<uint64_t> clock_now(uint64_t clk) {
    switch (clk) {
        case 0: case 5: return boot_epoch_ns() + time::now_ns();  // REALTIME(_COARSE)
        case 1: case 4: case 6: case 7: return time::now_ns();     // MONOTONIC(_RAW/_COARSE), BOOTTIME
        case 2: case 3: return time::now_ns();  // process/thread CPU time: approximated by uptime
    }
    return Errno::Inval;
}

int64_t sys_clock_gettime(uint64_t clk, uint64_t tp, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto now = clock_now(clk);
    if (now.is_error()) return err(Errno::Inval);
    TimeSpec ts{int64_t(now.value() / 1'000'000'000), int64_t(now.value() % 1'000'000'000)};
    return UserPtr<TimeSpec>(tp).write(ts).is_ok() ? 0 : err(Errno::Fault);
}

// gettimeofday: the realtime clock in microseconds; the obsolete timezone is written as zeros.
int64_t sys_gettimeofday(uint64_t tv, uint64_t tz, uint64_t, uint64_t, uint64_t, uint64_t) {
    uint64_t ns = boot_epoch_ns() + time::now_ns();
    struct {
        int64_t sec, usec;
    } v{int64_t(ns / 1'000'000'000), int64_t(ns % 1'000'000'000 / 1000)};
    if (tv && copy_to_user(tv, &v, sizeof v).is_error()) return err(Errno::Fault);
    uint32_t zone[2] = {0, 0};
    if (tz && copy_to_user(tz, zone, sizeof zone).is_error()) return err(Errno::Fault);
    return 0;
}

// time: seconds of the realtime clock, also stored at t when given.
int64_t sys_time(uint64_t t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    int64_t sec = int64_t((boot_epoch_ns() + time::now_ns()) / 1'000'000'000);
    if (t && UserPtr<int64_t>(t).write(sec).is_error()) return err(Errno::Fault);
    return sec;
}

int64_t sys_clock_getres(uint64_t clk, uint64_t tp, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (clock_now(clk).is_error()) return err(Errno::Inval);
    if (!tp) return 0;
    return UserPtr<TimeSpec>(tp).write({0, 1}).is_ok() ? 0 : err(Errno::Fault);
}

Result<uint64_t> read_duration(uint64_t req) {
    TimeSpec ts = TRY(UserPtr<TimeSpec>(req).read());
    if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1'000'000'000) return Errno::Inval;
    if (uint64_t(ts.sec) > 100ull * 365 * 86400) return uint64_t(100ull * 365 * 86400) * 1'000'000'000ull;
    return uint64_t(ts.sec) * 1'000'000'000ull + uint64_t(ts.nsec);
}

// Sleeps until the deadline or a signal: EINTR with the time left in rem (when given). Like
// Linux after a handler, an interrupted sleep is never restarted.
int64_t interruptible_sleep(uint64_t ns, uint64_t rem) {
    if (!ns) return 0;
    sched::WaitQueue q;
    uint64_t start = time::now_ns();
    auto r = wait_interruptible_for(q, [] { return false; }, ns);
    if (r.is_ok() || r.error().code() == Errno::TimedOut) return 0;
    current_process()->restartable = false;
    if (rem) {
        uint64_t slept = time::now_ns() - start, left = slept < ns ? ns - slept : 0;
        TimeSpec ts{int64_t(left / 1'000'000'000), int64_t(left % 1'000'000'000)};
        if (UserPtr<TimeSpec>(rem).write(ts).is_error()) return err(Errno::Fault);
    }
    return err(Errno::Intr);
}

int64_t sys_nanosleep(uint64_t req, uint64_t rem, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto d = read_duration(req);
    if (d.is_error()) return err(d.error());
    return interruptible_sleep(d.value(), rem);
}

int64_t sys_clock_nanosleep(uint64_t clk, uint64_t flags, uint64_t req, uint64_t rem, uint64_t, uint64_t) {
    auto now = clock_now(clk);
    if (now.is_error() || clk == 2 || clk == 3) return err(Errno::Inval);
    auto d = read_duration(req);
    if (d.is_error()) return err(d.error());
    uint64_t ns = d.value();
    bool absolute = flags & 1;  // TIMER_ABSTIME
    if (absolute) ns = ns > now.value() ? ns - now.value() : 0;
    return interruptible_sleep(ns, absolute ? 0 : rem);
}

int64_t sys_getrandom(uint64_t buf, uint64_t len, uint64_t flags, uint64_t, uint64_t, uint64_t) {
    if (flags & ~uint64_t(1 | 2 | 4)) return err(Errno::Inval);
    if (len > 33554431) len = 33554431;
    uint8_t chunk[256];
    uint64_t done = 0;
    while (done < len) {
        size_t k = len - done < sizeof chunk ? size_t(len - done) : sizeof chunk;
        fill_random(chunk, k);
        if (copy_to_user(buf + done, chunk, k).is_error()) return done ? int64_t(done) : err(Errno::Fault);
        done += k;
    }
    return int64_t(done);
}

// --- the table --------------------------------------------------------------------------------

using Handler = int64_t (*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
constexpr size_t TABLE_SIZE = 512;

struct Entry {
    uint16_t nr;
    const char* name;
    Handler handler;  // nullptr: known by name, not implemented (ENOSYS)
};

// Implemented calls first, then names of common ones for the ENOSYS log.
constexpr Entry ENTRIES[] = {
    // Files (sys_file.cpp, sys_fs.cpp).
    {0, "read", sys_read},
    {1, "write", sys_write},
    {2, "open", sys_open},
    {3, "close", sys_close},
    {4, "stat", sys_stat},
    {5, "fstat", sys_fstat},
    {6, "lstat", sys_lstat},
    {8, "lseek", sys_lseek},
    {16, "ioctl", sys_ioctl},
    {17, "pread64", sys_pread64},
    {18, "pwrite64", sys_pwrite64},
    {19, "readv", sys_readv},
    {20, "writev", sys_writev},
    {21, "access", sys_access},
    {32, "dup", sys_dup},
    {33, "dup2", sys_dup2},
    {40, "sendfile", sys_sendfile},
    {72, "fcntl", sys_fcntl},
    {74, "fsync", sys_fsync},
    {75, "fdatasync", sys_fdatasync},
    {76, "truncate", sys_truncate},
    {77, "ftruncate", sys_ftruncate},
    {79, "getcwd", sys_getcwd},
    {80, "chdir", sys_chdir},
    {81, "fchdir", sys_fchdir},
    {82, "rename", sys_rename},
    {83, "mkdir", sys_mkdir},
    {84, "rmdir", sys_rmdir},
    {85, "creat", sys_creat},
    {86, "link", sys_link},
    {87, "unlink", sys_unlink},
    {88, "symlink", sys_symlink},
    {89, "readlink", sys_readlink},
    {90, "chmod", sys_chmod},
    {91, "fchmod", sys_fchmod},
    {92, "chown", sys_chown},
    {93, "fchown", sys_fchown},
    {94, "lchown", sys_lchown},
    {95, "umask", sys_umask},
    {137, "statfs", sys_statfs},
    {138, "fstatfs", sys_fstatfs},
    {162, "sync", sys_sync},
    {165, "mount", sys_mount},
    {166, "umount2", sys_umount2},
    {217, "getdents64", sys_getdents64},
    {257, "openat", sys_openat},
    {258, "mkdirat", sys_mkdirat},
    {260, "fchownat", sys_fchownat},
    {262, "newfstatat", sys_newfstatat},
    {263, "unlinkat", sys_unlinkat},
    {264, "renameat", sys_renameat},
    {265, "linkat", sys_linkat},
    {266, "symlinkat", sys_symlinkat},
    {267, "readlinkat", sys_readlinkat},
    {268, "fchmodat", sys_fchmodat},
    {269, "faccessat", sys_faccessat},
    {280, "utimensat", sys_utimensat},
    {292, "dup3", sys_dup3},
    {295, "preadv", sys_preadv},
    {296, "pwritev", sys_pwritev},
    {316, "renameat2", sys_renameat2},
    {332, "statx", sys_statx},
    {439, "faccessat2", sys_faccessat2},
    {9, "mmap", sys_mmap}, {10, "mprotect", sys_mprotect},
    {11, "munmap", sys_munmap}, {12, "brk", sys_brk}, {13, "rt_sigaction", sys_rt_sigaction},
    {14, "rt_sigprocmask", sys_rt_sigprocmask}, {15, "rt_sigreturn", sys_rt_sigreturn},
    {24, "sched_yield", sys_sched_yield}, {34, "pause", sys_pause}, {35, "nanosleep", sys_nanosleep},
    {39, "getpid", sys_getpid}, {56, "clone", sys_clone}, {57, "fork", sys_fork}, {58, "vfork", sys_vfork},
    {59, "execve", sys_execve}, {60, "exit", sys_exit}, {61, "wait4", sys_wait4}, {62, "kill", sys_kill},
    {63, "uname", sys_uname}, {97, "getrlimit", sys_getrlimit}, {99, "sysinfo", sys_sysinfo},
    {102, "getuid", sys_getuid}, {103, "syslog", sys_syslog}, {104, "getgid", sys_getgid},
    {105, "setuid", sys_setuid}, {106, "setgid", sys_setgid}, {107, "geteuid", sys_geteuid},
    {108, "getegid", sys_getegid}, {109, "setpgid", sys_setpgid}, {110, "getppid", sys_getppid},
    {111, "getpgrp", sys_getpgrp}, {112, "setsid", sys_setsid}, {113, "setreuid", sys_setreuid},
    {114, "setregid", sys_setregid}, {115, "getgroups", sys_getgroups}, {116, "setgroups", sys_setgroups},
    {117, "setresuid", sys_setresuid}, {118, "getresuid", sys_getresuid}, {119, "setresgid", sys_setresgid},
    {120, "getresgid", sys_getresgid}, {121, "getpgid", sys_getpgid}, {122, "setfsuid", sys_setfsuid},
    {123, "setfsgid", sys_setfsgid}, {124, "getsid", sys_getsid}, {127, "rt_sigpending", sys_rt_sigpending}, {128, "rt_sigtimedwait", sys_rt_sigtimedwait},
    {130, "rt_sigsuspend", sys_rt_sigsuspend}, {131, "sigaltstack", sys_sigaltstack},
    {158, "arch_prctl", sys_arch_prctl}, {160, "setrlimit", sys_setrlimit}, {169, "reboot", sys_reboot},
    {170, "sethostname", sys_sethostname}, {171, "setdomainname", sys_setdomainname},
    {186, "gettid", sys_getpid}, {200, "tkill", sys_tkill}, {202, "futex", sys_futex},
    {218, "set_tid_address", sys_set_tid_address}, {228, "clock_gettime", sys_clock_gettime}, {96, "gettimeofday", sys_gettimeofday}, {201, "time", sys_time},
    {229, "clock_getres", sys_clock_getres}, {230, "clock_nanosleep", sys_clock_nanosleep},
    {231, "exit_group", sys_exit}, {234, "tgkill", sys_tgkill}, {247, "waitid", sys_waitid},
    {273, "set_robust_list", sys_set_robust_list}, {302, "prlimit64", sys_prlimit64},
    {318, "getrandom", sys_getrandom}, {7, "poll", sys_poll}, {22, "pipe", sys_pipe},
    {23, "select", sys_select}, {270, "pselect6", sys_pselect6}, {271, "ppoll", sys_ppoll},
    {293, "pipe2", sys_pipe2}, {25, "mremap", nullptr}, {28, "madvise", nullptr}, {37, "alarm", nullptr},
    {38, "setitimer", nullptr}, {41, "socket", nullptr}, {42, "connect", nullptr}, {43, "accept", nullptr},
    {44, "sendto", nullptr}, {45, "recvfrom", nullptr}, {49, "bind", nullptr}, {50, "listen", nullptr},
    {78, "getdents", nullptr}, {157, "prctl", nullptr}, {163, "acct", nullptr},
    {334, "rseq", nullptr}, {435, "clone3", nullptr},
};

struct Table {
    Handler handlers[TABLE_SIZE] = {};
    const char* names[TABLE_SIZE] = {};
    constexpr Table() {
        for (const Entry& e : ENTRIES) {
            // A name-only entry never hides a handler, whatever the order (merges add names).
            if (e.handler || !handlers[e.nr]) handlers[e.nr] = e.handler;
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
        kprintf("pid %u (%s): system call %lu (%s) is not implemented: ENOSYS\n", p->pid, p->name, nr,
                name ? name : "unknown");
    }
    return err(Errno::NoSys);
}

}  // namespace

Timespec realtime_now() {
    uint64_t ns = boot_epoch_ns() + time::now_ns();
    return Timespec{int64_t(ns / 1'000'000'000), int64_t(ns % 1'000'000'000)};
}

const char* syscall_name(uint64_t nr) { return nr < TABLE_SIZE ? TABLE.names[nr] : nullptr; }

}  // namespace lamina::posix

extern "C" void syscall_dispatch(lamina::arch::InterruptFrame* frame) {
    using namespace lamina::posix;
    lamina::arch::InterruptFrame& f = *frame;
    uint64_t nr = f.rax;
    Process* p = current_process();
    p->syscall_frame = &f;
    p->restartable = false;
    Handler h = nr < TABLE_SIZE ? TABLE.handlers[nr] : nullptr;
    int64_t r = h ? h(f.rdi, f.rsi, f.rdx, f.r10, f.r8, f.r9) : unknown(nr);
    // execve and rt_sigreturn rewrote the frame; their result is already in place or is 0.
    f.rax = uint64_t(r);
    // Signals go out on the way back to user mode (an unlocked look first: the common case).
    if (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) || p->restartable || p->saved_mask_valid)
        deliver_signals(f, int64_t(nr));
}
