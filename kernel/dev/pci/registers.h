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
inline constexpr uint16_t kVendorId = 0x00;
inline constexpr uint16_t kDeviceId = 0x02;
inline constexpr uint16_t kCommand = 0x04;
inline constexpr uint16_t kStatus = 0x06;
inline constexpr uint16_t kRevisionId = 0x08;
inline constexpr uint16_t kProgIf = 0x09;
inline constexpr uint16_t kSubclass = 0x0A;
inline constexpr uint16_t kClassCode = 0x0B;
inline constexpr uint16_t kHeaderType = 0x0E;
inline constexpr uint16_t kBar0 = 0x10;
inline constexpr uint16_t kCapabilitiesPointer = 0x34;  // type 0 and type 1 headers
inline constexpr uint16_t kCardbusCapabilitiesPointer = 0x14;
inline constexpr uint16_t kInterruptLine = 0x3C;
inline constexpr uint16_t kInterruptPin = 0x3D;

// Bridge 3.2, the type 1 header's bus numbers.
inline constexpr uint16_t kPrimaryBus = 0x18;
inline constexpr uint16_t kSecondaryBus = 0x19;
inline constexpr uint16_t kSubordinateBus = 0x1A;

inline constexpr uint16_t kNoVendor = 0xFFFF;  // what a read of an absent function returns

// LBS 6.2.2 Command register.
inline constexpr uint16_t kCommandIoSpace = 1u << 0;
inline constexpr uint16_t kCommandMemorySpace = 1u << 1;
inline constexpr uint16_t kCommandBusMaster = 1u << 2;
inline constexpr uint16_t kCommandInterruptDisable = 1u << 10;

// LBS 6.2.3 Status register.
inline constexpr uint16_t kStatusCapabilitiesList = 1u << 4;

// LBS 6.2.1 Header Type: bit 7 says the device has more than one function.
inline constexpr uint8_t kHeaderTypeMask = 0x7F;
inline constexpr uint8_t kHeaderMultiFunction = 0x80;
inline constexpr uint8_t kHeaderGeneral = 0;
inline constexpr uint8_t kHeaderBridge = 1;
inline constexpr uint8_t kHeaderCardbus = 2;

// LBS 6.2.5.1 Base Address Registers.
inline constexpr uint32_t kBarIoSpace = 1u << 0;
inline constexpr uint32_t kBarMemTypeMask = 0x6;
inline constexpr uint32_t kBarMemType32 = 0x0;
inline constexpr uint32_t kBarMemTypeBelow1M = 0x2;  // legacy, treated as 32-bit
inline constexpr uint32_t kBarMemType64 = 0x4;
inline constexpr uint32_t kBarPrefetchable = 1u << 3;
inline constexpr uint32_t kBarIoAddressMask = ~uint32_t(0x3);
inline constexpr uint32_t kBarMemAddressMask = ~uint32_t(0xF);

// LBS 6.7: capabilities live in the device-specific area after the 64-byte header, on dword
// boundaries. 48 entries is all that fits in 192 bytes at four bytes each, so a longer walk
// is a loop.
inline constexpr uint16_t kHeaderSize = 0x40;
inline constexpr unsigned kMaxCapabilities = 48;

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
inline constexpr uint16_t kMsiControl = 0x02;
inline constexpr uint16_t kMsiControlEnable = 1u << 0;
inline constexpr uint16_t kMsiControlMultipleCapableShift = 1;  // 3 bits: log2 of vectors
inline constexpr uint16_t kMsiControl64Bit = 1u << 7;
inline constexpr uint16_t kMsiControlPerVectorMask = 1u << 8;

// LBS 6.8.2 MSI-X capability.
inline constexpr uint16_t kMsixControl = 0x02;
inline constexpr uint16_t kMsixControlTableSizeMask = 0x07FF;  // N - 1
inline constexpr uint16_t kMsixControlFunctionMask = 1u << 14;
inline constexpr uint16_t kMsixControlEnable = 1u << 15;
inline constexpr uint16_t kMsixTable = 0x04;  // BIR in bits 2:0, offset in the rest
inline constexpr uint16_t kMsixPba = 0x08;
inline constexpr uint32_t kMsixBirMask = 0x7;

// LBS 6.8.2.6-9: an MSI-X table entry is four dwords.
inline constexpr uint32_t kMsixEntrySize = 16;
inline constexpr uint32_t kMsixEntryAddressLow = 0x0;
inline constexpr uint32_t kMsixEntryAddressHigh = 0x4;
inline constexpr uint32_t kMsixEntryData = 0x8;
inline constexpr uint32_t kMsixEntryVectorControl = 0xC;
inline constexpr uint32_t kMsixVectorMasked = 1u << 0;

// PCIe 7.5.3.2 PCI Express Capabilities Register, at +2 of the capability.
inline constexpr uint16_t kPcieCapabilities = 0x02;
inline constexpr uint16_t kPcieDevicePortTypeShift = 4;
inline constexpr uint16_t kPcieDevicePortTypeMask = 0xF;

// Mechanism #1 (LBS 3.2.2.3.2): an address dword to 0xCF8 selects the register, the data moves
// through 0xCFC-0xCFF.
inline constexpr uint16_t kConfigAddressPort = 0xCF8;
inline constexpr uint16_t kConfigDataPort = 0xCFC;
inline constexpr uint32_t kConfigAddressEnable = 1u << 31;

// PCIe 7.2.2: ECAM gives each function 4 KiB, each bus 1 MiB.
inline constexpr uint64_t kEcamFunctionSize = 4096;
inline constexpr uint64_t kEcamBusSize = 1ull << 20;

inline constexpr unsigned kDevicesPerBus = 32;
inline constexpr unsigned kFunctionsPerDevice = 8;

}  // namespace lamina::pci
