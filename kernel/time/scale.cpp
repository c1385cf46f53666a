// lamina:portable
#include "kernel/time/scale.h"

namespace lamina::time {

uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c) {
    if (c == 0) return UINT64_MAX;
    unsigned __int128 n = (unsigned __int128)a * b;
    uint64_t high = uint64_t(n >> 64);
    uint64_t low = uint64_t(n);
    if (high >= c) return UINT64_MAX;  // the quotient needs more than 64 bits
    // Long division of high:low by c, one bit at a time; the remainder stays below c, and
    // `carry` holds the bit shifted out of it so that 2 * remainder cannot be lost.
    uint64_t remainder = high;
    uint64_t quotient = 0;
    for (int bit = 63; bit >= 0; bit--) {
        bool carry = remainder >> 63;
        remainder = (remainder << 1) | ((low >> bit) & 1);
        quotient <<= 1;
        if (carry || remainder >= c) {
            remainder -= c;
            quotient |= 1;
        }
    }
    return quotient;
}

Scale Scale::from_frequencies(uint64_t from_hz, uint64_t to_hz) {
    if (from_hz == 0 || to_hz == 0) return Scale{};
    for (uint32_t shift = 63;; shift--) {
        uint64_t mult = mul_div(to_hz, uint64_t{1} << shift, from_hz);
        if (mult < (uint64_t{1} << 63)) return Scale{mult, shift};
        if (shift == 0) return Scale{UINT64_MAX >> 1, 0};  // ratio beyond 2^63: saturate
    }
}

}  // namespace lamina::time
