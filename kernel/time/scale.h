// lamina:portable
// Integer conversion between counter ticks and nanoseconds (or between two counters), without
// floating point: value * mult >> shift, with the product taken in 128 bits so that it cannot
// overflow for any 64-bit input. A result that does not fit 64 bits saturates at UINT64_MAX
// instead of wrapping, so a clock read through a Scale never runs backwards.
//
// How long before saturation: converting a 1 GHz..10 GHz TSC to ns, the result is below the input,
// so it can only saturate when the counter itself wraps (after 58 years at 10 GHz). From a slower
// counter (a 14.318 MHz HPET, a 1.19 MHz PIT) the result reaches 2^64 ns after 584 years.
#pragma once

#include <stdint.h>

namespace lamina::time {

inline constexpr uint64_t NS_PER_SEC = 1'000'000'000;

// floor(a * b / c), saturating at UINT64_MAX when the quotient does not fit (or c == 0).
// Uses no 128-bit division (the kernel has no libgcc), only 128-bit multiplication and shifts.
uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c);

struct Scale {
    uint64_t mult = 0;
    uint32_t shift = 0;

    // Converts counts of a from_hz counter into counts of a to_hz counter, with the largest shift
    // (hence the finest multiplier) that keeps mult below 2^63. Both frequencies must be nonzero;
    // a zero frequency yields the zero scale.
    static Scale from_frequencies(uint64_t from_hz, uint64_t to_hz);

    uint64_t apply(uint64_t value) const {
        unsigned __int128 product = (unsigned __int128)value * mult;
        unsigned __int128 result = product >> shift;
        if (result >> 64) return UINT64_MAX;
        return uint64_t(result);
    }

    // The frequency of a counter that advanced `counts` during `ns` nanoseconds (rounds down).
    static uint64_t frequency_from(uint64_t counts, uint64_t ns) { return mul_div(counts, NS_PER_SEC, ns); }
};

}  // namespace lamina::time
