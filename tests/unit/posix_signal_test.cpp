// The portable signal logic (kernel/posix/signal_abi.h) and copy-on-write share counts
// (kernel/posix/frame_shares.h), against Linux's ABI and semantics.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/ucontext.h>

#include <atomic>
#include <thread>
#include <vector>

#include "kernel/posix/frame_shares.h"
#include "kernel/posix/signal_abi.h"

using namespace lamina::posix;

namespace {

SigAction handler_action(uint64_t flags = sa::RESTORER, uint64_t mask = 0) { return {0x401000, flags, 0x402000, mask}; }

}  // namespace

TEST(PosixSignal, NumbersMatchTheHost) {
    EXPECT_EQ(sig::HUP, SIGHUP);
    EXPECT_EQ(sig::SEGV, SIGSEGV);
    EXPECT_EQ(sig::CHLD, SIGCHLD);
    EXPECT_EQ(sig::STOP, SIGSTOP);
    EXPECT_EQ(sig::SYS, SIGSYS);
    EXPECT_EQ(sigbit(sig::KILL), 1ull << 8);
    EXPECT_STREQ(signal_name(sig::SEGV), "SIGSEGV");
    EXPECT_STREQ(signal_name(40), "signal");
}

TEST(PosixSignal, DefaultActions) {
    EXPECT_EQ(default_action(sig::TERM), DefaultAction::Terminate);
    EXPECT_EQ(default_action(sig::KILL), DefaultAction::Terminate);
    EXPECT_EQ(default_action(sig::PIPE), DefaultAction::Terminate);
    EXPECT_EQ(default_action(sig::SEGV), DefaultAction::Core);
    EXPECT_EQ(default_action(sig::ABRT), DefaultAction::Core);
    EXPECT_EQ(default_action(sig::QUIT), DefaultAction::Core);
    EXPECT_EQ(default_action(sig::CHLD), DefaultAction::Ignore);
    EXPECT_EQ(default_action(sig::WINCH), DefaultAction::Ignore);
    EXPECT_EQ(default_action(sig::CONT), DefaultAction::Continue);
    EXPECT_EQ(default_action(sig::TSTP), DefaultAction::Stop);
    EXPECT_EQ(default_action(40), DefaultAction::Terminate);  // real-time
}

TEST(PosixSignal, NextSignalPrefersSynchronousThenLowest) {
    EXPECT_EQ(next_signal(0, 0), 0);
    EXPECT_EQ(next_signal(sigbit(sig::TERM) | sigbit(sig::INT), 0), sig::INT);
    EXPECT_EQ(next_signal(sigbit(sig::INT) | sigbit(sig::SEGV), 0), sig::SEGV);
    EXPECT_EQ(next_signal(sigbit(sig::INT), sigbit(sig::INT)), 0);
    // KILL and STOP cannot be blocked, whatever the mask says.
    EXPECT_EQ(next_signal(sigbit(sig::KILL), ~0ull), sig::KILL);
    EXPECT_EQ(next_signal(sigbit(64), 0), 64);
}

TEST(PosixSignal, IgnoredAtGeneration) {
    SigAction dfl{}, ign{HANDLER_IGNORE, 0, 0, 0};
    EXPECT_TRUE(ignored(dfl, sig::CHLD));
    EXPECT_TRUE(ignored(dfl, sig::CONT));
    EXPECT_FALSE(ignored(dfl, sig::TERM));
    EXPECT_TRUE(ignored(ign, sig::TERM));
    EXPECT_FALSE(ignored(ign, sig::KILL));
    EXPECT_FALSE(ignored(handler_action(), sig::CHLD));
}

TEST(PosixSignal, HandlerMask) {
    SigAction a = handler_action(sa::RESTORER, sigbit(sig::TERM) | sigbit(sig::KILL));
    uint64_t m = handler_mask(sigbit(sig::HUP), a, sig::USR1);
    EXPECT_EQ(m, sigbit(sig::HUP) | sigbit(sig::TERM) | sigbit(sig::USR1));
    a.flags |= sa::NODEFER;
    EXPECT_EQ(handler_mask(0, a, sig::USR1), sigbit(sig::TERM));
}

