// lamina:portable
// eventfd(2): a 64-bit counter as a file. write adds, read takes the whole count (or 1 with
// EFD_SEMAPHORE); reads block at 0 and writes block when the sum would pass 2^64 - 2, or fail
// with EAGAIN when nonblocking. Readable while the count is above 0, writable while a write of
// 1 fits.
#pragma once

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"

namespace lamina::posix {

namespace efd {
inline constexpr uint32_t Semaphore = 1;
inline constexpr uint32_t CloExec = 02000000, NonBlock = 04000;
}  // namespace efd

class EventFd final : public FileObject {
public:
    EventFd(uint64_t initial, bool semaphore) : count_(initial), semaphore_(semaphore) {}

    Result<size_t> read(OpenFile& f, void* dst, size_t n) override;
    Result<size_t> write(OpenFile& f, const void* src, size_t n) override;
    uint32_t poll(OpenFile& f) override;
    PollQueue* poll_queue() override { return &queue_; }
    bool is_stream() const override { return true; }
    uint64_t count() const { return count_; }

private:
    template <typename Try>
    Result<size_t> until(OpenFile& f, Try&& attempt);

    static constexpr uint64_t MAX = ~uint64_t(0) - 1;
    IrqSpinlock lock_;
    uint64_t count_;  // lock_
    uint64_t generation_ = 0;
    bool semaphore_;
    PollQueue queue_;
};

// eventfd2's flags: EFD_SEMAPHORE, EFD_CLOEXEC (the caller's, for the descriptor) and
// EFD_NONBLOCK; anything else EINVAL.
Result<RefPtr<OpenFile>> make_eventfd(uint32_t initial, uint32_t flags);

}  // namespace lamina::posix
