// lamina:portable
// PCI configuration space layout: the offsets, bits and capability structures the kernel uses.
//
// References are to the PCI Local Bus Specification 3.0 (LBS), the PCI-to-PCI Bridge
// Architecture Specification 1.2 and the PCI Express Base Specification 4.0 (PCIe). Config
// space is read field by field through a ConfigSpace, never overlaid in place, so these are
// offsets rather than structs.
#pragma once

#include <stdint.h>

namespace lamina::pci {

// LBS 6.1, the predefined header common to every header type.
inline constexpr uint16_t VENDOR_ID = 0x00;
inline constexpr uint16_t DEVICE_ID = 0x02;
inline constexpr uint16_t COMMAND = 0x04;
inline constexpr uint16_t STATUS = 0x06;
inline constexpr uint16_t REVISION_ID = 0x08;
inline constexpr uint16_t PROG_IF = 0x09;
inline constexpr uint16_t SUBCLASS = 0x0A;
inline constexpr uint16_t CLASS_CODE = 0x0B;
inline constexpr uint16_t HEADER_TYPE = 0x0E;
inline constexpr uint16_t BAR0 = 0x10;
inline constexpr uint16_t CAPABILITIES_POINTER = 0x34;  // type 0 and type 1 headers
inline constexpr uint16_t CARDBUS_CAPABILITIES_POINTER = 0x14;
inline constexpr uint16_t INTERRUPT_LINE = 0x3C;
inline constexpr uint16_t INTERRUPT_PIN = 0x3D;

// Bridge 3.2, the type 1 header's bus numbers.
inline constexpr uint16_t PRIMARY_BUS = 0x18;
inline constexpr uint16_t SECONDARY_BUS = 0x19;
inline constexpr uint16_t SUBORDINATE_BUS = 0x1A;

inline constexpr uint16_t NO_VENDOR = 0xFFFF;  // what a read of an absent function returns

// LBS 6.2.2 Command register.
inline constexpr uint16_t COMMAND_IO_SPACE = 1u << 0;
inline constexpr uint16_t COMMAND_MEMORY_SPACE = 1u << 1;
inline constexpr uint16_t COMMAND_BUS_MASTER = 1u << 2;
inline constexpr uint16_t COMMAND_INTERRUPT_DISABLE = 1u << 10;

// LBS 6.2.3 Status register.
inline constexpr uint16_t STATUS_CAPABILITIES_LIST = 1u << 4;

// LBS 6.2.1 Header Type: bit 7 says the device has more than one function.
inline constexpr uint8_t HEADER_TYPE_MASK = 0x7F;
inline constexpr uint8_t HEADER_MULTI_FUNCTION = 0x80;
inline constexpr uint8_t HEADER_GENERAL = 0;
inline constexpr uint8_t HEADER_BRIDGE = 1;
inline constexpr uint8_t HEADER_CARDBUS = 2;

// LBS 6.2.5.1 Base Address Registers.
inline constexpr uint32_t BAR_IO_SPACE = 1u << 0;
inline constexpr uint32_t BAR_MEM_TYPE_MASK = 0x6;
inline constexpr uint32_t BAR_MEM_TYPE32 = 0x0;
inline constexpr uint32_t BAR_MEM_TYPE_BELOW1_M = 0x2;  // legacy, treated as 32-bit
inline constexpr uint32_t BAR_MEM_TYPE64 = 0x4;
inline constexpr uint32_t BAR_PREFETCHABLE = 1u << 3;
inline constexpr uint32_t BAR_IO_ADDRESS_MASK = ~uint32_t(0x3);
inline constexpr uint32_t BAR_MEM_ADDRESS_MASK = ~uint32_t(0xF);

// LBS 6.7: capabilities live in the device-specific area after the 64-byte header, on dword
// boundaries. 48 entries is all that fits in 192 bytes at four bytes each, so a longer walk
// is a loop.
inline constexpr uint16_t HEADER_SIZE = 0x40;
inline constexpr unsigned MAX_CAPABILITIES = 48;

// Capability IDs (PCI Code and ID Assignment Specification 1.11, section 2).
enum class CapabilityId : uint8_t {
    PowerManagement = 0x01,
    Agp = 0x02,
    Vpd = 0x03,
    SlotId = 0x04,
    Msi = 0x05,
    HotSwap = 0x06,
    PciX = 0x07,
    HyperTransport = 0x08,
    VendorSpecific = 0x09,
    DebugPort = 0x0A,
    PciHotPlug = 0x0C,
    BridgeSubsystemVendor = 0x0D,
    Agp8x = 0x0E,
    SecureDevice = 0x0F,
    PciExpress = 0x10,
    MsiX = 0x11,
    Sata = 0x12,
    AdvancedFeatures = 0x13,
    EnhancedAllocation = 0x14,
    FlatteningPortalBridge = 0x15,
};

// LBS 6.8.1 MSI capability: Message Control at +2.
inline constexpr uint16_t MSI_CONTROL = 0x02;
inline constexpr uint16_t MSI_CONTROL_ENABLE = 1u << 0;
inline constexpr uint16_t MSI_CONTROL_MULTIPLE_CAPABLE_SHIFT = 1;  // 3 bits: log2 of vectors
inline constexpr uint16_t MSI_CONTROL64_BIT = 1u << 7;
inline constexpr uint16_t MSI_CONTROL_PER_VECTOR_MASK = 1u << 8;

// LBS 6.8.2 MSI-X capability.
inline constexpr uint16_t MSIX_CONTROL = 0x02;
inline constexpr uint16_t MSIX_CONTROL_TABLE_SIZE_MASK = 0x07FF;  // N - 1
inline constexpr uint16_t MSIX_CONTROL_FUNCTION_MASK = 1u << 14;
inline constexpr uint16_t MSIX_CONTROL_ENABLE = 1u << 15;
inline constexpr uint16_t MSIX_TABLE = 0x04;  // BIR in bits 2:0, offset in the rest
inline constexpr uint16_t MSIX_PBA = 0x08;
inline constexpr uint32_t MSIX_BIR_MASK = 0x7;

// LBS 6.8.2.6-9: an MSI-X table entry is four dwords.
inline constexpr uint32_t MSIX_ENTRY_SIZE = 16;
inline constexpr uint32_t MSIX_ENTRY_ADDRESS_LOW = 0x0;
inline constexpr uint32_t MSIX_ENTRY_ADDRESS_HIGH = 0x4;
inline constexpr uint32_t MSIX_ENTRY_DATA = 0x8;
inline constexpr uint32_t MSIX_ENTRY_VECTOR_CONTROL = 0xC;
inline constexpr uint32_t MSIX_VECTOR_MASKED = 1u << 0;

// PCIe 7.5.3.2 PCI Express Capabilities Register, at +2 of the capability.
inline constexpr uint16_t PCIE_CAPABILITIES = 0x02;
inline constexpr uint16_t PCIE_DEVICE_PORT_TYPE_SHIFT = 4;
inline constexpr uint16_t PCIE_DEVICE_PORT_TYPE_MASK = 0xF;

// Mechanism #1 (LBS 3.2.2.3.2): an address dword to 0xCF8 selects the register, the data moves
// through 0xCFC-0xCFF.
inline constexpr uint16_t CONFIG_ADDRESS_PORT = 0xCF8;
inline constexpr uint16_t CONFIG_DATA_PORT = 0xCFC;
inline constexpr uint32_t CONFIG_ADDRESS_ENABLE = 1u << 31;

// PCIe 7.2.2: ECAM gives each function 4 KiB, each bus 1 MiB.
inline constexpr uint64_t ECAM_FUNCTION_SIZE = 4096;
inline constexpr uint64_t ECAM_BUS_SIZE = 1ull << 20;

inline constexpr unsigned DEVICES_PER_BUS = 32;
inline constexpr unsigned FUNCTIONS_PER_DEVICE = 8;

}  // namespace lamina::pci
