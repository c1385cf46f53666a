// The 8254 programmable interval timer, the reference clock when there is no HPET. Channel 2
// (whose gate software controls through port 0x61) measures an interval by polling its output;
// channel 0 drives ISA IRQ 0 (used by the IO APIC routing test).
#pragma once

#include <stdint.h>

namespace lamina::time::pit {

inline constexpr uint64_t FREQUENCY_HZ = 1'193'182;

// Starts channel 2 counting `ticks` (1..65535) down; countdown_done() turns true when it reaches 0.
void start_countdown(uint16_t ticks);
bool countdown_done();

// Channel 0 as a rate generator at about `hz` (19..1193182), or stopped.
void start_channel0(uint32_t hz);
void stop_channel0();

}  // namespace lamina::time::pit
