// Host tests for the integer tick/ns conversion (kernel/time/scale.h), including long uptimes.
#include <gtest/gtest.h>

#include <random>

#include "kernel/time/scale.h"

namespace {

using lamina::time::mul_div;
using lamina::time::NS_PER_SEC;
using lamina::time::Scale;

unsigned __int128 wide(uint64_t a, uint64_t b) { return (unsigned __int128)a * b; }

TEST(TimeScaleTest, MulDivMatchesWideArithmetic) {
    std::mt19937_64 rng(42);
    for (int i = 0; i < 100000; i++) {
        uint64_t a = rng(), b = rng() >> (rng() % 64), c = (rng() >> (rng() % 64)) | 1;
        unsigned __int128 q = wide(a, b) / c;
        uint64_t expected = (q >> 64) ? UINT64_MAX : uint64_t(q);
        ASSERT_EQ(mul_div(a, b, c), expected) << a << " " << b << " " << c;
    }
}

TEST(TimeScaleTest, MulDivEdges) {
    EXPECT_EQ(mul_div(0, 5, 7), 0u);
    EXPECT_EQ(mul_div(5, 7, 0), UINT64_MAX);
    EXPECT_EQ(mul_div(UINT64_MAX, UINT64_MAX, UINT64_MAX), UINT64_MAX);
    EXPECT_EQ(mul_div(UINT64_MAX, 2, 1), UINT64_MAX);  // saturates
    EXPECT_EQ(mul_div(UINT64_MAX, 2, 2), UINT64_MAX);
    EXPECT_EQ(mul_div(uint64_t{1} << 63, 4, 3), uint64_t(wide(uint64_t{1} << 63, 4) / 3));
    EXPECT_EQ(mul_div(uint64_t{1} << 63, 4, 1), UINT64_MAX);
    EXPECT_EQ(mul_div(uint64_t{1} << 62, 3, 4), (uint64_t{3} << 60));
    // A divisor with the top bit set (the remainder's carry path).
    uint64_t c = (uint64_t{1} << 63) + 12345;
    EXPECT_EQ(mul_div(c - 1, c - 1, c), uint64_t(wide(c - 1, c - 1) / c));
}

TEST(TimeScaleTest, ExactFrequencies) {
    Scale s = Scale::from_frequencies(NS_PER_SEC, NS_PER_SEC);
    EXPECT_EQ(s.apply(123456789), 123456789u);
    Scale pit = Scale::from_frequencies(1'193'182, NS_PER_SEC);
    EXPECT_NEAR(double(pit.apply(1'193'182)), 1e9, 1.0);
    Scale tsc = Scale::from_frequencies(3'000'000'000, NS_PER_SEC);
    // mult is rounded down: results are exact or one below.
    EXPECT_GE(tsc.apply(3'000'000'000), NS_PER_SEC - 1);
    EXPECT_LE(tsc.apply(3'000'000'000), NS_PER_SEC);
    EXPECT_LE(tsc.apply(3), 1u);
}

TEST(TimeScaleTest, ErrorStaysWithinOneUnitPlusRelativeEpsilon) {
    std::mt19937_64 rng(7);
    for (uint64_t hz : {1'193'182ull, 14'318'180ull, 100'000'000ull, 1'000'000'000ull, 2'893'299'000ull,
                        3'700'000'123ull, 5'000'000'000ull}) {
        Scale s = Scale::from_frequencies(hz, NS_PER_SEC);
        EXPECT_LT(s.mult, uint64_t{1} << 63);
        for (int i = 0; i < 10000; i++) {
            uint64_t ticks = rng() >> 8;  // up to 2^56 ticks: years of uptime
            uint64_t exact = mul_div(ticks, NS_PER_SEC, hz);
            uint64_t got = s.apply(ticks);
            // mult is rounded down, so apply() never exceeds the exact value, and the relative
            // error of mult is below 2^-62 (mult >= 2^62), i.e. at most ~1 ns per 4.6e18 ns.
            EXPECT_LE(got, exact);
            EXPECT_LE(exact - got, 1 + (exact >> 61)) << hz << " " << ticks;
        }
    }
}

TEST(TimeScaleTest, LongUptimesDoNotWrap) {
    // 3 GHz TSC: 2^64 cycles is ~195 years. Every reading up to the counter's own wrap converts
    // without overflow, and values are monotonic across the whole range.
    Scale s = Scale::from_frequencies(3'000'000'000, NS_PER_SEC);
    const uint64_t hundred_years = 100ull * 365 * 86400 * 3'000'000'000ull;
    uint64_t ns = s.apply(hundred_years);
    EXPECT_NEAR(double(ns), 100.0 * 365 * 86400 * 1e9, 1e3);
    uint64_t prev = 0;
    for (uint64_t t = 0; t < UINT64_MAX - (uint64_t{1} << 58); t += uint64_t{1} << 58) {
        uint64_t v = s.apply(t);
        EXPECT_GE(v, prev);
        prev = v;
    }
    EXPECT_LT(s.apply(UINT64_MAX), UINT64_MAX);  // ns < cycles: never saturates
    EXPECT_GE(s.apply(UINT64_MAX), prev);
}

TEST(TimeScaleTest, SlowCounterSaturatesInsteadOfWrapping) {
    // 1 Hz to ns: anything above ~584 years of seconds saturates at UINT64_MAX.
    Scale s = Scale::from_frequencies(1, NS_PER_SEC);
    EXPECT_EQ(s.apply(10), 10 * NS_PER_SEC);
    EXPECT_EQ(s.apply(UINT64_MAX / NS_PER_SEC), (UINT64_MAX / NS_PER_SEC) * NS_PER_SEC);
    EXPECT_EQ(s.apply(UINT64_MAX / NS_PER_SEC + 1), UINT64_MAX);
    EXPECT_EQ(s.apply(UINT64_MAX), UINT64_MAX);
}

TEST(TimeScaleTest, InverseScaleForDeadlines) {
    // ns -> LAPIC timer counts at 1 GHz / 16 and back.
    Scale to_counts = Scale::from_frequencies(NS_PER_SEC, 62'500'000);
    EXPECT_GE(to_counts.apply(1'000'000), 62'499u);
    EXPECT_LE(to_counts.apply(1'000'000), 62'500u);
    EXPECT_LE(to_counts.apply(16), 1u);
    EXPECT_EQ(Scale::from_frequencies(0, 5).mult, 0u);
    EXPECT_EQ(Scale::from_frequencies(5, 0).apply(1000), 0u);
}

TEST(TimeScaleTest, FrequencyFromMeasurement) {
    EXPECT_EQ(Scale::frequency_from(3'000'000, 1'000'000), 3'000'000'000u);
    EXPECT_EQ(Scale::frequency_from(1, 0), UINT64_MAX);
}

}  // namespace
