// Leaving the machine: ACPI power-off for users, QEMU's isa-debug-exit for tests.
#pragma once

#include <stdint.h>

namespace lamina::power {

// Statuses the test harness distinguishes. QEMU exits with (code << 1) | 1.
enum class TestExit : uint8_t { Success = 0, Failure = 1, Panic = 2 };

// Writes code to the isa-debug-exit port (0xf4). Returns only when the device is absent.
void debug_exit(TestExit code);

// Clean power-off through ACPI (S5). Falls back to isa-debug-exit, then halts.
[[noreturn]] void power_off();

// Resets the machine: the PCI reset control register (0xcf9), then the keyboard controller's
// reset line, then a triple fault.
[[noreturn]] void reboot();

// What must happen before the machine goes down (file systems sync, for example): run in
// registration order by run_shutdown_hooks(), which the reboot(2) system call calls before
// power_off() or reboot(). At most 8 hooks; a ninth is refused (false).
bool add_shutdown_hook(void (*hook)());
void run_shutdown_hooks();

// After a panic: in test mode (kernel command line `test`) exit QEMU with TestExit::Panic so the
// harness fails fast, otherwise stop every CPU and wait.
[[noreturn]] void halt_after_panic();

void set_test_mode(bool on);
bool test_mode();

}  // namespace lamina::power
