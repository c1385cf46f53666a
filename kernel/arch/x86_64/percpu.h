// Per-CPU data, reached through GS. Each CPU's IA32_GS_BASE points at its Cpu; the stubs in
// isr.S swap in KERNEL_GS_BASE on entries from ring 3, so while in the kernel GS always holds
// the kernel's per-CPU pointer. `self` at offset 0 lets this_cpu() be one load.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/arch/x86_64/gdt.h"

namespace lamina::sched {
class Thread;
struct RunQueue;
}  // namespace lamina::sched

namespace lamina::arch {

constexpr unsigned MAX_CPUS = 64;

struct Cpu {
    Cpu* self;               // offset 0: read through %gs:0
    sched::Thread* current;  // offset 8: the thread running on this CPU
    uint32_t index;          // 0 = the boot CPU; dense
    uint32_t apic_id;
    CpuTables* tables;    // this CPU's GDT, TSS and IST stacks
    sched::Thread* idle;  // runs when the run queue is empty
    sched::RunQueue* run_queue;
    // Set (by the tick, or by a wake-up of a more urgent thread) when the current thread should
    // give up the CPU; acted on when the interrupt returns or preemption is re-enabled.
    volatile bool need_resched;
    volatile bool online;
    // Nonzero while the current thread must not be switched away involuntarily.
    uint32_t preempt_disabled;
    uint32_t slice_left;  // ticks left in the current thread's time slice
    uint64_t ticks;       // ticks this CPU has taken
    uint64_t context_switches;
    // The SYSCALL entry (syscall.S) has no stack of its own: it parks the user rsp here and
    // loads the current thread's kernel stack top, which the scheduler sets on every switch.
    uint64_t syscall_kernel_rsp;  // offset 80
    uint64_t syscall_user_rsp;    // offset 88
};
static_assert(offsetof(Cpu, self) == 0);
static_assert(offsetof(Cpu, current) == 8);
static_assert(offsetof(Cpu, syscall_kernel_rsp) == 80 && offsetof(Cpu, syscall_user_rsp) == 88,
              "syscall.S uses these offsets");

inline Cpu* this_cpu() {
    Cpu* c;
    asm volatile("mov %%gs:0, %0" : "=r"(c));
    return c;
}

// Points GS at cpu on the calling CPU (both GS_BASE and KERNEL_GS_BASE hold the kernel value
// until a first return to ring 3 installs a user one).
void install_this_cpu(Cpu& cpu);

// The CR0/CR4 protections every CPU runs with (SMEP, SMAP, UMIP where present; WP), and the
// SYSCALL instruction's MSRs (EFER.SCE, STAR, LSTAR, FMASK) pointing at syscall.S.
void enable_cpu_protections();

// Every CPU the kernel knows of (brought up or not), indexed by Cpu::index.
Cpu& cpu_by_index(unsigned index);
unsigned cpu_count();         // CPUs described (so far: registered by smp or the boot CPU)
unsigned online_cpu_count();  // CPUs running the scheduler
// Registers a CPU slot; the boot CPU is index 0. Returns nullptr beyond MAX_CPUS.
Cpu* add_cpu(uint32_t apic_id, CpuTables* tables);

}  // namespace lamina::arch
