// ACPI power-off (S5): parse the firmware's tables, then write SLP_TYPa | SLP_EN to PM1a_CNT.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/lib/log.h"
#include "kernel/power.h"

namespace lamina::power {

void acpi_power_off() {
    kprintf("lamina: ACPI tables are not parsed yet\n");
}

}  // namespace lamina::power
