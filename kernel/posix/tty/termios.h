// lamina:portable
// Linux's kernel termios ABI (TCGETS/TCSETS take this 36-byte layout, not glibc's larger
// userspace struct) and struct winsize, with the x86-64 flag values.
#pragma once

#include <stdint.h>

namespace lamina::posix {

inline constexpr int CC_COUNT = 19;

struct KernelTermios {
    uint32_t c_iflag;
    uint32_t c_oflag;
    uint32_t c_cflag;
    uint32_t c_lflag;
    uint8_t c_line;
    uint8_t c_cc[CC_COUNT];
};
static_assert(sizeof(KernelTermios) == 36);
static_assert(__builtin_offsetof(KernelTermios, c_cc) == 17);

struct WinSize {
    uint16_t ws_row;
    uint16_t ws_col;
    uint16_t ws_xpixel;
    uint16_t ws_ypixel;
};
static_assert(sizeof(WinSize) == 8);

namespace tc {
// c_cc indices
inline constexpr int VIntr = 0, VQuit = 1, VErase = 2, VKill = 3, VEof = 4, VTime = 5, VMin = 6, VSwtc = 7, VStart = 8,
                     VStop = 9, VSusp = 10, VEol = 11, VReprint = 12, VDiscard = 13, VWerase = 14, VLnext = 15,
                     VEol2 = 16;
// c_iflag
inline constexpr uint32_t IgnBrk = 01, BrkInt = 02, IgnPar = 04, ParMrk = 010, InPck = 020, IStrip = 040, InlCr = 0100,
                          IgnCr = 0200, ICrNl = 0400, IUcLc = 01000, IXon = 02000, IXany = 04000, IXoff = 010000,
                          IMaxBel = 020000, IUtf8 = 040000;
// c_oflag
inline constexpr uint32_t OPost = 01, OLcUc = 02, ONlCr = 04, OCrNl = 010, ONoCr = 020, ONlRet = 040;
// c_cflag
inline constexpr uint32_t B38400 = 017, CS8 = 060, CRead = 0200, HupCl = 02000;
// c_lflag
inline constexpr uint32_t ISig = 01, ICanon = 02, XCase = 04, Echo = 010, EchoE = 020, EchoK = 040, EchoNl = 0100,
                          NoFlsh = 0200, ToStop = 0400, EchoCtl = 01000, EchoPrt = 02000, EchoKe = 04000,
                          FlushO = 010000, PendIn = 040000, IExten = 0100000;
// ioctl numbers
inline constexpr uint32_t TcGets = 0x5401, TcSets = 0x5402, TcSetsW = 0x5403, TcSetsF = 0x5404, TiocGPgrp = 0x540F,
                          TiocSPgrp = 0x5410, TiocGWinSz = 0x5413, TiocSWinSz = 0x5414, TiocGSid = 0x5429,
                          TiocSCtty = 0x540E, FionRead = 0x541B;
}  // namespace tc

// Signal numbers the line discipline raises (x86-64 Linux).
inline constexpr int SIG_INT = 2, SIG_QUIT = 3, SIG_TSTP = 20, SIG_WINCH = 28;

// What a new tty starts with: Linux's tty_std_termios.
constexpr KernelTermios default_termios() {
    KernelTermios t{};
    t.c_iflag = tc::ICrNl | tc::IXon;
    t.c_oflag = tc::OPost | tc::ONlCr;
    t.c_cflag = tc::B38400 | tc::CS8 | tc::CRead | tc::HupCl;
    t.c_lflag = tc::ISig | tc::ICanon | tc::Echo | tc::EchoE | tc::EchoK | tc::EchoCtl | tc::EchoKe | tc::IExten;
    const uint8_t cc[CC_COUNT] = {3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0};
    for (int i = 0; i < CC_COUNT; i++) t.c_cc[i] = cc[i];
    return t;
}

}  // namespace lamina::posix
