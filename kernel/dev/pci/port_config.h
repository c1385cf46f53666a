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

protected:
    uint32_t read_checked(Address, uint16_t offset, unsigned width) override;
    void write_checked(Address, uint16_t offset, unsigned width, uint32_t value) override;

private:
    // Protects the address/data port pair, which is one global register for the whole machine.
    // A leaf lock: nothing is called with it held.
    Spinlock lock_;
};

}  // namespace lamina::pci
