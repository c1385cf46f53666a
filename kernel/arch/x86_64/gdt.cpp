#include "kernel/arch/x86_64/gdt.h"

namespace lamina::arch {

namespace {
CpuTables g_boot_cpu_tables;

struct [[gnu::packed]] Gdtr {
    uint16_t limit;
    uint64_t base;
};
}  // namespace

CpuTables& boot_cpu_tables() { return g_boot_cpu_tables; }

void init_cpu_tables(CpuTables& t) {
    t.gdt[0] = 0;
    t.gdt[1] = 0x00AF9A000000FFFF;  // kernel code: present, DPL0, long mode
    t.gdt[2] = 0x00CF92000000FFFF;  // kernel data
    t.gdt[3] = 0x00CFFA000000FFFF;  // user code, 32-bit (unused; keeps the SYSRET layout)
    t.gdt[4] = 0x00CFF2000000FFFF;  // user data, DPL3
    t.gdt[5] = 0x00AFFA000000FFFF;  // user code, DPL3, long mode
    auto base = reinterpret_cast<uint64_t>(&t.tss);
    uint64_t limit = sizeof(Tss) - 1;
    t.gdt[6] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (uint64_t(0x89) << 40) | (((limit >> 16) & 0xF) << 48) |
               (((base >> 24) & 0xFF) << 56);
    t.gdt[7] = base >> 32;
    t.gdt[8] = 0;
    t.tss = {};
    t.tss.iomap_base = sizeof(Tss);  // no I/O permission bitmap: ring 3 gets no ports
    for (int i = 0; i < 4; i++) t.tss.ist[i] = reinterpret_cast<uint64_t>(&t.ist_stacks[i][IST_STACK_SIZE]);

    Gdtr gdtr{sizeof(t.gdt) - 1, reinterpret_cast<uint64_t>(&t.gdt)};
    asm volatile(
        "lgdt %0\n"
        "pushq %1\n"
        "leaq 1f(%%rip), %%rax\n"
        "pushq %%rax\n"
        "lretq\n"
        "1:\n"
        "mov %2, %%ds\n"
        "mov %2, %%es\n"
        "mov %2, %%ss\n"
        :
        : "m"(gdtr), "i"(uint64_t(KERNEL_CS)), "r"(uint32_t(KERNEL_DS))
        : "rax", "memory");
    asm volatile("ltr %0" ::"r"(TSS_SELECTOR));
}

void set_kernel_stack(CpuTables& t, uint64_t rsp0) { t.tss.rsp[0] = rsp0; }

}  // namespace lamina::arch
