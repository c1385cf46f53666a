/*
 * The application processors' first code. The boot CPU copies the bytes between
 * ap_trampoline_start and ap_trampoline_end to physical AP_TRAMPOLINE_PHYS (a page below 1 MiB,
 * identity-mapped while APs start) and fills in the data block at the end; a start-up IPI then
 * starts the AP in real mode at that page.
 *
 * Real mode -> protected mode (a flat 32-bit GDT of our own) -> long mode with the kernel's CR3
 * and the boot CPU's EFER -> the kernel's ap_entry(cpu) in the higher half, on the stack the
 * boot CPU allocated for it. Every address below is where the byte will be after the copy.
 */
#include "kernel/arch/x86_64/registers.h"

#define AP_TRAMPOLINE_PHYS 0x8000
#define AT(sym) (AP_TRAMPOLINE_PHYS + ((sym) - ap_trampoline_start))

.section .rodata.ap_trampoline, "a"
.align 16
.global ap_trampoline_start
ap_trampoline_start:
.code16
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl AT(tramp_gdtr)
    movl %cr0, %eax
    orl $CR0_PE, %eax
    movl %eax, %cr0
    ljmpl $0x08, $AT(tramp_protected)

.code32
tramp_protected:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl AT(ap_trampoline_cr3), %eax     /* below 4 GiB: checked by the boot CPU */
    movl %eax, %cr3
    movl $MSR_IA32_EFER, %ecx            /* LME, and NXE when the page tables use NX */
    movl AT(ap_trampoline_efer), %eax
    xorl %edx, %edx
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PG | CR0_WP | CR0_PE), %eax
    movl %eax, %cr0
    ljmpl $0x18, $AT(tramp_long)

.code64
tramp_long:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq AT(ap_trampoline_stack), %rsp
    movq AT(ap_trampoline_cpu), %rdi
    movq AT(ap_trampoline_entry), %rax
    xorl %ebp, %ebp                      /* ends backtraces */
    pushq $0                             /* a null return address, and 16-byte alignment at entry */
    jmp *%rax

.align 8
tramp_gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF             /* 0x08: 32-bit code */
    .quad 0x00CF92000000FFFF             /* 0x10: data */
    .quad 0x00AF9A000000FFFF             /* 0x18: 64-bit code */
tramp_gdtr:
    .word 4 * 8 - 1
    .long AT(tramp_gdt)

/* Filled in by the boot CPU for each AP (see smp.cpp). */
.align 8
.global ap_trampoline_cr3, ap_trampoline_efer, ap_trampoline_stack, ap_trampoline_cpu, ap_trampoline_entry
ap_trampoline_cr3:   .quad 0
ap_trampoline_efer:  .quad 0
ap_trampoline_stack: .quad 0
ap_trampoline_cpu:   .quad 0
ap_trampoline_entry: .quad 0
.global ap_trampoline_end
ap_trampoline_end:
