// Symbolized backtraces from frame-pointer chains. Symbols come from the table the build embeds
// in the kernel's .ksyms section (see tools/gen-ksyms).
#pragma once

#include <stdint.h>

namespace lamina {

// Prints the chain starting at the frame whose base pointer is rbp.
void print_backtrace(uint64_t rbp);
// Prints rip first, then the chain starting at rbp (for exception frames).
void print_backtrace_from(uint64_t rip, uint64_t rbp);

// Finds the function containing addr. Returns nullptr when no symbol covers it.
const char* symbolize(uint64_t addr, uint64_t* offset);

// Registered by the stack allocator: true when addr lies in a guard page below a kernel stack.
bool is_stack_guard_address(uint64_t addr);
using StackGuardQuery = bool (*)(uint64_t);
void set_stack_guard_query(StackGuardQuery q);

}  // namespace lamina
