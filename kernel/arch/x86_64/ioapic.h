// The IO APICs the MADT describes (82093AA data sheet; ACPI 5.2.12.3): each owns a range of
// global system interrupts (GSIs) starting at its gsi_base, one redirection entry per input.
// Every entry is masked at init; a driver routes its GSI (or ISA IRQ) to a vector on one CPU and
// unmasks it when its handler is installed.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

namespace lamina::ioapic {

// Maps every IO APIC in the MADT and masks all their inputs; MADT NMI sources are programmed as
// NMIs. NoDev when the MADT lists none.
Result<void> init();

struct Route {
    uint32_t gsi;
    bool active_low;
    bool level_triggered;
};

// Points `gsi` at `vector` on the CPU with `apic_id` (fixed delivery, physical destination),
// leaving it masked. NoEnt if no IO APIC has the GSI, Inval for a vector below 0x20, NotSup for
// an APIC id above 255 (needs interrupt remapping).
Result<void> route(const Route& route, uint8_t vector, uint32_t apic_id);
// The ISA IRQ's route with the MADT's interrupt source overrides applied, then route().
// Returns the GSI the IRQ arrives on.
Result<uint32_t> route_isa_irq(uint8_t irq, uint8_t vector, uint32_t apic_id);

Result<void> mask(uint32_t gsi);
Result<void> unmask(uint32_t gsi);

// The number of GSIs all IO APICs cover (the highest gsi_base + inputs).
uint32_t gsi_limit();

}  // namespace lamina::ioapic
