// lamina:portable
// What the ixgbe driver core needs from whoever hosts it: drivers/platform.h's DMA memory,
// time and MSI-X, and the device's BAR0 registers (every register the driver uses is 32 bits
// wide). The domain implements it over the kernel's PCI claim and DMA allocator; the host
// tests over the 82599 model (tests/models/ixgbe_model.h) and a fake clock.
//
// Interrupts: the driver asks for its two vectors (device.h: the queue pair's, the other
// causes') at each bring-up, and waits on the queue pair's.
#pragma once

#include "drivers/platform.h"

namespace lamina::ixgbe {

using drivers::DmaRegion;
using Platform = drivers::Bar0Platform;

}  // namespace lamina::ixgbe
