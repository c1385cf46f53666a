#include "kernel/arch/x86_64/percpu.h"

#include "kernel/arch/x86_64/cpu.h"

namespace lamina::arch {

namespace {
constexpr uint32_t IA32_GS_BASE = 0xC0000101;
constexpr uint32_t IA32_KERNEL_GS_BASE = 0xC0000102;

Cpu g_cpus[MAX_CPUS];
unsigned g_cpu_count = 0;
}  // namespace

void install_this_cpu(Cpu& cpu) {
    cpu.self = &cpu;
    cpu::wrmsr(IA32_GS_BASE, reinterpret_cast<uint64_t>(&cpu));
    cpu::wrmsr(IA32_KERNEL_GS_BASE, 0);
}

void enable_cpu_protections() {
    auto leaf7 = cpu::cpuid(7, 0);
    uint64_t cr4 = cpu::read_cr4();
    if (leaf7.ebx & (1u << 7)) cr4 |= 1ull << 20;   // SMEP
    if (leaf7.ebx & (1u << 20)) cr4 |= 1ull << 21;  // SMAP
    if (leaf7.ecx & (1u << 2)) cr4 |= 1ull << 11;   // UMIP
    cpu::write_cr4(cr4);
    cpu::write_cr0(cpu::read_cr0() | (1ull << 16));  // WP: the kernel honours read-only pages
}

Cpu& cpu_by_index(unsigned index) { return g_cpus[index]; }
unsigned cpu_count() { return __atomic_load_n(&g_cpu_count, __ATOMIC_ACQUIRE); }

unsigned online_cpu_count() {
    unsigned n = 0;
    for (unsigned i = 0; i < cpu_count(); i++)
        if (g_cpus[i].online) n++;
    return n;
}

Cpu* add_cpu(uint32_t apic_id, CpuTables* tables) {
    unsigned i = g_cpu_count;
    if (i >= MAX_CPUS) return nullptr;
    Cpu& c = g_cpus[i];
    c = {};
    c.self = &c;
    c.index = i;
    c.apic_id = apic_id;
    c.tables = tables;
    __atomic_store_n(&g_cpu_count, i + 1, __ATOMIC_RELEASE);
    return &c;
}

}  // namespace lamina::arch
