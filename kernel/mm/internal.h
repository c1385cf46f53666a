// Between the parts of the memory manager; nothing outside kernel/mm includes this.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::mm {

// Sets up the kernel heap over the frame allocator (heap.cpp); called by init().
void init_heap();

// For the kernel-stack tests: called by a cache trim with the slots it has unmapped, before their
// TLB shoot-down (without g_pt_lock held), so that a test can check nothing reuses them yet.
using StackTrimHook = void (*)(const uint32_t* slots, size_t count);
void set_stack_trim_hook(StackTrimHook hook);
// Makes the next fresh stack take the lowest free slot (allocation otherwise continues after the
// last one), so that a test reaches the slots a trim has just unmapped.
void rewind_stack_hint();

}  // namespace lamina::mm
