// lamina:portable
// What the NVMe driver core needs from whoever hosts it: drivers/platform.h (DMA memory, time,
// MSI-X) and the controller's registers. The domain implements it over the kernel's PCI claim
// (BAR mapping, MSI-X) and DMA allocator; the host tests over the controller model
// (tests/models/nvme_model.h) and a fake clock.
//
// Interrupts: the driver asks for one vector per queue (the admin queue's is 0, I/O queue n's
// is n) each time it creates its I/O queues, and uses them only when all were granted.
#pragma once

#include <stdint.h>

#include "drivers/platform.h"

namespace lamina::nvme {

using drivers::DmaRegion;

// BAR0's registers take 64-bit accesses too, used only for CAP, ASQ and ACQ.
class Platform : public drivers::Bar0Platform {
public:
    virtual uint64_t read64(uint32_t offset) = 0;
    virtual void write64(uint32_t offset, uint64_t value) = 0;

protected:
    ~Platform() = default;  // never owned through this interface
};

}  // namespace lamina::nvme
