// lamina:portable
// ACPI static tables: find the RSDP, walk the RSDT/XSDT, and extract what the kernel needs from
// the MADT, FADT, MCFG, HPET, DMAR (Intel VT-d) and the DSDT's \_S5_ object into plain values.
//
// Firmware tables are untrusted input: every signature, length and checksum is checked before a
// table is used, every length is bounded by what the table itself claims and by what the Mapper
// agrees to map, and a malformed table makes parse() fail with Errno::Inval instead of reading
// past it.
// Nothing in the result points into firmware memory, so the mappings may be dropped after parse.
//
// This is not an AML interpreter: \_S5_ is found by a byte-pattern search for the common
// `Name (_S5_, Package () { ... })` encoding, which covers the firmware we target (QEMU, SeaBIOS,
// OVMF and most PC BIOSes). A DSDT that computes _S5_ some other way just yields no S5 values.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/dev/acpi/tables.h"

namespace lamina::acpi {

// How the parser reads physical memory. The kernel backs this with its direct map, the host
// tests with byte buffers at fake physical addresses.
class Mapper {
public:
    // A pointer through which the bytes [phys, phys + len) can be read, or nullptr if any part
    // of that range is not accessible. The pointer must stay valid until the parse call that
    // asked for it returns. Ranges need not be aligned and may be requested more than once.
    virtual const void* map(uint64_t phys, size_t len) = 0;

protected:
    ~Mapper() = default;
};

// A fixed-capacity list: firmware may describe more objects than we have room for, which is
// not an error; the surplus is counted in dropped() so the kernel can say so in its log.
template <typename T, size_t N>
class BoundedList {
public:
    static constexpr size_t capacity() { return N; }
    size_t size() const { return count_; }
    bool empty() const { return count_ == 0; }
    size_t dropped() const { return dropped_; }
    const T& operator[](size_t i) const { return items_[i]; }
    const T* begin() const { return items_; }
    const T* end() const { return items_ + count_; }

