// Configuration space through ECAM (PCIe 7.2.2): each function's 4 KiB is memory at
// base + (bus << 20 | device << 15 | function << 12), with the bases from the ACPI MCFG.
//
// A bus's 1 MiB window is mapped the first time the bus is touched and kept: enumeration
// follows bridges, so only buses that exist are mapped, not the whole 256 MiB a segment may
// declare.
#pragma once

#include <stdint.h>

#include "kernel/dev/acpi/acpi.h"
#include "kernel/dev/pci/config_space.h"

namespace lamina::pci {

class EcamConfigSpace final : public ConfigSpace {
public:
    // Takes the MCFG's segments; those beyond MAX_MCFG_SEGMENTS were already dropped by ACPI.
    explicit EcamConfigSpace(const acpi::McfgInfo&);

    uint16_t size() const override { return 4096; }
    bool covers(uint16_t segment, uint8_t bus) const override;

    unsigned mapped_buses() const;
    size_t segment_count() const { return count_; }
    const acpi::McfgSegment& segment(size_t i) const { return segments_[i]; }

protected:
    uint32_t read_checked(Address, uint16_t offset, unsigned width) override;
    void write_checked(Address, uint16_t offset, unsigned width, uint32_t value) override;

private:
    // The function's 4 KiB, or nullptr when the address is not covered or cannot be mapped.
    volatile uint8_t* function_base(Address);
    volatile uint8_t* map_bus(size_t segment_index, uint8_t bus);

    acpi::McfgSegment segments_[acpi::MAX_MCFG_SEGMENTS];
    size_t count_ = 0;
    // Published with a compare-and-swap, so readers never take a lock (see map_bus).
    volatile uint8_t* buses_[acpi::MAX_MCFG_SEGMENTS][256] = {};
};

}  // namespace lamina::pci
