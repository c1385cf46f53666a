// lamina:portable
// MSI and MSI-X message composition for x86 (Intel SDM vol. 3, 11.11 "Message Signalled
// Interrupts"). A device signals an interrupt by writing `data` to `address`; the chipset turns
// that write into an interrupt on the local APIC named in the address. The same message format
// serves MSI (written into the capability's address/data registers) and MSI-X (one table entry
// per vector).
//
// Messages are physical-destination, fixed-delivery, no redirection hint: the interrupt goes to
// exactly one CPU. An xAPIC destination field has 8 bits, so only APIC ids 0..255 can be targeted
// without interrupt remapping (x2APIC ids above 255 need an IOMMU; msi_can_target says whether
// an id fits).
#pragma once

#include <stdint.h>

namespace lamina::irq {

struct MsiMessage {
    uint64_t address;
    uint32_t data;
};

enum class MsiTrigger : uint8_t { Edge, Level };

// 11.11.1: bits 31:20 are the fixed 0xFEE prefix, 19:12 the destination APIC id, bit 3 the
// redirection hint (0: deliver to the destination exactly), bit 2 the destination mode
// (0: physical).
inline constexpr uint64_t MSI_ADDRESS_BASE = 0xFEE00000;
inline constexpr unsigned MSI_DESTINATION_SHIFT = 12;
// 11.11.2: bits 7:0 the vector, 10:8 the delivery mode (000: fixed), bit 14 the level for level
// triggered messages (1: assert), bit 15 the trigger mode (1: level).
inline constexpr uint32_t MSI_DATA_LEVEL_ASSERT = 1u << 14;
inline constexpr uint32_t MSI_DATA_TRIGGER_LEVEL = 1u << 15;

constexpr bool msi_can_target(uint32_t apic_id) { return apic_id <= 0xFF; }

// The destination's low 8 bits are used; check msi_can_target first for x2APIC ids.
constexpr uint64_t msi_address(uint32_t apic_id) {
    return MSI_ADDRESS_BASE | (uint64_t(apic_id & 0xFF) << MSI_DESTINATION_SHIFT);
}

constexpr uint32_t msi_data(uint8_t vector, MsiTrigger trigger = MsiTrigger::Edge) {
    uint32_t data = vector;  // delivery mode 000: fixed
    if (trigger == MsiTrigger::Level) data |= MSI_DATA_TRIGGER_LEVEL | MSI_DATA_LEVEL_ASSERT;
    return data;
}

// An edge-triggered message (what PCI MSI and MSI-X always use) for vector on apic_id. For a
// multi-message MSI block, pass the block's first vector: the device ORs the message number into
// the low bits of the data, which is why such blocks must be aligned (VectorAllocator).
constexpr MsiMessage compose_msi(uint32_t apic_id, uint8_t vector) {
    return MsiMessage{msi_address(apic_id), msi_data(vector, MsiTrigger::Edge)};
}

}  // namespace lamina::irq
