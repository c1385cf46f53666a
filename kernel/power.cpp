#include "kernel/power.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/smp.h"
#include "kernel/lib/log.h"

namespace lamina::power {

namespace {
bool g_test_mode = false;
constexpr uint16_t DEBUG_EXIT_PORT = 0xf4;
constexpr uint16_t PCI_RESET_CONTROL = 0xcf9;  // Intel ICH9 (q35's southbridge) and later
constexpr uint16_t KBC_COMMAND = 0x64;

void (*g_hooks[8])();
size_t g_hook_count;
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

void reboot() {
    kprintf("lamina: rebooting\n");
    cpu::cli();
    // Bit 1 selects a hard reset, bit 2 performs it on its rising edge.
    cpu::outb(PCI_RESET_CONTROL, 0x02);
    cpu::outb(PCI_RESET_CONTROL, 0x06);
    for (int i = 0; i < 100000 && (cpu::inb(KBC_COMMAND) & 2); i++) cpu::pause();
    cpu::outb(KBC_COMMAND, 0xfe);  // pulse the CPU reset line
    // Last resort: an empty IDT turns the next exception into a triple fault.
    struct [[gnu::packed]] {
        uint16_t limit;
        uint64_t base;
    } empty = {0, 0};
    asm volatile("lidt %0; int3" ::"m"(empty));
    cpu::halt_forever();
}

bool add_shutdown_hook(void (*hook)()) {
    if (g_hook_count == sizeof g_hooks / sizeof g_hooks[0]) return false;
    g_hooks[g_hook_count++] = hook;
    return true;
}

void run_shutdown_hooks() {
    for (size_t i = 0; i < g_hook_count; i++) g_hooks[i]();
}

void halt_after_panic() {
    smp::halt_other_cpus();
    if (g_test_mode) debug_exit(TestExit::Panic);
    cpu::halt_forever();
}

}  // namespace lamina::power