TEST(PosixSignal, RestartDecision) {
    SigAction restart = handler_action(sa::RESTORER | sa::RESTART), plain = handler_action();
    EXPECT_EQ(restart_decision(false, &restart), Restart::No);
    EXPECT_EQ(restart_decision(true, &restart), Restart::Yes);
    EXPECT_EQ(restart_decision(true, &plain), Restart::No);
    EXPECT_EQ(restart_decision(true, nullptr), Restart::Yes);
}

// Field offsets as the host's headers (glibc, from the kernel's UAPI) lay them out.
TEST(PosixSignal, FrameLayoutMatchesLinux) {
    EXPECT_EQ(offsetof(UContext, mcontext), offsetof(ucontext_t, uc_mcontext));
    EXPECT_EQ(offsetof(UContext, sigmask), offsetof(ucontext_t, uc_sigmask));
    EXPECT_EQ(offsetof(UContext, stack), offsetof(ucontext_t, uc_stack));
    EXPECT_EQ(offsetof(UContext, mcontext) + offsetof(SigContext, rip),
              offsetof(ucontext_t, uc_mcontext) + REG_RIP * sizeof(greg_t));
    EXPECT_EQ(offsetof(UContext, mcontext) + offsetof(SigContext, r8),
              offsetof(ucontext_t, uc_mcontext) + REG_R8 * sizeof(greg_t));
    EXPECT_EQ(offsetof(UContext, mcontext) + offsetof(SigContext, eflags),
              offsetof(ucontext_t, uc_mcontext) + REG_EFL * sizeof(greg_t));
    EXPECT_EQ(offsetof(UContext, mcontext) + offsetof(SigContext, cr2),
              offsetof(ucontext_t, uc_mcontext) + REG_CR2 * sizeof(greg_t));
    EXPECT_EQ(offsetof(UContext, mcontext) + offsetof(SigContext, fpstate),
              offsetof(ucontext_t, uc_mcontext) + offsetof(mcontext_t, fpregs));
    EXPECT_EQ(offsetof(RtSigFrame, uc), 8u);
    EXPECT_EQ(offsetof(RtSigFrame, info), 312u);
    EXPECT_EQ(sizeof(SigInfo), sizeof(siginfo_t));
    siginfo_t si{};
    EXPECT_EQ(reinterpret_cast<char*>(&si.si_pid) - reinterpret_cast<char*>(&si), 16);
    EXPECT_EQ(reinterpret_cast<char*>(&si.si_status) - reinterpret_cast<char*>(&si), 24);
    EXPECT_EQ(reinterpret_cast<char*>(&si.si_addr) - reinterpret_cast<char*>(&si), 16);
}

TEST(PosixSignal, FramePlacement) {
    AltStack none;
    for (uint64_t rsp : {0x7fffffffe000ull, 0x7fffffffe008ull, 0x7fffffffd123ull}) {
        FramePlace p = place_frame(rsp, false, none);
        EXPECT_EQ(p.frame % 16, 8u);  // as after a call
        EXPECT_EQ(p.fpstate % 64, 0u);
        EXPECT_LE(p.fpstate + FPSTATE_SIZE, rsp - 128);  // the red zone is left alone
        EXPECT_LE(p.frame + sizeof(RtSigFrame), p.fpstate);
    }
    AltStack alt{0x10000000, 0x10000, true};
    FramePlace on = place_frame(0x7fffffffe000, true, alt);
    EXPECT_GT(on.frame, alt.sp);
    EXPECT_LE(on.fpstate + FPSTATE_SIZE, alt.sp + alt.size);
    // Already on the alternate stack: nest below the current rsp.
    FramePlace nested = place_frame(0x10008000, true, alt);
    EXPECT_LT(nested.fpstate, 0x10008000u - 128);
    // Without SA_ONSTACK the alternate stack is not used.
    EXPECT_GT(place_frame(0x7fffffffe000, false, alt).frame, 0x7fff00000000u);
}

