#include "kernel/dev/serial.h"

#include "kernel/arch/x86_64/cpu.h"

namespace lamina::serial {

namespace {
constexpr uint16_t COM1 = 0x3f8;
// Register offsets (16550 datasheet).
constexpr uint16_t DATA = 0, IER = 1, FCR = 2, LCR = 3, MCR = 4, LSR = 5;
constexpr uint8_t LSR_DATA_READY = 0x01, LSR_THR_EMPTY = 0x20;

void put(char c) {
    while (!(cpu::inb(COM1 + LSR) & LSR_THR_EMPTY)) cpu::pause();
    cpu::outb(COM1 + DATA, uint8_t(c));
}
}  // namespace

void init() {
    cpu::outb(COM1 + IER, 0x00);
    cpu::outb(COM1 + LCR, 0x80);  // DLAB: set the divisor
    cpu::outb(COM1 + DATA, 0x01);  // 115200 baud
    cpu::outb(COM1 + IER, 0x00);
    cpu::outb(COM1 + LCR, 0x03);  // 8N1
    cpu::outb(COM1 + FCR, 0xC7);  // FIFOs on, cleared, 14-byte threshold
    cpu::outb(COM1 + MCR, 0x0B);  // DTR, RTS, OUT2 (interrupt line gate)
}

void write(const char* s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') put('\r');
        put(s[i]);
    }
}

int read_byte() {
    if (!(cpu::inb(COM1 + LSR) & LSR_DATA_READY)) return -1;
    return cpu::inb(COM1 + DATA);
}

}  // namespace lamina::serial
