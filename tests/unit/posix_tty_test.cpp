#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "kernel/posix/tty/line_discipline.h"

using namespace lamina;
using namespace lamina::posix;

namespace {

struct Harness : TtySink, TtySignals {
    Harness() : ld(*this, *this) {}
    void tty_output(const uint8_t* d, size_t n) override { out.append(reinterpret_cast<const char*>(d), n); }
    void signal_pgrp(int pgrp, int sig) override { sigs.push_back({pgrp, sig}); }

    void type(const std::string& s) { ld.input(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
    // A read that must complete; returns the bytes.
    std::string read(size_t n = 256) {
        std::vector<uint8_t> buf(n);
        auto r = ld.read(buf.data(), n, false);
        EXPECT_TRUE(r.is_ok());
        if (r.is_error()) return "<error>";
        EXPECT_EQ(r.value().status, TtyReadStatus::Done);
        return std::string(buf.begin(), buf.begin() + r.value().bytes);
    }
    bool blocks(size_t n = 256) {
        std::vector<uint8_t> buf(n);
        auto r = ld.read(buf.data(), n, false);
        return r.is_ok() && r.value().status == TtyReadStatus::WouldBlock;
    }
    void set_lflag(uint32_t set, uint32_t clear) {
        KernelTermios t = ld.termios();
        t.c_lflag = (t.c_lflag | set) & ~clear;
        ld.set_termios(t);
    }
    void raw(uint8_t vmin, uint8_t vtime) {
        KernelTermios t = ld.termios();
        t.c_lflag &= ~(tc::ICanon | tc::Echo);
        t.c_cc[tc::VMin] = vmin;
        t.c_cc[tc::VTime] = vtime;
        ld.set_termios(t);
    }

    std::string out;
    std::vector<std::pair<int, int>> sigs;
    LineDiscipline ld;
};

}  // namespace

TEST(PosixTty, LayoutsMatchLinux) {
    EXPECT_EQ(sizeof(KernelTermios), 36u);
    EXPECT_EQ(sizeof(WinSize), 8u);
    KernelTermios t = default_termios();
    EXPECT_EQ(t.c_iflag, 02400u);  // ICRNL | IXON, as `stty -g` shows on Linux (500)
    EXPECT_EQ(t.c_oflag, 05u);
    EXPECT_EQ(t.c_cflag, 02277u);
    EXPECT_EQ(t.c_lflag, 0105073u);
    EXPECT_EQ(t.c_cc[tc::VIntr], 3);
    EXPECT_EQ(t.c_cc[tc::VErase], 0x7f);
    EXPECT_EQ(t.c_cc[tc::VMin], 1);
}

TEST(PosixTty, CanonicalLineWithEchoAndOnlcr) {
    Harness h;
    h.type("ls -l");
    EXPECT_TRUE(h.blocks());
    EXPECT_EQ(h.ld.readable_bytes(), 0u);
    h.type("\r");  // ICRNL
    EXPECT_EQ(h.out, "ls -l\r\n");
    EXPECT_EQ(h.ld.readable_bytes(), 6u);
    EXPECT_EQ(h.read(), "ls -l\n");
    EXPECT_TRUE(h.blocks());
    uint8_t c;
    EXPECT_EQ(h.ld.read(&c, 1, true).error().code(), Errno::Again);
}

TEST(PosixTty, OneLinePerReadAndShortReads) {
    Harness h;
    h.type("one\ntwo\n");
    EXPECT_EQ(h.read(2), "on");
    EXPECT_EQ(h.read(), "e\n");
    EXPECT_EQ(h.read(), "two\n");
}

TEST(PosixTty, EraseAndKill) {
    Harness h;
    h.type("abx\x7f");
    EXPECT_EQ(h.out, "abx\b \b");
    h.type("\b");  // ^H is not VERASE by default: it is an ordinary control character
    EXPECT_EQ(h.out, "abx\b \b^H");
    h.type("\x7f");  // erasing an echoed ^H takes two columns back
    EXPECT_EQ(h.out, "abx\b \b^H\b \b\b \b");
    h.type("c\n");
    EXPECT_EQ(h.read(), "abc\n");

    Harness k;
    KernelTermios t = k.ld.termios();
    t.c_cc[tc::VErase] = '\b';
    k.ld.set_termios(t);
    k.type("xy\b\bz\x15q\n");  // ^U kills the line (ECHOKE: visually)
    EXPECT_EQ(k.read(), "q\n");
    EXPECT_EQ(k.out, "xy\b \b\b \bz\b \bq\r\n");
    // Erase at the start of a line does nothing.
    k.out.clear();
    k.type("\b\x15");
    EXPECT_EQ(k.out, "");
}

// Without ECHOKE a kill, and without ECHOE an erase, echoes the control character instead of
// rubbing out the line; the line is edited all the same.
TEST(PosixTty, KillAndEraseWithoutVisualEcho) {
    struct Case {
        uint32_t cleared;
        const char* typed;
        const char* echo;
        const char* line;  // what reads after "d\n" is typed
    };
    const Case cases[] = {
        {tc::EchoKe, "abc\x15", "abc^U\r\n", "d\n"},
        {tc::EchoE, "ab\x7f", "ab^?", "ad\n"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.echo);
        Harness h;
        h.set_lflag(0, c.cleared);
        h.type(c.typed);
        EXPECT_EQ(h.out, c.echo);
        h.type("d\n");
        EXPECT_EQ(h.read(), c.line);
    }
}

TEST(PosixTty, WordErase) {
    Harness h;
    h.type("cat foo-bar  \x17");
    EXPECT_EQ(h.out.substr(13), std::string("\b \b\b \b\b \b\b \b\b \b"));
    h.type("\x17X\n");
    EXPECT_EQ(h.read(), "cat X\n");
    // Without IEXTEN ^W is ordinary.
    h.set_lflag(0, tc::IExten);
    h.type("a\x17\n");
    EXPECT_EQ(h.read(), "a\x17\n");
}

TEST(PosixTty, EofAtStartOfLineAndMidLine) {
    Harness h;
    h.type("\x04");
    EXPECT_EQ(h.read(), "");  // end of file
    h.type("par\x04");
    EXPECT_EQ(h.out, "par");     // ^D is not echoed
    EXPECT_EQ(h.read(), "par");  // the partial line, no newline
    EXPECT_TRUE(h.blocks());
    // A read that exactly fills with the partial line does not leave a fake EOF behind.
    h.type(
        "xyz\x04"
        "more\n");
    EXPECT_EQ(h.read(3), "xyz");
    EXPECT_EQ(h.read(), "more\n");
}

TEST(PosixTty, EchoctlShowsControlCharacters) {
    Harness h;
    h.type("a\x01\tb\n");
    EXPECT_EQ(h.out, "a^A\tb\r\n");
    EXPECT_EQ(h.read(), "a\x01\tb\n");
    h.out.clear();
    h.set_lflag(0, tc::EchoCtl);
    h.type("\x01\n");
    EXPECT_EQ(h.out, "\x01\r\n");
}

TEST(PosixTty, NoEchoAndEchonl) {
    Harness h;
    h.set_lflag(tc::EchoNl, tc::Echo);
    h.type("secret\n");
    EXPECT_EQ(h.out, "\r\n");
    EXPECT_EQ(h.read(), "secret\n");
}

TEST(PosixTty, SignalsGoToTheForegroundGroup) {
    Harness h;
    ASSERT_TRUE(h.ld.set_foreground_pgrp(42).is_ok());
    h.type("partial");
    h.type("\x03");
    EXPECT_EQ(h.out, "partial^C");
    ASSERT_EQ(h.sigs.size(), 1u);
    EXPECT_EQ(h.sigs[0], std::make_pair(42, SIG_INT));
    // The partial line was flushed.
    h.type("x\n");
    EXPECT_EQ(h.read(), "x\n");
    h.type("\x1c\x1a");
    ASSERT_EQ(h.sigs.size(), 3u);
    EXPECT_EQ(h.sigs[1].second, SIG_QUIT);
    EXPECT_EQ(h.sigs[2].second, SIG_TSTP);
    EXPECT_EQ(h.out.substr(h.out.size() - 4), "^\\^Z");
}

TEST(PosixTty, NoflshKeepsInputAndIsigOffPassesCharacters) {
    Harness h;
    ASSERT_TRUE(h.ld.set_foreground_pgrp(7).is_ok());
    h.set_lflag(tc::NoFlsh, 0);
    h.type("keep\n");
    h.type(
        "ab\x03"
        "c\n");
    EXPECT_EQ(h.sigs.size(), 1u);
    EXPECT_EQ(h.read(), "keep\n");
    EXPECT_EQ(h.read(), "abc\n");
    h.set_lflag(0, tc::ISig);
    h.type("\x03\n");
    EXPECT_EQ(h.sigs.size(), 1u);
    EXPECT_EQ(h.read(), "\x03\n");
    // Input still flushes without NOFLSH, including complete lines.
    Harness f;
    f.type("line\n\x03");
    EXPECT_TRUE(f.blocks());
    EXPECT_TRUE(f.sigs.empty());  // no foreground group: nobody to signal
}

TEST(PosixTty, ForegroundGroupAndSession) {
    Harness h;
    EXPECT_EQ(h.ld.foreground_pgrp(), 0);
    EXPECT_TRUE(h.ld.set_foreground_pgrp(5).is_ok());
    EXPECT_EQ(h.ld.foreground_pgrp(), 5);
    EXPECT_EQ(h.ld.set_foreground_pgrp(-1).error().code(), Errno::Inval);
    h.ld.set_session(3);
    EXPECT_EQ(h.ld.session(), 3);
}

TEST(PosixTty, WinsizeChangeRaisesSigwinch) {
    Harness h;
    ASSERT_TRUE(h.ld.set_foreground_pgrp(9).is_ok());
    h.ld.set_winsize({50, 132, 0, 0});
    EXPECT_EQ(h.ld.winsize().ws_col, 132);
    h.ld.set_winsize({50, 132, 0, 0});
    ASSERT_EQ(h.sigs.size(), 1u);
    EXPECT_EQ(h.sigs[0].second, SIG_WINCH);
}

TEST(PosixTty, OutputProcessing) {
    Harness h;
    const char* s = "a\nb\n";
    EXPECT_EQ(h.ld.write(reinterpret_cast<const uint8_t*>(s), 4), 4u);
    EXPECT_EQ(h.out, "a\r\nb\r\n");
    h.out.clear();
    KernelTermios t = h.ld.termios();
    t.c_oflag &= ~tc::OPost;
    h.ld.set_termios(t);
    h.ld.write(reinterpret_cast<const uint8_t*>(s), 4);
    EXPECT_EQ(h.out, "a\nb\n");
}

TEST(PosixTty, InputCrMapping) {
    Harness h;
    KernelTermios t = h.ld.termios();
    t.c_iflag = tc::IgnCr;
    h.ld.set_termios(t);
    h.type("a\rb\n");
    EXPECT_EQ(h.read(), "ab\n");
    t.c_iflag = tc::InlCr;
    t.c_lflag &= ~tc::ICanon;
    h.ld.set_termios(t);
    h.type("\n");
    EXPECT_EQ(h.read(), "\r");
}

TEST(PosixTty, NonCanonicalVmin1Vtime0) {
    Harness h;
    h.raw(1, 0);
    EXPECT_TRUE(h.blocks());
    auto r = h.ld.read(nullptr, 0, false);
    EXPECT_EQ(r.value().bytes, 0u);
    h.type("q");
    EXPECT_EQ(h.out, "");
    EXPECT_EQ(h.read(), "q");
    h.type("\x7f\x15xy");  // editing characters are data now
    EXPECT_EQ(h.read(), "\x7f\x15xy");
    uint8_t c;
    EXPECT_EQ(h.ld.read(&c, 1, true).error().code(), Errno::Again);
}

TEST(PosixTty, NonCanonicalVmin0Vtime0Polls) {
    Harness h;
    h.raw(0, 0);
    EXPECT_EQ(h.read(), "");
    EXPECT_TRUE(h.ld.read_ready());
    h.type("ab");
    EXPECT_EQ(h.read(1), "a");
    EXPECT_EQ(h.read(), "b");
}

TEST(PosixTty, NonCanonicalVminAndVtime) {
    Harness h;
    h.raw(3, 0);
    h.type("ab");
    EXPECT_TRUE(h.blocks());
    h.type("c");
    EXPECT_EQ(h.read(), "abc");
    // A smaller buffer than VMIN is satisfied by that many bytes.
    h.type("d");
    EXPECT_EQ(h.read(1), "d");
    // O_NONBLOCK returns what is there.
    h.type("e");
    uint8_t buf[8];
    auto nb = h.ld.read(buf, 8, true);
    EXPECT_EQ(nb.value().bytes, 1u);

    h.raw(0, 5);  // 0.5 s overall timeout
    std::vector<uint8_t> b(8);
    auto r = h.ld.read(b.data(), 8, false);
    EXPECT_EQ(r.value().status, TtyReadStatus::WouldBlock);
    EXPECT_EQ(r.value().timeout_ds, 5u);
    auto expired = h.ld.read(b.data(), 8, false, true);
    EXPECT_EQ(expired.value().status, TtyReadStatus::Done);
    EXPECT_EQ(expired.value().bytes, 0u);

    h.raw(4, 2);  // inter-byte timer once a byte arrived
    EXPECT_EQ(h.ld.read(b.data(), 8, false).value().timeout_ds, 0u);
    h.type("z");
    EXPECT_EQ(h.ld.read(b.data(), 8, false).value().timeout_ds, 2u);
    EXPECT_EQ(h.ld.read(b.data(), 8, false, true).value().bytes, 1u);
}

TEST(PosixTty, LeavingCanonicalModeKeepsPendingInput) {
    Harness h;
    h.type("done\npart");
    h.raw(1, 0);
    EXPECT_EQ(h.read(), "done\npart");
}

TEST(PosixTty, LnextQuotesTheNextCharacter) {
    Harness h;
    ASSERT_TRUE(h.ld.set_foreground_pgrp(1).is_ok());
    h.type("\x16\x03\x16\x7f\n");
    EXPECT_TRUE(h.sigs.empty());
    EXPECT_EQ(h.read(), "\x03\x7f\n");
}

TEST(PosixTty, IxonStopsAndStartsOutput) {
    Harness h;
    h.type("\x13");
    EXPECT_TRUE(h.ld.output_stopped());
    h.type("\x11");
    EXPECT_FALSE(h.ld.output_stopped());
    h.type("\n");
    EXPECT_EQ(h.read(), "\n");
}

TEST(PosixTty, LongLinesAreBounded) {
    Harness h;
    std::string big(10000, 'x');
    h.type(big);
    h.type("\n");
    std::string got = h.read(20000);
    EXPECT_LE(got.size(), LineDiscipline::BUFFER_SIZE);
    EXPECT_EQ(got.back(), '\n');
}

TEST(PosixTty, RandomInputFuzz) {
    Harness h;
    ASSERT_TRUE(h.ld.set_foreground_pgrp(3).is_ok());
    uint32_t x = 99;
    uint8_t buf[512];
    for (int i = 0; i < 200000; i++) {
        x = x * 1103515245 + 12345;
        uint8_t c = uint8_t(x >> 16);
        if ((x >> 8) % 97 == 0) {
            KernelTermios t = h.ld.termios();
            t.c_lflag ^=
                (x >> 3) & (tc::ICanon | tc::Echo | tc::EchoE | tc::EchoK | tc::EchoKe | tc::IExten | tc::ISig);
            t.c_cc[tc::VMin] = (x >> 5) & 3;
            h.ld.set_termios(t);
        }
        h.ld.input(c);
        if ((x >> 12) % 5 == 0) {
            auto r = h.ld.read(buf, (x >> 20) % sizeof buf, (x >> 4) & 1, (x >> 6) & 1);
            if (r.is_ok()) {
                ASSERT_LE(r.value().bytes, sizeof buf);
            }
        }
        if (h.out.size() > 100000) h.out.clear();
    }
}

TEST(PosixTty, Ioctls) {
    Harness h;
    KernelTermios t{};
    ASSERT_TRUE(h.ld.ioctl(tc::TcGets, &t).is_ok());
    EXPECT_EQ(t.c_lflag, default_termios().c_lflag);
    t.c_lflag &= ~tc::Echo;
    ASSERT_TRUE(h.ld.ioctl(tc::TcSets, &t).is_ok());
    EXPECT_FALSE(h.ld.termios().c_lflag & tc::Echo);
    h.type("ab\n");
    int32_t n = -1;
    ASSERT_TRUE(h.ld.ioctl(tc::FionRead, &n).is_ok());
    EXPECT_EQ(n, 3);
    ASSERT_TRUE(h.ld.ioctl(tc::TcSetsF, &t).is_ok());  // flushes pending input
    ASSERT_TRUE(h.ld.ioctl(tc::FionRead, &n).is_ok());
    EXPECT_EQ(n, 0);
    int32_t pg = 12;
    ASSERT_TRUE(h.ld.ioctl(tc::TiocSPgrp, &pg).is_ok());
    pg = 0;
    ASSERT_TRUE(h.ld.ioctl(tc::TiocGPgrp, &pg).is_ok());
    EXPECT_EQ(pg, 12);
    pg = -3;
    EXPECT_EQ(h.ld.ioctl(tc::TiocSPgrp, &pg).error().code(), Errno::Inval);
    WinSize w{30, 100, 0, 0};
    ASSERT_TRUE(h.ld.ioctl(tc::TiocSWinSz, &w).is_ok());
    WinSize g{};
    ASSERT_TRUE(h.ld.ioctl(tc::TiocGWinSz, &g).is_ok());
    EXPECT_EQ(g.ws_row, 30);
    EXPECT_EQ(g.ws_col, 100);
    int32_t sid;
    EXPECT_EQ(h.ld.ioctl(tc::TiocGSid, &sid).error().code(), Errno::NotTty);
    h.ld.set_session(4);
    ASSERT_TRUE(h.ld.ioctl(tc::TiocGSid, &sid).is_ok());
    EXPECT_EQ(sid, 4);
    EXPECT_EQ(h.ld.ioctl(0x1234, &sid).error().code(), Errno::NotTty);
}
