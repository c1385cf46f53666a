// The two halves of a domain call's continuation (see kernel/domain/domain.h), like setjmp and
// longjmp. The Continuation starts with the saved state, in this order:
//   0 rbx, 8 rbp, 16 r12, 24 r13, 32 r14, 40 r15, 48 rsp (after the return), 56 resume rip.

    .text

// uint64_t domain_enter(Continuation* c, void (*fn)(void*), void* arg)
// Saves the caller's state into c, then tail-calls fn(arg): fn returns straight to our caller.
    .globl domain_enter
    .type domain_enter, @function
domain_enter:
    mov %rbx, 0(%rdi)
    mov %rbp, 8(%rdi)
    mov %r12, 16(%rdi)
    mov %r13, 24(%rdi)
    mov %r14, 32(%rdi)
    mov %r15, 40(%rdi)
    lea 8(%rsp), %rax
    mov %rax, 48(%rdi)
    mov (%rsp), %rax
    mov %rax, 56(%rdi)
    mov %rsi, %rax
    mov %rdx, %rdi
    jmp *%rax
    .size domain_enter, . - domain_enter

// [[noreturn]] void domain_resume(Continuation* c)
// Returns from the domain_enter that filled c, discarding every frame below it. The caller has
// recorded why in c (the return value in rax is meaningless).
    .globl domain_resume
    .type domain_resume, @function
domain_resume:
    mov 0(%rdi), %rbx
    mov 8(%rdi), %rbp
    mov 16(%rdi), %r12
    mov 24(%rdi), %r13
    mov 32(%rdi), %r14
    mov 40(%rdi), %r15
    mov 48(%rdi), %rsp
    xor %eax, %eax
    jmp *56(%rdi)
    .size domain_resume, . - domain_resume

    .section .note.GNU-stack, "", @progbits
