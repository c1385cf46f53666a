#include "kernel/arch/x86_64/lapic.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/registers.h"
#include "kernel/dev/acpi/platform.h"
#include "kernel/irq/vectors.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"

namespace lamina::lapic {

namespace {

// Register offsets in the xAPIC page (11.4.1, table 11-1); the x2APIC MSR is 0x800 + offset/16.
enum Reg : uint32_t {
    ID = 0x20,
    VERSION = 0x30,
    TPR = 0x80,
    EOI = 0xB0,
    SVR = 0xF0,
    ESR = 0x280,
    ICR_LOW = 0x300,
    ICR_HIGH = 0x310,
    LVT_TIMER = 0x320,
    LVT_THERMAL = 0x330,
    LVT_PERF = 0x340,
    LVT_LINT0 = 0x350,
    LVT_LINT1 = 0x360,
    LVT_ERROR = 0x370,
    TIMER_INITIAL = 0x380,
    TIMER_CURRENT = 0x390,
    TIMER_DIVIDE = 0x3E0,
    SELF_IPI = 0x3F0,  // x2APIC only
};

constexpr uint32_t SVR_ENABLE = 1u << 8;
constexpr uint32_t LVT_MASKED = 1u << 16;
constexpr uint32_t LVT_ACTIVE_LOW = 1u << 13;
constexpr uint32_t LVT_DELIVERY_NMI = 0b100u << 8;
constexpr uint32_t LVT_TIMER_PERIODIC = 0b01u << 17;
constexpr uint32_t TIMER_DIVIDE_16 = 0b0011;
static_assert(TIMER_DIVISOR == 16);

// ICR (11.6.1).
constexpr uint32_t ICR_DELIVERY_FIXED = 0b000u << 8;
constexpr uint32_t ICR_DELIVERY_INIT = 0b101u << 8;
constexpr uint32_t ICR_DELIVERY_STARTUP = 0b110u << 8;
constexpr uint32_t ICR_PENDING = 1u << 12;  // xAPIC only
constexpr uint32_t ICR_LEVEL_ASSERT = 1u << 14;
constexpr uint32_t ICR_SHORTHAND_SELF = 0b01u << 18;
constexpr uint32_t ICR_SHORTHAND_ALL_BUT_SELF = 0b11u << 18;

// The ESR's bits (11.5.3), for the error report.
const char* const ESR_NAMES[8] = {
    "send checksum",          "receive checksum",         "send accept",
    "receive accept",         "redirectable IPI",         "send illegal vector",
    "receive illegal vector", "illegal register address",
};

bool g_x2apic;
volatile uint32_t* g_mmio;
uint64_t g_spurious;
uint64_t g_errors;

uint32_t read(Reg reg) {
    if (g_x2apic) return uint32_t(cpu::rdmsr(MSR_X2APIC_FIRST + reg / 16));
    return g_mmio[reg / 4];
}

void write(Reg reg, uint32_t value) {
    if (g_x2apic)
        cpu::wrmsr(MSR_X2APIC_FIRST + reg / 16, value);
    else
        g_mmio[reg / 4] = value;
}

// In xAPIC mode the ICR is two registers and the low write sends, so an interrupt handler that
// sends an IPI between the two writes would redirect ours: interrupts stay off across the pair.
// x2APIC writes the whole ICR with one WRMSR and has no pending bit.
Result<void> write_icr(uint32_t destination, uint32_t low) {
    if (g_x2apic) {
        // WRMSR to the x2APIC ICR is not serializing: order earlier stores (the data an IPI
        // handler will look at) before the interrupt (SDM 11.12.3).
        asm volatile("mfence" ::: "memory");
        cpu::wrmsr(MSR_X2APIC_FIRST + ICR_LOW / 16, (uint64_t(destination) << 32) | low);
        return {};
    }
    uint64_t flags = cpu::read_flags();
    cpu::cli();
    // The previous IPI normally leaves in well under a microsecond; 2^27 pauses is far beyond
    // anything but a broken APIC.
    Result<void> result;
    for (uint64_t spins = 0; g_mmio[ICR_LOW / 4] & ICR_PENDING; spins++) {
        if (spins == (1u << 27)) {
            result = Errno::TimedOut;
            break;
        }
        cpu::pause();
    }
    if (result.is_ok()) {
        g_mmio[ICR_HIGH / 4] = destination << 24;
        g_mmio[ICR_LOW / 4] = low;
    }
    if (flags & RFLAGS_IF) cpu::sti();
    return result;
}

void spurious_interrupt(arch::InterruptFrame&) {
    // No EOI: a spurious interrupt never sets an ISR bit (11.9).
    __atomic_fetch_add(&g_spurious, 1, __ATOMIC_RELAXED);
}

void error_interrupt(arch::InterruptFrame&) {
    // The ESR latches on a write (11.5.3).
    write(ESR, 0);
    uint32_t esr = read(ESR);
    uint64_t n = __atomic_fetch_add(&g_errors, 1, __ATOMIC_RELAXED);
    if (n < 16) {
        kprintf("lapic: APIC error on CPU %u: esr %#x", id(), esr);
        for (unsigned bit = 0; bit < 8; bit++)
            if (esr & (1u << bit)) kprintf(" (%s)", ESR_NAMES[bit]);
        kprintf("\n");
    }
    eoi();
}

// LINT pins per the MADT's local APIC NMI entries (ACPI 5.2.12.7) for this CPU; without any,
// the PC convention: LINT0 was the 8259's ExtINT (masked now), LINT1 is NMI.
void program_lint_pins() {
    uint32_t lint[2] = {LVT_MASKED, LVT_DELIVERY_NMI};
    const acpi::Acpi* platform = acpi::platform();
    if (platform && !platform->madt().local_apic_nmis.empty()) {
        lint[1] = LVT_MASKED;
        uint32_t my_id = id();
        uint32_t uid = acpi::LocalApicNmi::ALL_PROCESSORS;
        for (const auto& c : platform->madt().cpus)
            if (c.apic_id == my_id) uid = c.processor_uid;
        for (const auto& nmi : platform->madt().local_apic_nmis) {
            if (nmi.lint > 1) continue;
            if (nmi.processor_uid != acpi::LocalApicNmi::ALL_PROCESSORS && nmi.processor_uid != uid) continue;
            // NMIs are always edge triggered (11.5.1): only the polarity applies.
            lint[nmi.lint] = LVT_DELIVERY_NMI | (nmi.polarity == acpi::Polarity::ActiveLow ? LVT_ACTIVE_LOW : 0);
        }
    }
    write(LVT_LINT0, lint[0]);
    write(LVT_LINT1, lint[1]);
}

}  // namespace

Result<void> init() {
    if (!(cpu::cpuid(1).edx & (1u << 9))) return Errno::NotSup;
    g_x2apic = cpu::cpuid(1).ecx & (1u << 21);
    uint64_t base = cpu::rdmsr(MSR_IA32_APIC_BASE);
    if (!g_x2apic) {
        uint64_t phys = base & APIC_BASE_ADDRESS_MASK;
        const acpi::Acpi* platform = acpi::platform();
        if (platform && platform->madt().present && platform->madt().local_apic_address != phys)
            kprintf("lapic: MADT says the local APIC is at %#lx, IA32_APIC_BASE says %#lx; using the MSR\n",
                    platform->madt().local_apic_address, phys);
        g_mmio = static_cast<volatile uint32_t*>(TRY(mm::map_mmio(phys, 4096)));
    }
    arch::set_interrupt_handler(irq::VECTOR_SPURIOUS, spurious_interrupt);
    arch::set_interrupt_handler(irq::VECTOR_APIC_ERROR, error_interrupt);
    init_this_cpu();
    kprintf("lapic: %s, id %u, version %#x, %u LVT entries\n", g_x2apic ? "x2APIC (MSR)" : "xAPIC (MMIO)", id(),
            read(VERSION) & 0xFF, ((read(VERSION) >> 16) & 0xFF) + 1);
    return {};
}

void init_this_cpu() {
    uint64_t base = cpu::rdmsr(MSR_IA32_APIC_BASE) | APIC_BASE_GLOBAL_ENABLE;
    // x2APIC mode can only be entered from xAPIC mode (11.12.5): enable globally first.
    cpu::wrmsr(MSR_IA32_APIC_BASE, base);
    if (g_x2apic) cpu::wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_X2APIC_ENABLE);

