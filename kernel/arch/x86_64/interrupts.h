// The IDT, the register frame every interrupt stub builds, and handler registration.
#pragma once

#include <stdint.h>

namespace lamina::arch {

// Pushed by isr.S: general registers, then vector and error code, then the CPU's frame.
struct InterruptFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

using InterruptHandler = void (*)(InterruptFrame&);

// Loads the IDT on this CPU (the table is shared by all CPUs).
void init_idt();
void load_idt();

// Installs a handler for a vector >= 32. Exceptions (0-31) go to the fault path, which a
// subsystem can hook with set_exception_hook (the domain manager uses it to contain faults).
void set_interrupt_handler(uint8_t vector, InterruptHandler handler);

// Called for an exception before the kernel treats it as fatal. Returns true when the hook
// handled it (and may have changed the frame to resume elsewhere).
using ExceptionHook = bool (*)(InterruptFrame&);
void set_exception_hook(ExceptionHook hook);
// The installed hook, so a later subsystem can put its own in front and chain to it.
ExceptionHook exception_hook();

// Called after the handler of an interrupt (vector >= 32) returns, still with interrupts off:
// the scheduler switches threads here when the tick asked for it. Handlers must have sent
// their EOI by then.
using InterruptExitHook = void (*)(InterruptFrame&);
void set_interrupt_exit_hook(InterruptExitHook hook);
InterruptExitHook interrupt_exit_hook();

const char* exception_name(uint64_t vector);
void print_frame(const InterruptFrame& f);
// The exception-specific lines of a fault report (for #PF: the address and the access).
void print_exception_details(const InterruptFrame& f);

// IST slots in the TSS (1-based as the IDT encodes them).
constexpr uint8_t IST_DOUBLE_FAULT = 1;
constexpr uint8_t IST_NMI = 2;
constexpr uint8_t IST_MACHINE_CHECK = 3;
constexpr uint8_t IST_PAGE_FAULT = 4;

}  // namespace lamina::arch
