// lamina:portable
// ACPI table layouts, as the firmware lays them out in memory.
//
// References are to the ACPI Specification 6.5 unless stated otherwise; MCFG is defined by the
// PCI Firmware Specification 3.0 and HPET by the IA-PC HPET Specification 1.0a. Every struct is
// packed and has its size checked, because these are read straight out of firmware memory.
// Nothing here is trusted: acpi.cpp copies each structure out (never dereferences it in place)
// only after checking that the table's own length covers it.
#pragma once

#include <stdint.h>
#include <stddef.h>

namespace lamina::acpi {

// 5.2.5.3 Root System Description Pointer (RSDP) Structure, ACPI 1.0 part. The checksum
// covers these 20 bytes only.
struct [[gnu::packed]] RsdpV1 {
    char signature[8];  // "RSD PTR "
    uint8_t checksum;
    char oem_id[6];
    uint8_t revision;  // 0 for ACPI 1.0, 2 for ACPI 2.0 and later
    uint32_t rsdt_address;
};
static_assert(sizeof(RsdpV1) == 20);

// 5.2.5.3, the full structure for revision >= 2. extended_checksum covers `length` bytes.
struct [[gnu::packed]] RsdpV2 {
    RsdpV1 v1;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum;
    uint8_t reserved[3];
};
static_assert(sizeof(RsdpV2) == 36);

// 5.2.6 System Description Table Header. Every table below except the RSDP starts with it;
// the checksum covers all `length` bytes of the table.
struct [[gnu::packed]] SdtHeader {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
};
static_assert(sizeof(SdtHeader) == 36);

// 5.2.7 RSDT: the header followed by 32-bit physical addresses of the other tables.
// 5.2.8 XSDT: the same with 64-bit addresses. Entries are not 8-byte aligned in an XSDT
// (the header is 36 bytes), which is one more reason never to index them in place.
inline constexpr size_t RSDT_ENTRY_SIZE = 4;
inline constexpr size_t XSDT_ENTRY_SIZE = 8;

// 5.2.3.2 Generic Address Structure (GAS).
struct [[gnu::packed]] GenericAddress {
    uint8_t address_space_id;  // AddressSpace below
    uint8_t register_bit_width;
    uint8_t register_bit_offset;
    uint8_t access_size;  // 0 undefined, 1 byte, 2 word, 3 dword, 4 qword
    uint64_t address;
};
static_assert(sizeof(GenericAddress) == 12);

// 5.2.3.2, the Address Space ID values an x86 kernel can act on.
enum class AddressSpace : uint8_t { SystemMemory = 0, SystemIo = 1, PciConfig = 2 };

// 5.2.9 Fixed ACPI Description Table (FADT), signature "FACP". Firmware may supply a shorter
// table from an older revision (ACPI 1.0: 116 bytes, up to and including `flags`); fields past
// the table's length must be treated as zero.
struct [[gnu::packed]] Fadt {
    SdtHeader header;
    uint32_t firmware_ctrl;
    uint32_t dsdt;
    uint8_t reserved0;  // INT_MODEL in ACPI 1.0
    uint8_t preferred_pm_profile;
    uint16_t sci_int;
    uint32_t smi_cmd;
    uint8_t acpi_enable;
    uint8_t acpi_disable;
    uint8_t s4bios_req;
    uint8_t pstate_cnt;
    uint32_t pm1a_evt_blk;
    uint32_t pm1b_evt_blk;
    uint32_t pm1a_cnt_blk;
    uint32_t pm1b_cnt_blk;
    uint32_t pm2_cnt_blk;
    uint32_t pm_tmr_blk;
    uint32_t gpe0_blk;
    uint32_t gpe1_blk;
    uint8_t pm1_evt_len;
    uint8_t pm1_cnt_len;
    uint8_t pm2_cnt_len;
    uint8_t pm_tmr_len;
    uint8_t gpe0_blk_len;
    uint8_t gpe1_blk_len;
    uint8_t gpe1_base;
    uint8_t cst_cnt;
    uint16_t p_lvl2_lat;
    uint16_t p_lvl3_lat;
    uint16_t flush_size;
    uint16_t flush_stride;
    uint8_t duty_offset;
    uint8_t duty_width;
    uint8_t day_alrm;
    uint8_t mon_alrm;
    uint8_t century;  // CMOS RTC index of the century byte, 0 if there is none
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;  // end of the ACPI 1.0 table
    GenericAddress reset_reg;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t fadt_minor_version;
    uint64_t x_firmware_ctrl;
    uint64_t x_dsdt;
    GenericAddress x_pm1a_evt_blk;
    GenericAddress x_pm1b_evt_blk;
    GenericAddress x_pm1a_cnt_blk;
    GenericAddress x_pm1b_cnt_blk;
    GenericAddress x_pm2_cnt_blk;
    GenericAddress x_pm_tmr_blk;
    GenericAddress x_gpe0_blk;
    GenericAddress x_gpe1_blk;
    GenericAddress sleep_control_reg;
    GenericAddress sleep_status_reg;
    uint64_t hypervisor_vendor_identity;
};
static_assert(sizeof(Fadt) == 276);
static_assert(offsetof(Fadt, flags) + sizeof(uint32_t) == 116);
static_assert(offsetof(Fadt, reset_reg) == 116);
static_assert(offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, x_pm1a_cnt_blk) == 172);
static_assert(offsetof(Fadt, x_pm_tmr_blk) == 208);

