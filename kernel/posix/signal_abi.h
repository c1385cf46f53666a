// lamina:portable
// Linux x86-64 signal ABI and the decisions made from it, free of kernel state so that the host
// tests check them: signal numbers and default actions, which pending signal goes first, the
// mask a handler runs with, whether an interrupted system call restarts, and the rt_sigframe
// (ucontext, sigcontext, siginfo) a handler is entered with and rt_sigreturn reads back.
//
// Guarantees
//   - Layouts are Linux's (arch/x86/include/uapi/asm/sigcontext.h, ucontext.h, siginfo.h):
//     sizes are static_asserted, so musl's and glibc's views of a frame match.
//   - restore_from_frame never lets a program give itself privileges: the flags it may change
//     are the arithmetic, direction, trap, alignment-check and resume bits (Linux's FIX_EFLAGS);
//     IF stays on; a non-canonical or kernel rip/rsp is refused (the caller kills with SIGSEGV).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::posix {

inline constexpr int MAX_SIGNAL = 64;
namespace sig {
inline constexpr int HUP = 1, INT = 2, QUIT = 3, ILL = 4, TRAP = 5, ABRT = 6, BUS = 7, FPE = 8, KILL = 9, USR1 = 10,
                     SEGV = 11, USR2 = 12, PIPE = 13, ALRM = 14, TERM = 15, STKFLT = 16, CHLD = 17, CONT = 18,
                     STOP = 19, TSTP = 20, TTIN = 21, TTOU = 22, URG = 23, XCPU = 24, XFSZ = 25, VTALRM = 26, PROF = 27,
                     WINCH = 28, IO = 29, PWR = 30, SYS = 31;
}
inline constexpr uint64_t sigbit(int s) { return uint64_t(1) << (s - 1); }
inline constexpr bool valid_signal(uint64_t s) { return s >= 1 && s <= uint64_t(MAX_SIGNAL); }
inline constexpr uint64_t UNBLOCKABLE = sigbit(sig::KILL) | sigbit(sig::STOP);
inline constexpr uint64_t STOP_SIGNALS = sigbit(sig::STOP) | sigbit(sig::TSTP) | sigbit(sig::TTIN) | sigbit(sig::TTOU);
// Raised by the CPU for the instruction that faulted: delivered before anything else pending.
inline constexpr uint64_t SYNCHRONOUS =
    sigbit(sig::SEGV) | sigbit(sig::BUS) | sigbit(sig::ILL) | sigbit(sig::TRAP) | sigbit(sig::FPE) | sigbit(sig::SYS);

const char* signal_name(int s);  // "SIGSEGV", or "signal" when it has no name

enum class DefaultAction : uint8_t { Terminate, Core, Ignore, Stop, Continue };
DefaultAction default_action(int s);

// The lowest deliverable signal, synchronous ones first; 0 when none.
int next_signal(uint64_t pending, uint64_t blocked);

namespace sa {
inline constexpr uint64_t NOCLDSTOP = 1, NOCLDWAIT = 2, SIGINFO = 4, RESTORER = 0x04000000, ONSTACK = 0x08000000,
                          RESTART = 0x10000000, NODEFER = 0x40000000, RESETHAND = 0x80000000;
}
inline constexpr uint64_t HANDLER_DEFAULT = 0, HANDLER_IGNORE = 1;

// struct k_sigaction as rt_sigaction passes it on x86-64.
struct SigAction {
    uint64_t handler, flags, restorer, mask;
};
static_assert(sizeof(SigAction) == 32);

// True when a signal with this action would be thrown away at generation (ignored explicitly,
// or by default: CHLD, URG, WINCH; CONT only has its side effect).
bool ignored(const SigAction& a, int s);
// The mask a handler for s runs with.
inline uint64_t handler_mask(uint64_t blocked, const SigAction& a, int s) {
    uint64_t m = blocked | a.mask;
    if (!(a.flags & sa::NODEFER)) m |= sigbit(s);
    return m & ~UNBLOCKABLE;
}

