// lamina:portable
// Giving addresses to BARs the firmware left unassigned.
//
// UEFI firmware assigns every BAR; minimal firmware (qboot, which the fast -kernel boot path
// uses) leaves them at 0, and a driver could not reach its device. The kernel then places each
// such BAR itself, top-down in the platform's PCI window (like SeaBIOS), around everything
// already there: RAM and firmware regions, ECAM, and BARs the firmware did assign.
//
// Only functions on a root bus are assigned: a function behind a bridge would also need the
// bridge's forwarding windows programmed, which the kernel does not do; such BARs stay
// unassigned and are reported (PROBLEM_BAR_UNASSIGNED).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/dev/pci/config_space.h"
#include "kernel/dev/pci/function.h"

namespace lamina::pci {

// Hands out naturally aligned blocks of [low, high), highest address first, avoiding reserved
// ranges. Fixed capacity; when full, allocation fails rather than risk an overlap.
class AddressAllocator {
public:
    static constexpr size_t MAX_RANGES = 96;

    AddressAllocator(uint64_t low, uint64_t high) : low_(low), high_(high) {}

    // Marks [base, base + size) as taken. False when the table is full.
    bool reserve(uint64_t base, uint64_t size);
    // A block of `size` bytes (a power of two) aligned to its size, or false if none fits.
    bool allocate(uint64_t size, uint64_t& out);

    uint64_t low() const { return low_; }
    uint64_t high() const { return high_; }

private:
    struct Range {
        uint64_t base, end;  // [base, end)
    };
    const Range* overlapping(uint64_t base, uint64_t end) const;

    uint64_t low_, high_;
    Range taken_[MAX_RANGES];
    size_t count_ = 0;
};

struct AssignResult {
    unsigned assigned = 0;
    unsigned failed = 0;  // left unassigned: no room, or behind a bridge
};

// Reserves every assigned BAR of the table in the allocators, then assigns the unassigned
// memory and I/O BARs of functions on `root_bus`, writing the BAR registers (with the
// function's decoding off while they change) and updating the table.
AssignResult assign_bars(ConfigSpace&, FunctionInfo* functions, size_t count, uint8_t root_bus,
                         AddressAllocator& memory, AddressAllocator& io);

}  // namespace lamina::pci
