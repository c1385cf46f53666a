// The page size: one constant for the kernel, domains and drivers (x86-64's 4 KiB base page;
// the kernel's frame allocator, a domain's private heap and every DMA buffer use it).
#pragma once

#include <stdint.h>

namespace lamina {

inline constexpr unsigned PAGE_SHIFT = 12;
inline constexpr uint64_t PAGE_SIZE = uint64_t{1} << PAGE_SHIFT;

}  // namespace lamina
