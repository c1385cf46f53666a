// lamina:portable
#include "kernel/dev/pci/assign.h"

#include "kernel/dev/pci/registers.h"

namespace lamina::pci {

bool AddressAllocator::reserve(uint64_t base, uint64_t size) {
    if (size == 0) return true;
    uint64_t end = base + size < base ? ~uint64_t(0) : base + size;
    if (end <= low_ || base >= high_) return true;  // outside the window: nothing to avoid
    if (count_ == MAX_RANGES) return false;
    taken_[count_++] = Range{base, end};
    return true;
}

const AddressAllocator::Range* AddressAllocator::overlapping(uint64_t base, uint64_t end) const {
    for (size_t i = 0; i < count_; i++)
        if (taken_[i].base < end && base < taken_[i].end) return &taken_[i];
    return nullptr;
}

bool AddressAllocator::allocate(uint64_t size, uint64_t& out) {
    if (size == 0 || (size & (size - 1)) != 0 || size > high_ - low_ || count_ == MAX_RANGES) return false;
    uint64_t candidate = (high_ - size) & ~(size - 1);
    // Each step moves below a taken range, so this ends after at most count_ + 1 steps.
    while (candidate >= low_) {
        const Range* hit = overlapping(candidate, candidate + size);
        if (!hit) {
            taken_[count_++] = Range{candidate, candidate + size};
            out = candidate;
            return true;
        }
        if (hit->base < low_ + size) return false;
        candidate = (hit->base - size) & ~(size - 1);
    }
    return false;
}

AssignResult assign_bars(ConfigSpace& cs, FunctionInfo* functions, size_t count, uint8_t root_bus,
                         AddressAllocator& memory, AddressAllocator& io) {
    AssignResult result;
    for (size_t f = 0; f < count; f++)
        for (unsigned i = 0; i < functions[f].bar_count; i++) {
            const Bar& b = functions[f].bars[i];
            if (b.kind == BarKind::None || b.address == 0) continue;
            (b.kind == BarKind::Io ? io : memory).reserve(b.address, b.size);
        }

    for (size_t f = 0; f < count; f++) {
        FunctionInfo& fn = functions[f];
        const Address a = fn.address;
        uint16_t command = 0;
        bool decoding_off = false;
        for (unsigned i = 0; i < fn.bar_count; i++) {
            Bar& b = fn.bars[i];
            if (b.kind == BarKind::None || b.address != 0) continue;
            uint64_t address = 0;
            AddressAllocator& pool = b.kind == BarKind::Io ? io : memory;
            if (a.bus != root_bus || !pool.allocate(b.size, address)) {
                fn.problems |= PROBLEM_BAR_UNASSIGNED;
                result.failed++;
                continue;
            }
            if (!decoding_off) {
                command = cs.read16(a, COMMAND);
                cs.write16(a, COMMAND, uint16_t(command & ~(COMMAND_IO_SPACE | COMMAND_MEMORY_SPACE)));
                decoding_off = true;
            }
            const uint16_t reg = uint16_t(BAR0 + 4 * i);
            const uint32_t flags =
                cs.read32(a, reg) & (b.kind == BarKind::Io ? ~BAR_IO_ADDRESS_MASK : ~BAR_MEM_ADDRESS_MASK);
            cs.write32(a, reg, uint32_t(address) | flags);
            if (b.kind == BarKind::Mem64) cs.write32(a, uint16_t(reg + 4), uint32_t(address >> 32));
            b.address = address;
            result.assigned++;
        }
        if (decoding_off) cs.write16(a, COMMAND, command);
    }
    return result;
}

}  // namespace lamina::pci
