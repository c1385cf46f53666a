// Shared between the clock (clock.cpp) and the timer queues (timer.cpp); not for other users.
#pragma once

#include <stdint.h>

namespace lamina::time::internal {

// Local APIC timer counts that take at least ns (clamped to 1..2^32-1).
uint32_t lapic_counts_for(uint64_t ns);
// Measures the TSC's (and the local APIC timer's) frequency against a reference clock: the
// median of three 10 ms runs, interrupts off. with_lapic uses the APIC timer, so only before the
// tick runs (time::init); tests compare references with it off.
enum class Reference : uint8_t { Hpet, Pit };
struct Calibration {
    uint64_t tsc_hz;
    uint64_t lapic_hz;
};
Calibration calibrate(Reference reference, bool with_lapic);

// Starts the calling CPU's tick (timer.cpp).
void start_cpu_tick();

}  // namespace lamina::time::internal
