#include "kernel/time/pit.h"

#include "kernel/arch/x86_64/cpu.h"

namespace lamina::time::pit {

namespace {

// 8254 data sheet; port 0x61 is the PC's system control port B.
constexpr uint16_t CHANNEL0 = 0x40;
constexpr uint16_t CHANNEL2 = 0x42;
constexpr uint16_t COMMAND = 0x43;
constexpr uint16_t PORT_B = 0x61;
constexpr uint8_t PORT_B_GATE2 = 1u << 0;
constexpr uint8_t PORT_B_SPEAKER = 1u << 1;
constexpr uint8_t PORT_B_OUT2 = 1u << 5;

constexpr uint8_t SELECT_CHANNEL0 = 0b00u << 6;
constexpr uint8_t SELECT_CHANNEL2 = 0b10u << 6;
constexpr uint8_t ACCESS_LOW_HIGH = 0b11u << 4;
constexpr uint8_t MODE0_INTERRUPT_ON_TERMINAL_COUNT = 0b000u << 1;
constexpr uint8_t MODE2_RATE_GENERATOR = 0b010u << 1;
constexpr uint8_t MODE0_ONE_SHOT_DEFAULT = SELECT_CHANNEL0 | ACCESS_LOW_HIGH | MODE0_INTERRUPT_ON_TERMINAL_COUNT;

}  // namespace

void start_countdown(uint16_t ticks) {
    // Gate low (holds the count), speaker off, then load the count: mode 0 keeps OUT low until
    // the count reaches zero, and counting starts when the gate goes high.
    cpu::outb(PORT_B, uint8_t((cpu::inb(PORT_B) & ~(PORT_B_GATE2 | PORT_B_SPEAKER))));
    cpu::outb(COMMAND, SELECT_CHANNEL2 | ACCESS_LOW_HIGH | MODE0_INTERRUPT_ON_TERMINAL_COUNT);
    cpu::outb(CHANNEL2, uint8_t(ticks));
    cpu::outb(CHANNEL2, uint8_t(ticks >> 8));
    cpu::outb(PORT_B, uint8_t(cpu::inb(PORT_B) | PORT_B_GATE2));
}

bool countdown_done() { return cpu::inb(PORT_B) & PORT_B_OUT2; }

void start_channel0(uint32_t hz) {
    if (hz < 19) hz = 19;
    if (hz > FREQUENCY_HZ) hz = uint32_t(FREQUENCY_HZ);
    uint32_t divisor = uint32_t(FREQUENCY_HZ / hz);
    if (divisor > 0xFFFF) divisor = 0xFFFF;
    if (divisor < 2) divisor = 2;  // mode 2 needs a count of at least 2
    cpu::outb(COMMAND, SELECT_CHANNEL0 | ACCESS_LOW_HIGH | MODE2_RATE_GENERATOR);
    cpu::outb(CHANNEL0, uint8_t(divisor));
    cpu::outb(CHANNEL0, uint8_t(divisor >> 8));
}

void stop_channel0() {
    // Mode 0 with no count written yet leaves OUT low: no more edges on IRQ 0.
    cpu::outb(COMMAND, MODE0_ONE_SHOT_DEFAULT);
}

}  // namespace lamina::time::pit
