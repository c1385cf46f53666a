// lamina:portable
#include "kernel/irq/vector_allocator.h"

namespace lamina::irq {

Result<VectorAllocator> VectorAllocator::create(uint8_t first, uint8_t last) {
    if (first > last) return Errno::Inval;
    return VectorAllocator(first, last);
}

bool VectorAllocator::is_allocated(uint8_t vector) const { return (used_[vector / 64] >> (vector % 64)) & 1; }

void VectorAllocator::set(unsigned vector, bool used) {
    uint64_t bit = uint64_t{1} << (vector % 64);
    if (used)
        used_[vector / 64] |= bit;
    else
        used_[vector / 64] &= ~bit;
}

size_t VectorAllocator::free_count() const {
    size_t n = 0;
    for (unsigned v = first_; v <= last_; v++) n += !is_allocated(uint8_t(v));
    return n;
}

Result<uint8_t> VectorAllocator::allocate() { return allocate_block(1); }

Result<uint8_t> VectorAllocator::allocate_block(unsigned count) {
    if (count == 0 || count > 32 || (count & (count - 1)) != 0) return Errno::Inval;
    unsigned start = (first_ + count - 1) & ~(count - 1);
    for (unsigned base = start; base + count - 1 <= last_; base += count) {
        bool all_free = true;
        for (unsigned v = base; v < base + count && all_free; v++) all_free = !is_allocated(uint8_t(v));
        if (!all_free) continue;
        for (unsigned v = base; v < base + count; v++) set(v, true);
        return uint8_t(base);
    }
    return Errno::NoSpc;
}

Result<void> VectorAllocator::reserve(uint8_t vector) {
    if (!in_range(vector)) return Errno::Inval;
    if (is_allocated(vector)) return Errno::Busy;
    set(vector, true);
    return {};
}

Result<void> VectorAllocator::free(uint8_t vector) { return free_block(vector, 1); }

Result<void> VectorAllocator::free_block(uint8_t first, unsigned count) {
    if (count == 0 || !in_range(first) || !in_range(unsigned(first) + count - 1)) return Errno::Inval;
    for (unsigned v = first; v < first + count; v++)
        if (!is_allocated(uint8_t(v))) return Errno::Inval;
    for (unsigned v = first; v < first + count; v++) set(v, false);
    return {};
}

}  // namespace lamina::irq