    void push(const T& item) {
        if (count_ == N) {
            ++dropped_;
            return;
        }
        items_[count_++] = item;
    }

private:
    T items_[N]{};
    size_t count_ = 0;
    size_t dropped_ = 0;
};

inline constexpr size_t MAX_CPUS = 64;
inline constexpr size_t MAX_IO_APICS = 8;
inline constexpr size_t MAX_INTERRUPT_OVERRIDES = 16;
inline constexpr size_t MAX_LOCAL_APIC_NMIS = 64;  // firmware often lists one per CPU
inline constexpr size_t MAX_NMI_SOURCES = 8;
inline constexpr size_t MAX_MCFG_SEGMENTS = 4;
inline constexpr size_t MAX_DMAR_UNITS = 8;
inline constexpr size_t MAX_DMAR_RMRRS = 8;
inline constexpr size_t MAX_DMAR_SCOPES = 16;     // per unit or RMRR
inline constexpr size_t MAX_DMAR_SCOPE_PATH = 4;  // bridges crossed to reach the device

// The MPS INTI polarity and trigger encodings (5.2.12.5). BusDefault means "conforms to the
// bus": for ISA that is active high, edge triggered.
enum class Polarity : uint8_t { BusDefault = 0, ActiveHigh = 1, Reserved = 2, ActiveLow = 3 };
enum class TriggerMode : uint8_t { BusDefault = 0, Edge = 1, Reserved = 2, Level = 3 };

struct Cpu {
    uint32_t apic_id = 0;
    uint32_t processor_uid = 0;
    bool enabled = false;         // usable now
    bool online_capable = false;  // not enabled, but can be brought online at runtime
    bool x2apic_entry = false;    // described by a Local x2APIC structure
};

struct IoApic {
    uint8_t id = 0;
    uint32_t address = 0;
    uint32_t gsi_base = 0;
};

struct InterruptOverride {
    uint8_t bus = 0;  // 0: ISA
    uint8_t source = 0;
    uint32_t gsi = 0;
    Polarity polarity = Polarity::BusDefault;
    TriggerMode trigger = TriggerMode::BusDefault;
};

// Which LINT pin of which processor's local APIC is wired to NMI.
struct LocalApicNmi {
    static constexpr uint32_t ALL_PROCESSORS = 0xFFFFFFFF;
    uint32_t processor_uid = ALL_PROCESSORS;
    uint8_t lint = 0;
    Polarity polarity = Polarity::BusDefault;
    TriggerMode trigger = TriggerMode::BusDefault;
};

// A global system interrupt that must be programmed as NMI in its IO APIC.
struct NmiSource {
    uint32_t gsi = 0;
    Polarity polarity = Polarity::BusDefault;
    TriggerMode trigger = TriggerMode::BusDefault;
};

// How an ISA IRQ reaches the IO APICs, with "bus default" already resolved.
struct IsaIrqRoute {
    uint32_t gsi = 0;
    bool active_low = false;
    bool level_triggered = false;
};

struct McfgSegment {
    uint64_t base = 0;  // ECAM address of bus 0 of this segment, even when start_bus > 0
    uint16_t segment_group = 0;
    uint8_t start_bus = 0;
    uint8_t end_bus = 0;
};

// A device scope of a DMAR unit or RMRR (VT-d 8.3.1): the device (or the hierarchy under a
// bridge) reached from start_bus through the path's (device, function) hops.
struct DmarScope {
    DmarScopeType type = DmarScopeType::PciEndpoint;
    uint8_t enumeration_id = 0;
    uint8_t start_bus = 0;
    uint8_t path_length = 0;
    DmarScopePath path[MAX_DMAR_SCOPE_PATH] = {};
};

// One remapping hardware unit (DRHD): its registers, and the devices behind it (all of the
// segment's devices not listed under another unit when include_pci_all).
struct DmarUnit {
    uint64_t register_base = 0;
    uint32_t register_pages = 1;
    uint16_t segment = 0;
    bool include_pci_all = false;
    BoundedList<DmarScope, MAX_DMAR_SCOPES> scopes;
};

// Memory the firmware's own device DMA needs even under translation (USB legacy emulation,
// graphics stolen memory): [base, limit], inclusive.
struct DmarReservedRegion {
    uint16_t segment = 0;
    uint64_t base = 0;
    uint64_t limit = 0;
    BoundedList<DmarScope, MAX_DMAR_SCOPES> scopes;
};

struct DmarInfo {
    bool present = false;
    uint8_t host_address_width = 0;  // physical addresses have host_address_width + 1 bits
    bool interrupt_remapping = false;
    BoundedList<DmarUnit, MAX_DMAR_UNITS> units;
    BoundedList<DmarReservedRegion, MAX_DMAR_RMRRS> rmrrs;
    size_t other_entries = 0;  // ATSR, RHSA, ANDD, SATC: not needed here
};

// A fixed-hardware register: an I/O port or a memory address, from a Generic Address
// Structure or from a legacy 32-bit FADT port field.
struct Register {
    AddressSpace space = AddressSpace::SystemIo;
    uint8_t bit_width = 0;
    uint8_t bit_offset = 0;
    uint8_t access_size = 0;
    uint64_t address = 0;
    bool present() const { return address != 0; }
};

struct MadtInfo {
    bool present = false;
    uint64_t local_apic_address = 0;  // already replaced by the 64-bit override if there is one
    bool local_apic_address_overridden = false;
    bool has_8259 = false;            // PCAT_COMPAT: the legacy PICs exist and must be masked
    BoundedList<Cpu, MAX_CPUS> cpus;  // only usable ones (enabled or online capable), unique ids
    size_t unusable_cpus = 0;         // neither enabled nor online capable: must be ignored
    BoundedList<IoApic, MAX_IO_APICS> io_apics;
    BoundedList<InterruptOverride, MAX_INTERRUPT_OVERRIDES> overrides;
    BoundedList<LocalApicNmi, MAX_LOCAL_APIC_NMIS> local_apic_nmis;
    BoundedList<NmiSource, MAX_NMI_SOURCES> nmi_sources;
    size_t unknown_entries = 0;  // entry types we do not decode (GIC, SAPIC, wakeup mailbox...)
};

struct FadtInfo {
    bool present = false;
    uint8_t revision = 0;
    uint8_t minor_revision = 0;
    uint16_t sci_irq = 0;  // as an ISA IRQ if the 8259s exist, otherwise a GSI
    uint32_t smi_cmd = 0;  // port to write acpi_enable to, 0 if ACPI mode is always on
    uint8_t acpi_enable = 0;
    uint8_t acpi_disable = 0;
    Register pm1a_event;
    Register pm1b_event;
    Register pm1a_control;
    Register pm1b_control;
    Register pm_timer;
    bool pm_timer_32bit = false;
    Register reset;
    uint8_t reset_value = 0;
    bool reset_supported = false;  // RESET_REG_SUP and the table is long enough to hold it
    uint8_t century = 0;           // CMOS index of the century byte, 0 if none
    uint16_t iapc_boot_arch = 0;   // kBootArch* flags
    uint32_t flags = 0;            // kFadtFlag* flags
    bool hardware_reduced = false;
    uint64_t dsdt_address = 0;
};

struct McfgInfo {
    bool present = false;
    BoundedList<McfgSegment, MAX_MCFG_SEGMENTS> segments;
};

struct HpetInfo {
    bool present = false;
    AddressSpace space = AddressSpace::SystemMemory;
    uint64_t base_address = 0;
    uint8_t hpet_number = 0;
    uint16_t minimum_tick = 0;
    uint32_t event_timer_block_id = 0;
};

// The \_S5_ (soft off) sleep type values for PM1a_CNT.SLP_TYP and PM1b_CNT.SLP_TYP.
struct SleepType {
    bool present = false;
    uint8_t slp_typ_a = 0;
    uint8_t slp_typ_b = 0;
};

// What to write to enter S5 (16.1): pm1a_value to PM1a_CNT, then pm1b_value to PM1b_CNT if
// that block exists, as 16-bit accesses. Writing merge(current, value) instead of value keeps
// the other PM1 control bits (SCI_EN, BM_RLD, GBL_RLS) as the firmware set them.
struct PowerOff {
    Register pm1a_control;
    uint16_t pm1a_value = 0;
    Register pm1b_control;  // !present() when there is no PM1b block
    uint16_t pm1b_value = 0;

