#include "kernel/arch/x86_64/backtrace.h"

#include <stddef.h>

#include "kernel/arch/x86_64/layout.h"
#include "kernel/lib/log.h"

extern "C" const char __ksyms_start[], __ksyms_end[];
extern "C" const char __text_start[], __text_end[];

namespace lamina {

namespace {

// The layout gen-ksyms writes: a count, then sorted (address, name offset) pairs, then the
// NUL-terminated names.
struct KsymEntry {
    uint64_t address;
    uint64_t name_offset;
};

StackGuardQuery g_guard_query;

bool plausible_frame(uint64_t rbp) {
    // Kernel stacks live in the higher half; anything else ends the walk.
    return rbp >= KERNEL_DIRECT_MAP && (rbp & 7) == 0 && rbp < ~uint64_t(16) && !is_stack_guard_address(rbp) &&
           !is_stack_guard_address(rbp + 8);
}

void print_entry(int depth, uint64_t rip) {
    uint64_t off = 0;
    const char* name = symbolize(rip, &off);
    if (name)
        kprintf("  #%-2d %016lx %s+0x%lx\n", depth, rip, name, off);
    else
        kprintf("  #%-2d %016lx ?\n", depth, rip);
}

}  // namespace

const char* symbolize(uint64_t addr, uint64_t* offset) {
    size_t bytes = size_t(__ksyms_end - __ksyms_start);
    if (bytes < 8) return nullptr;
    uint64_t count = *reinterpret_cast<const uint64_t*>(__ksyms_start);
    if (8 + count * sizeof(KsymEntry) > bytes) return nullptr;
    auto* entries = reinterpret_cast<const KsymEntry*>(__ksyms_start + 8);
    const char* names = __ksyms_start + 8 + count * sizeof(KsymEntry);
    if (count == 0 || addr < entries[0].address) return nullptr;
    if (addr >= reinterpret_cast<uint64_t>(__text_end)) return nullptr;
    size_t lo = 0, hi = count;  // last entry with address <= addr
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (entries[mid].address <= addr)
            lo = mid;
        else
            hi = mid;
    }
    if (offset) *offset = addr - entries[lo].address;
    return names + entries[lo].name_offset;
}

void print_backtrace_from(uint64_t rip, uint64_t rbp) {
    kprintf("backtrace:\n");
    print_entry(0, rip);
    int depth = 1;
    while (depth < 32 && plausible_frame(rbp)) {
        auto* frame = reinterpret_cast<const uint64_t*>(rbp);
        uint64_t ret = frame[1];
        if (ret == 0) break;
        print_entry(depth++, ret);
        if (frame[0] <= rbp) break;  // stacks grow down: the caller's frame is above ours
        rbp = frame[0];
    }
}

void print_backtrace(uint64_t rbp) {
    if (!plausible_frame(rbp)) return;
    auto* frame = reinterpret_cast<const uint64_t*>(rbp);
    print_backtrace_from(frame[1], frame[0]);
}

bool is_stack_guard_address(uint64_t addr) { return g_guard_query && g_guard_query(addr); }
void set_stack_guard_query(StackGuardQuery q) { g_guard_query = q; }

}  // namespace lamina
