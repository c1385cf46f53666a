// lamina:portable
#include "kernel/posix/signal_abi.h"

namespace lamina::posix {

namespace {
constexpr uint64_t USER_END = 0x0000'8000'0000'0000;
constexpr uint64_t RED_ZONE = 128;
// Linux's FIX_EFLAGS: AC, OF, DF, TF, SF, ZF, AF, PF, CF, RF.
constexpr uint64_t FIX_EFLAGS = (1u << 18) | (1u << 11) | (1u << 10) | (1u << 8) | (1u << 7) | (1u << 6) | (1u << 4) |
                                (1u << 2) | (1u << 0) | (1u << 16);
constexpr uint64_t RFLAGS_TF = 1u << 8, RFLAGS_DF = 1u << 10, RFLAGS_RF = 1u << 16, RFLAGS_IF = 1u << 9;
}  // namespace

const char* signal_name(int s) {
    static const char* const NAMES[32] = {
        nullptr,     "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGBUS",
        "SIGFPE",    "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",  "SIGPIPE", "SIGALRM", "SIGTERM",
        "SIGSTKFLT", "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",  "SIGTTIN", "SIGTTOU", "SIGURG",
        "SIGXCPU",   "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS"};
    if (s >= 1 && s < 32) return NAMES[s];
    return "signal";
}

DefaultAction default_action(int s) {
    switch (s) {
        case sig::QUIT:
        case sig::ILL:
        case sig::TRAP:
        case sig::ABRT:
        case sig::BUS:
        case sig::FPE:
        case sig::SEGV:
        case sig::XCPU:
        case sig::XFSZ:
        case sig::SYS:
            return DefaultAction::Core;
        case sig::CHLD:
        case sig::URG:
        case sig::WINCH:
            return DefaultAction::Ignore;
        case sig::CONT:
            return DefaultAction::Continue;
        case sig::STOP:
        case sig::TSTP:
        case sig::TTIN:
        case sig::TTOU:
            return DefaultAction::Stop;
    }
    return DefaultAction::Terminate;  // the rest, real-time signals included
}

int next_signal(uint64_t pending, uint64_t blocked) {
    uint64_t ready = pending & ~(blocked & ~UNBLOCKABLE);
    if (!ready) return 0;
    uint64_t sync = ready & SYNCHRONOUS;
    return __builtin_ctzll(sync ? sync : ready) + 1;
}

bool ignored(const SigAction& a, int s) {
    if (a.handler == HANDLER_IGNORE) return s != sig::KILL && s != sig::STOP;
    if (a.handler != HANDLER_DEFAULT) return false;
    DefaultAction d = default_action(s);
    return d == DefaultAction::Ignore || d == DefaultAction::Continue;
}

FramePlace place_frame(uint64_t rsp, bool use_altstack, const AltStack& alt) {
    uint64_t sp = rsp - RED_ZONE;
    if (use_altstack && alt.enabled && !alt.on(rsp)) sp = alt.sp + alt.size;
    sp -= FPSTATE_SIZE;
    sp &= ~uint64_t(63);
    uint64_t fpstate = sp;
    sp -= sizeof(RtSigFrame);
    sp = (sp & ~uint64_t(15)) - 8;
    return {sp, fpstate};
}

void fill_frame(RtSigFrame& f, const UserRegs& r, const SigInfo& info, uint64_t old_mask, const SigAction& a,
                const AltStack& alt, uint64_t fpstate_addr) {
    f = {};
    f.pretcode = a.restorer;
    f.uc.stack = {alt.sp, alt.enabled ? (alt.on(r.rsp) ? ss_flag::ON_STACK : 0) : ss_flag::DISABLE, 0, alt.size};
    SigContext& c = f.uc.mcontext;
    c.r8 = r.r8;
    c.r9 = r.r9;
    c.r10 = r.r10;
    c.r11 = r.r11;
    c.r12 = r.r12;
    c.r13 = r.r13;
    c.r14 = r.r14;
    c.r15 = r.r15;
    c.rdi = r.rdi;
    c.rsi = r.rsi;
    c.rbp = r.rbp;
    c.rbx = r.rbx;
    c.rdx = r.rdx;
    c.rax = r.rax;
    c.rcx = r.rcx;
    c.rsp = r.rsp;
    c.rip = r.rip;
    c.eflags = r.rflags;
    c.cs = 0x33;  // Linux's __USER_CS: what programs that print the context expect
    c.ss = 0x2b;
    c.err = r.err;
    c.trapno = r.trapno;
    c.cr2 = r.cr2;
    c.oldmask = old_mask;
    c.fpstate = fpstate_addr;
    f.uc.sigmask = old_mask;
    f.info = info;
}

UserRegs handler_entry(const UserRegs& r, const FramePlace& place, int signo, const SigAction& a) {
    (void)a;
    UserRegs h = r;
    h.rip = a.handler;
    h.rsp = place.frame;
    h.rdi = uint64_t(signo);
    h.rsi = place.frame + offsetof(RtSigFrame, info);
    h.rdx = place.frame + offsetof(RtSigFrame, uc);
    h.rax = 0;
    h.rflags &= ~(RFLAGS_TF | RFLAGS_DF | RFLAGS_RF);
    return h;
}

bool restore_from_frame(const UContext& uc, uint64_t current_rflags, UserRegs& out) {
    const SigContext& c = uc.mcontext;
    if (c.rip >= USER_END || c.rsp >= USER_END) return false;
    out.r8 = c.r8;
    out.r9 = c.r9;
    out.r10 = c.r10;
    out.r11 = c.r11;
    out.r12 = c.r12;
    out.r13 = c.r13;
    out.r14 = c.r14;
    out.r15 = c.r15;
    out.rdi = c.rdi;
    out.rsi = c.rsi;
    out.rbp = c.rbp;
    out.rbx = c.rbx;
    out.rdx = c.rdx;
    out.rax = c.rax;
    out.rcx = c.rcx;
    out.rsp = c.rsp;
    out.rip = c.rip;
    out.rflags = (current_rflags & ~FIX_EFLAGS) | (c.eflags & FIX_EFLAGS) | RFLAGS_IF;
    out.trapno = out.err = out.cr2 = 0;
    return true;
}

}  // namespace lamina::posix
