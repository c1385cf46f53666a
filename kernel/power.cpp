#include "kernel/power.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/smp.h"
#include "kernel/lib/log.h"

namespace lamina::power {

namespace {
bool g_test_mode = false;
constexpr uint16_t DEBUG_EXIT_PORT = 0xf4;
}  // namespace

void set_test_mode(bool on) { g_test_mode = on; }
bool test_mode() { return g_test_mode; }

void debug_exit(TestExit code) { cpu::outl(DEBUG_EXIT_PORT, uint8_t(code)); }

// Provided by the ACPI glue; returns only if ACPI power-off is unavailable or failed.
void acpi_power_off();

void power_off() {
    kprintf("lamina: powering off\n");
    acpi_power_off();
    kprintf("lamina: ACPI power-off failed; trying isa-debug-exit\n");
    debug_exit(TestExit::Success);
    kprintf("lamina: nothing left to try; halting\n");
    cpu::halt_forever();
}

void halt_after_panic() {
    smp::halt_other_cpus();
    if (g_test_mode) debug_exit(TestExit::Panic);
    cpu::halt_forever();
}

}  // namespace lamina::power
