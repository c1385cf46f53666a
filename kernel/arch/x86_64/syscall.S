/*
 * Ring 3 <-> ring 0 for user programs.
 *
 * syscall_entry: where SYSCALL lands (LSTAR). FMASK has cleared IF, so nothing interrupts
 * before the stack switch: swapgs, park the user rsp in the per-CPU area, load the current
 * thread's kernel stack top (Cpu::syscall_kernel_rsp), and build the same InterruptFrame the
 * interrupt stubs build (vector SYSCALL_VECTOR_MARKER), so the C++ side sees one register layout
 * and a user fault, an interrupt and a system call all leave the same way. Then
 * syscall_dispatch(frame) runs with interrupts on.
 *
 * Leaving: SYSRET when the frame still describes an ordinary return to user code at a canonical
 * address (SYSRET with a non-canonical rcx would #GP in ring 0 on the user's stack, on Intel);
 * otherwise IRETQ, which also serves frames the kernel rewrote (a process killed in a system
 * call resumes in kernel mode).
 *
 * enter_user_mode(rip, rsp): a thread's first entry into ring 3, with clean registers.
 */
#define CPU_SYSCALL_KERNEL_RSP 80
#define CPU_SYSCALL_USER_RSP 88
#define USER_DS 0x23
#define USER_CS 0x2b
#define FRAME_RIP (17*8)
#define FRAME_CS (18*8)
#define FRAME_RFLAGS (19*8)
#define FRAME_RSP (20*8)
#define FRAME_SS (21*8)

#include "kernel/arch/x86_64/frame.inc"

.text
.global syscall_entry
.type syscall_entry, @function
syscall_entry:
    swapgs
    movq %rsp, %gs:CPU_SYSCALL_USER_RSP
    movq %gs:CPU_SYSCALL_KERNEL_RSP, %rsp
    pushq $USER_DS
    pushq %gs:CPU_SYSCALL_USER_RSP
    pushq %r11
    pushq $USER_CS
    pushq %rcx
    pushq $0                         /* error code */
    pushq $256                       /* vector: not an interrupt */
    PUSH_GPRS
    movq %rsp, %rdi
    pushq FRAME_RIP(%rsp)            /* frame link for the backtracer */
    pushq %rbp
    movq %rsp, %rbp
    sti
    call syscall_dispatch
    cli
    addq $16, %rsp
    /* SYSRET only for a plain return to canonical user code. */
    cmpq $USER_CS, FRAME_CS(%rsp)
    jne syscall_exit_iret
    cmpq $USER_DS, FRAME_SS(%rsp)
    jne syscall_exit_iret
    movq FRAME_RIP(%rsp), %rcx
    shrq $47, %rcx
    jnz syscall_exit_iret
    POP_GPRS
    movq 16(%rsp), %rcx              /* rip */
    movq 32(%rsp), %r11              /* rflags */
    movq 40(%rsp), %rsp              /* user rsp */
    swapgs
    sysretq

syscall_exit_iret:
    testb $3, FRAME_CS(%rsp)
    jz 1f
    swapgs
1:  POP_GPRS
    addq $16, %rsp
    iretq
.size syscall_entry, . - syscall_entry

/* void enter_user_mode(uint64_t rip, uint64_t rsp): never returns. */
.global enter_user_mode
.type enter_user_mode, @function
enter_user_mode:
    cli
    pushq $USER_DS
    pushq %rsi
    pushq $0x202                     /* IF */
    pushq $USER_CS
    pushq %rdi
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %edi, %edi
    xorl %ebp, %ebp
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    swapgs
    iretq
.size enter_user_mode, . - enter_user_mode

/*
 * Fault-safe access to user memory (kernel/posix/user_access.h). A fault at an instruction in
 * [user_access_begin, user_access_end) does not panic: the exception hook either pages the
 * address in and retries, or resumes at user_access_fixup, which returns -EFAULT. SMAP is
 * opened (stac) only around the accesses, and only on CPUs that have it (stac is #UD without).
 */
.macro OPEN_USER
    testb $1, lamina_smap_enabled(%rip)
    jz 91f
    stac
91:
.endm
.macro CLOSE_USER
    testb $1, lamina_smap_enabled(%rip)
    jz 92f
    clac
92:
.endm

.global user_access_begin, user_access_end, user_access_fixup
user_access_begin:
/* long arch_copy_user(void* dst, const void* src, size_t n): 0, or -EFAULT */
.global arch_copy_user
.type arch_copy_user, @function
arch_copy_user:
    OPEN_USER
    /* Eight bytes per iteration, then the tail: emulators (QEMU TCG) pay per iteration. */
    movq %rdx, %rcx
    shrq $3, %rcx
    rep movsq
    movq %rdx, %rcx
    andq $7, %rcx
    rep movsb
    CLOSE_USER
    xorl %eax, %eax
    ret
.size arch_copy_user, . - arch_copy_user

/* long arch_strncpy_user(char* dst, const char* src, size_t max): the length of the string
   when a NUL came within max bytes (the NUL copied too), max when none did, or -EFAULT. */
.global arch_strncpy_user
.type arch_strncpy_user, @function
arch_strncpy_user:
    OPEN_USER
    xorl %eax, %eax
1:  cmpq %rdx, %rax
    je 2f
    movb (%rsi,%rax), %cl
    movb %cl, (%rdi,%rax)
    testb %cl, %cl
    jz 2f
    incq %rax
    jmp 1b
2:  CLOSE_USER
    ret
.size arch_strncpy_user, . - arch_strncpy_user

/* long arch_clear_user(void* dst, size_t n): 0, or -EFAULT */
.global arch_clear_user
.type arch_clear_user, @function
arch_clear_user:
    OPEN_USER
    movq %rsi, %rcx
    xorl %eax, %eax
    rep stosb
    CLOSE_USER
    ret
.size arch_clear_user, . - arch_clear_user
user_access_end:

user_access_fixup:
    CLOSE_USER
    movq $-14, %rax
    ret
