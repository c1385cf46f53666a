#include "kernel/dev/pci/ecam.h"

#include "kernel/dev/pci/registers.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"

namespace lamina::pci {

EcamConfigSpace::EcamConfigSpace(const acpi::McfgInfo& mcfg) {
    for (const auto& s : mcfg.segments) {
        if (s.end_bus < s.start_bus) {
            kprintf("pci: MCFG segment %u has buses %02x-%02x (end before start); ignored\n", s.segment_group,
                    s.start_bus, s.end_bus);
            continue;
        }
        segments_[count_++] = s;
    }
}

bool EcamConfigSpace::covers(uint16_t segment, uint8_t bus) const {
    for (size_t i = 0; i < count_; i++)
        if (segments_[i].segment_group == segment && bus >= segments_[i].start_bus && bus <= segments_[i].end_bus)
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
    auto m = mm::map_mmio(segments_[s].base + uint64_t(bus) * ECAM_BUS_SIZE, ECAM_BUS_SIZE);
    if (m.is_error()) {
        kprintf("pci: cannot map ECAM for %04x:%02x (%s)\n", segments_[s].segment_group, bus, m.error().name());
        return nullptr;
    }
    volatile uint8_t* fresh = static_cast<volatile uint8_t*>(m.value());
    volatile uint8_t* expected = nullptr;
    if (__atomic_compare_exchange_n(&buses_[s][bus], &expected, fresh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return fresh;
    mm::unmap_mmio(const_cast<uint8_t*>(fresh), ECAM_BUS_SIZE);
    return expected;
}

volatile uint8_t* EcamConfigSpace::function_base(Address a) {
    if (a.device >= DEVICES_PER_BUS || a.function >= FUNCTIONS_PER_DEVICE) return nullptr;
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
uint32_t EcamConfigSpace::read_checked(Address a, uint16_t off, unsigned width) {
    volatile uint8_t* base = function_base(a);
    if (!base) return all_ones(width);
    switch (width) {
        case 1:
            return base[off];
        case 2:
            return *reinterpret_cast<volatile uint16_t*>(base + off);
        default:
            return *reinterpret_cast<volatile uint32_t*>(base + off);
    }
}

void EcamConfigSpace::write_checked(Address a, uint16_t off, unsigned width, uint32_t v) {
    volatile uint8_t* base = function_base(a);
    if (!base) return;
    switch (width) {
        case 1:
            base[off] = uint8_t(v);
            break;
        case 2:
            *reinterpret_cast<volatile uint16_t*>(base + off) = uint16_t(v);
            break;
        default:
            *reinterpret_cast<volatile uint32_t*>(base + off) = v;
            break;
    }
}

}  // namespace lamina::pci
