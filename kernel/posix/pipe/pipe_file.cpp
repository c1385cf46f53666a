// lamina:portable
#include "kernel/posix/pipe/pipe_file.h"

#include <new>

#include "kernel/posix/fd/waiting.h"
#include "kernel/posix/irq_spinlock.h"

namespace lamina::posix {

namespace {
constexpr int SIGPIPE = 13;
constexpr uint32_t O_DIRECT = 040000;
constexpr uint32_t S_IFIFO = 0010000;
constexpr uint32_t FIONREAD = 0x541B;
}  // namespace

// What both ends share.
class PipeChannel final : public RefCounted {
public:
    static Result<RefPtr<PipeChannel>> create() {
        RefPtr<Pipe> pipe = TRY(Pipe::create());
        return adopt_ref_or_nomem(new (std::nothrow) PipeChannel(static_cast<RefPtr<Pipe>&&>(pipe)));
    }

    // f(pipe) under the lock.
    template <typename F>
    auto locked(F&& f) {
        uint64_t flags = lock_.lock();
        auto r = f(*pipe_);
        lock_.unlock(flags);
        return r;
    }

    // After a change the other side may wait for (no lock held).
    void changed() {
        __atomic_add_fetch(&generation_, 1, __ATOMIC_RELEASE);
        queue_.notify();
    }
    uint64_t generation() const { return __atomic_load_n(&generation_, __ATOMIC_ACQUIRE); }

    // Sleeps until something changed after `seen`: Intr on a signal.
    Result<void> wait_change(uint64_t seen) {
        struct Changed final : WaitCondition {
            PipeChannel* c;
            uint64_t seen;
            Changed(PipeChannel* c, uint64_t s) : c(c), seen(s) {}
            bool satisfied() override { return c->generation() != seen; }
        } cond(this, seen);
        return wait_on(queue_, cond);
    }

    PollQueue& queue() { return queue_; }
    Pipe& pipe() { return *pipe_; }

private:
    explicit PipeChannel(RefPtr<Pipe> pipe) : pipe_(static_cast<RefPtr<Pipe>&&>(pipe)) {}

    IrqSpinlock lock_;
    RefPtr<Pipe> pipe_;  // lock_
    uint64_t generation_ = 0;
    // Readers, writers and pollers all wait here: one side's progress is the other's event.
    PollQueue queue_;
};

PipeEnd::PipeEnd(RefPtr<PipeChannel> channel, bool writer)
    : channel_(static_cast<RefPtr<PipeChannel>&&>(channel)), writer_(writer) {
    channel_->locked([&](Pipe& p) {
        if (writer_)
            p.add_writer();
        else
            p.add_reader();
        return 0;
    });
}

PipeEnd::~PipeEnd() {
    channel_->locked([&](Pipe& p) {
        if (writer_)
            p.remove_writer();
        else
            p.remove_reader();
        return 0;
    });
    channel_->changed();  // EOF for readers, EPIPE for writers
}

Pipe& PipeEnd::pipe() const { return channel_->pipe(); }

Result<size_t> PipeEnd::read(OpenFile& f, void* dst, size_t n) {
    if (writer_) return Errno::BadF;
    for (;;) {
        uint64_t seen = channel_->generation();
        PipeResult got = TRY(channel_->locked([&](Pipe& p) { return p.read(dst, n, f.nonblocking()); }));
        if (got.bytes) channel_->changed();
        if (got.status == PipeStatus::Done) return got.bytes;
        TRY(channel_->wait_change(seen));
    }
}

Result<size_t> PipeEnd::write(OpenFile& f, const void* src, size_t n) {
    if (!writer_) return Errno::BadF;
    auto* s = static_cast<const uint8_t*>(src);
    size_t done = 0;
    for (;;) {
        uint64_t seen = channel_->generation();
        auto r = channel_->locked([&](Pipe& p) { return p.write(s + done, n - done, f.nonblocking()); });
        if (r.is_error()) {
            // O_NONBLOCK with no room: what went in so far counts.
            if (done) return done;
            return r.error();
        }
        PipeResult got = r.value();
        done += got.bytes;
        if (got.bytes) channel_->changed();
        if (got.status == PipeStatus::BrokenPipe) {
            // Linux raises SIGPIPE even when part of the write went in.
            raise_signal_self(SIGPIPE);
            if (done) return done;
            return Errno::Pipe;
        }
        if (got.status == PipeStatus::Done) return done;
        auto w = channel_->wait_change(seen);
        if (w.is_error()) {
            if (done) return done;
            return w.error();
        }
    }
}

Result<int64_t> PipeEnd::ioctl(OpenFile&, uint32_t cmd, uint64_t arg, UserIo& io) {
    if (cmd != FIONREAD) return Errno::NotTty;
    int32_t n = int32_t(channel_->locked([](Pipe& p) { return p.size(); }));
    TRY(io.copy_out(arg, &n, sizeof n));
    return 0;
}

uint32_t PipeEnd::poll(OpenFile&) {
    return channel_->locked([&](Pipe& p) {
        uint32_t ev = 0;
        if (writer_) {
            // As Linux: room still counts as writable beside the error.
            if (p.space() >= PIPE_ATOMIC_BYTES) ev |= pollev::Out | pollev::WrNorm;
            if (p.readers() == 0) ev |= pollev::Err;
        } else {
            if (p.size() > 0) ev |= pollev::In | pollev::RdNorm;
            if (p.hung_up()) ev |= pollev::Hup;
        }
        return ev;
    });
}

PollQueue* PipeEnd::poll_queue() { return &channel_->queue(); }

Result<void> PipeEnd::stat(Stat& st) {
    st = Stat{};
    st.st_mode = S_IFIFO | 0600;
    st.st_nlink = 1;
    st.st_blksize = 4096;
    st.st_ino = uint64_t(reinterpret_cast<uintptr_t>(channel_.get()) >> 4);
    return {};
}

Result<PipePair> make_pipe(uint32_t flags) {
    if (flags & ~(oflag::NonBlock | oflag::CloExec | O_DIRECT)) return Errno::Inval;
    RefPtr<PipeChannel> channel = TRY(PipeChannel::create());
    RefPtr<FileObject> rend = TRY(make_ref<PipeEnd>(channel, false));
    RefPtr<FileObject> wend = TRY(make_ref<PipeEnd>(channel, true));
    uint32_t status = flags & oflag::NonBlock;
    PipePair p;
    p.read_end = TRY(OpenFile::create(static_cast<RefPtr<FileObject>&&>(rend), oflag::ReadOnly | status));
    p.write_end = TRY(OpenFile::create(static_cast<RefPtr<FileObject>&&>(wend), oflag::WriteOnly | status));
    return p;
}

}  // namespace lamina::posix
