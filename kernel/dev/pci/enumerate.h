// lamina:portable
// Finding every function of a PCI segment: scan the root bus, and the secondary bus of every
// bridge found, as the firmware numbered them.
//
// Following bridges rather than probing every bus of the MCFG range keeps the ECAM mappings to
// the buses that exist (1 MiB each) instead of the whole 256 MiB window. Buses are scanned in
// ascending order and each at most once, so a bridge whose secondary bus is not after its own
// bus, or outside the segment's range, cannot make the scan loop; it is recorded as a problem
// on the bridge.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/dev/pci/config_space.h"
#include "kernel/dev/pci/function.h"

namespace lamina::pci {

struct BusRange {
    uint16_t segment = 0;
    uint8_t start = 0;  // the root bus
    uint8_t end = 255;
};

struct EnumerationResult {
    size_t found = 0;    // functions written to the table
    size_t dropped = 0;  // functions that did not fit
    unsigned buses = 0;  // buses scanned
};

// Appends the functions of the range to out[0..capacity).
EnumerationResult enumerate(ConfigSpace&, BusRange, FunctionInfo* out, size_t capacity);

}  // namespace lamina::pci
