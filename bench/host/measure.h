// The host benchmarks' timing loop: best of several slices, in TSC ticks and nanoseconds.
#pragma once

#include <x86intrin.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace lamina::bench {

struct Figure {
    double cycles;  // TSC ticks ("cycles": rdtsc counts at the nominal frequency)
    double ns;
};

// Calls body() `warmup` times (free lists, caches, branch predictors), then `rounds` times in
// `slices` equal slices, and keeps the fastest slice: on a shared machine the others measure
// preemption and noisy neighbours. The figure is per operation, one body() doing
// `ops_per_call` of them.
template <typename Body>
Figure measure(size_t rounds, size_t ops_per_call, size_t warmup, Body&& body, size_t slices = 5) {
    for (size_t i = 0; i < warmup; i++) body();
    Figure best{1e30, 1e30};
    size_t slice = rounds / slices;
    double ops = static_cast<double>(slice * ops_per_call);
    for (size_t rep = 0; rep < slices; rep++) {
        auto t0 = std::chrono::steady_clock::now();
        uint64_t c0 = __rdtsc();
        for (size_t i = 0; i < slice; i++) body();
        uint64_t c1 = __rdtsc();
        auto t1 = std::chrono::steady_clock::now();
        double cycles = static_cast<double>(c1 - c0) / ops;
        if (cycles < best.cycles) best = {cycles, std::chrono::duration<double, std::nano>(t1 - t0).count() / ops};
    }
    return best;
}

// The cost of one rdtsc pair around nothing, to take out of figures timed call by call.
inline double timer_overhead() {
    uint64_t best = ~0ull;
    for (int r = 0; r < 5; r++) {
        uint64_t sum = 0;
        for (int i = 0; i < 100000; i++) {
            uint64_t t = __rdtsc();
            sum += __rdtsc() - t;
        }
        best = sum < best ? sum : best;
    }
    return double(best) / 100000;
}

}  // namespace lamina::bench
