// lamina:portable
// What the virtio driver core needs from whoever hosts it: the device's PCI configuration space
// (to walk its capabilities), its BARs, DMA memory, time, and MSI-X. The virtio_net domain
// implements it over its capabilities; the host tests over the device model
// (tests/models/virtio_net_model.h) and a fake clock.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::virtio {

// Physically contiguous, zeroed memory the device may read and write.
struct DmaRegion {
    void* virt = nullptr;
    uint64_t bus = 0;
    size_t size = 0;
};

class Platform {
public:
    // PCI configuration space (offsets below 256).
    virtual uint8_t config_read8(uint16_t offset) = 0;
    virtual uint16_t config_read16(uint16_t offset) = 0;
    virtual uint32_t config_read32(uint16_t offset) = 0;

    // Memory BARs: their size (0 when absent or not mapped) and accesses at byte offsets.
    virtual uint64_t bar_size(uint8_t bar) = 0;
    virtual uint32_t bar_read(uint8_t bar, uint32_t offset, uint8_t width) = 0;  // width 1, 2, 4
    virtual void bar_write(uint8_t bar, uint32_t offset, uint8_t width, uint32_t value) = 0;

    // `bytes` rounded up to whole pages, page aligned, physically contiguous, zeroed.
    virtual Result<DmaRegion> alloc_dma(size_t bytes) = 0;
    virtual void free_dma(const DmaRegion& region) = 0;

    virtual uint64_t now_ns() = 0;
    virtual void delay_us(uint32_t us) = 0;

    // MSI-X: asks for `wanted` vectors (table entries 0..n-1) and returns how many were
    // granted; 0 means no MSI-X, and the driver polls.
    virtual uint32_t setup_interrupts(uint32_t wanted) = 0;
    // Returns when MSI-X table entry `vector` fired since the last return, or at `deadline_ns`
    // (of now_ns); it may return early for no reason (the driver re-checks its rings).
    virtual void wait_interrupt(uint16_t vector, uint64_t deadline_ns) = 0;
    // How long a polling driver sleeps (delay_us) between looks at its rings.
    virtual uint32_t poll_interval_us() const { return 20; }

protected:
    ~Platform() = default;  // never owned through this interface
};

}  // namespace lamina::virtio
