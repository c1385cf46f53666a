// lamina:portable
// What every driver core (drivers/nvme, drivers/ixgbe, drivers/virtio) needs from whoever hosts
// it, whatever the device: DMA memory, time, and MSI-X. Each driver's own platform header adds
// the device's registers. The driver domains implement it over the kernel's capabilities (PCI
// claim, DMA allocator, interrupt waits); the host tests over the device models
// (tests/models/*_platform.h) and a fake clock.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::drivers {

// Physically contiguous, zeroed memory the device may read and write, at bus address `bus`
// (what the device is told; the IOMMU may make it differ from the physical address).
struct DmaRegion {
    void* virt = nullptr;
    uint64_t bus = 0;
    size_t size = 0;
    bool valid() const { return virt != nullptr; }
};

class Platform {
public:
    // `bytes` rounded up to whole pages: page aligned, physically contiguous, zeroed.
    virtual Result<DmaRegion> alloc_dma(size_t bytes) = 0;
    virtual void free_dma(const DmaRegion& region) = 0;

    // A monotonic clock, and a busy or sleeping delay (used while polling registers).
    virtual uint64_t now_ns() = 0;
    virtual void delay_us(uint32_t us) = 0;

    // MSI-X: asks for `wanted` vectors (table entries 0..wanted-1) and returns how many the
    // driver may use; 0 means none, and the driver polls. It may be asked again (after a
    // reset); the answer may change between asks (a host that switches a driver to polling).
    virtual uint32_t setup_interrupts(uint32_t wanted) {
        (void)wanted;
        return 0;
    }
    // Returns when MSI-X table entry `vector` fired since the last return, or at `deadline_ns`
    // (of now_ns); it may return early for no reason, since the driver re-checks its queues
    // afterwards. A host without interrupts polls: the default sleeps one poll interval.
    virtual void wait_interrupt(uint16_t vector, uint64_t deadline_ns) {
        (void)vector;
        if (now_ns() < deadline_ns) delay_us(poll_interval_us());
    }
    // How long a polling driver waits between looks at its queues.
    virtual uint32_t poll_interval_us() const { return 10; }

protected:
    ~Platform() = default;  // never owned through this interface
};

// A device driven through the 32-bit registers of its BAR0 (the 82599, NVMe), by byte offset.
class Bar0Platform : public Platform {
public:
    virtual uint32_t read32(uint32_t offset) = 0;
    virtual void write32(uint32_t offset, uint32_t value) = 0;

protected:
    ~Bar0Platform() = default;
};

}  // namespace lamina::drivers
