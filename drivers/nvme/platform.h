// lamina:portable
// What the NVMe driver core needs from whoever hosts it: the controller's registers, DMA memory,
// time, and a way to wait for a queue's interrupt. The domain wrapper implements it over the
// kernel's PCI claim (BAR mapping, MSI-X) and DMA allocator; the host tests over the controller
// model (tests/models/nvme_model.h) and a fake clock.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::nvme {

// Physically contiguous memory the controller may read and write.
struct DmaRegion {
    void* virt = nullptr;
    uint64_t phys = 0;
    size_t size = 0;
    bool valid() const { return virt != nullptr; }
};

class Platform {
public:
    // BAR0 registers, by byte offset. 64-bit accesses are used only for CAP, ASQ and ACQ.
    virtual uint32_t read32(uint32_t offset) = 0;
    virtual void write32(uint32_t offset, uint32_t value) = 0;
    virtual uint64_t read64(uint32_t offset) = 0;
    virtual void write64(uint32_t offset, uint64_t value) = 0;

    // `bytes` rounded up to whole pages: page aligned, physically contiguous, zeroed.
    virtual Result<DmaRegion> alloc_dma(size_t bytes) = 0;
    virtual void free_dma(const DmaRegion& region) = 0;

    // A monotonic clock, and a busy or sleeping delay (used while polling registers).
    virtual uint64_t now_ns() = 0;
    virtual void delay_us(uint32_t us) = 0;

    // Returns when the queue whose completions signal `vector` may have new completions, or
    // when `deadline_ns` (of now_ns) has passed; it may also return early for no reason. The
    // driver always re-checks the completion queue afterwards, so a polled host satisfies it
    // with a short delay; an interrupt-driven host blocks on the MSI-X vector.
    virtual void wait_for_queue(uint16_t vector, uint64_t deadline_ns) {
        (void)vector;
        if (now_ns() < deadline_ns) delay_us(poll_interval_us());
    }
    // Whether wait_for_queue really waits for interrupts (the driver then asks the controller
    // for one MSI-X vector per queue pair).
    virtual bool has_interrupts() const { return false; }
    virtual uint32_t poll_interval_us() const { return 10; }

protected:
    ~Platform() = default;  // never owned through this interface
};

}  // namespace lamina::nvme