TEST(PosixSignal, FrameRoundTripRestoresRegisters) {
    UserRegs r{};
    uint64_t* words = reinterpret_cast<uint64_t*>(&r);
    for (size_t i = 0; i < 18; i++) words[i] = 0x1000 + i;
    r.rsp = 0x7fffffffd000;
    r.rip = 0x401234;
    r.rflags = 0x246 | (1u << 10);  // ZF, PF, IF, DF
    SigInfo info{};
    info.signo = sig::USR1;
    SigAction a = handler_action();
    RtSigFrame f;
    AltStack alt;
    fill_frame(f, r, info, 0x55, a, alt, 0x7fffffffc000);
    EXPECT_EQ(f.pretcode, a.restorer);
    EXPECT_EQ(f.uc.sigmask, 0x55u);
    EXPECT_EQ(f.uc.mcontext.fpstate, 0x7fffffffc000u);
    EXPECT_EQ(f.uc.stack.flags, ss_flag::DISABLE);
    EXPECT_EQ(f.info.signo, sig::USR1);

    FramePlace place = place_frame(r.rsp, false, alt);
    UserRegs h = handler_entry(r, place, sig::USR1, a);
    EXPECT_EQ(h.rip, a.handler);
    EXPECT_EQ(h.rsp, place.frame);
    EXPECT_EQ(h.rdi, uint64_t(sig::USR1));
    EXPECT_EQ(h.rsi, place.frame + 312);
    EXPECT_EQ(h.rdx, place.frame + 8);
    EXPECT_EQ(h.rflags & (1u << 10), 0u);  // DF cleared for the handler

    UserRegs back{};
    ASSERT_TRUE(restore_from_frame(f.uc, h.rflags, back));
    EXPECT_EQ(back.rip, r.rip);
    EXPECT_EQ(back.rsp, r.rsp);
    EXPECT_EQ(back.rax, r.rax);
    EXPECT_EQ(back.rcx, r.rcx);
    EXPECT_EQ(back.r11, r.r11);
    EXPECT_EQ(back.r15, r.r15);
    EXPECT_EQ(back.rflags, r.rflags);
}

TEST(PosixSignal, SigreturnCannotRaisePrivileges) {
    UContext uc{};
    uc.mcontext.rip = 0x401000;
    uc.mcontext.rsp = 0x7fff0000;
    uc.mcontext.eflags = ~0ull;  // IOPL 3, VM, NT, VIF, ID... all asked for
    UserRegs out{};
    ASSERT_TRUE(restore_from_frame(uc, 0x202, out));
    EXPECT_EQ(out.rflags & (3u << 12), 0u);  // IOPL
    EXPECT_EQ(out.rflags & (1u << 17), 0u);  // VM
    EXPECT_EQ(out.rflags & (1u << 14), 0u);  // NT
    EXPECT_NE(out.rflags & (1u << 9), 0u);   // IF stays on
    EXPECT_NE(out.rflags & (1u << 10), 0u);  // DF may be set
    uc.mcontext.rip = 0xffff800000000000;
    EXPECT_FALSE(restore_from_frame(uc, 0x202, out));
    uc.mcontext.rip = 0x401000;
    uc.mcontext.rsp = 0x0000800000000000;
    EXPECT_FALSE(restore_from_frame(uc, 0x202, out));
}

TEST(PosixFrameShares, CountsExtraSharers) {
    std::vector<uint16_t> counts(16);
    FrameShares s;
    s.attach(counts.data(), counts.size());
    uint64_t f = 3 * 4096;
    EXPECT_TRUE(s.covers(f));
    EXPECT_FALSE(s.covers(16 * 4096));
    EXPECT_TRUE(s.exclusive(f));
    s.share(f);  // fork: two mappings
    s.share(f);  // fork again: three
    EXPECT_EQ(s.sharers(f), 2u);
    EXPECT_FALSE(s.release(f));
    EXPECT_FALSE(s.release(f));
    EXPECT_TRUE(s.exclusive(f));
    EXPECT_TRUE(s.release(f));  // the last mapping: free the frame
}

// Address spaces releasing the same frame at once free it exactly once.
TEST(PosixFrameShares, ConcurrentReleasesFreeOnce) {
    constexpr int THREADS = 4, ROUNDS = 500;
    std::vector<uint16_t> counts(1);
    FrameShares s;
    s.attach(counts.data(), counts.size());
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 1; i < THREADS; i++) s.share(0);
        std::atomic<int> frees{0};
        std::vector<std::thread> ts;
        for (int i = 0; i < THREADS; i++) ts.emplace_back([&] { frees += s.release(0); });
        for (auto& t : ts) t.join();
        ASSERT_EQ(frees.load(), 1) << "round " << round;
        ASSERT_TRUE(s.exclusive(0));
    }
}
