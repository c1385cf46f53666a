// lamina:portable
// What the virtio driver core needs from whoever hosts it: drivers/platform.h (DMA memory,
// time, MSI-X), the device's PCI configuration space (to walk its capabilities) and its BARs.
// The virtio_net domain implements it over its capabilities; the host tests over the device
// model (tests/models/virtio_net_model.h) and a fake clock.
#pragma once

#include <stdint.h>

#include "drivers/platform.h"

namespace lamina::virtio {

using drivers::DmaRegion;

class Platform : public drivers::Platform {
public:
    // PCI configuration space (offsets below 256).
    virtual uint8_t config_read8(uint16_t offset) = 0;
    virtual uint16_t config_read16(uint16_t offset) = 0;
    virtual uint32_t config_read32(uint16_t offset) = 0;

    // Memory BARs: their size (0 when absent or not mapped) and accesses at byte offsets.
    virtual uint64_t bar_size(uint8_t bar) = 0;
    virtual uint32_t bar_read(uint8_t bar, uint32_t offset, uint8_t width) = 0;  // width 1, 2, 4
    virtual void bar_write(uint8_t bar, uint32_t offset, uint8_t width, uint32_t value) = 0;

    // Polling virtio hosts look at the rings every 20 us unless they say otherwise.
    uint32_t poll_interval_us() const override { return 20; }

protected:
    ~Platform() = default;  // never owned through this interface
};

}  // namespace lamina::virtio
