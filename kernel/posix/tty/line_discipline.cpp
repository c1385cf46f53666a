// lamina:portable
#include "kernel/posix/tty/line_discipline.h"

namespace lamina::posix {

namespace {

constexpr uint8_t RQ_DELIM = 1;  // rq_flags_: this byte ends a canonical line
constexpr uint8_t RQ_EOF = 2;    // rq_flags_: an EOF marker, consumed but never delivered

enum EraseKind { kErase, kWerase, kKill };

bool is_control(uint8_t c) { return c < 0x20 || c == 0x7f; }
bool is_word_char(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

}  // namespace

LineDiscipline::LineDiscipline(TtySink& sink, TtySignals& signals)
    : sink_(sink), signals_(signals), termios_(default_termios()) {}

void LineDiscipline::output_char(uint8_t c) {
    if (termios_.c_oflag & tc::OPost) {
        if (c == '\n' && (termios_.c_oflag & tc::ONlCr)) {
            const uint8_t crlf[2] = {'\r', '\n'};
            sink_.tty_output(crlf, 2);
            return;
        }
        if (c == '\r' && (termios_.c_oflag & tc::OCrNl)) c = '\n';
    }
    sink_.tty_output(&c, 1);
}

void LineDiscipline::echo_raw(const char* s) {
    for (; *s; s++) output_char(uint8_t(*s));
}

// ECHOCTL shows control characters as ^X (DEL as ^?); tab and newline stay themselves.
void LineDiscipline::echo_char(uint8_t c) {
    if (lflag(tc::EchoCtl) && is_control(c) && c != '\t' && c != '\n') {
        output_char('^');
        output_char(c ^ 0x40);
        return;
    }
    output_char(c);
}

void LineDiscipline::push_read(uint8_t c, bool delim, bool eof) {
    if (rq_len_ == BUFFER_SIZE) return;
    size_t at = (rq_head_ + rq_len_) % BUFFER_SIZE;
    rq_[at] = c;
    rq_flags_[at] = uint8_t((delim ? RQ_DELIM : 0) | (eof ? RQ_EOF : 0));
    rq_len_++;
    if (delim) lines_++;
}

void LineDiscipline::commit_line(bool eof_marker, uint8_t delim) {
    for (size_t i = 0; i < line_len_; i++) push_read(line_[i], false, false);
    push_read(delim, true, eof_marker);
    line_len_ = 0;
}

void LineDiscipline::flush_input() {
    line_len_ = 0;
    rq_head_ = rq_len_ = lines_ = 0;
    lnext_ = false;
}

void LineDiscipline::raise_signal(uint8_t c, int sig) {
    if (!lflag(tc::NoFlsh)) flush_input();
    if (lflag(tc::Echo)) echo_char(c);
    if (fg_pgrp_ > 0) signals_.signal_pgrp(fg_pgrp_, sig);
}

void LineDiscipline::erase(int kind) {
    if (line_len_ == 0) return;
    if (kind == kKill) {
        if (!lflag(tc::Echo)) {
            line_len_ = 0;
            return;
        }
        if (!lflag(tc::EchoK) || !lflag(tc::EchoKe) || !lflag(tc::EchoE)) {
            // The old-style kill: show the KILL character, then a fresh line with ECHOK.
            line_len_ = 0;
            echo_char(cc(tc::VKill));
            if (lflag(tc::EchoK)) output_char('\n');
            return;
        }
    }
    bool seen_word = false;
    while (line_len_ > 0) {
        uint8_t c = line_[line_len_ - 1];
        if (kind == kWerase) {
            // Skip separators, then delete the word before them.
            if (is_word_char(c))
                seen_word = true;
            else if (seen_word)
                break;
        }
        line_len_--;
        if (lflag(tc::Echo)) {
            if (kind == kErase && !lflag(tc::EchoE)) {
                echo_char(cc(tc::VErase));
            } else if (c == '\t') {
                // Back up to where the tab started, assuming the line began at column 0.
                size_t col = 0;
                for (size_t i = 0; i < line_len_; i++) {
                    if (line_[i] == '\t')
                        col = (col | 7) + 1;
                    else if (is_control(line_[i]))
                        col += lflag(tc::EchoCtl) ? 2 : 0;
                    else
                        col++;
                }
                size_t width = 8 - (col & 7);
                for (size_t i = 0; i < width; i++) output_char('\b');
            } else if (is_control(c)) {
                if (lflag(tc::EchoCtl)) echo_raw("\b \b\b \b");
            } else {
                echo_raw("\b \b");
            }
        }
        if (kind == kErase) break;
    }
}

void LineDiscipline::receive_canonical(uint8_t c) {
    if (is_cc(c, tc::VErase)) return erase(kErase);
    if (is_cc(c, tc::VKill)) return erase(kKill);
    if (lflag(tc::IExten) && is_cc(c, tc::VWerase)) return erase(kWerase);
    if (c == '\n') {
        if (lflag(tc::Echo) || lflag(tc::EchoNl)) output_char('\n');
        return commit_line(false, '\n');
    }
    if (is_cc(c, tc::VEof)) return commit_line(true, c);
    if (is_cc(c, tc::VEol) || (lflag(tc::IExten) && is_cc(c, tc::VEol2))) {
        if (lflag(tc::Echo)) echo_char(c);
        return commit_line(false, c);
    }
    if (lflag(tc::IExten) && is_cc(c, tc::VReprint)) {
        if (lflag(tc::Echo)) {
            echo_char(c);
            output_char('\n');
            for (size_t i = 0; i < line_len_; i++) echo_char(line_[i]);
        }
        return;
    }
    receive_raw(c);
}

// An ordinary character: into the edit line (canonical) or straight to the reader.
void LineDiscipline::receive_raw(uint8_t c) {
    if (lflag(tc::ICanon)) {
        // Keep room for the line's delimiter in the read queue.
        if (rq_len_ + line_len_ + 2 > BUFFER_SIZE) return;
        line_[line_len_++] = c;
    } else {
        if (rq_len_ == BUFFER_SIZE) return;
        push_read(c, false, false);
    }
    if (lflag(tc::Echo)) echo_char(c);
}

void LineDiscipline::input(uint8_t c) {
    if (iflag(tc::IStrip)) c &= 0x7f;
    if (lnext_) {
        lnext_ = false;
        if (lflag(tc::Echo) && lflag(tc::EchoCtl)) echo_raw("\b");
        return receive_raw(c);
    }
    if (iflag(tc::IXon)) {
        if (is_cc(c, tc::VStop)) {
            stopped_ = true;
            return;
        }
        if (is_cc(c, tc::VStart)) {
            stopped_ = false;
            return;
        }
        if (stopped_ && iflag(tc::IXany)) stopped_ = false;
    }
    if (lflag(tc::ISig)) {
        if (is_cc(c, tc::VIntr)) return raise_signal(c, SIG_INT);
        if (is_cc(c, tc::VQuit)) return raise_signal(c, SIG_QUIT);
        if (is_cc(c, tc::VSusp)) return raise_signal(c, SIG_TSTP);
    }
    if (c == '\r') {
        if (iflag(tc::IgnCr)) return;
        if (iflag(tc::ICrNl)) c = '\n';
    } else if (c == '\n' && iflag(tc::InlCr)) {
        c = '\r';
    }
    if (lflag(tc::IExten) && is_cc(c, tc::VLnext)) {
        lnext_ = true;
        if (lflag(tc::Echo) && lflag(tc::EchoCtl)) echo_raw("^");
        return;
    }
    if (lflag(tc::ICanon)) return receive_canonical(c);
    receive_raw(c);
}

size_t LineDiscipline::readable_bytes() const {
    if (!lflag(tc::ICanon)) return rq_len_;
    // Only whole lines can be read; EOF markers are not data.
    size_t n = 0, upto = 0;
    for (size_t i = 0; i < rq_len_; i++) {
        size_t at = (rq_head_ + i) % BUFFER_SIZE;
        if (!(rq_flags_[at] & RQ_EOF)) n++;
        if (rq_flags_[at] & RQ_DELIM) upto = n;
    }
    return upto;
}

bool LineDiscipline::read_ready() const {
    if (lflag(tc::ICanon)) return lines_ > 0;
    return rq_len_ > 0 || (cc(tc::VMin) == 0 && cc(tc::VTime) == 0);
}

Result<TtyRead> LineDiscipline::read(uint8_t* dst, size_t n, bool nonblock, bool timed_out) {
    if (n == 0) return TtyRead{TtyReadStatus::Done, 0, 0};
    if (lflag(tc::ICanon)) {
        if (lines_ == 0) {
            if (nonblock) return Errno::Again;
            return TtyRead{TtyReadStatus::WouldBlock, 0, 0};
        }
        size_t copied = 0;
        while (rq_len_ > 0) {
            uint8_t flags = rq_flags_[rq_head_];
            if (copied == n) {
                // A full buffer that ends right before an EOF marker takes the marker along,
                // so the next read does not see a spurious end of file.
                if ((flags & RQ_EOF) && copied > 0) {
                    rq_head_ = (rq_head_ + 1) % BUFFER_SIZE;
                    rq_len_--;
                    lines_--;
                }
                break;
            }
            if (!(flags & RQ_EOF)) dst[copied++] = rq_[rq_head_];
            rq_head_ = (rq_head_ + 1) % BUFFER_SIZE;
            rq_len_--;
            if (flags & RQ_DELIM) {
                lines_--;
                break;
            }
        }
        return TtyRead{TtyReadStatus::Done, copied, 0};
    }

    uint8_t vmin = cc(tc::VMin), vtime = cc(tc::VTime);
    size_t avail = rq_len_;
    size_t need = vmin < n ? vmin : n;
    bool deliver = avail >= need && (avail > 0 || vtime == 0);
    if (!deliver && avail > 0 && (nonblock || timed_out)) deliver = true;
    if (!deliver && avail == 0 && vmin == 0 && timed_out) deliver = true;
    if (!deliver) {
        if (nonblock) return Errno::Again;
        // VTIME counts from the start of the read when VMIN is 0, between bytes otherwise.
        uint32_t timeout = (vmin == 0 || avail > 0) ? vtime : 0;
        return TtyRead{TtyReadStatus::WouldBlock, 0, timeout};
    }
    size_t k = avail < n ? avail : n;
    for (size_t i = 0; i < k; i++) {
        dst[i] = rq_[rq_head_];
        rq_head_ = (rq_head_ + 1) % BUFFER_SIZE;
    }
    rq_len_ -= k;
    return TtyRead{TtyReadStatus::Done, k, 0};
}

size_t LineDiscipline::write(const uint8_t* src, size_t n) {
    for (size_t i = 0; i < n; i++) output_char(src[i]);
    return n;
}

void LineDiscipline::set_termios(const KernelTermios& t) {
    bool was_canon = lflag(tc::ICanon);
    termios_ = t;
    if (was_canon && !lflag(tc::ICanon)) {
        for (size_t i = 0; i < line_len_; i++) push_read(line_[i], false, false);
        line_len_ = 0;
        // Lines already complete stay readable; their EOF markers are dropped as data.
        size_t kept = 0;
        for (size_t i = 0; i < rq_len_; i++) {
            size_t from = (rq_head_ + i) % BUFFER_SIZE;
            if (rq_flags_[from] & RQ_EOF) continue;
            size_t to = (rq_head_ + kept) % BUFFER_SIZE;
            rq_[to] = rq_[from];
            rq_flags_[to] = 0;
            kept++;
        }
        rq_len_ = kept;
        lines_ = 0;
    }
}

void LineDiscipline::set_winsize(const WinSize& w) {
    bool changed = w.ws_row != winsize_.ws_row || w.ws_col != winsize_.ws_col || w.ws_xpixel != winsize_.ws_xpixel ||
                   w.ws_ypixel != winsize_.ws_ypixel;
    winsize_ = w;
    if (changed && fg_pgrp_ > 0) signals_.signal_pgrp(fg_pgrp_, SIG_WINCH);
}

Result<void> LineDiscipline::set_foreground_pgrp(int pgrp) {
    if (pgrp < 0) return Errno::Inval;
    fg_pgrp_ = pgrp;
    return {};
}

Result<int> LineDiscipline::ioctl(uint32_t cmd, void* arg) {
    if (!arg) return Errno::Fault;
    switch (cmd) {
        case tc::TcGets:
            __builtin_memcpy(arg, &termios_, sizeof termios_);
            return 0;
        case tc::TcSetsF:
            flush_input();
            [[fallthrough]];
        case tc::TcSets:
        case tc::TcSetsW: {
            // Output is written synchronously, so there is nothing to drain for TCSETSW.
            KernelTermios t;
            __builtin_memcpy(&t, arg, sizeof t);
            set_termios(t);
            return 0;
        }
        case tc::TiocGPgrp: {
            int32_t v = fg_pgrp_;
            __builtin_memcpy(arg, &v, sizeof v);
            return 0;
        }
        case tc::TiocSPgrp: {
            int32_t v;
            __builtin_memcpy(&v, arg, sizeof v);
            TRY(set_foreground_pgrp(v));
            return 0;
        }
        case tc::TiocGWinSz:
            __builtin_memcpy(arg, &winsize_, sizeof winsize_);
            return 0;
        case tc::TiocSWinSz: {
            WinSize w;
            __builtin_memcpy(&w, arg, sizeof w);
            set_winsize(w);
            return 0;
        }
        case tc::TiocGSid: {
            if (session_ <= 0) return Errno::NotTty;
            int32_t v = session_;
            __builtin_memcpy(arg, &v, sizeof v);
            return 0;
        }
        case tc::FionRead: {
            int32_t v = int32_t(readable_bytes());
            __builtin_memcpy(arg, &v, sizeof v);
            return 0;
        }
        default:
            return Errno::NotTty;
    }
}

}  // namespace lamina::posix
