// Shared between the clock (clock.cpp) and the timer queues (timer.cpp); not for other users.
#pragma once

#include <stdint.h>

namespace lamina::time::internal {

// Local APIC timer counts that take at least ns (clamped to 1..2^32-1).
uint32_t lapic_counts_for(uint64_t ns);
// Starts the calling CPU's tick (timer.cpp).
void start_cpu_tick();

}  // namespace lamina::time::internal
