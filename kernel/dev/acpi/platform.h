// The platform's ACPI tables, parsed once at boot for the rest of the kernel (interrupt
// controllers, PCI ECAM, HPET, power-off).
#pragma once

#include "kernel/dev/acpi/acpi.h"

namespace lamina::boot {
struct BootInfo;
}

namespace lamina::acpi {

// Finds the RSDP (the loader's copy under multiboot2, the BIOS area under multiboot1) and parses
// the tables. On failure the kernel runs on without ACPI: platform() is then nullptr.
void init(const boot::BootInfo& info);
const Acpi* platform();

}  // namespace lamina::acpi
