// Configuration space through I/O ports 0xCF8/0xCFC (configuration mechanism #1, LBS 3.2.2.3.2):
// the fallback when the firmware has no MCFG. It reaches only segment 0 and the first 256 bytes
// of each function.
#pragma once

#include "kernel/dev/pci/config_space.h"
#include "kernel/sync/spinlock.h"

namespace lamina::pci {

class PortConfigSpace final : public ConfigSpace {
public:
    uint16_t size() const override { return 256; }
    bool covers(uint16_t segment, uint8_t) const override { return segment == 0; }

    uint8_t read8(Address, uint16_t offset) override;
    uint16_t read16(Address, uint16_t offset) override;
    uint32_t read32(Address, uint16_t offset) override;
    void write8(Address, uint16_t offset, uint8_t value) override;
    void write16(Address, uint16_t offset, uint16_t value) override;
    void write32(Address, uint16_t offset, uint32_t value) override;

private:
    bool reachable(Address a, uint16_t offset, unsigned width) const;

    // Protects the address/data port pair, which is one global register for the whole machine.
    // A leaf lock: nothing is called with it held.
    Spinlock lock_;
};

}  // namespace lamina::pci
