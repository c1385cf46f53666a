#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/lib/log.h"
#include "kernel/power.h"

extern "C" const uint64_t isr_stub_table[256];

namespace lamina::arch {

namespace {

struct [[gnu::packed]] IdtEntry {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(IdtEntry) == 16);

struct [[gnu::packed]] Idtr {
    uint16_t limit;
    uint64_t base;
};

alignas(16) IdtEntry g_idt[256];
InterruptHandler g_handlers[256];
ExceptionHook g_exception_hook;
InterruptExitHook g_interrupt_exit_hook;

void set_gate(uint8_t vector, uint64_t handler, uint8_t ist, uint8_t dpl) {
    IdtEntry& e = g_idt[vector];
    e.offset_low = handler & 0xFFFF;
    e.selector = KERNEL_CS;
    e.ist = ist;
    e.type_attr = 0x8E | (dpl << 5);  // present, 64-bit interrupt gate
    e.offset_mid = (handler >> 16) & 0xFFFF;
    e.offset_high = uint32_t(handler >> 32);
    e.reserved = 0;
}

const char* const EXCEPTION_NAMES[32] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor segment overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack-segment fault",
    "#GP general protection",
    "#PF page fault",
    "reserved",
    "#MF x87 floating point",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD floating point",
    "#VE virtualization",
    "#CP control protection",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security",
    "reserved",
};

// A fault while reporting a fault must not recurse forever.
volatile int g_fault_depth = 0;

}  // namespace

const char* exception_name(uint64_t vector) { return vector < 32 ? EXCEPTION_NAMES[vector] : "interrupt"; }

void init_idt() {
    for (int v = 0; v < 256; v++) set_gate(uint8_t(v), isr_stub_table[v], 0, 0);
    set_gate(8, isr_stub_table[8], IST_DOUBLE_FAULT, 0);
    set_gate(2, isr_stub_table[2], IST_NMI, 0);
    set_gate(18, isr_stub_table[18], IST_MACHINE_CHECK, 0);
    set_gate(14, isr_stub_table[14], IST_PAGE_FAULT, 0);
    load_idt();
}

void load_idt() {
    Idtr idtr{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(&g_idt)};
    asm volatile("lidt %0" ::"m"(idtr));
}

void set_interrupt_handler(uint8_t vector, InterruptHandler handler) { g_handlers[vector] = handler; }
void set_exception_hook(ExceptionHook hook) { g_exception_hook = hook; }
void set_interrupt_exit_hook(InterruptExitHook hook) { g_interrupt_exit_hook = hook; }
ExceptionHook exception_hook() { return g_exception_hook; }
InterruptExitHook interrupt_exit_hook() { return g_interrupt_exit_hook; }

void print_frame(const InterruptFrame& f) {
    kprintf("  rip %016lx  cs %04lx  rflags %016lx\n", f.rip, f.cs, f.rflags);
    kprintf("  rsp %016lx  ss %04lx  error %016lx\n", f.rsp, f.ss, f.error_code);
    kprintf("  rax %016lx  rbx %016lx  rcx %016lx\n", f.rax, f.rbx, f.rcx);
    kprintf("  rdx %016lx  rsi %016lx  rdi %016lx\n", f.rdx, f.rsi, f.rdi);
    kprintf("  rbp %016lx  r8  %016lx  r9  %016lx\n", f.rbp, f.r8, f.r9);
    kprintf("  r10 %016lx  r11 %016lx  r12 %016lx\n", f.r10, f.r11, f.r12);
    kprintf("  r13 %016lx  r14 %016lx  r15 %016lx\n", f.r13, f.r14, f.r15);
    kprintf("  cr0 %016lx  cr2 %016lx  cr3 %016lx  cr4 %016lx\n", cpu::read_cr0(), cpu::read_cr2(), cpu::read_cr3(),
            cpu::read_cr4());
}

void print_exception_details(const InterruptFrame& f) {
    if (f.vector == 14) {
        uint64_t cr2 = cpu::read_cr2();
        kprintf("  page fault at %016lx: %s, %s, %s%s%s\n", cr2,
                (f.error_code & 1) ? "protection violation" : "page not present", (f.error_code & 2) ? "write" : "read",
                (f.error_code & 4) ? "user" : "supervisor", (f.error_code & 16) ? ", instruction fetch" : "",
                (f.error_code & 8) ? ", reserved bit set" : "");
        if (is_stack_guard_address(cr2)) kprintf("  this is a kernel stack overflow (guard page hit)\n");
    }
}

namespace {

[[noreturn]] void fatal_exception(InterruptFrame& f) {
    cpu::cli();
    if (__atomic_fetch_add(&g_fault_depth, 1, __ATOMIC_SEQ_CST) > 1) {
        // Faulted while reporting a fault twice over: stop without printing more.
        power::halt_after_panic();
    }
    kprintf("\nKERNEL PANIC: %s (vector %lu) in %s mode\n", exception_name(f.vector), f.vector,
            (f.cs & 3) ? "user" : "kernel");
    print_exception_details(f);
    print_frame(f);
    print_backtrace_from(f.rip, f.rbp);
    power::halt_after_panic();
}

}  // namespace

}  // namespace lamina::arch

extern "C" void interrupt_dispatch(lamina::arch::InterruptFrame* frame) {
    using namespace lamina::arch;
    InterruptFrame& f = *frame;
    if (f.vector < 32) {
        if (g_exception_hook && g_exception_hook(f)) return;
        fatal_exception(f);
    }
    if (InterruptHandler h = g_handlers[f.vector]) {
        h(f);
    } else {
        lamina::kprintf("lamina: unexpected interrupt vector %lu\n", f.vector);
    }
    if (g_interrupt_exit_hook) g_interrupt_exit_hook(f);
}
