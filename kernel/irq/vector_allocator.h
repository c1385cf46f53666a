// lamina:portable
// Hands out interrupt vectors from a contiguous range, singly or as naturally aligned
// power-of-two blocks. PCI multi-message MSI needs the aligned blocks: a device using 2^k
// messages ORs the message number into the low k bits of the vector, so the block's first
// vector must have those bits clear.
//
// Not thread-safe by itself: the kernel wraps its instance in a lock (kernel/irq/irq.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::irq {

class VectorAllocator {
public:
    // Manages [first, last]; both inclusive. Inval when first > last.
    static Result<VectorAllocator> create(uint8_t first, uint8_t last);

    // The lowest free vector; NoSpc when none is free.
    Result<uint8_t> allocate();
    // `count` consecutive vectors starting at a multiple of count. Inval unless count is a power
    // of two from 1 to 32 (the PCI MSI maximum); NoSpc when no such block is free.
    Result<uint8_t> allocate_block(unsigned count);
    // Reserves a particular vector (for fixed assignments). Busy if taken, Inval if outside.
    Result<void> reserve(uint8_t vector);
    // Inval when a vector is outside the range or not allocated (a double free), and then nothing
    // is freed.
    Result<void> free(uint8_t vector);
    Result<void> free_block(uint8_t first, unsigned count);

    bool is_allocated(uint8_t vector) const;
    size_t free_count() const;
    uint8_t first() const { return first_; }
    uint8_t last() const { return last_; }

private:
    VectorAllocator(uint8_t first, uint8_t last) : first_(first), last_(last) {}
    bool in_range(unsigned vector) const { return vector >= first_ && vector <= last_; }
    void set(unsigned vector, bool used);

    uint8_t first_;
    uint8_t last_;
    uint64_t used_[4] = {};  // one bit per vector 0..255
};

}  // namespace lamina::irq
