/*
 * Switching kernel threads. Only the callee-saved registers and the stack pointer need saving:
 * a switch is an ordinary function call as far as the compiler of the caller is concerned, and
 * the interrupt flag travels in the caller's saved flags (the scheduler runs with interrupts
 * off and each thread restores its own on the way out).
 *
 * Thread* context_switch(uint64_t* save_rsp, uint64_t next_rsp, Thread* prev)
 *   saves the callee-saved registers on the current stack, stores rsp to *save_rsp, loads
 *   next_rsp, restores that thread's registers and returns prev to it, so the thread that
 *   resumes can finish the switch for the one that left (see Scheduler::finish_switch).
 */
.text
.global context_switch
.type context_switch, @function
context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    movq %rdx, %rax
    ret
.size context_switch, . - context_switch

/*
 * First instructions of a new thread: context_switch "returns" here with the previous thread in
 * rax. rbp is zero in the initial frame, which ends backtraces.
 */
.global thread_trampoline
.type thread_trampoline, @function
thread_trampoline:
    movq %rax, %rdi
    call sched_thread_start
    ud2
.size thread_trampoline, . - thread_trampoline
