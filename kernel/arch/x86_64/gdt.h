// Per-CPU GDT and TSS. The TSS carries the ring-0 stack for interrupts from user mode and the
// IST stacks that #DF, NMI, #MC and #PF switch to, so that a kernel stack overflow (a #PF on the
// guard page) is still reported.
#pragma once

#include <stdint.h>

namespace lamina::arch {

constexpr uint16_t KERNEL_CS = 0x08;
constexpr uint16_t KERNEL_DS = 0x10;
constexpr uint16_t USER_DS = 0x20 | 3;
constexpr uint16_t USER_CS = 0x28 | 3;
constexpr uint16_t TSS_SELECTOR = 0x30;

struct [[gnu::packed]] Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);

constexpr unsigned IST_STACK_SIZE = 16384;

struct CpuTables {
    uint64_t gdt[9];  // null, kcode, kdata, ucode32, udata, ucode64, TSS (2 slots), spare
    Tss tss;
    alignas(16) uint8_t ist_stacks[4][IST_STACK_SIZE];
};

// Fills and loads the GDT and TSS for the calling CPU.
void init_cpu_tables(CpuTables& t);

// The ring-0 stack used on an interrupt or exception from ring 3.
void set_kernel_stack(CpuTables& t, uint64_t rsp0);

CpuTables& boot_cpu_tables();

}  // namespace lamina::arch
