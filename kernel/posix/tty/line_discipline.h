// lamina:portable
// The tty line discipline (Linux's N_TTY, reduced to what a serial console needs): input
// bytes from the driver are cooked (canonical editing, signals, echo) into a read queue;
// output bytes are post-processed (ONLCR) into a sink. No locks and no sleeping: reads that
// cannot be satisfied say so and the caller waits on the tty's queue, then calls again.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/tty/termios.h"

namespace lamina::posix {

// Where output and echo go (the serial driver).
class TtySink {
public:
    virtual void tty_output(const uint8_t* data, size_t n) = 0;

protected:
    ~TtySink() = default;
};

// Raises a signal in a process group (the process layer's kill_pgrp).
class TtySignals {
public:
    virtual void signal_pgrp(int pgrp, int sig) = 0;

protected:
    ~TtySignals() = default;
};

enum class TtyReadStatus : uint8_t {
    Done,        // `bytes` copied (0 is end of file in canonical mode, or VMIN=0 expiry)
    WouldBlock,  // sleep until input arrives (or `timeout_ds` deciseconds pass if nonzero),
                 // then call again, with timed_out=true if the timeout expired
};

struct TtyRead {
    TtyReadStatus status;
    size_t bytes;
    uint32_t timeout_ds;
};

class LineDiscipline {
public:
    static constexpr size_t BUFFER_SIZE = 4096;  // N_TTY_BUF_SIZE

    LineDiscipline(TtySink& sink, TtySignals& signals);

    // One byte from the driver (interrupt context, under the tty lock).
    void input(uint8_t c);
    void input(const uint8_t* data, size_t n) {
        for (size_t i = 0; i < n; i++) input(data[i]);
    }

    // read(2). Errno::Again when nothing is ready and nonblock is set.
    Result<TtyRead> read(uint8_t* dst, size_t n, bool nonblock, bool timed_out = false);
    // write(2): output processing into the sink. Returns n.
    size_t write(const uint8_t* src, size_t n);

    const KernelTermios& termios() const { return termios_; }
    // TCSETS; leaving canonical mode turns the partial line into readable input, as Linux does.
    void set_termios(const KernelTermios& t);
    const WinSize& winsize() const { return winsize_; }
    // TIOCSWINSZ: a change raises SIGWINCH in the foreground group.
    void set_winsize(const WinSize& w);

    int foreground_pgrp() const { return fg_pgrp_; }
    // TIOCSPGRP; whether pgrp belongs to the tty's session is the process layer's check.
    Result<void> set_foreground_pgrp(int pgrp);
    int session() const { return session_; }
    void set_session(int sid) { session_ = sid; }

    // The tty ioctls on a kernel copy of their argument (the syscall layer copies it from and
    // to user memory; `arg` has the size the command implies): TCGETS, TCSETS(W/F),
    // TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCSWINSZ, TIOCGSID, FIONREAD. Others: ENOTTY.
    Result<int> ioctl(uint32_t cmd, void* arg);

    // FIONREAD / poll: bytes a read could return now.
    size_t readable_bytes() const;
    bool read_ready() const;
    bool output_stopped() const { return stopped_; }
    // TCFLSH(TCIFLUSH), and what signals do without NOFLSH.
    void flush_input();

private:
    bool lflag(uint32_t f) const { return termios_.c_lflag & f; }
    bool iflag(uint32_t f) const { return termios_.c_iflag & f; }
    uint8_t cc(int i) const { return termios_.c_cc[i]; }
    // A control character matches only when enabled (_POSIX_VDISABLE is 0).
    bool is_cc(uint8_t c, int i) const { return cc(i) != 0 && c == cc(i); }

    void receive_canonical(uint8_t c);
    void receive_raw(uint8_t c);
    void raise_signal(uint8_t c, int sig);
    void erase(int kind);
    void commit_line(bool eof_marker, uint8_t delim);
    void push_read(uint8_t c, bool delim, bool eof);

    void echo_char(uint8_t c);
    void echo_raw(const char* s);
    void output_char(uint8_t c);

    TtySink& sink_;
    TtySignals& signals_;
    KernelTermios termios_;
    WinSize winsize_{24, 80, 0, 0};
    int fg_pgrp_ = 0;
    int session_ = 0;
    bool stopped_ = false;
    bool lnext_ = false;

    // The line being edited (canonical mode).
    uint8_t line_[BUFFER_SIZE];
    size_t line_len_ = 0;
    // Input ready for read(): bytes, each marked when it ends a canonical line; an EOF marker
    // is a delimiter whose byte is not delivered.
    uint8_t rq_[BUFFER_SIZE];
    uint8_t rq_flags_[BUFFER_SIZE];
    size_t rq_head_ = 0;
    size_t rq_len_ = 0;
    size_t lines_ = 0;
};

}  // namespace lamina::posix
