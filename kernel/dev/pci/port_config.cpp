#include "kernel/dev/pci/port_config.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/dev/pci/registers.h"

namespace lamina::pci {

namespace {

uint32_t config_address(Address a, uint16_t offset) {
    return kConfigAddressEnable | uint32_t(a.bus) << 16 | uint32_t(a.device) << 11 |
           uint32_t(a.function) << 8 | (offset & 0xFC);
}

}  // namespace

bool PortConfigSpace::reachable(Address a, uint16_t offset, unsigned width) const {
    return a.segment == 0 && a.device < kDevicesPerBus && a.function < kFunctionsPerDevice &&
           valid_access(offset, width);
}

// The data port's byte lanes follow the offset's low bits: 0xCFC + (offset & 3).
uint8_t PortConfigSpace::read8(Address a, uint16_t off) {
    if (!reachable(a, off, 1)) return 0xFF;
    SpinlockGuard g(lock_);
    cpu::outl(kConfigAddressPort, config_address(a, off));
    return cpu::inb(uint16_t(kConfigDataPort + (off & 3)));
}
uint16_t PortConfigSpace::read16(Address a, uint16_t off) {
    if (!reachable(a, off, 2)) return 0xFFFF;
    SpinlockGuard g(lock_);
    cpu::outl(kConfigAddressPort, config_address(a, off));
    return cpu::inw(uint16_t(kConfigDataPort + (off & 2)));
}
uint32_t PortConfigSpace::read32(Address a, uint16_t off) {
    if (!reachable(a, off, 4)) return 0xFFFFFFFF;
    SpinlockGuard g(lock_);
    cpu::outl(kConfigAddressPort, config_address(a, off));
    return cpu::inl(kConfigDataPort);
}
void PortConfigSpace::write8(Address a, uint16_t off, uint8_t v) {
    if (!reachable(a, off, 1)) return;
    SpinlockGuard g(lock_);
    cpu::outl(kConfigAddressPort, config_address(a, off));
    cpu::outb(uint16_t(kConfigDataPort + (off & 3)), v);
}
void PortConfigSpace::write16(Address a, uint16_t off, uint16_t v) {
    if (!reachable(a, off, 2)) return;
    SpinlockGuard g(lock_);
    cpu::outl(kConfigAddressPort, config_address(a, off));
    cpu::outw(uint16_t(kConfigDataPort + (off & 2)), v);
}
void PortConfigSpace::write32(Address a, uint16_t off, uint32_t v) {
    if (!reachable(a, off, 4)) return;
    SpinlockGuard g(lock_);
    cpu::outl(kConfigAddressPort, config_address(a, off));
    cpu::outl(kConfigDataPort, v);
}

}  // namespace lamina::pci
