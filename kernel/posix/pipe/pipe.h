// lamina:portable
// The data path of a pipe as pure state transitions: a 64 KiB ring (Linux's default capacity)
// with the reader/writer counts that decide EOF and EPIPE. Nothing here sleeps: when a caller
// would have to wait, the result says so (WouldBlock for blocking callers, who sleep on the
// pipe's wait queue and call again; Errno::Again for O_NONBLOCK ones).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/ref_ptr.h>
#include <lamina/result.h>

namespace lamina::posix {

inline constexpr size_t PIPE_CAPACITY = 65536;
inline constexpr size_t PIPE_ATOMIC_BYTES = 4096;  // PIPE_BUF: writes up to this size are atomic

enum class PipeStatus : uint8_t {
    Done,        // `bytes` moved (0 from a read means end of file)
    WouldBlock,  // blocking caller: `bytes` moved so far, sleep until readable/writable, retry
    BrokenPipe,  // write with no reader left: fail with EPIPE and raise SIGPIPE
};

struct PipeResult {
    PipeStatus status;
    size_t bytes;
};

class Pipe final : public RefCounted {
public:
    static Result<RefPtr<Pipe>> create();

    // Each open read or write end counts; the ends' file objects call these on open/close.
    void add_reader() { ++readers_; }
    void add_writer() { ++writers_; }
    void remove_reader();
    void remove_writer();
    uint32_t readers() const { return readers_; }
    uint32_t writers() const { return writers_; }

    // Reads up to n bytes. Returns Errno::Again when empty, writers remain and nonblock is set.
    Result<PipeResult> read(void* dst, size_t n, bool nonblock);
    // Writes up to n bytes; at most PIPE_ATOMIC_BYTES bytes go in whole or not at all. A blocking write
    // larger than PIPE_ATOMIC_BYTES moves what fits and reports WouldBlock with the count; the caller
    // retries with the rest. Errno::Again when nonblock is set and nothing could be written.
    Result<PipeResult> write(const void* src, size_t n, bool nonblock);

    size_t size() const { return used_; }
    size_t space() const { return PIPE_CAPACITY - used_; }
    // poll(): POLLIN when data or no writers (EOF), POLLOUT when an atomic write would fit,
    // POLLHUP when no writers, POLLERR when no readers.
    bool readable() const { return used_ > 0 || writers_ == 0; }
    bool writable() const { return space() >= PIPE_ATOMIC_BYTES || readers_ == 0; }
    bool hung_up() const { return writers_ == 0; }

private:
    Pipe() = default;
    void copy_in(const uint8_t* src, size_t n);
    void copy_out(uint8_t* dst, size_t n);

    uint32_t readers_ = 0;
    uint32_t writers_ = 0;
    size_t head_ = 0;  // next byte to read
    size_t used_ = 0;
    uint8_t data_[PIPE_CAPACITY];
};

}  // namespace lamina::posix