    write(TPR, 0);
    write(LVT_TIMER, LVT_MASKED | irq::VECTOR_LAPIC_TIMER);
    write(TIMER_INITIAL, 0);
    write(TIMER_DIVIDE, TIMER_DIVIDE_16);
    write(LVT_THERMAL, LVT_MASKED);
    write(LVT_PERF, LVT_MASKED);
    program_lint_pins();
    write(LVT_ERROR, irq::VECTOR_APIC_ERROR);
    // Clear errors latched before we owned the APIC (back-to-back writes, per 11.5.3).
    write(ESR, 0);
    write(ESR, 0);
    write(SVR, SVR_ENABLE | irq::VECTOR_SPURIOUS);
    // An interrupt left in service by the firmware or the loader would block lower vectors.
    write(EOI, 0);
}

bool is_x2apic() { return g_x2apic; }

uint32_t id() { return g_x2apic ? read(ID) : read(ID) >> 24; }

void eoi() { write(EOI, 0); }

void send_ipi(uint32_t apic_id, uint8_t vector) {
    (void)write_icr(apic_id, ICR_DELIVERY_FIXED | ICR_LEVEL_ASSERT | vector);
}

void send_ipi_self(uint8_t vector) {
    if (g_x2apic) {
        cpu::wrmsr(MSR_X2APIC_FIRST + SELF_IPI / 16, vector);
        return;
    }
    (void)write_icr(0, ICR_DELIVERY_FIXED | ICR_LEVEL_ASSERT | ICR_SHORTHAND_SELF | vector);
}

void send_ipi_all_but_self(uint8_t vector) {
    (void)write_icr(0, ICR_DELIVERY_FIXED | ICR_LEVEL_ASSERT | ICR_SHORTHAND_ALL_BUT_SELF | vector);
}

Result<void> send_init(uint32_t apic_id) { return write_icr(apic_id, ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT); }

Result<void> send_startup(uint32_t apic_id, uint8_t page) {
    return write_icr(apic_id, ICR_DELIVERY_STARTUP | ICR_LEVEL_ASSERT | page);
}

void timer_start(uint8_t vector, TimerMode mode, uint32_t count, bool masked) {
    write(LVT_TIMER, vector | (mode == TimerMode::Periodic ? LVT_TIMER_PERIODIC : 0) | (masked ? LVT_MASKED : 0));
    write(TIMER_INITIAL, count);
}

void timer_set_count(uint32_t count) { write(TIMER_INITIAL, count); }

void timer_stop() { write(TIMER_INITIAL, 0); }

uint32_t timer_current_count() { return read(TIMER_CURRENT); }

uint64_t spurious_count() { return __atomic_load_n(&g_spurious, __ATOMIC_RELAXED); }
uint64_t error_count() { return __atomic_load_n(&g_errors, __ATOMIC_RELAXED); }

}  // namespace lamina::lapic