// 5.2.9, FADT Fixed Feature Flags (the ones we use).
inline constexpr uint32_t FADT_FLAG_TMR_VAL_EXT = 1u << 8;     // PM timer is 32 bits, not 24
inline constexpr uint32_t FADT_FLAG_RESET_REG_SUP = 1u << 10;  // RESET_REG/RESET_VALUE are valid
inline constexpr uint32_t FADT_FLAG_HW_REDUCED_ACPI = 1u << 20;

// 5.2.9.3 IA-PC Boot Architecture Flags.
inline constexpr uint16_t BOOT_ARCH_LEGACY_DEVICES = 1u << 0;
inline constexpr uint16_t BOOT_ARCH8042 = 1u << 1;
inline constexpr uint16_t BOOT_ARCH_VGA_NOT_PRESENT = 1u << 2;
inline constexpr uint16_t BOOT_ARCH_MSI_NOT_SUPPORTED = 1u << 3;
inline constexpr uint16_t BOOT_ARCH_CMOS_RTC_NOT_PRESENT = 1u << 5;

// 4.8.3.2.1 PM1 Control Registers: SLP_TYP is bits 10-12, SLP_EN bit 13.
inline constexpr uint16_t PM1_CNT_SLP_TYP_SHIFT = 10;
inline constexpr uint16_t PM1_CNT_SLP_TYP_MASK = 0x7u << PM1_CNT_SLP_TYP_SHIFT;
inline constexpr uint16_t PM1_CNT_SLP_EN = 1u << 13;

// 5.2.12 Multiple APIC Description Table (MADT), signature "APIC": this fixed part, then a
// sequence of variable-length interrupt controller structures up to the table's length.
struct [[gnu::packed]] Madt {
    SdtHeader header;
    uint32_t local_apic_address;
    uint32_t flags;
};
static_assert(sizeof(Madt) == 44);

// 5.2.12, the MADT Flags field.
inline constexpr uint32_t MADT_FLAG_PCAT_COMPAT = 1u << 0;  // dual 8259s are present

// 5.2.12, the Interrupt Controller Structure Types (the ones an x86 kernel uses).
enum class MadtEntryType : uint8_t {
    LocalApic = 0,
    IoApic = 1,
    InterruptSourceOverride = 2,
    NmiSource = 3,
    LocalApicNmi = 4,
    LocalApicAddressOverride = 5,
    LocalX2Apic = 9,
    LocalX2ApicNmi = 10,
};

// Every interrupt controller structure starts with these two bytes; `length` covers the
// whole structure, including them.
struct [[gnu::packed]] MadtEntryHeader {
    uint8_t type;
    uint8_t length;
};
static_assert(sizeof(MadtEntryHeader) == 2);

// 5.2.12.2 Processor Local APIC Structure.
struct [[gnu::packed]] MadtLocalApic {
    MadtEntryHeader header;
    uint8_t acpi_processor_uid;
    uint8_t apic_id;
    uint32_t flags;  // Local APIC Flags, 5.2.12.2
};
static_assert(sizeof(MadtLocalApic) == 8);

