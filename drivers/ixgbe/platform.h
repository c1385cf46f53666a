// lamina:portable
// What the ixgbe driver core needs from whoever hosts it: drivers/platform.h (DMA memory, time,
// MSI-X) and the device's BAR0 registers. The domain implements it over the kernel's PCI claim
// and DMA allocator; the host tests over the 82599 model (tests/models/ixgbe_model.h) and a
// fake clock.
//
// Interrupts: the driver asks for its two vectors (device.h: the queue pair's, the other
// causes') at each bring-up, and waits on the queue pair's.
#pragma once

#include <stdint.h>

#include "drivers/platform.h"

namespace lamina::ixgbe {

using drivers::DmaRegion;

class Platform : public drivers::Platform {
public:
    // BAR0 registers, by byte offset; every register the driver uses is 32 bits wide.
    virtual uint32_t read32(uint32_t offset) = 0;
    virtual void write32(uint32_t offset, uint32_t value) = 0;

protected:
    ~Platform() = default;  // never owned through this interface
};

}  // namespace lamina::ixgbe
