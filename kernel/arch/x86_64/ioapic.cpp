#include "kernel/arch/x86_64/ioapic.h"

#include "kernel/dev/acpi/platform.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/sync/spinlock.h"

namespace lamina::ioapic {

namespace {

// 82093AA data sheet, 3.1 and 3.2: an index register and a data window.
constexpr uint32_t IOREGSEL = 0x00;
constexpr uint32_t IOWIN = 0x10;
constexpr uint32_t REG_VERSION = 0x01;
constexpr uint32_t redirection_low(unsigned pin) { return 0x10 + 2 * pin; }
constexpr uint32_t redirection_high(unsigned pin) { return 0x11 + 2 * pin; }

constexpr uint32_t RTE_DELIVERY_NMI = 0b100u << 8;
constexpr uint32_t RTE_ACTIVE_LOW = 1u << 13;
constexpr uint32_t RTE_LEVEL = 1u << 15;
constexpr uint32_t RTE_MASKED = 1u << 16;
constexpr unsigned RTE_DESTINATION_SHIFT = 24;  // in the high word

struct Chip {
    volatile uint32_t* mmio;
    uint32_t gsi_base;
    unsigned pins;
    uint8_t id;
};

Chip g_chips[acpi::MAX_IO_APICS];
unsigned g_chip_count;
// Protects the index/data pairs of all IO APICs. A leaf lock: nothing is taken under it.
Spinlock g_lock;

uint32_t read(const Chip& c, uint32_t reg) {
    c.mmio[IOREGSEL / 4] = reg;
    return c.mmio[IOWIN / 4];
}

void write(const Chip& c, uint32_t reg, uint32_t value) {
    c.mmio[IOREGSEL / 4] = reg;
    c.mmio[IOWIN / 4] = value;
}

Chip* chip_for(uint32_t gsi, unsigned* pin) {
    for (unsigned i = 0; i < g_chip_count; i++) {
        Chip& c = g_chips[i];
        if (gsi >= c.gsi_base && gsi - c.gsi_base < c.pins) {
            *pin = gsi - c.gsi_base;
            return &c;
        }
    }
    return nullptr;
}

Result<void> set_mask(uint32_t gsi, bool masked) {
    unsigned pin;
    Chip* c = chip_for(gsi, &pin);
    if (!c) return Errno::NoEnt;
    SpinlockGuard guard(g_lock);
    uint32_t low = read(*c, redirection_low(pin));
    write(*c, redirection_low(pin), masked ? (low | RTE_MASKED) : (low & ~RTE_MASKED));
    return {};
}

bool active_low(acpi::Polarity p) { return p == acpi::Polarity::ActiveLow; }
bool level(acpi::TriggerMode t) { return t == acpi::TriggerMode::Level; }

}  // namespace

Result<void> init() {
    const acpi::Acpi* platform = acpi::platform();
    if (!platform || platform->madt().io_apics.empty()) return Errno::NoDev;
    for (const acpi::IoApic& desc : platform->madt().io_apics) {
        auto mapped = mm::map_mmio(desc.address, 4096);
        if (mapped.is_error()) {
            kprintf("ioapic: cannot map IO APIC %u at %#x (%s)\n", desc.id, desc.address, mapped.error().name());
            continue;
        }
        Chip& c = g_chips[g_chip_count];
        c.mmio = static_cast<volatile uint32_t*>(mapped.value());
        c.gsi_base = desc.gsi_base;
        c.id = desc.id;
        uint32_t version = read(c, REG_VERSION);
        c.pins = ((version >> 16) & 0xFF) + 1;
        for (unsigned pin = 0; pin < c.pins; pin++) {
            write(c, redirection_low(pin), RTE_MASKED);
            write(c, redirection_high(pin), 0);
        }
        g_chip_count++;
        kprintf("ioapic: id %u at %#x, version %#x, GSIs %u-%u\n", c.id, desc.address, version & 0xFF, c.gsi_base,
                c.gsi_base + c.pins - 1);
    }
    if (g_chip_count == 0) return Errno::NoDev;
    // NMI sources go to the boot CPU (the MADT gives no destination; any CPU will do).
    for (const acpi::NmiSource& nmi : platform->madt().nmi_sources) {
        unsigned pin;
        Chip* c = chip_for(nmi.gsi, &pin);
        if (!c) continue;
        write(*c, redirection_high(pin), 0);
        write(
            *c, redirection_low(pin),
            RTE_DELIVERY_NMI | (active_low(nmi.polarity) ? RTE_ACTIVE_LOW : 0) | (level(nmi.trigger) ? RTE_LEVEL : 0));
    }
    return {};
}

Result<void> route(const Route& r, uint8_t vector, uint32_t apic_id) {
    if (vector < 0x20) return Errno::Inval;
    if (apic_id > 0xFF) return Errno::NotSup;
    unsigned pin;
    Chip* c = chip_for(r.gsi, &pin);
    if (!c) return Errno::NoEnt;
    uint32_t low = vector | RTE_MASKED | (r.active_low ? RTE_ACTIVE_LOW : 0) | (r.level_triggered ? RTE_LEVEL : 0);
    SpinlockGuard guard(g_lock);
    // Mask first, so the entry never points at the new CPU with the old vector or the reverse.
    write(*c, redirection_low(pin), read(*c, redirection_low(pin)) | RTE_MASKED);
    write(*c, redirection_high(pin), apic_id << RTE_DESTINATION_SHIFT);
    write(*c, redirection_low(pin), low);
    return {};
}

Result<uint32_t> route_isa_irq(uint8_t irq, uint8_t vector, uint32_t apic_id) {
    if (irq >= 16) return Errno::Inval;
    const acpi::Acpi* platform = acpi::platform();
    if (!platform) return Errno::NoDev;
    acpi::IsaIrqRoute isa = platform->isa_irq_route(irq);
    TRY(route(Route{isa.gsi, isa.active_low, isa.level_triggered}, vector, apic_id));
    return isa.gsi;
}

Result<void> mask(uint32_t gsi) { return set_mask(gsi, true); }
Result<void> unmask(uint32_t gsi) { return set_mask(gsi, false); }

uint32_t gsi_limit() {
    uint32_t limit = 0;
    for (unsigned i = 0; i < g_chip_count; i++)
        if (g_chips[i].gsi_base + g_chips[i].pins > limit) limit = g_chips[i].gsi_base + g_chips[i].pins;
    return limit;
}

}  // namespace lamina::ioapic
