#include "kernel/arch/x86_64/pic.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/irq/vectors.h"

namespace lamina::pic {

namespace {

// 8259A data sheet: command and data ports of the two chips.
constexpr uint16_t MASTER_COMMAND = 0x20;
constexpr uint16_t MASTER_DATA = 0x21;
constexpr uint16_t SLAVE_COMMAND = 0xA0;
constexpr uint16_t SLAVE_DATA = 0xA1;

constexpr uint8_t ICW1_INIT = 0x10;
constexpr uint8_t ICW1_ICW4 = 0x01;
constexpr uint8_t ICW3_MASTER_SLAVE_ON_IRQ2 = 1 << 2;
constexpr uint8_t ICW3_SLAVE_ID = 2;
constexpr uint8_t ICW4_8086 = 0x01;
constexpr uint8_t OCW2_EOI = 0x20;
constexpr uint8_t OCW3_READ_ISR = 0x0B;

uint64_t g_stray;

// Port 0x80 is unused: writing it gives the slow PICs time between initialisation words.
void io_wait() { cpu::outb(0x80, 0); }

void stray_interrupt(arch::InterruptFrame& f) {
    __atomic_fetch_add(&g_stray, 1, __ATOMIC_RELAXED);
    unsigned irq = unsigned(f.vector - irq::PIC_MASTER_BASE);
    // A spurious IRQ 15 is not in the slave's ISR, but the master did see its cascade line and
    // needs its EOI; a spurious IRQ 7 needs none. A real (unmasked by someone) interrupt needs
    // the EOI to the chips that have it in service.
    if (irq >= 8) {
        cpu::outb(SLAVE_COMMAND, OCW3_READ_ISR);
        if (cpu::inb(SLAVE_COMMAND) & (1u << (irq - 8))) cpu::outb(SLAVE_COMMAND, OCW2_EOI);
        cpu::outb(MASTER_COMMAND, OCW2_EOI);
    } else {
        cpu::outb(MASTER_COMMAND, OCW3_READ_ISR);
        if (cpu::inb(MASTER_COMMAND) & (1u << irq)) cpu::outb(MASTER_COMMAND, OCW2_EOI);
    }
}

}  // namespace

void remap_and_mask() {
    cpu::outb(MASTER_DATA, 0xFF);
    cpu::outb(SLAVE_DATA, 0xFF);
    cpu::outb(MASTER_COMMAND, ICW1_INIT | ICW1_ICW4);
    io_wait();
    cpu::outb(SLAVE_COMMAND, ICW1_INIT | ICW1_ICW4);
    io_wait();
    cpu::outb(MASTER_DATA, irq::PIC_MASTER_BASE);
    io_wait();
    cpu::outb(SLAVE_DATA, irq::PIC_SLAVE_BASE);
    io_wait();
    cpu::outb(MASTER_DATA, ICW3_MASTER_SLAVE_ON_IRQ2);
    io_wait();
    cpu::outb(SLAVE_DATA, ICW3_SLAVE_ID);
    io_wait();
    cpu::outb(MASTER_DATA, ICW4_8086);
    io_wait();
    cpu::outb(SLAVE_DATA, ICW4_8086);
    io_wait();
    cpu::outb(MASTER_DATA, 0xFF);
    cpu::outb(SLAVE_DATA, 0xFF);
    for (unsigned v = irq::PIC_MASTER_BASE; v < irq::PIC_SLAVE_BASE + 8u; v++)
        arch::set_interrupt_handler(uint8_t(v), stray_interrupt);
}

uint64_t stray_count() { return __atomic_load_n(&g_stray, __ATOMIC_RELAXED); }

}  // namespace lamina::pic
