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

    uint8_t read8(Address a, uint16_t offset) { return uint8_t(read(a, offset, 1)); }
    uint16_t read16(Address a, uint16_t offset) { return uint16_t(read(a, offset, 2)); }
    uint32_t read32(Address a, uint16_t offset) { return read(a, offset, 4); }
    void write8(Address a, uint16_t offset, uint8_t value) { write(a, offset, 1, value); }
    void write16(Address a, uint16_t offset, uint16_t value) { write(a, offset, 2, value); }
    void write32(Address a, uint16_t offset, uint32_t value) { write(a, offset, 4, value); }

    // Whether an access of `width` bytes at `offset` is one the interface allows.
    bool valid_access(uint16_t offset, unsigned width) const {
        return (width == 1 || width == 2 || width == 4) && offset % width == 0 && uint32_t(offset) + width <= size();
    }

    // What a read of `width` bytes returns when nothing answers.
    static constexpr uint32_t all_ones(unsigned width) { return 0xFFFFFFFFu >> (32 - 8 * width); }

protected:
    ~ConfigSpace() = default;

    // One access of `width` (1, 2 or 4) bytes that valid_access() allowed; the value is in the
    // low bytes. The mechanisms differ only here: the checks and the widths are the interface's.
    virtual uint32_t read_checked(Address, uint16_t offset, unsigned width) = 0;
    virtual void write_checked(Address, uint16_t offset, unsigned width, uint32_t value) = 0;

private:
    uint32_t read(Address a, uint16_t offset, unsigned width) {
        return valid_access(offset, width) ? read_checked(a, offset, width) : all_ones(width);
    }
    void write(Address a, uint16_t offset, unsigned width, uint32_t value) {
        if (valid_access(offset, width)) write_checked(a, offset, width, value);
    }
};

}  // namespace lamina::pci