    static constexpr uint16_t merge(uint16_t current, uint16_t value) {
        return static_cast<uint16_t>((current & ~(PM1_CNT_SLP_TYP_MASK | PM1_CNT_SLP_EN)) | value);
    }
};

class Acpi {
public:
    // Parse starting from the RSDP at a physical address (found by find_rsdp_in_bios_area or
    // from the EFI system table).
    static Result<Acpi> parse(uint64_t rsdp_phys, Mapper&);
    // Parse starting from a copy of the RSDP (the multiboot2 ACPI old/new RSDP tags); `len` is
    // how many bytes of copy there are, and must cover the RSDP's own length.
    static Result<Acpi> parse_from_rsdp_copy(const void* rsdp, size_t len, Mapper&);

    uint8_t rsdp_revision() const { return rsdp_revision_; }
    const char* oem_id() const { return oem_id_; }
    bool uses_xsdt() const { return uses_xsdt_; }

    const MadtInfo& madt() const { return madt_; }
    const FadtInfo& fadt() const { return fadt_; }
    const McfgInfo& mcfg() const { return mcfg_; }
    const HpetInfo& hpet() const { return hpet_; }
    const DmarInfo& dmar() const { return dmar_; }
    const SleepType& s5() const { return s5_; }

    // Identity mapping, active high, edge, unless an interrupt source override says otherwise.
    IsaIrqRoute isa_irq_route(uint8_t irq) const;
    // NotSup when there is no PM1a control block, no \_S5_, or the platform is hardware
    // reduced (which uses SLEEP_CONTROL_REG instead); Inval when a port does not fit 16 bits.
    Result<PowerOff> power_off() const;

private:
    friend class AcpiParser;
    Acpi() = default;

    uint8_t rsdp_revision_ = 0;
    char oem_id_[7] = {};
    bool uses_xsdt_ = false;
    MadtInfo madt_;
    FadtInfo fadt_;
    McfgInfo mcfg_;
    HpetInfo hpet_;
    DmarInfo dmar_;
    SleepType s5_;
};

// Legacy BIOS search for the RSDP (5.2.5.1): the first KiB of the EBDA, then 0xE0000-0xFFFFF,
// on 16-byte boundaries. Returns the RSDP's physical address, NoEnt if there is none. For the
// multiboot1 path only: under UEFI these areas hold nothing and the RSDP comes from the loader.
Result<uint64_t> find_rsdp_in_bios_area(Mapper&);

}  // namespace lamina::acpi
