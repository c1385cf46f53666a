// lamina:portable
// Access to PCI configuration space, independent of the access mechanism: ECAM (memory mapped,
// 4 KiB per function, from the ACPI MCFG) and port I/O mechanism #1 (256 bytes per function,
// segment 0 only) are two implementations of this interface; host tests supply a fake.
//
// Accesses must be naturally aligned and inside the function's space (offset + width <= size()).
// An access the mechanism cannot perform (unaligned, out of range, a segment or bus it does not
// cover) reads as all ones, like a read of an absent function, and a write is dropped: callers
// that take offsets from outside the kernel check them first (PciDevice does).
#pragma once

#include <stdint.h>

namespace lamina::pci {

struct Address {
    uint16_t segment = 0;
    uint8_t bus = 0;
    uint8_t device = 0;    // 0-31
    uint8_t function = 0;  // 0-7

    constexpr bool operator==(const Address&) const = default;
};

class ConfigSpace {
public:
    // Bytes of configuration space per function: 256 or 4096.
    virtual uint16_t size() const = 0;
    // Whether the mechanism reaches this segment and bus at all.
    virtual bool covers(uint16_t segment, uint8_t bus) const = 0;

    virtual uint8_t read8(Address, uint16_t offset) = 0;
    virtual uint16_t read16(Address, uint16_t offset) = 0;
    virtual uint32_t read32(Address, uint16_t offset) = 0;
    virtual void write8(Address, uint16_t offset, uint8_t value) = 0;
    virtual void write16(Address, uint16_t offset, uint16_t value) = 0;
    virtual void write32(Address, uint16_t offset, uint32_t value) = 0;

    // Whether an access of `width` bytes at `offset` is one the interface allows.
    bool valid_access(uint16_t offset, unsigned width) const {
        return (width == 1 || width == 2 || width == 4) && offset % width == 0 &&
               uint32_t(offset) + width <= size();
    }

protected:
    ~ConfigSpace() = default;
};

}  // namespace lamina::pci
