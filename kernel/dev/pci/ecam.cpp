#include "kernel/dev/pci/ecam.h"

#include "kernel/dev/pci/registers.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"

namespace lamina::pci {

EcamConfigSpace::EcamConfigSpace(const acpi::McfgInfo& mcfg) {
    for (const auto& s : mcfg.segments) {
        if (s.end_bus < s.start_bus) {
            kprintf("pci: MCFG segment %u has buses %02x-%02x (end before start); ignored\n",
                    s.segment_group, s.start_bus, s.end_bus);
            continue;
        }
        segments_[count_++] = s;
    }
}

bool EcamConfigSpace::covers(uint16_t segment, uint8_t bus) const {
    for (size_t i = 0; i < count_; i++)
        if (segments_[i].segment_group == segment && bus >= segments_[i].start_bus &&
            bus <= segments_[i].end_bus)
            return true;
    return false;
}

unsigned EcamConfigSpace::mapped_buses() const {
    unsigned n = 0;
    for (size_t s = 0; s < count_; s++)
        for (auto* b : buses_[s]) n += b != nullptr;
    return n;
}

volatile uint8_t* EcamConfigSpace::map_bus(size_t s, uint8_t bus) {
    volatile uint8_t* mapped = __atomic_load_n(&buses_[s][bus], __ATOMIC_ACQUIRE);
    if (mapped) return mapped;
    // Two CPUs may map the same bus at once; the loser unmaps its copy. Mapping outside any lock
    // keeps the memory manager's locks out of PCI's lock order.
    auto m = mm::map_mmio(segments_[s].base + uint64_t(bus) * kEcamBusSize, kEcamBusSize);
    if (m.is_error()) {
        kprintf("pci: cannot map ECAM for %04x:%02x (%s)\n", segments_[s].segment_group, bus,
                m.error().name());
        return nullptr;
    }
    volatile uint8_t* fresh = static_cast<volatile uint8_t*>(m.value());
    volatile uint8_t* expected = nullptr;
    if (__atomic_compare_exchange_n(&buses_[s][bus], &expected, fresh, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return fresh;
    mm::unmap_mmio(const_cast<uint8_t*>(fresh), kEcamBusSize);
    return expected;
}

volatile uint8_t* EcamConfigSpace::function_base(Address a) {
    if (a.device >= kDevicesPerBus || a.function >= kFunctionsPerDevice) return nullptr;
    for (size_t s = 0; s < count_; s++) {
        const auto& seg = segments_[s];
        if (seg.segment_group != a.segment || a.bus < seg.start_bus || a.bus > seg.end_bus) continue;
        volatile uint8_t* bus = map_bus(s, a.bus);
        if (!bus) return nullptr;
        return bus + (uint32_t(a.device) << 15 | uint32_t(a.function) << 12);
    }
    return nullptr;
}

// ECAM needs accesses of exactly the register's width: the volatile pointers keep the compiler
// from merging or splitting them.
uint8_t EcamConfigSpace::read8(Address a, uint16_t off) {
    auto* base = valid_access(off, 1) ? function_base(a) : nullptr;
    return base ? *reinterpret_cast<volatile uint8_t*>(base + off) : 0xFF;
}
uint16_t EcamConfigSpace::read16(Address a, uint16_t off) {
    auto* base = valid_access(off, 2) ? function_base(a) : nullptr;
    return base ? *reinterpret_cast<volatile uint16_t*>(base + off) : 0xFFFF;
}
uint32_t EcamConfigSpace::read32(Address a, uint16_t off) {
    auto* base = valid_access(off, 4) ? function_base(a) : nullptr;
    return base ? *reinterpret_cast<volatile uint32_t*>(base + off) : 0xFFFFFFFF;
}
void EcamConfigSpace::write8(Address a, uint16_t off, uint8_t v) {
    if (auto* base = valid_access(off, 1) ? function_base(a) : nullptr)
        *reinterpret_cast<volatile uint8_t*>(base + off) = v;
}
void EcamConfigSpace::write16(Address a, uint16_t off, uint16_t v) {
    if (auto* base = valid_access(off, 2) ? function_base(a) : nullptr)
        *reinterpret_cast<volatile uint16_t*>(base + off) = v;
}
void EcamConfigSpace::write32(Address a, uint16_t off, uint32_t v) {
    if (auto* base = valid_access(off, 4) ? function_base(a) : nullptr)
        *reinterpret_cast<volatile uint32_t*>(base + off) = v;
}

}  // namespace lamina::pci
