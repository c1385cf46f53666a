#include "kernel/arch/x86_64/percpu.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/registers.h"

extern "C" void syscall_entry();

namespace lamina::arch {

namespace {
Cpu g_cpus[MAX_CPUS];
unsigned g_cpu_count = 0;
}  // namespace

void install_this_cpu(Cpu& cpu) {
    cpu.self = &cpu;
    cpu::wrmsr(MSR_IA32_GS_BASE, reinterpret_cast<uint64_t>(&cpu));
    cpu::wrmsr(MSR_IA32_KERNEL_GS_BASE, 0);
}

void enable_cpu_protections() {
    auto leaf7 = cpu::cpuid(7, 0);
    uint64_t cr4 = cpu::read_cr4();
    if (leaf7.ebx & (1u << 7)) cr4 |= CR4_SMEP;  // CPUID.7.EBX bits: SMEP, SMAP; ECX: UMIP
    if (leaf7.ebx & (1u << 20)) cr4 |= CR4_SMAP;
    if (leaf7.ecx & (1u << 2)) cr4 |= CR4_UMIP;
    // User programs use SSE (the kernel itself never touches FPU/SSE registers, so only the
    // scheduler saves them, for user threads): OSFXSR and OSXMMEXCPT; CR0.MP on, EM and TS off.
    cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
    cpu::write_cr4(cr4);
    uint64_t cr0 = cpu::read_cr0() | CR0_WP;  // the kernel honours read-only pages
    cr0 = (cr0 | CR0_MP) & ~uint64_t(CR0_EM | CR0_TS);
    cpu::write_cr0(cr0);

    // SYSCALL/SYSRET. STAR[47:32] gives the kernel CS (SS = +8); STAR[63:48] + 16 is the 64-bit
    // user CS and + 8 the user SS, which is why gdt.h lays out USER_DS (0x20) below USER_CS (0x28).
    cpu::wrmsr(MSR_IA32_EFER, cpu::rdmsr(MSR_IA32_EFER) | EFER_SCE);
    cpu::wrmsr(MSR_IA32_STAR, (uint64_t(KERNEL_CS) << 32) | (uint64_t((USER_DS & ~3) - 8) << 48));
    cpu::wrmsr(MSR_IA32_LSTAR, reinterpret_cast<uint64_t>(&syscall_entry));
    // Enter with IF, DF, TF, AC (and NT) clear: no interrupt before the stack switch, no SMAP
    // bypass inherited from user mode.
    cpu::wrmsr(MSR_IA32_FMASK, RFLAGS_IF | RFLAGS_DF | RFLAGS_TF | RFLAGS_AC | RFLAGS_NT);
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
