// The HPET (IA-PC HPET specification 1.0a): its main counter is the kernel's reference for
// calibrating the TSC and the local APIC timer, and its comparators can raise interrupts through
// the IO APIC (used by the routing test).
#pragma once

#include <stdint.h>

#include <lamina/result.h>

namespace lamina::time::hpet {

// Maps the block the ACPI HPET table names and starts the main counter. NoDev without an HPET
// table, NotSup for an HPET in I/O space, Inval for a nonsensical period, NoMem if unmappable.
Result<void> init();
bool available();

uint64_t frequency_hz();
// The main counter; a 32-bit counter wraps, so callers take differences with counter_mask().
uint64_t read_counter();
uint64_t counter_mask();

unsigned timer_count();
// Bit n set: comparator `timer` can interrupt through IO APIC input n (2.3.9, Tn_INT_ROUTE_CAP).
uint32_t route_capability(unsigned timer);
// Periodic interrupts every `period` counter ticks from comparator `timer` into IO APIC input
// `gsi`, edge triggered. Inval for a timer or gsi it cannot use, NotSup if the timer has no
// periodic mode.
Result<void> start_periodic(unsigned timer, uint32_t gsi, uint64_t period);
// One interrupt when the main counter reaches now + delay (ticks), routed to gsi. One-shot mode
// needs no VAL_SET sequence, whose split 32-bit comparator writes are easy to get wrong.
Result<void> start_oneshot(unsigned timer, uint32_t gsi, uint64_t delay);
void stop(unsigned timer);

}  // namespace lamina::time::hpet
