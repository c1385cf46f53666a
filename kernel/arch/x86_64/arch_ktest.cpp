// In-kernel tests of the x86-64 basics: protections, descriptor tables, symbolization.
#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/registers.h"
#include "kernel/ktest/ktest.h"
#include <lamina/format.h>

extern "C" void kernel_main(uint32_t, uint64_t);

namespace lamina {
namespace {

KTEST(arch, protections_enabled) {
    auto leaf7 = cpu::cpuid(7, 0);
    uint64_t cr4 = cpu::read_cr4();
    KEXPECT(cpu::read_cr0() & CR0_WP);
    if (leaf7.ebx & (1u << 7)) KEXPECT(cr4 & CR4_SMEP);
    if (leaf7.ebx & (1u << 20)) KEXPECT(cr4 & CR4_SMAP);
    if (leaf7.ecx & (1u << 2)) KEXPECT(cr4 & CR4_UMIP);
    if (cpu::cpuid(0x80000001).edx & (1u << 20)) KEXPECT(cpu::rdmsr(MSR_IA32_EFER) & EFER_NXE);
}

KTEST(arch, task_register_loaded) {
    uint16_t tr = 0;
    asm volatile("str %0" : "=r"(tr));
    KEXPECT_EQ(tr, arch::TSS_SELECTOR);
    auto& t = arch::boot_cpu_tables();
    for (int i = 0; i < 4; i++) KEXPECT(t.tss.ist[i] != 0);
}

KTEST(arch, symbolize_finds_functions) {
    uint64_t off = 1;
    const char* name = symbolize(reinterpret_cast<uint64_t>(&kernel_main), &off);
    KASSERT_TRUE(name != nullptr);
    KEXPECT(__builtin_strcmp(name, "kernel_main") == 0);
    KEXPECT_EQ(off, 0u);
    name = symbolize(reinterpret_cast<uint64_t>(&kernel_main) + 3, &off);
    KEXPECT(name && __builtin_strcmp(name, "kernel_main") == 0);
    KEXPECT_EQ(off, 3u);
    KEXPECT(symbolize(0x1000, &off) == nullptr);
}

KTEST(lib, format_in_kernel) {
    char buf[64];
    size_t n = snformat(buf, sizeof(buf), "%s=%04x %d", "v", 0xbeef, -3);
    KEXPECT_EQ(n, 9u);
    KEXPECT(__builtin_strcmp(buf, "v=beef -3") == 0);
}

}  // namespace
}  // namespace lamina
