// Virtual memory layout. Included from assembly and C++.
#pragma once

#define KERNEL_PHYS_BASE 0x200000
#define KERNEL_VMA 0xffffffff80000000
// The direct map of physical memory starts at PML4 slot 256 (the start of the higher half).
#define KERNEL_DIRECT_MAP 0xffff800000000000
#define KERNEL_DIRECT_MAP_PML4_INDEX 256
