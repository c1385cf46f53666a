// The x86-64 model-specific registers, control-register bits and RFLAGS bits the kernel uses,
// named once. Plain #defines of integer constants so that the .S files (boot, AP trampoline)
// can use them too. Sources: Intel SDM vol. 4, table 2-2 (architectural MSRs); vol. 3A 2.5
// (CR0, CR4), 2.2.1 (IA32_EFER), 2.3 (RFLAGS); vol. 3A 10.4.4 and 10.12.1 (local APIC base,
// x2APIC MSRs).
#pragma once

// --- MSRs ---
#define MSR_IA32_APIC_BASE 0x1B
#define MSR_IA32_PAT 0x277
#define MSR_X2APIC_FIRST 0x800  // x2APIC register R is MSR 0x800 + R/16
#define MSR_IA32_EFER 0xC0000080
#define MSR_IA32_STAR 0xC0000081   // SYSCALL/SYSRET segment selectors
#define MSR_IA32_LSTAR 0xC0000082  // SYSCALL's 64-bit entry point
#define MSR_IA32_FMASK 0xC0000084  // RFLAGS bits SYSCALL clears
#define MSR_IA32_FS_BASE 0xC0000100
#define MSR_IA32_GS_BASE 0xC0000101
#define MSR_IA32_KERNEL_GS_BASE 0xC0000102  // swapped with GS_BASE by SWAPGS

// --- IA32_APIC_BASE bits ---
#define APIC_BASE_X2APIC_ENABLE 0x400
#define APIC_BASE_GLOBAL_ENABLE 0x800
#define APIC_BASE_ADDRESS_MASK 0x000FFFFFFFFFF000

// --- IA32_EFER bits ---
#define EFER_SCE 0x1    // SYSCALL enable
#define EFER_LME 0x100  // long mode enable
#define EFER_LMA 0x400  // long mode active (read-only)
#define EFER_NXE 0x800  // no-execute page bit enable

// --- CR0 bits ---
#define CR0_PE 0x1      // protected mode
#define CR0_MP 0x2      // WAIT/FWAIT honour TS
#define CR0_EM 0x4      // x87 emulation (must be off for SSE)
#define CR0_TS 0x8      // task switched: next FPU/SSE use traps
#define CR0_WP 0x10000  // ring 0 honours read-only pages
#define CR0_PG 0x80000000

// --- CR4 bits ---
#define CR4_PAE 0x20
#define CR4_PGE 0x80  // global pages; toggling it flushes every TLB entry
#define CR4_OSFXSR 0x200
#define CR4_OSXMMEXCPT 0x400
#define CR4_UMIP 0x800
#define CR4_SMEP 0x100000
#define CR4_SMAP 0x200000

// --- RFLAGS bits ---
#define RFLAGS_TF 0x100
#define RFLAGS_IF 0x200
#define RFLAGS_DF 0x400
#define RFLAGS_NT 0x4000
#define RFLAGS_AC 0x40000
