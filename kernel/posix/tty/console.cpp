#include "kernel/posix/tty/console.h"

#include <new>

#include "kernel/dev/serial.h"
#include "kernel/lib/log.h"
#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/process_hooks.h"
#include "kernel/posix/tty/line_discipline.h"
#include "kernel/sched/thread.h"
#include "kernel/sched/wait_queue.h"
#include "kernel/sync/spinlock.h"

namespace lamina::posix {

namespace {

constexpr uint32_t TCSBRK = 0x5409, TCXONC = 0x540A, TCFLSH = 0x540B, TIOCNOTTY = 0x5422, TIOCOUTQ = 0x5411,
                   TCSBRKP = 0x5425;
constexpr int SIGHUP = 1, SIGCONT = 18, SIGTTIN = 21, SIGTTOU = 22;
constexpr uint32_t S_IFCHR = 0020000;
constexpr uint64_t CONSOLE_RDEV = (5u << 8) | 1;  // major 5, minor 1: /dev/console

// Signals the keyboard raises (Ctrl-C, Ctrl-\) are generated in the receive interrupt, but
// sending them takes the process layer's locks and walks its table, which belongs in thread
// context: a kernel thread sends them, in order. A burst beyond the queue's room loses the
// excess, like keys typed into a full input buffer.
struct SignalPoster {
    struct Item {
        int pgrp, sig;
    };
    static constexpr size_t CAPACITY = 16;
    Spinlock lock;
    Item items[CAPACITY];      // lock
    size_t head = 0, len = 0;  // lock
    sched::WaitQueue ready;
};
SignalPoster g_poster;

void post_signal(int pgrp, int sig) {
    uint64_t flags = g_poster.lock.lock();
    if (g_poster.len < SignalPoster::CAPACITY) {
        g_poster.items[(g_poster.head + g_poster.len) % SignalPoster::CAPACITY] = {pgrp, sig};
        g_poster.len++;
    }
    g_poster.lock.unlock(flags);
    g_poster.ready.wake_one();
}

// The thread starts with the first foreground process group (TIOCSCTTY, TIOCSPGRP): before
// that no signal has anyone to go to, and a kernel that never runs programs (ktest) keeps its
// thread set as it was.
int g_poster_state = 0;  // 0: none, 1: starting, 2: running

void signal_poster_main(void*);

void start_signal_poster() {
    int none = 0;
    if (!__atomic_compare_exchange_n(&g_poster_state, &none, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return;
    sched::ThreadOptions options;
    options.detached = true;
    options.priority = sched::Priority::High;
    auto t = sched::Thread::create("tty-signals", signal_poster_main, nullptr, options);
    if (t.is_error()) {
        kprintf("console: cannot start the signal thread (%s): ^C will not reach programs\n", t.error().name());
        __atomic_store_n(&g_poster_state, 0, __ATOMIC_RELEASE);
        return;
    }
    __atomic_store_n(&g_poster_state, 2, __ATOMIC_RELEASE);
}

void signal_poster_main(void*) {
    for (;;) {
        g_poster.ready.wait([] { return __atomic_load_n(&g_poster.len, __ATOMIC_ACQUIRE) > 0; });
        uint64_t flags = g_poster.lock.lock();
        SignalPoster::Item it = g_poster.items[g_poster.head];
        g_poster.head = (g_poster.head + 1) % SignalPoster::CAPACITY;
        g_poster.len--;
        g_poster.lock.unlock(flags);
        tty_signal_pgrp(it.pgrp, it.sig);
    }
}

class ConsoleTty final : public FileObject, private TtySink, private TtySignals {
public:
    ConsoleTty() : ld_(*this, *this) {}

    // serial::Receiver: interrupt context, serial receive lock held.
    static size_t receive(void* ctx, const uint8_t* data, size_t n) {
        auto* tty = static_cast<ConsoleTty*>(ctx);
        Pending pending;
        uint64_t flags = tty->lock_.lock();
        tty->ld_.input(data, n);
        tty->take_signals(pending);
        tty->lock_.unlock(flags);
        tty->changed();
        for (int i = 0; i < pending.n; i++) post_signal(pending.sigs[i].pgrp, pending.sigs[i].sig);
        return n;
    }

    void wake_readers() { changed(); }

    Result<size_t> read(OpenFile& f, void* dst, size_t n) override {
        TRY(job_control(SIGTTIN, false));
        bool timed_out = false;
        for (;;) {
            uint64_t seen = __atomic_load_n(&generation_, __ATOMIC_ACQUIRE);
            uint64_t flags = lock_.lock();
            auto r = ld_.read(static_cast<uint8_t*>(dst), n, f.nonblocking(), timed_out);
            lock_.unlock(flags);
            if (r.is_error()) return r.error();
            TtyRead got = r.value();
            if (got.status == TtyReadStatus::Done) return got.bytes;
            if (signal_pending()) return Errno::Intr;
            uint64_t timeout_ns = uint64_t(got.timeout_ds) * 100'000'000ull;
            auto w = wait_interruptible(
                readers_, [&] { return __atomic_load_n(&generation_, __ATOMIC_ACQUIRE) != seen; }, timeout_ns);
            if (w.is_error()) {
                if (w.error().code() != Errno::TimedOut) return w.error();
                timed_out = true;
            }
        }
    }

    Result<size_t> write(OpenFile&, const void* src, size_t n) override {
        TRY(job_control(SIGTTOU, true));
        // In pieces, so that the receive interrupt is not held off for a whole large write.
        auto* s = static_cast<const uint8_t*>(src);
        size_t done = 0;
        while (done < n) {
            size_t k = n - done < 256 ? n - done : 256;
            uint64_t flags = lock_.lock();
            ld_.write(s + done, k);
            lock_.unlock(flags);
            done += k;
        }
        return n;
    }

    Result<int64_t> ioctl(OpenFile&, uint32_t cmd, uint64_t arg, UserIo& io) override;

    uint32_t poll(OpenFile&) override {
        uint64_t flags = lock_.lock();
        bool in = ld_.read_ready();
        lock_.unlock(flags);
        uint32_t ev = pollev::Out | pollev::WrNorm;
        if (in) ev |= pollev::In | pollev::RdNorm;
        return ev;
    }
    PollQueue* poll_queue() override { return &poll_queue_; }
    bool is_stream() const override { return true; }

    Result<void> stat(Stat& st) override {
        st = Stat{};
        st.st_mode = S_IFCHR | 0600;
        st.st_nlink = 1;
        st.st_rdev = CONSOLE_RDEV;
        st.st_blksize = 1024;
        st.st_ino = 2;
        return {};
    }

private:
    // Signals raised while the lock is held, sent once it is released.
    struct Pending {
        struct Sig {
            int pgrp, sig;
        } sigs[4];
        int n = 0;
        void send() {
            for (int i = 0; i < n; i++) tty_signal_pgrp(sigs[i].pgrp, sigs[i].sig);
        }
    };

    // A process of the terminal's session outside its foreground group may not read it (nor
    // write, with TOSTOP): its group gets SIGTTIN/SIGTTOU (which stops it) and the call EINTR;
    // EIO when the signal is ignored or blocked, so that it cannot wait for ever. Writes are
    // allowed then, as on Linux.
    Result<void> job_control(int sig, bool writing) {
        TtyCaller me = tty_caller();
        uint64_t flags = lock_.lock();
        int sid = ld_.session(), fg = ld_.foreground_pgrp();
        bool tostop = ld_.termios().c_lflag & tc::ToStop;
        lock_.unlock(flags);
        if (sid <= 0 || sid != me.sid || fg <= 0 || me.pgrp == fg) return {};
        if (writing && !tostop) return {};
        if (signal_ignored_or_blocked(sig)) {
            if (writing) return {};
            return Errno::IO;
        }
        tty_signal_pgrp(me.pgrp, sig);
        return Errno::Intr;
    }

    void tty_output(const uint8_t* data, size_t n) override { serial::write_terminal(data, n); }
    void signal_pgrp(int pgrp, int sig) override {
        if (raised_n_ < 4) raised_[raised_n_++] = {pgrp, sig};
    }
    void take_signals(Pending& p) {
        for (int i = 0; i < raised_n_; i++) p.sigs[p.n++] = {raised_[i].pgrp, raised_[i].sig};
        raised_n_ = 0;
    }
    // The readable state may have changed: wake readers and pollers (no tty lock held).
    void changed() {
        __atomic_add_fetch(&generation_, 1, __ATOMIC_RELEASE);
        readers_.wake_all();
        poll_queue_.notify();
    }

    Spinlock lock_;
    LineDiscipline ld_;        // lock_
    Pending::Sig raised_[4];   // lock_
    int raised_n_ = 0;         // lock_
    uint64_t generation_ = 0;  // bumped (atomically) after every change readers may wait for
    sched::WaitQueue readers_;
    PollQueue poll_queue_;
};

Result<int64_t> ConsoleTty::ioctl(OpenFile&, uint32_t cmd, uint64_t arg, UserIo& io) {
    TtyCaller me = tty_caller();
    Pending pending;
    // The outcome of a command decided under the lock (Errno values leave the lock as data).
    bool failed = false;
    Errno failure = Errno::NotTty;
    auto fail = [&](Errno e) {
        failed = true;
        failure = e;
    };
    auto outcome = [&]() -> Result<int64_t> {
        pending.send();
        if (failed) return failure;
        return 0;
    };
    switch (cmd) {
        case tc::TcGets: {
            uint64_t flags = lock_.lock();
            KernelTermios t = ld_.termios();
            lock_.unlock(flags);
            TRY(io.copy_out(arg, &t, sizeof t));
            return 0;
        }
        case tc::TcSets:
        case tc::TcSetsW:
        case tc::TcSetsF: {
            KernelTermios t;
            TRY(io.copy_in(&t, arg, sizeof t));
            uint64_t flags = lock_.lock();
            (void)ld_.ioctl(cmd, &t);
            lock_.unlock(flags);
            changed();  // leaving canonical mode can make input readable
            return 0;
        }
        case tc::TiocGWinSz: {
            uint64_t flags = lock_.lock();
            WinSize w = ld_.winsize();
            lock_.unlock(flags);
            TRY(io.copy_out(arg, &w, sizeof w));
            return 0;
        }
        case tc::TiocSWinSz: {
            WinSize w;
            TRY(io.copy_in(&w, arg, sizeof w));
            uint64_t flags = lock_.lock();
            ld_.set_winsize(w);
            take_signals(pending);
            lock_.unlock(flags);
            return outcome();
        }
        case tc::TiocGPgrp: {
            uint64_t flags = lock_.lock();
            int32_t pgrp = ld_.foreground_pgrp(), sid = ld_.session();
            lock_.unlock(flags);
            if (sid != me.sid) return Errno::NotTty;
            TRY(io.copy_out(arg, &pgrp, sizeof pgrp));
            return 0;
        }
        case tc::TiocSPgrp: {
            int32_t pgrp;
            TRY(io.copy_in(&pgrp, arg, sizeof pgrp));
            if (pgrp < 0) return Errno::Inval;
            // As Linux: the group must exist (ESRCH) and belong to the terminal's session (EPERM).
            auto in = pgrp_session(pgrp);
            if (in.is_error()) return in.error();
            if (in.value() != me.sid) return Errno::Perm;
            start_signal_poster();
            uint64_t flags = lock_.lock();
            if (ld_.session() != me.sid)
                fail(Errno::NotTty);
            else if (ld_.set_foreground_pgrp(pgrp).is_error())
                fail(Errno::Inval);
            lock_.unlock(flags);
            return outcome();
        }
        case tc::TiocGSid: {
            uint64_t flags = lock_.lock();
            int32_t sid = ld_.session();
            lock_.unlock(flags);
            if (sid <= 0 || sid != me.sid) return Errno::NotTty;
            TRY(io.copy_out(arg, &sid, sizeof sid));
            return 0;
        }
        case tc::TiocSCtty: {
            // The caller's session takes the console: only a session leader may, and only from
            // another session when forced (arg 1; everyone here is root).
            if (!me.session_leader()) return Errno::Perm;
            start_signal_poster();
            // Checked outside the lock (it looks at the process table); a session that ends in
            // between only makes the call fail with EPERM, as it would have a moment earlier.
            uint64_t flags = lock_.lock();
            int held_by = ld_.session();
            lock_.unlock(flags);
            bool taken = held_by > 0 && held_by != me.sid && session_alive(held_by);
            flags = lock_.lock();
            if (taken && ld_.session() == held_by && arg != 1) {
                fail(Errno::Perm);
            } else {
                ld_.set_session(me.sid);
                (void)ld_.set_foreground_pgrp(me.pgrp);
            }
            lock_.unlock(flags);
            return outcome();
        }
        case TIOCNOTTY: {
            uint64_t flags = lock_.lock();
            if (ld_.session() != me.sid) {
                fail(Errno::NotTty);
            } else if (me.session_leader()) {
                // The session leader gives the terminal up: its foreground group hears of it.
                int fg = ld_.foreground_pgrp();
                if (fg > 0) {
                    pending.sigs[pending.n++] = {fg, SIGHUP};
                    pending.sigs[pending.n++] = {fg, SIGCONT};
                }
                ld_.set_session(0);
                (void)ld_.set_foreground_pgrp(0);
            }
            lock_.unlock(flags);
            return outcome();
        }
        case tc::FionRead: {
            uint64_t flags = lock_.lock();
            int32_t n = int32_t(ld_.readable_bytes());
            lock_.unlock(flags);
            TRY(io.copy_out(arg, &n, sizeof n));
            return 0;
        }
        case TIOCOUTQ: {
            int32_t n = 0;  // output is written synchronously
            TRY(io.copy_out(arg, &n, sizeof n));
            return 0;
        }
        case TCFLSH: {
            // TCIFLUSH (0), TCOFLUSH (1), TCIOFLUSH (2): output is never queued.
            if (arg > 2) return Errno::Inval;
            if (arg != 1) {
                uint64_t flags = lock_.lock();
                ld_.flush_input();
                lock_.unlock(flags);
            }
            return 0;
        }
        case TCSBRK:
        case TCSBRKP:
            return 0;  // tcdrain / a break: output is already out
        case TCXONC:
            if (arg > 3) return Errno::Inval;
            return 0;
    }
    return Errno::NotTty;
}

ConsoleTty* g_console = nullptr;

}  // namespace

Result<void> init_console() {
    if (g_console) return {};
    auto* tty = new (std::nothrow) ConsoleTty();
    if (!tty) return Errno::NoMem;
    g_console = tty;  // holds the first reference for ever: the console is never freed
    serial::set_receiver(&ConsoleTty::receive, tty);
    if (auto r = serial::enable_receive_interrupt(); r.is_error()) {
        kprintf("console: no receive interrupt (%s): input will not arrive\n", r.error().name());
        return r.error();
    }
    return {};
}

RefPtr<FileObject> console_file() { return RefPtr<FileObject>(g_console); }

void console_wake_readers() {
    if (g_console) g_console->wake_readers();
}

}  // namespace lamina::posix
