#include "kernel/dev/acpi/platform.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/boot/boot_info.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/power.h"

namespace lamina::acpi {

namespace {

// Firmware tables live in RAM the direct map covers.
class DirectMapMapper final : public Mapper {
public:
    const void* map(uint64_t phys, size_t len) override {
        if (phys > MAX_PHYS || len > MAX_PHYS - phys) return nullptr;
        return mm::phys_to_virt(phys);
    }

private:
    static constexpr uint64_t MAX_PHYS = 4ull << 30;  // firmware keeps its tables below 4 GiB
};

Acpi* g_platform;
alignas(Acpi) unsigned char g_storage[sizeof(Acpi)];

}  // namespace

void init(const boot::BootInfo& info) {
    DirectMapMapper mapper;
    auto parsed =
        info.rsdp_length ? Acpi::parse_from_rsdp_copy(info.rsdp, info.rsdp_length, mapper) : [&]() -> Result<Acpi> {
        auto rsdp = TRY(find_rsdp_in_bios_area(mapper));
        return Acpi::parse(rsdp, mapper);
    }();
    if (parsed.is_error()) {
        kprintf("acpi: no usable ACPI tables (%s); running without\n", parsed.error().name());
        return;
    }
    g_platform = new (g_storage) Acpi(parsed.release_value());
    const Acpi& a = *g_platform;
    kprintf("acpi: %s rev %u, %lu CPUs, %lu IO APICs, MCFG %s, HPET %s\n", a.oem_id(), a.rsdp_revision(),
            a.madt().cpus.size(), a.madt().io_apics.size(), a.mcfg().present ? "yes" : "no",
            a.hpet().present ? "yes" : "no");
}

const Acpi* platform() { return g_platform; }

}  // namespace lamina::acpi

namespace lamina::power {

// Enter S5: SLP_TYPx | SLP_EN to the PM1 control registers (ACPI 6.5, 16.1.7).
void acpi_power_off() {
    const acpi::Acpi* a = acpi::platform();
    if (!a) return;
    auto off = a->power_off();
    if (off.is_error()) {
        kprintf("lamina: ACPI power-off unavailable (%s)\n", off.error().name());
        return;
    }
    const auto& p = off.value();
    if (p.pm1a_control.space != acpi::AddressSpace::SystemIo) {
        kprintf("lamina: PM1a control is not in I/O space; cannot power off through ACPI\n");
        return;
    }
    auto port_a = uint16_t(p.pm1a_control.address);
    cpu::outw(port_a, acpi::PowerOff::merge(cpu::inw(port_a), p.pm1a_value));
    if (p.pm1b_control.present() && p.pm1b_control.space == acpi::AddressSpace::SystemIo) {
        auto port_b = uint16_t(p.pm1b_control.address);
        cpu::outw(port_b, acpi::PowerOff::merge(cpu::inw(port_b), p.pm1b_value));
    }
    // The chipset takes a moment to cut power.
    for (int i = 0; i < 1000000; i++) cpu::pause();
}

}  // namespace lamina::power
