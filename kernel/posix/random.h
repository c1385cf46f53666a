// Random bytes for AT_RANDOM and getrandom: RDRAND when the CPU has it, mixed with the TSC;
// otherwise a TSC-seeded generator. Not a CSPRNG: good enough until the kernel has one.
#pragma once

#include <stddef.h>

namespace lamina::posix {
void fill_random(void* buffer, size_t n);
}
