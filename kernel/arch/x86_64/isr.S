/*
 * One stub per vector. Each pushes a zero error code where the CPU does not push one, then the
 * vector number, and jumps to the common path, which saves the general registers, switches GS
 * when the interrupt came from ring 3, and calls interrupt_dispatch(frame).
 */
#include "kernel/arch/x86_64/frame.inc"

.text

/* Vectors whose exceptions push an error code: #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14,
   #AC 17, #CP 21, #VC 29, #SX 30. The stub addresses go to isr_stub_table as they are made. */
.section .rodata
.align 8
.global isr_stub_table
isr_stub_table:
.text
.set vector, 0
.rept 256
    .align 16
1:
    .if (vector == 8) || (vector >= 10 && vector <= 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .else
    pushq $0
    .endif
    pushq $vector
    jmp isr_common
    .pushsection .rodata
    .quad 1b
    .popsection
    .set vector, vector + 1
.endr

isr_common:
    PUSH_GPRS
    cld
    testb $3, 18*8(%rsp)             /* CS of the interrupted context */
    jz 1f
    swapgs
1:  mov %rsp, %rdi
    /* A frame link for the backtracer: the interrupted rip and rbp. */
    pushq 17*8(%rsp)
    pushq %rbp
    mov %rsp, %rbp
    call interrupt_dispatch
    add $16, %rsp
    testb $3, 18*8(%rsp)
    jz 2f
    swapgs
2:  POP_GPRS
    add $16, %rsp                    /* vector and error code */
    iretq