// 5.2.12.2, Local APIC Flags (shared by the x2APIC structure).
inline constexpr uint32_t LOCAL_APIC_ENABLED = 1u << 0;
inline constexpr uint32_t LOCAL_APIC_ONLINE_CAPABLE = 1u << 1;  // ACPI 6.3+

// 5.2.12.3 I/O APIC Structure.
struct [[gnu::packed]] MadtIoApic {
    MadtEntryHeader header;
    uint8_t io_apic_id;
    uint8_t reserved;
    uint32_t io_apic_address;
    uint32_t global_system_interrupt_base;
};
static_assert(sizeof(MadtIoApic) == 12);

// 5.2.12.5 Interrupt Source Override Structure.
struct [[gnu::packed]] MadtInterruptSourceOverride {
    MadtEntryHeader header;
    uint8_t bus;     // 0: ISA
    uint8_t source;  // bus-relative interrupt source (the ISA IRQ)
    uint32_t global_system_interrupt;
    uint16_t flags;  // MPS INTI flags, 5.2.12.5
};
static_assert(sizeof(MadtInterruptSourceOverride) == 10);

// 5.2.12.5, MPS INTI Flags: polarity in bits 0-1, trigger mode in bits 2-3.
inline constexpr uint16_t MPS_INTI_POLARITY_MASK = 0x3;
inline constexpr uint16_t MPS_INTI_TRIGGER_SHIFT = 2;
inline constexpr uint16_t MPS_INTI_TRIGGER_MASK = 0x3 << MPS_INTI_TRIGGER_SHIFT;

// 5.2.12.6 Non-Maskable Interrupt (NMI) Source Structure.
struct [[gnu::packed]] MadtNmiSource {
    MadtEntryHeader header;
    uint16_t flags;  // MPS INTI flags
    uint32_t global_system_interrupt;
};
static_assert(sizeof(MadtNmiSource) == 8);

// 5.2.12.7 Local APIC NMI Structure.
struct [[gnu::packed]] MadtLocalApicNmi {
    MadtEntryHeader header;
    uint8_t acpi_processor_uid;  // 0xFF: all processors
    uint16_t flags;              // MPS INTI flags
    uint8_t local_apic_lint;
};
static_assert(sizeof(MadtLocalApicNmi) == 6);

// 5.2.12.8 Local APIC Address Override Structure: replaces the MADT's 32-bit address.
struct [[gnu::packed]] MadtLocalApicAddressOverride {
    MadtEntryHeader header;
    uint16_t reserved;
    uint64_t local_apic_address;
};
static_assert(sizeof(MadtLocalApicAddressOverride) == 12);

// 5.2.12.12 Processor Local x2APIC Structure.
struct [[gnu::packed]] MadtLocalX2Apic {
    MadtEntryHeader header;
    uint16_t reserved;
    uint32_t x2apic_id;
    uint32_t flags;  // Local APIC Flags, 5.2.12.2
    uint32_t acpi_processor_uid;
};
static_assert(sizeof(MadtLocalX2Apic) == 16);

// 5.2.12.13 Local x2APIC NMI Structure.
struct [[gnu::packed]] MadtLocalX2ApicNmi {
    MadtEntryHeader header;
    uint16_t flags;               // MPS INTI flags
    uint32_t acpi_processor_uid;  // 0xFFFFFFFF: all processors
    uint8_t local_x2apic_lint;
    uint8_t reserved[3];
};
static_assert(sizeof(MadtLocalX2ApicNmi) == 12);

// PCI Firmware Specification 3.0, 4.1.2 MCFG Table Description: header, 8 reserved bytes,
// then one allocation structure per PCI segment group / bus range with ECAM.
struct [[gnu::packed]] Mcfg {
    SdtHeader header;
    uint8_t reserved[8];
};
static_assert(sizeof(Mcfg) == 44);

// PCI Firmware Specification 3.0, 4.1.2, the Memory Mapped Enhanced Configuration Space Base
// Address Allocation Structure. `base_address` is the ECAM address of bus 0 even when
// start_bus is not 0.
struct [[gnu::packed]] McfgAllocation {
    uint64_t base_address;
    uint16_t pci_segment_group;
    uint8_t start_bus;
    uint8_t end_bus;
    uint32_t reserved;
};
static_assert(sizeof(McfgAllocation) == 16);

