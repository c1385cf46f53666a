// lamina:portable
// The block-request API the NVMe driver core offers: batches of read/write/flush requests whose
// buffers are lists of DMA segments, and per-request completions. The block interface (IDL)
// wraps this; the buffers it carries then live in the exchange heap.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::nvme {

enum class BlockOp : uint8_t { Read, Write, Flush };

// A physically contiguous piece of a request's buffer. NVMe's PRPs describe memory in pages,
// so a buffer made of several segments must meet at page boundaries: every segment but the
// first starts on a page boundary, every segment but the last ends on one. Addresses and
// lengths are multiples of 4 bytes.
struct DmaSegment {
    uint64_t phys;
    uint32_t length;
};

// The caller keeps `segments` (and the memory they describe) alive until the request completes
// or is handed back by Controller::reinitialize.
struct BlockRequest {
    uint64_t tag = 0;  // the caller's name for it, returned in the completion
    BlockOp op = BlockOp::Read;
    uint32_t nsid = 1;
    uint64_t lba = 0;
    uint32_t blocks = 0;  // any number; the driver splits what exceeds MDTS
    const DmaSegment* segments = nullptr;
    uint32_t segment_count = 0;
};

// How a command or request ended.
struct Status {
    enum class Kind : uint8_t {
        Ok,
        Device,            // the controller completed it with an error status (sct/sc)
        ControllerFailed,  // timed out, or the controller reported fatal status: reset it
    };
    Kind kind = Kind::Ok;
    uint8_t sct = 0;
    uint8_t sc = 0;
    bool dnr = false;  // the controller says a retry would fail the same way

    bool ok() const { return kind == Kind::Ok; }
    // A fixed description, e.g. "LBA out of range" (never null).
    const char* message() const;
    // "generic status 0x80: LBA out of range (do not retry)", NUL-terminated, truncated to
    // `size`. Returns `buf`.
    const char* format(char* buf, size_t size) const;
    Error error() const;
};

struct BlockCompletion {
    uint64_t tag = 0;
    Status status;
};

// The errno a failed controller is reported with (by every call until reinitialize()); callers
// tell it apart from command errors (IO) with is_controller_failure(). The domain turns it
// into a fault so that its shadow restarts the driver.
constexpr Errno CONTROLLER_FAILED = Errno::NXIO;
inline bool is_controller_failure(Error e) { return e.code() == CONTROLLER_FAILED; }

// Decodes a status code type and code (NVMe 1.4 section 4.6.1) into a fixed message.
const char* status_message(uint8_t sct, uint8_t sc);
const char* status_type_name(uint8_t sct);

}  // namespace lamina::nvme
