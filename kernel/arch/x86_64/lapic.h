// The local APIC of each CPU: interrupt acknowledgement, inter-processor interrupts and the
// per-CPU timer. One interface serves both access modes: x2APIC through MSRs when CPUID reports
// it (KVM, recent hardware), otherwise xAPIC through its MMIO page. The mode is chosen once on the
// boot CPU and used on every CPU.
//
// Boot order: lapic::init() on the boot CPU (after the IDT and the memory manager), then
// lapic::init_this_cpu() on each application processor before it enables interrupts.
// Everything except init() may be called from interrupt context.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

namespace lamina::lapic {

// Chooses the access mode, maps the xAPIC page if needed, installs the spurious and error
// handlers, and enables the boot CPU's local APIC. NotSup when the CPU has no APIC; NoMem when
// the MMIO page cannot be mapped.
Result<void> init();
// Enables the calling CPU's local APIC: spurious vector, task priority 0, LINT0 masked (the PICs
// are not used), LINT1 as NMI (or as the MADT's local APIC NMI entries say), the error LVT,
// every other LVT masked.
void init_this_cpu();

bool is_x2apic();
// The calling CPU's APIC id (8 bits in xAPIC mode, 32 in x2APIC mode).
uint32_t id();
// Acknowledges the interrupt being serviced. Every handler of an APIC-delivered interrupt (all
// vectors from 0x30 up except the spurious one) must call it once.
void eoi();

// Fixed-delivery IPIs, edge triggered, physical destination.
void send_ipi(uint32_t apic_id, uint8_t vector);
void send_ipi_self(uint8_t vector);
void send_ipi_all_but_self(uint8_t vector);

// The AP start-up messages (Intel SDM vol. 3, 8.4.4.1, "INIT-SIPI-SIPI"). The caller does the
// sequence and its delays. `page` is the 4 KiB page number of the real-mode start-up code
// (physical address >> 12, so the code must sit below 1 MiB, page-aligned): the AP starts at
// page:0000 in real mode. TimedOut if the previous IPI is still pending after ~100 ms (xAPIC).
Result<void> send_init(uint32_t apic_id);
Result<void> send_startup(uint32_t apic_id, uint8_t page);

// The local APIC timer, counting down at the bus (or crystal) clock divided by TIMER_DIVISOR; its
// rate is measured by time::init (time::lapic_timer_hz()). Writing the count starts it.
enum class TimerMode : uint8_t { OneShot, Periodic };
inline constexpr unsigned TIMER_DIVISOR = 16;
void timer_start(uint8_t vector, TimerMode mode, uint32_t count, bool masked = false);
// Restarts the countdown with the mode and vector already set (one register write: the cheap
// way to re-arm a one-shot timer).
void timer_set_count(uint32_t count);
void timer_stop();
uint32_t timer_current_count();

// Counters for the log and tests.
uint64_t spurious_count();
uint64_t error_count();

}  // namespace lamina::lapic