// IA-PC HPET Specification 1.0a, 3.2.4 The ACPI 2.0 HPET Description Table (HPET).
struct [[gnu::packed]] Hpet {
    SdtHeader header;
    uint32_t event_timer_block_id;
    GenericAddress base_address;
    uint8_t hpet_number;
    uint16_t minimum_clock_tick;
    uint8_t page_protection;
};
static_assert(sizeof(Hpet) == 56);

// Intel Virtualization Technology for Directed I/O Architecture Specification (VT-d) 4.1,
// 8.1 DMA Remapping Reporting Structure (DMAR): the header, then remapping structures, each
// starting with a DmarEntryHeader whose length covers the whole structure.
struct [[gnu::packed]] Dmar {
    SdtHeader header;
    uint8_t host_address_width;  // N: the platform addresses 2^(N+1) bytes of memory
    uint8_t flags;               // DMAR_FLAG_*
    uint8_t reserved[10];
};
static_assert(sizeof(Dmar) == 48);
inline constexpr uint8_t DMAR_FLAG_INTR_REMAP = 1 << 0;
inline constexpr uint8_t DMAR_FLAG_X2APIC_OPT_OUT = 1 << 1;

// VT-d 8.2: remapping structure types.
enum class DmarType : uint16_t { Drhd = 0, Rmrr = 1, Atsr = 2, Rhsa = 3, Andd = 4, Satc = 5, Sidp = 6 };

struct [[gnu::packed]] DmarEntryHeader {
    uint16_t type;
    uint16_t length;
};
static_assert(sizeof(DmarEntryHeader) == 4);

// VT-d 8.3 DMA Remapping Hardware Unit Definition (DRHD), followed by device scopes.
struct [[gnu::packed]] DmarDrhdEntry {
    DmarEntryHeader header;
    uint8_t flags;  // DRHD_FLAG_INCLUDE_PCI_ALL
    uint8_t size;   // register set size: 2^size 4 KiB pages (0 in older firmware: one page)
    uint16_t segment;
    uint64_t register_base;
};
static_assert(sizeof(DmarDrhdEntry) == 16);
inline constexpr uint8_t DRHD_FLAG_INCLUDE_PCI_ALL = 1 << 0;

// VT-d 8.4 Reserved Memory Region Reporting (RMRR), followed by device scopes.
struct [[gnu::packed]] DmarRmrrEntry {
    DmarEntryHeader header;
    uint16_t reserved;
    uint16_t segment;
    uint64_t base;
    uint64_t limit;  // inclusive: the last byte of the region
};
static_assert(sizeof(DmarRmrrEntry) == 24);

// VT-d 8.3.1 Device Scope Structure, followed by (length - 6) / 2 path entries.
struct [[gnu::packed]] DmarDeviceScope {
    uint8_t type;  // DmarScopeType
    uint8_t length;
    uint16_t reserved;
    uint8_t enumeration_id;  // IOAPIC id, HPET number or ACPI device number
    uint8_t start_bus;
};
static_assert(sizeof(DmarDeviceScope) == 6);

// 8.3.1: the (device, function) of each hop from start_bus down to the device.
struct [[gnu::packed]] DmarScopePath {
    uint8_t device;
    uint8_t function;
};
static_assert(sizeof(DmarScopePath) == 2);

enum class DmarScopeType : uint8_t { PciEndpoint = 1, PciSubHierarchy = 2, IoApic = 3, Hpet = 4, AcpiNamespace = 5 };

// 20.2.2 Name Objects Encoding, 20.2.3 Data Objects Encoding, 20.2.4 Package Length
// Encoding, 20.2.5 Term Objects Encoding: the few AML opcodes needed to read \_S5_.
namespace aml {
inline constexpr uint8_t ZERO_OP = 0x00;
inline constexpr uint8_t ONE_OP = 0x01;
inline constexpr uint8_t NAME_OP = 0x08;
inline constexpr uint8_t BYTE_PREFIX = 0x0A;
inline constexpr uint8_t WORD_PREFIX = 0x0B;
inline constexpr uint8_t D_WORD_PREFIX = 0x0C;
inline constexpr uint8_t Q_WORD_PREFIX = 0x0E;
inline constexpr uint8_t PACKAGE_OP = 0x12;
inline constexpr uint8_t ONES_OP = 0xFF;
inline constexpr uint8_t ROOT_CHAR = 0x5C;  // '\'
}  // namespace aml

}  // namespace lamina::acpi
