#include "kernel/posix/posix.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/boot/cmdline.h"
#include "kernel/lib/log.h"
#include "kernel/posix/boot_files.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/files.h"
#include "kernel/posix/process.h"
#include "kernel/posix/event/epoll.h"
#include "kernel/posix/file_locks.h"
#include "kernel/posix/net/inet.h"
#include "kernel/posix/net/unix_socket.h"
#include "kernel/posix/process_hooks.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/tty/console.h"
#include "kernel/posix/user_access.h"
#include "kernel/power.h"

namespace lamina::posix {

namespace {

arch::ExceptionHook g_previous_hook;
arch::InterruptExitHook g_previous_exit_hook;

constexpr int SIGILL = sig::ILL, SIGTRAP = sig::TRAP, SIGBUS = sig::BUS, SIGFPE = sig::FPE, SIGSEGV = sig::SEGV;

// Where a killed process's thread resumes, in kernel mode on its own stack (never on the IST
// stack a page fault arrives on).
[[noreturn]] void end_killed_process() {
    cpu::sti();
    exit_current(current_task()->kill_signal);
}

bool user_exception(arch::InterruptFrame& f) {
    Process* p = current_process();
    if (!p) return false;
    int sig = SIGSEGV;
    int code = si::KERNEL;  // #GP and friends: Linux reports SI_KERNEL with address 0
    uint64_t addr = f.rip;
    const char* reason = arch::exception_name(f.vector);
    if (f.vector == 14) {
        addr = cpu::read_cr2();
        FaultResult r = FaultResult::NoVma;
        if (addr < USER_LIMIT) r = p->as->handle_fault(addr, f.error_code & 2, f.error_code & 16);
        if (r == FaultResult::Handled) {
            divert_for_signals(f);
            return true;
        }
        reason = fault_result_name(r);
        code = r == FaultResult::Protection ? si::SEGV_ACCERR : si::SEGV_MAPERR;
        if (r == FaultResult::NoMem) sig = 9;
    } else if (f.vector == 0 || f.vector == 16 || f.vector == 19) {
        sig = SIGFPE;
        code = si::FPE_INTDIV;
    } else if (f.vector == 6) {
        sig = SIGILL;
        code = si::ILL_ILLOPN;
    } else if (f.vector == 1 || f.vector == 3) {
        sig = SIGTRAP;
    } else if (f.vector == 17) {
        sig = SIGBUS;
        code = si::BUS_ADRALN;
    }
    if (f.vector == 13) addr = 0;
    if (sig != 9 && divert_for_fault_signal(f, sig, code, addr)) return true;
    if (f.vector == 13) addr = f.rip;
    kinfo("pid %u (%s): %s at 0x%lx: %s%s (rip 0x%lx)\n", p->pid, p->name, signal_name(sig), addr, reason,
          f.vector == 14 ? ((f.error_code & 2)    ? ", write"
                            : (f.error_code & 16) ? ", fetch"
                                                  : ", read")
                         : "",
          f.rip);
    current_task()->kill_signal = sig;
    f.rip = reinterpret_cast<uint64_t>(&end_killed_process);
    f.cs = arch::KERNEL_CS;
    f.ss = arch::KERNEL_DS;
    f.rsp = sched::current_thread()->stack().top - 8;  // as if called: rsp + 8 is 16-byte aligned
    f.rflags = 2;
    return true;
}

bool exception_hook(arch::InterruptFrame& f) {
    if (f.cs & 3) {
        if (user_exception(f)) return true;
    } else if (is_user_access_rip(f.rip) && (f.vector == 14 || f.vector == 13)) {
        if (f.vector == 14) {
            uint64_t addr = cpu::read_cr2();
            Process* p = current_process();
            if (p && addr < USER_LIMIT && p->as->handle_fault(addr, f.error_code & 2, false) == FaultResult::Handled)
                return true;
        }
        f.rip = user_access_fixup_address();
        return true;
    }
    return g_previous_hook ? g_previous_hook(f) : false;
}

// Every interrupt that returns to user mode delivers pending signals (after the scheduler's
// hook, which may have switched to another thread and back).
void interrupt_exit(arch::InterruptFrame& f) {
    if (g_previous_exit_hook) g_previous_exit_hook(f);
    divert_for_signals(f);
}

bool is_path(const char* s) {
    for (; *s; s++)
        if (*s == '/') return true;
    return false;
}

}  // namespace

void init(const boot::BootInfo& info) {
    boot_files::init(info);
    init_process_hooks();
    (void)init_console();
    init_files();
    net::init_unix_sockets();
    net::init_inet_sockets();
    init_epoll();
    init_file_locks();
    init_user_access();
    g_previous_hook = arch::exception_hook();
    arch::set_exception_hook(exception_hook);
    g_previous_exit_hook = arch::interrupt_exit_hook();
    arch::set_interrupt_exit_hook(interrupt_exit);
    if (init_frame_shares(mm::phys_end()).is_error()) panic("posix: no memory for the copy-on-write counts");
}

namespace {

// The last init= word's value (words added later, e.g. by images/run --append, override the
// profile's) and every word after it; nullptr without one.
const char* init_words(const boot::CommandLine& cmdline) {
    const char* text = cmdline.text();
    const char* start = nullptr;
    for (const char* p = text; *p; p++) {
        if ((p == text || p[-1] == ' ') && __builtin_strncmp(p, "init=", 5) == 0) start = p + 5;
    }
    return start;
}

}  // namespace

bool init_is_path(const boot::CommandLine& cmdline) {
    const char* start = init_words(cmdline);
    if (!start) return false;
    for (const char* p = start; *p && *p != ' '; p++)
        if (*p == '/') return true;
    return false;
}

namespace {
const char* g_command_line = "";  // the boot command line, for /proc/cmdline
}  // namespace

const char* kernel_command_line() { return g_command_line; }

void run_init(const boot::CommandLine& cmdline) {
    g_command_line = cmdline.text();
    const char* start = init_words(cmdline);
    if (!start) return;
    constexpr size_t MAX_ARGS = 32;
    static char buffer[512];
    const char* argv[MAX_ARGS];
    size_t argc = 0, n = 0;
    for (const char* p = start; *p && n + 1 < sizeof buffer;) {
        while (*p == ' ') p++;
        if (!*p) break;
        if (argc == MAX_ARGS) break;
        argv[argc++] = buffer + n;
        while (*p && *p != ' ' && n + 1 < sizeof buffer) buffer[n++] = *p++;
        buffer[n++] = 0;
    }
    if (argc == 0 || !argv[0][0]) {
        kprintf("init: no program named after init=\n");
        if (power::test_mode()) power::debug_exit(power::TestExit::Failure);
        return;
    }
    const char* envp[] = {"HOME=/", "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "TERM=vt100"};
    // Logged before the program can print anything.
    kprintf("init: starting %s\n", argv[0]);
    auto p = spawn({argv[0], argv, argc, envp, 3, 0, /*is_init=*/true});
    if (p.is_error() && p.error().code() == Errno::NoEnt && is_path(argv[0])) {
        // A path: it names a file in the root file system, which the VFS will serve; boot
        // modules only have plain names. Not an error yet.
        kprintf("init: %s is a path and there is no file system yet: not started\n", argv[0]);
        return;
    }
    if (p.is_error()) {
        kprintf("init: cannot start %s: %s\n", argv[0], p.error().name());
        if (power::test_mode()) power::debug_exit(power::TestExit::Failure);
        return;
    }
    int status = wait(p.value());
    set_init_pid(0);
    if (status & 0x7f) {
        kprintf("init killed by signal %d (%s)\n", status & 0x7f, signal_name(status & 0x7f));
    } else {
        kprintf("init exited with status %d\n", (status >> 8) & 0xff);
    }
    if (power::test_mode()) {
        // As a power-off would: the file systems write back and unmount, so the disk is clean.
        power::run_shutdown_hooks();
        power::debug_exit(status == 0 ? power::TestExit::Success : power::TestExit::Failure);
    }
}

}  // namespace lamina::posix
