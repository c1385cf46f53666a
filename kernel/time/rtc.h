// The wall clock: the CMOS real-time clock (MC146818-compatible, ports 0x70/0x71), read once
// on first use and carried forward by the monotonic clock (time.h), so the realtime clock never
// jumps and costs no port I/O after the first read. The RTC holds UTC, as Linux's hwclock
// assumes on these machines.
#pragma once

#include <stdint.h>

namespace lamina::time {

// Nanoseconds since 1970-01-01 00:00:00 UTC.
uint64_t realtime_ns();

}  // namespace lamina::time
