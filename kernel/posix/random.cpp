#include "kernel/posix/random.h"

#include <stdint.h>

#include "kernel/arch/x86_64/cpu.h"

namespace lamina::posix {

namespace {
uint64_t g_state = 0;

uint64_t next_u64() {
    static int has_rdrand = -1;
    if (has_rdrand < 0) has_rdrand = (cpu::cpuid(1).ecx >> 30) & 1;
    uint64_t v = 0;
    if (has_rdrand) {
        unsigned char ok = 0;
        for (int tries = 0; tries < 10 && !ok; tries++) asm volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
    }
    // splitmix64 over the TSC and a running state.
    uint64_t z = __atomic_add_fetch(&g_state, 0x9E3779B97F4A7C15ull ^ cpu::rdtsc(), __ATOMIC_RELAXED);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return v ^ z ^ (z >> 31);
}
}  // namespace

void fill_random(void* buffer, size_t n) {
    auto* p = static_cast<uint8_t*>(buffer);
    while (n) {
        uint64_t v = next_u64();
        size_t k = n < 8 ? n : 8;
        __builtin_memcpy(p, &v, k);
        p += k;
        n -= k;
    }
}

}  // namespace lamina::posix
