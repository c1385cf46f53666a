/*
 * Entry from a multiboot1 loader (QEMU -kernel: the fast path for tests) or a multiboot2 loader
 * (GRUB, for disk images). Both hand over in 32-bit protected mode with paging off, EAX holding
 * the loader's magic and EBX the physical address of its information structure.
 *
 * This file runs identity-mapped at the physical load address: it builds boot page tables that
 * map the first 4 GiB three times (identity, the direct map at KERNEL_DIRECT_MAP, and the kernel
 * image at KERNEL_VMA), enters long mode and jumps to the higher half. The memory manager
 * replaces these tables with W^X mappings once it knows the physical memory map.
 */
#include "kernel/arch/x86_64/layout.h"
#include "kernel/arch/x86_64/registers.h"

#define MB1_MAGIC 0x1BADB002
#define MB1_FLAGS 0x00010003 /* page-aligned modules, memory info, address fields (a.out kludge) */
#define MB2_MAGIC 0xE85250D6

#define PHYS(sym) ((sym) - KERNEL_VMA)

.section .multiboot, "a"
.align 8
mb2_header:
    .long MB2_MAGIC
    .long 0                                  /* i386 protected mode */
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (MB2_MAGIC + (mb2_header_end - mb2_header))
    /* information request: cmdline, modules, mmap, ACPI old/new, EFI mmap */
    .align 8
mb2_info_req:
    .short 1, 0
    .long mb2_info_req_end - mb2_info_req
    .long 1, 3, 6
mb2_info_req_end:
    .align 8
    .short 0, 0                              /* end tag */
    .long 8
mb2_header_end:

.align 4
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long 0x100000000 - (MB1_MAGIC + MB1_FLAGS)
    .long mb1_header                         /* header_addr: this section is linked at its LMA */
    .long __load_start_phys
    .long __load_end_phys
    .long __bss_end_phys
    .long _start32

.section .boot.text, "ax"
.code32
.global _start32
_start32:
    cli
    cld
    mov %eax, %edi                           /* loader magic: first argument of kernel_main */
    mov %ebx, %esi                           /* info structure: second argument */
    mov $PHYS(boot_stack_top), %esp

    /* Long mode is required: report its absence on COM1 rather than triple-faulting. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz no_long_mode
    mov %edx, %ebp                           /* keep: bit 20 says whether NX exists */

    /* PD entries: 2048 x 2 MiB = the first 4 GiB. */
    mov $PHYS(boot_pd), %ebx
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                           /* present, writable, 2 MiB page */
    mov %eax, (%ebx, %ecx, 8)
    movl $0, 4(%ebx, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    /* PDPT for the identity map and the direct map: four PDs. */
    mov $PHYS(boot_pdpt_low), %ebx
    mov $PHYS(boot_pd), %eax
    or $0x3, %eax
    mov %eax, 0(%ebx)
    add $4096, %eax
    mov %eax, 8(%ebx)
    add $4096, %eax
    mov %eax, 16(%ebx)
    add $4096, %eax
    mov %eax, 24(%ebx)

    /* PDPT for the top 2 GiB (the kernel image): entries 510 and 511 -> phys 0..2 GiB. */
    mov $PHYS(boot_pdpt_high), %ebx
    mov $PHYS(boot_pd), %eax
    or $0x3, %eax
    mov %eax, 510*8(%ebx)
    add $4096, %eax
    mov %eax, 511*8(%ebx)

    mov $PHYS(boot_pml4), %ebx
    mov $PHYS(boot_pdpt_low), %eax
    or $0x3, %eax
    mov %eax, 0(%ebx)                        /* identity: needed until we jump high */
    mov %eax, (KERNEL_DIRECT_MAP_PML4_INDEX*8)(%ebx)
    mov $PHYS(boot_pdpt_high), %eax
    or $0x3, %eax
    mov %eax, 511*8(%ebx)

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov %ebx, %cr3

    mov $MSR_IA32_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    test $(1 << 20), %ebp
    jz 2f
    or $EFER_NXE, %eax                       /* when the CPU has NX */
2:  wrmsr

    mov %cr0, %eax
    or $(CR0_PG | CR0_WP | CR0_PE), %eax
    mov %eax, %cr0

    lgdt boot_gdtr
    ljmp $0x08, $long_mode_entry

no_long_mode:
    mov $no_lm_msg, %esi
    mov $0x3f8, %dx
3:  lodsb
    test %al, %al
    jz 4f
    out %al, %dx
    jmp 3b
4:  hlt
    jmp 4b

.code64
long_mode_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    movabs $higher_half_entry, %rax
    jmp *%rax

.section .boot.data, "a"
.align 16
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF                 /* 0x08: 64-bit code */
    .quad 0x00CF92000000FFFF                 /* 0x10: data */
boot_gdt_end:
boot_gdtr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
no_lm_msg:
    .asciz "lamina: this CPU has no long mode; x86-64 is required\r\n"

.text
higher_half_entry:
    movabs $boot_stack_top, %rsp
    xor %ebp, %ebp
    /* The identity map stays until the memory manager installs its own tables. */
    mov %edi, %edi
    mov %esi, %esi
    call kernel_main
5:  cli
    hlt
    jmp 5b

.section .bss
.align 4096
.global boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4
.global boot_stack_bottom
boot_stack_bottom:
    .skip 16384
.global boot_stack_top
boot_stack_top:
