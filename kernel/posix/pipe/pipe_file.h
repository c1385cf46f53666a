// lamina:portable
// The two ends of a pipe as file objects: the ring (pipe.h) under a lock, with sleeping
// (fd/waiting.h), waking (the pipe's PollQueue, shared by sleepers and poll/select) and SIGPIPE
// around it.
//
// Each end counts as a reader or a writer for as long as its object lives, i.e. until the last
// description sharing it is closed (dup and fork share it), which is what makes EOF and EPIPE
// appear at the right moment.
//
// Locking: the channel's IrqSpinlock guards the ring and the counts; the PollQueue is notified
// after it is released (lock order: the channel lock is never held while notifying). Sleepers
// compare a generation counter that every change bumps, so no wake-up is lost between a failed
// attempt and the sleep.
#pragma once

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/pipe/pipe.h"

namespace lamina::posix {

class PipeChannel;

class PipeEnd final : public FileObject {
public:
    PipeEnd(RefPtr<PipeChannel> channel, bool writer);
    ~PipeEnd() override;

    bool is_writer() const { return writer_; }
    // The ring, for tests (unlocked).
    Pipe& pipe() const;

    // Blocking (or EAGAIN with O_NONBLOCK); EOF when no writer is left, EPIPE and SIGPIPE when
    // no reader is; the wrong end is EBADF.
    Result<size_t> read(OpenFile& f, void* dst, size_t n) override;
    Result<size_t> write(OpenFile& f, const void* src, size_t n) override;
    // FIONREAD: the bytes in the pipe.
    Result<int64_t> ioctl(OpenFile& f, uint32_t cmd, uint64_t arg, UserIo& io) override;
    // Read end: POLLIN with data, POLLHUP without writers. Write end: POLLOUT with room for an
    // atomic write, POLLERR without readers.
    uint32_t poll(OpenFile& f) override;
    PollQueue* poll_queue() override;
    bool is_stream() const override { return true; }
    Result<void> stat(Stat& st) override;

private:
    RefPtr<PipeChannel> channel_;
    bool writer_;
};

struct PipePair {
    RefPtr<OpenFile> read_end;
    RefPtr<OpenFile> write_end;
};

// pipe2(2): flags may hold O_NONBLOCK (both ends' status flags), O_CLOEXEC (which the caller
// applies to the descriptors) and O_DIRECT (accepted; packet mode is not implemented);
// anything else is EINVAL.
Result<PipePair> make_pipe(uint32_t flags);

}  // namespace lamina::posix