// What an interrupted system call becomes. `restartable`: it returned EINTR from an
// interruptible wait (wait4, a pipe read, ...), which Linux calls ERESTARTSYS. `handler`: a
// handler is being entered (null when the signal was ignored or stopped and continued the
// process: the call then always restarts).
enum class Restart : uint8_t { No, Yes };
inline Restart restart_decision(bool restartable, const SigAction* handler) {
    if (!restartable) return Restart::No;
    if (!handler) return Restart::Yes;
    return (handler->flags & sa::RESTART) ? Restart::Yes : Restart::No;
}

// siginfo_t (128 bytes); the union starts at offset 16.
struct SigInfo {
    int32_t signo, errno_, code, pad_;
    union {
        struct {
            int32_t pid;
            uint32_t uid;
            int32_t status;
            int32_t pad;
            int64_t utime, stime;
        } child;
        struct {
            int32_t pid;
            uint32_t uid;
        } kill;
        struct {
            uint64_t addr;
        } fault;
        struct {
            int32_t id, overrun;  // the POSIX timer and its overrun count at delivery
            uint64_t value;       // sigevent's sigev_value
        } timer;
        uint8_t bytes[112];
    };
};
static_assert(sizeof(SigInfo) == 128);
namespace si {
inline constexpr int32_t USER = 0, KERNEL = 0x80, TIMER = -2, TKILL = -6;
inline constexpr int32_t CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3, CLD_STOPPED = 5, CLD_CONTINUED = 6;
inline constexpr int32_t SEGV_MAPERR = 1, SEGV_ACCERR = 2, ILL_ILLOPN = 2, FPE_INTDIV = 1, BUS_ADRALN = 1;
}  // namespace si

struct StackT {  // stack_t
    uint64_t sp;
    int32_t flags;
    int32_t pad_;
    uint64_t size;
};
static_assert(sizeof(StackT) == 24);
namespace ss_flag {  // stack_t.ss_flags
inline constexpr int32_t ON_STACK = 1, DISABLE = 2;
inline constexpr uint32_t AUTODISARM = 1u << 31;
}  // namespace ss_flag
inline constexpr uint64_t MIN_SIGNAL_STACK = 2048;

struct SigContext {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2, fpstate;
    uint64_t reserved1[8];
};
static_assert(sizeof(SigContext) == 256);

struct UContext {
    uint64_t flags, link;
    StackT stack;
    SigContext mcontext;
    uint64_t sigmask;
};
static_assert(sizeof(UContext) == 304);

struct RtSigFrame {
    uint64_t pretcode;  // the handler's return address: sa_restorer
    UContext uc;
    SigInfo info;
};
static_assert(sizeof(RtSigFrame) == 440);
inline constexpr size_t FPSTATE_SIZE = 512;  // FXSAVE layout (no XSAVE extension header)

// The user registers a frame saves and restores (the kernel converts its trap frame).
struct UserRegs {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, rflags;
    uint64_t trapno, err, cr2;
};

struct AltStack {
    uint64_t sp = 0, size = 0;
    bool enabled = false;
    bool on(uint64_t rsp) const { return enabled && rsp > sp && rsp - sp <= size; }
};

// Where the frame and its FPU area go: below the red zone of the interrupted stack, or at the
// top of the alternate stack.
struct FramePlace {
    uint64_t frame;    // ≡ 8 (mod 16): the handler starts as if called
    uint64_t fpstate;  // 64-byte aligned
};
FramePlace place_frame(uint64_t rsp, bool use_altstack, const AltStack& alt);

// Fills the frame for a handler of info.signo. `old_mask` is the mask to restore on return.
void fill_frame(RtSigFrame& f, const UserRegs& r, const SigInfo& info, uint64_t old_mask, const SigAction& a,
                const AltStack& alt, uint64_t fpstate_addr);

// The registers a handler starts with, from the interrupted ones: rip at the handler, rsp at
// the frame, rdi/rsi/rdx the handler's arguments, DF and TF cleared.
UserRegs handler_entry(const UserRegs& r, const FramePlace& place, int signo, const SigAction& a);

// rt_sigreturn: the registers to resume with, or false when the frame asks for something a
// program may not have (the caller kills it with SIGSEGV).
bool restore_from_frame(const UContext& uc, uint64_t current_rflags, UserRegs& out);

// The MXCSR bits a program may set (the rest are reserved: FXRSTOR would raise #GP).
inline constexpr uint32_t MXCSR_VALID = 0xffff;

}  // namespace lamina::posix
