// lamina:portable
#include "kernel/posix/pipe/pipe.h"

#include <new>

namespace lamina::posix {

Result<RefPtr<Pipe>> Pipe::create() { return adopt_ref_or_nomem(new (std::nothrow) Pipe()); }

void Pipe::remove_reader() {
    if (readers_ > 0) --readers_;
}

void Pipe::remove_writer() {
    if (writers_ > 0) --writers_;
}

void Pipe::copy_in(const uint8_t* src, size_t n) {
    size_t tail = (head_ + used_) % PIPE_CAPACITY;
    size_t first = n < PIPE_CAPACITY - tail ? n : PIPE_CAPACITY - tail;
    __builtin_memcpy(data_ + tail, src, first);
    __builtin_memcpy(data_, src + first, n - first);
    used_ += n;
}

void Pipe::copy_out(uint8_t* dst, size_t n) {
    size_t first = n < PIPE_CAPACITY - head_ ? n : PIPE_CAPACITY - head_;
    __builtin_memcpy(dst, data_ + head_, first);
    __builtin_memcpy(dst + first, data_, n - first);
    head_ = (head_ + n) % PIPE_CAPACITY;
    used_ -= n;
    // An empty ring restarts at 0 so that later writes stay contiguous.
    if (used_ == 0) head_ = 0;
}

Result<PipeResult> Pipe::read(void* dst, size_t n, bool nonblock) {
    if (n == 0) return PipeResult{PipeStatus::Done, 0};
    if (used_ == 0) {
        if (writers_ == 0) return PipeResult{PipeStatus::Done, 0};
        if (nonblock) return Errno::Again;
        return PipeResult{PipeStatus::WouldBlock, 0};
    }
    size_t k = n < used_ ? n : used_;
    copy_out(static_cast<uint8_t*>(dst), k);
    return PipeResult{PipeStatus::Done, k};
}

Result<PipeResult> Pipe::write(const void* src, size_t n, bool nonblock) {
    // A null write succeeds even without readers, as on Linux.
    if (n == 0) return PipeResult{PipeStatus::Done, 0};
    if (readers_ == 0) return PipeResult{PipeStatus::BrokenPipe, 0};
    const uint8_t* s = static_cast<const uint8_t*>(src);
    if (n <= PIPE_ATOMIC_BYTES) {
        if (space() < n) {
            if (nonblock) return Errno::Again;
            return PipeResult{PipeStatus::WouldBlock, 0};
        }
        copy_in(s, n);
        return PipeResult{PipeStatus::Done, n};
    }
    size_t k = n < space() ? n : space();
    if (k == 0 && nonblock) return Errno::Again;
    copy_in(s, k);
    if (k == n || nonblock) return PipeResult{PipeStatus::Done, k};
    return PipeResult{PipeStatus::WouldBlock, k};
}

}  // namespace lamina::posix
