#include "kernel/dev/pci/port_config.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/dev/pci/registers.h"

namespace lamina::pci {

namespace {

uint32_t config_address(Address a, uint16_t offset) {
    return CONFIG_ADDRESS_ENABLE | uint32_t(a.bus) << 16 | uint32_t(a.device) << 11 | uint32_t(a.function) << 8 |
           (offset & 0xFC);
}

// The address dword names the device; the rest of the check is the interface's.
bool reachable(Address a) { return a.segment == 0 && a.device < DEVICES_PER_BUS && a.function < FUNCTIONS_PER_DEVICE; }

}  // namespace

// The data port's byte lanes follow the offset's low bits: 0xCFC + (offset & 3).
uint32_t PortConfigSpace::read_checked(Address a, uint16_t off, unsigned width) {
    if (!reachable(a)) return all_ones(width);
    SpinlockGuard g(lock_);
    cpu::outl(CONFIG_ADDRESS_PORT, config_address(a, off));
    const auto port = uint16_t(CONFIG_DATA_PORT + (off & 3));
    switch (width) {
        case 1:
            return cpu::inb(port);
        case 2:
            return cpu::inw(port);
        default:
            return cpu::inl(port);
    }
}

void PortConfigSpace::write_checked(Address a, uint16_t off, unsigned width, uint32_t v) {
    if (!reachable(a)) return;
    SpinlockGuard g(lock_);
    cpu::outl(CONFIG_ADDRESS_PORT, config_address(a, off));
    const auto port = uint16_t(CONFIG_DATA_PORT + (off & 3));
    switch (width) {
        case 1:
            cpu::outb(port, uint8_t(v));
            break;
        case 2:
            cpu::outw(port, uint16_t(v));
            break;
        default:
            cpu::outl(port, v);
            break;
    }
}

}  // namespace lamina::pci
