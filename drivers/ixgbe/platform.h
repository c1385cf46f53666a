// lamina:portable
// What the ixgbe driver core needs from whoever hosts it: the device's BAR0 registers, DMA
// memory, time, and a way to wait for an MSI-X vector. The domain implements it over the
// kernel's PCI claim and DMA allocator; the host tests over the 82599 model
// (tests/models/ixgbe_model.h) and a fake clock.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::ixgbe {

// Physically contiguous memory the device may read and write.
struct DmaRegion {
    void* virt = nullptr;
    uint64_t phys = 0;
    size_t size = 0;
    bool valid() const { return virt != nullptr; }
};

class Platform {
public:
    // BAR0 registers, by byte offset; every register the driver uses is 32 bits wide.
    virtual uint32_t read32(uint32_t offset) = 0;
    virtual void write32(uint32_t offset, uint32_t value) = 0;

    // `bytes` rounded up to whole pages: page aligned, physically contiguous, zeroed.
    virtual Result<DmaRegion> alloc_dma(size_t bytes) = 0;
    virtual void free_dma(const DmaRegion& region) = 0;

    // A monotonic clock, and a busy or sleeping delay (used while polling registers).
    virtual uint64_t now_ns() = 0;
    virtual void delay_us(uint32_t us) = 0;

    // Returns when one of the device's MSI-X vectors fired since the last call, or when
    // `deadline_ns` has passed; it may return early for no reason (the driver re-checks the
    // rings and cause registers). A host without interrupts polls: the default sleeps one
    // poll interval.
    virtual void wait_for_interrupt(uint64_t deadline_ns) {
        if (now_ns() < deadline_ns) delay_us(poll_interval_us());
    }
    // Whether wait_for_interrupt really waits for interrupts (the driver then unmasks them).
    virtual bool has_interrupts() const { return false; }
    virtual uint32_t poll_interval_us() const { return 10; }

protected:
    ~Platform() = default;  // never owned through this interface
};

}  // namespace lamina::ixgbe
