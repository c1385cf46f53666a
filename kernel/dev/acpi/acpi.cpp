// lamina:portable
// ACPI static table parser. See acpi.h for the contract.
//
// Firmware memory is only ever read by copying bytes out (load<T>) at offsets that were first
// checked against a length we had already validated, so a lying length field can make parse
// fail but never make it read outside what the Mapper mapped.
#include "kernel/dev/acpi/acpi.h"

#include <limits>
#include <type_traits>
#include <utility>

namespace lamina::acpi {

namespace {

// Generous upper bounds: real DSDTs reach a few hundred KiB, real RSDPs are 36 bytes. They
// only stop a corrupt length from asking the Mapper for gigabytes.
constexpr uint32_t MAX_TABLE_LENGTH = 16 * 1024 * 1024;
constexpr uint32_t MAX_RSDP_LENGTH = 4096;
constexpr size_t FADT_V1_LENGTH = 116;
constexpr size_t FADT_RESET_VALUE_END = offsetof(Fadt, reset_value) + 1;

constexpr char RSDP_SIGNATURE[8] = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' '};

template <typename T>
T load(const uint8_t* p) {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    __builtin_memcpy(&value, p, sizeof(T));
    return value;
}

bool bytes_sum_to_zero(const uint8_t* p, size_t len) {
    uint8_t sum = 0;
    for (size_t i = 0; i < len; ++i) sum = static_cast<uint8_t>(sum + p[i]);
    return sum == 0;
}

bool signature_is(const char (&actual)[4], const char* expected) { return __builtin_memcmp(actual, expected, 4) == 0; }

const uint8_t* map_range(Mapper& mapper, uint64_t phys, size_t len) {
    if (len == 0 || phys > std::numeric_limits<uint64_t>::max() - (len - 1)) return nullptr;
    return static_cast<const uint8_t*>(mapper.map(phys, len));
}

struct Table {
    const uint8_t* data;
    uint32_t length;
};

// Maps a whole SDT after checking its signature, its length (against `min_length`, our own
// bound, and the Mapper), and its checksum.
Result<Table> map_table(Mapper& mapper, uint64_t phys, const char* signature, size_t min_length) {
    const uint8_t* head = map_range(mapper, phys, sizeof(SdtHeader));
    if (head == nullptr) return Errno::Inval;
    SdtHeader header = load<SdtHeader>(head);
    if (!signature_is(header.signature, signature)) return Errno::Inval;
    if (header.length < min_length || header.length < sizeof(SdtHeader) || header.length > MAX_TABLE_LENGTH)
        return Errno::Inval;
    const uint8_t* data = map_range(mapper, phys, header.length);
    if (data == nullptr) return Errno::Inval;
    // The Mapper may hand out a different view for the longer range: everything from here on,
    // the length included, is read through that one view.
    if (load<SdtHeader>(data).length != header.length) return Errno::Inval;
    if (!bytes_sum_to_zero(data, header.length)) return Errno::Inval;
    return Table{data, header.length};
}

struct Rsdp {
    uint8_t revision;
    char oem_id[6];
    uint32_t rsdt_address;
    uint64_t xsdt_address;  // 0 before revision 2
};

// `available` is how many bytes at `p` may be read.
Result<Rsdp> decode_rsdp(const uint8_t* p, size_t available) {
    if (available < sizeof(RsdpV1)) return Errno::Inval;
    RsdpV1 v1 = load<RsdpV1>(p);
    if (__builtin_memcmp(v1.signature, RSDP_SIGNATURE, sizeof(RSDP_SIGNATURE)) != 0) return Errno::Inval;
    if (!bytes_sum_to_zero(p, sizeof(RsdpV1))) return Errno::Inval;
    Rsdp rsdp{v1.revision, {}, v1.rsdt_address, 0};
    __builtin_memcpy(rsdp.oem_id, v1.oem_id, sizeof(rsdp.oem_id));
    if (v1.revision < 2) return rsdp;
    if (available < sizeof(RsdpV2)) return Errno::Inval;
    RsdpV2 v2 = load<RsdpV2>(p);
    if (v2.length < sizeof(RsdpV2) || v2.length > available) return Errno::Inval;
    if (!bytes_sum_to_zero(p, v2.length)) return Errno::Inval;
    rsdp.xsdt_address = v2.xsdt_address;
    return rsdp;
}

// Reads the RSDP at a physical address, mapping only as much as its revision says it has.
Result<Rsdp> read_rsdp(Mapper& mapper, uint64_t phys) {
    const uint8_t* p = map_range(mapper, phys, sizeof(RsdpV1));
    if (p == nullptr) return Errno::Inval;
    if (load<RsdpV1>(p).revision < 2) return decode_rsdp(p, sizeof(RsdpV1));
    p = map_range(mapper, phys, sizeof(RsdpV2));
    if (p == nullptr) return Errno::Inval;
    uint32_t length = load<RsdpV2>(p).length;
    if (length < sizeof(RsdpV2) || length > MAX_RSDP_LENGTH) return Errno::Inval;
    p = map_range(mapper, phys, length);
    if (p == nullptr) return Errno::Inval;
    return decode_rsdp(p, length);
}

Polarity polarity_from_inti(uint16_t flags) { return static_cast<Polarity>(flags & MPS_INTI_POLARITY_MASK); }

TriggerMode trigger_from_inti(uint16_t flags) {
    return static_cast<TriggerMode>((flags & MPS_INTI_TRIGGER_MASK) >> MPS_INTI_TRIGGER_SHIFT);
}

Register register_from_gas(const GenericAddress& gas) {
    return Register{static_cast<AddressSpace>(gas.address_space_id), gas.register_bit_width, gas.register_bit_offset,
                    gas.access_size, gas.address};
}

// ACPI 2.0+ firmware fills both the 32-bit port and the X_ GAS; the X_ field wins when set.
Register pick_register(const GenericAddress& extended, uint32_t legacy_port, uint8_t legacy_len) {
    if (extended.address != 0) return register_from_gas(extended);
    return Register{AddressSpace::SystemIo, static_cast<uint8_t>(legacy_len * 8), 0, 0, legacy_port};
}

// --- \_S5_ in AML (20.2) ---------------------------------------------------------------------

class AmlCursor {
public:
    AmlCursor(const uint8_t* p, size_t end) : p_(p), end_(end) {}
    size_t position() const { return pos_; }
    size_t remaining() const { return end_ - pos_; }

    bool byte(uint8_t& out) {
        if (remaining() < 1) return false;
        out = p_[pos_++];
        return true;
    }

    bool little_endian(size_t bytes, uint64_t& out) {
        if (remaining() < bytes) return false;
        out = 0;
        for (size_t i = 0; i < bytes; ++i) out |= static_cast<uint64_t>(p_[pos_ + i]) << (8 * i);
        pos_ += bytes;
        return true;
    }

    // 20.2.4 PkgLength: the top two bits of the lead byte count the bytes that follow (0-3).
    // Alone, the lead byte's low 6 bits are the length; otherwise its low 4 bits are the least
    // significant nibble and each following byte adds 8 more bits.
    bool package_length(uint32_t& out) {
        uint8_t lead;
        if (!byte(lead)) return false;
        size_t follow = lead >> 6;
        if (follow == 0) {
            out = lead & 0x3F;
            return true;
        }
        uint64_t rest;
        if (!little_endian(follow, rest)) return false;
        out = static_cast<uint32_t>((lead & 0x0F) | (rest << 4));
        return true;
    }

    // 20.2.3 ComputationalData, the integer forms a sleep type package uses.
    bool integer(uint64_t& out) {
        uint8_t op;
        if (!byte(op)) return false;
        switch (op) {
            case aml::ZERO_OP:
                out = 0;
                return true;
            case aml::ONE_OP:
                out = 1;
                return true;
            case aml::ONES_OP:
                out = ~uint64_t{0};
                return true;
            case aml::BYTE_PREFIX:
                return little_endian(1, out);
            case aml::WORD_PREFIX:
                return little_endian(2, out);
            case aml::D_WORD_PREFIX:
                return little_endian(4, out);
            case aml::Q_WORD_PREFIX:
                return little_endian(8, out);
            default:
                return false;  // a name, a method call...: would need an interpreter
        }
    }

    void shrink_to(size_t end) { end_ = end; }

private:
    const uint8_t* p_;
    size_t end_;
    size_t pos_ = 0;
};

// Decodes `Package (n) { a, b, ... }` right after the _S5_ NameString.
SleepType decode_sleep_package(const uint8_t* p, size_t len) {
    AmlCursor cursor(p, len);
    uint8_t op;
    if (!cursor.byte(op) || op != aml::PACKAGE_OP) return {};
    size_t length_start = cursor.position();
    uint32_t package_length;
    if (!cursor.package_length(package_length)) return {};
    // PkgLength counts from its own first byte to the end of the package.
    if (package_length > len - length_start || length_start + package_length < cursor.position() + 1) return {};
    cursor.shrink_to(length_start + package_length);
    uint8_t count;
    if (!cursor.byte(count) || count == 0) return {};
    uint64_t a, b;
    if (!cursor.integer(a)) return {};
    if (count >= 2) {
        if (!cursor.integer(b)) return {};
    } else {
        // Pre-ACPI 2.0 firmware packed both values into one integer: a in the low byte, b in
        // the next one.
        b = a >> 8;
    }
    return SleepType{true, static_cast<uint8_t>(a & 0x7), static_cast<uint8_t>(b & 0x7)};
}

SleepType find_s5(const uint8_t* aml, size_t len) {
    for (size_t i = 0; i + 4 <= len; ++i) {
        if (__builtin_memcmp(aml + i, "_S5_", 4) != 0) continue;
        // Only a definition counts (NameOp, optionally with the root prefix), not a reference.
        bool defined = (i >= 1 && aml[i - 1] == aml::NAME_OP) ||
                       (i >= 2 && aml[i - 1] == aml::ROOT_CHAR && aml[i - 2] == aml::NAME_OP);
        if (!defined) continue;
        SleepType s5 = decode_sleep_package(aml + i + 4, len - (i + 4));
        if (s5.present) return s5;
    }
    return {};
}

}  // namespace

// --- Table walk -------------------------------------------------------------------------------

class AcpiParser {
public:
    static Result<Acpi> parse(const Rsdp& rsdp, Mapper& mapper) {
        AcpiParser parser(mapper);
        Acpi& acpi = parser.acpi_;
        acpi.rsdp_revision_ = rsdp.revision;
        __builtin_memcpy(acpi.oem_id_, rsdp.oem_id, sizeof(rsdp.oem_id));
        acpi.oem_id_[6] = '\0';

        // Prefer the XSDT (5.2.5.3); firmware with a broken XSDT and a usable RSDT exists, so
        // fall back when the XSDT itself does not validate.
        if (rsdp.revision >= 2 && rsdp.xsdt_address != 0) {
            Result<Table> xsdt = map_table(mapper, rsdp.xsdt_address, "XSDT", sizeof(SdtHeader));
            if (xsdt.is_ok() || rsdp.rsdt_address == 0) {
                Table root = TRY(std::move(xsdt));
                acpi.uses_xsdt_ = true;
                TRY(parser.walk_root(root, XSDT_ENTRY_SIZE));
                return parser.release();
            }
        }
        if (rsdp.rsdt_address == 0) return Errno::Inval;
        Table root = TRY(map_table(mapper, rsdp.rsdt_address, "RSDT", sizeof(SdtHeader)));
        TRY(parser.walk_root(root, RSDT_ENTRY_SIZE));
        return parser.release();
    }

private:
    explicit AcpiParser(Mapper& mapper) : mapper_(mapper) {}

    Acpi&& release() { return std::move(acpi_); }

    Result<void> walk_root(const Table& root, size_t entry_size) {
        size_t entries_bytes = root.length - sizeof(SdtHeader);
        if (entries_bytes % entry_size != 0) return Errno::Inval;
        for (size_t offset = sizeof(SdtHeader); offset < root.length; offset += entry_size) {
            uint64_t phys =
                entry_size == XSDT_ENTRY_SIZE ? load<uint64_t>(root.data + offset) : load<uint32_t>(root.data + offset);
            if (phys == 0) continue;  // some firmware leaves holes where it removed a table
            const uint8_t* head = map_range(mapper_, phys, sizeof(SdtHeader));
            if (head == nullptr) return Errno::Inval;
            SdtHeader header = load<SdtHeader>(head);
            // The first table of each kind wins; later duplicates are not read at all.
            if (signature_is(header.signature, "FACP") && !acpi_.fadt_.present)
                TRY(parse_fadt(phys));
            else if (signature_is(header.signature, "APIC") && !acpi_.madt_.present)
                TRY(parse_madt(phys));
            else if (signature_is(header.signature, "MCFG") && !acpi_.mcfg_.present)
                TRY(parse_mcfg(phys));
            else if (signature_is(header.signature, "HPET") && !acpi_.hpet_.present)
                TRY(parse_hpet(phys));
            else if (signature_is(header.signature, "DMAR") && !acpi_.dmar_.present)
                TRY(parse_dmar(phys));
        }
        if (acpi_.fadt_.present && acpi_.fadt_.dsdt_address != 0) TRY(parse_dsdt(acpi_.fadt_.dsdt_address));
        return {};
    }

    Result<void> parse_fadt(uint64_t phys) {
        Table table = TRY(map_table(mapper_, phys, "FACP", FADT_V1_LENGTH));
        // Fields past the firmware's (older, shorter) table read as zero, i.e. "absent".
        Fadt f{};
        size_t copied = table.length < sizeof(Fadt) ? table.length : sizeof(Fadt);
        __builtin_memcpy(&f, table.data, copied);

        FadtInfo& info = acpi_.fadt_;
        info.present = true;
        info.revision = f.header.revision;
        info.minor_revision = f.fadt_minor_version;
        info.sci_irq = f.sci_int;
        info.smi_cmd = f.smi_cmd;
        info.acpi_enable = f.acpi_enable;
        info.acpi_disable = f.acpi_disable;
        info.pm1a_event = pick_register(f.x_pm1a_evt_blk, f.pm1a_evt_blk, f.pm1_evt_len);
        info.pm1b_event = pick_register(f.x_pm1b_evt_blk, f.pm1b_evt_blk, f.pm1_evt_len);
        info.pm1a_control = pick_register(f.x_pm1a_cnt_blk, f.pm1a_cnt_blk, f.pm1_cnt_len);
        info.pm1b_control = pick_register(f.x_pm1b_cnt_blk, f.pm1b_cnt_blk, f.pm1_cnt_len);
        info.pm_timer = pick_register(f.x_pm_tmr_blk, f.pm_tmr_blk, f.pm_tmr_len);
        info.pm_timer_32bit = (f.flags & FADT_FLAG_TMR_VAL_EXT) != 0;
        info.reset = register_from_gas(f.reset_reg);
        info.reset_value = f.reset_value;
        info.reset_supported =
            (f.flags & FADT_FLAG_RESET_REG_SUP) != 0 && table.length >= FADT_RESET_VALUE_END && info.reset.present();
        info.century = f.century;
        info.iapc_boot_arch = f.iapc_boot_arch;
        info.flags = f.flags;
        info.hardware_reduced = (f.flags & FADT_FLAG_HW_REDUCED_ACPI) != 0;
        info.dsdt_address = f.x_dsdt != 0 ? f.x_dsdt : f.dsdt;
        return {};
    }

    Result<void> parse_madt(uint64_t phys) {
        Table table = TRY(map_table(mapper_, phys, "APIC", sizeof(Madt)));
        Madt fixed = load<Madt>(table.data);
        MadtInfo& info = acpi_.madt_;
        info.present = true;
        info.local_apic_address = fixed.local_apic_address;
        info.has_8259 = (fixed.flags & MADT_FLAG_PCAT_COMPAT) != 0;

        size_t offset = sizeof(Madt);
        while (offset < table.length) {
            size_t left = table.length - offset;
            if (left < sizeof(MadtEntryHeader)) return Errno::Inval;
            const uint8_t* entry = table.data + offset;
            MadtEntryHeader header = load<MadtEntryHeader>(entry);
            // A zero length would never advance; a length past the table would read beyond it.
            if (header.length < sizeof(MadtEntryHeader) || header.length > left) return Errno::Inval;
            TRY(parse_madt_entry(entry, header));
            offset += header.length;
        }
        return {};
    }

    // Structures may be longer than we know (later revisions append fields), never shorter.
    template <typename T>
    static Result<T> madt_entry(const uint8_t* entry, const MadtEntryHeader& header) {
        if (header.length < sizeof(T)) return Errno::Inval;
        return load<T>(entry);
    }

    Result<void> parse_madt_entry(const uint8_t* entry, const MadtEntryHeader& header) {
        MadtInfo& info = acpi_.madt_;
        switch (static_cast<MadtEntryType>(header.type)) {
            case MadtEntryType::LocalApic: {
                auto lapic = TRY(madt_entry<MadtLocalApic>(entry, header));
                // 0xFF is not an xAPIC id: such CPUs are described by x2APIC entries.
                if (lapic.apic_id == 0xFF)
                    info.unusable_cpus++;
                else
                    add_cpu(lapic.apic_id, lapic.acpi_processor_uid, lapic.flags, false);
                break;
            }
            case MadtEntryType::LocalX2Apic: {
                auto x2 = TRY(madt_entry<MadtLocalX2Apic>(entry, header));
                add_cpu(x2.x2apic_id, x2.acpi_processor_uid, x2.flags, true);
                break;
            }
            case MadtEntryType::IoApic: {
                auto ioapic = TRY(madt_entry<MadtIoApic>(entry, header));
                info.io_apics.push({ioapic.io_apic_id, ioapic.io_apic_address, ioapic.global_system_interrupt_base});
                break;
            }
            case MadtEntryType::InterruptSourceOverride: {
                auto iso = TRY(madt_entry<MadtInterruptSourceOverride>(entry, header));
                info.overrides.push({iso.bus, iso.source, iso.global_system_interrupt, polarity_from_inti(iso.flags),
                                     trigger_from_inti(iso.flags)});
                break;
            }
            case MadtEntryType::NmiSource: {
                auto nmi = TRY(madt_entry<MadtNmiSource>(entry, header));
                info.nmi_sources.push(
                    {nmi.global_system_interrupt, polarity_from_inti(nmi.flags), trigger_from_inti(nmi.flags)});
                break;
            }
            case MadtEntryType::LocalApicNmi: {
                auto nmi = TRY(madt_entry<MadtLocalApicNmi>(entry, header));
                uint32_t uid = nmi.acpi_processor_uid == 0xFF ? LocalApicNmi::ALL_PROCESSORS : nmi.acpi_processor_uid;
                info.local_apic_nmis.push(
                    {uid, nmi.local_apic_lint, polarity_from_inti(nmi.flags), trigger_from_inti(nmi.flags)});
                break;
            }
            case MadtEntryType::LocalX2ApicNmi: {
                auto nmi = TRY(madt_entry<MadtLocalX2ApicNmi>(entry, header));
                info.local_apic_nmis.push({nmi.acpi_processor_uid, nmi.local_x2apic_lint, polarity_from_inti(nmi.flags),
                                           trigger_from_inti(nmi.flags)});
                break;
            }
            case MadtEntryType::LocalApicAddressOverride: {
                auto over = TRY(madt_entry<MadtLocalApicAddressOverride>(entry, header));
                info.local_apic_address = over.local_apic_address;
                info.local_apic_address_overridden = true;
                break;
            }
            default:
                info.unknown_entries++;
                break;
        }
        return {};
    }

    void add_cpu(uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2apic) {
        MadtInfo& info = acpi_.madt_;
        bool enabled = (flags & LOCAL_APIC_ENABLED) != 0;
        bool online_capable = !enabled && (flags & LOCAL_APIC_ONLINE_CAPABLE) != 0;
        if (!enabled && !online_capable) {
            info.unusable_cpus++;
            return;
        }
        // Firmware may describe a CPU twice (xAPIC and x2APIC entries); bringing it up twice
        // would be worse than missing it.
        for (const Cpu& cpu : info.cpus)
            if (cpu.apic_id == apic_id) return;
        info.cpus.push({apic_id, uid, enabled, online_capable, x2apic});
    }

    Result<void> parse_mcfg(uint64_t phys) {
        Table table = TRY(map_table(mapper_, phys, "MCFG", sizeof(Mcfg)));
        if ((table.length - sizeof(Mcfg)) % sizeof(McfgAllocation) != 0) return Errno::Inval;
        McfgInfo& info = acpi_.mcfg_;
        info.present = true;
        for (size_t offset = sizeof(Mcfg); offset < table.length; offset += sizeof(McfgAllocation)) {
            McfgAllocation alloc = load<McfgAllocation>(table.data + offset);
            if (alloc.start_bus > alloc.end_bus) return Errno::Inval;
            info.segments.push({alloc.base_address, alloc.pci_segment_group, alloc.start_bus, alloc.end_bus});
        }
        return {};
    }

    Result<void> parse_hpet(uint64_t phys) {
        Table table = TRY(map_table(mapper_, phys, "HPET", sizeof(Hpet)));
        Hpet hpet = load<Hpet>(table.data);
        HpetInfo& info = acpi_.hpet_;
        info.present = true;
        info.space = static_cast<AddressSpace>(hpet.base_address.address_space_id);
        info.base_address = hpet.base_address.address;
        info.hpet_number = hpet.hpet_number;
        info.minimum_tick = hpet.minimum_clock_tick;
        info.event_timer_block_id = hpet.event_timer_block_id;
        return {};
    }

    Result<void> parse_dmar(uint64_t phys) {
        Table table = TRY(map_table(mapper_, phys, "DMAR", sizeof(Dmar)));
        Dmar dmar = load<Dmar>(table.data);
        DmarInfo& info = acpi_.dmar_;
        info.present = true;
        info.host_address_width = dmar.host_address_width;
        info.interrupt_remapping = (dmar.flags & DMAR_FLAG_INTR_REMAP) != 0;
        for (size_t offset = sizeof(Dmar); offset < table.length;) {
            if (table.length - offset < sizeof(DmarEntryHeader)) return Errno::Inval;
            auto header = load<DmarEntryHeader>(table.data + offset);
            if (header.length < sizeof(DmarEntryHeader) || header.length > table.length - offset) return Errno::Inval;
            const uint8_t* entry = table.data + offset;
            switch (static_cast<DmarType>(header.type)) {
                case DmarType::Drhd: {
                    if (header.length < sizeof(DmarDrhdEntry)) return Errno::Inval;
                    auto drhd = load<DmarDrhdEntry>(entry);
                    // 8.3: the registers are page aligned.
                    if (drhd.register_base == 0 || drhd.register_base % 4096 != 0 || drhd.size > 4) return Errno::Inval;
                    DmarUnit unit;
                    unit.register_base = drhd.register_base;
                    unit.register_pages = 1u << drhd.size;
                    unit.segment = drhd.segment;
                    unit.include_pci_all = (drhd.flags & DRHD_FLAG_INCLUDE_PCI_ALL) != 0;
                    TRY(parse_scopes(entry, sizeof(DmarDrhdEntry), header.length, unit.scopes));
                    info.units.push(unit);
                    break;
                }
                case DmarType::Rmrr: {
                    if (header.length < sizeof(DmarRmrrEntry)) return Errno::Inval;
                    auto rmrr = load<DmarRmrrEntry>(entry);
                    // 8.4: 4 KiB aligned base, limit at the end of a 4 KiB page.
                    if (rmrr.base % 4096 != 0 || rmrr.limit < rmrr.base || (rmrr.limit + 1) % 4096 != 0)
                        return Errno::Inval;
                    DmarReservedRegion region;
                    region.segment = rmrr.segment;
                    region.base = rmrr.base;
                    region.limit = rmrr.limit;
                    TRY(parse_scopes(entry, sizeof(DmarRmrrEntry), header.length, region.scopes));
                    info.rmrrs.push(region);
                    break;
                }
                default:
                    info.other_entries++;
                    break;
            }
            offset += header.length;
        }
        return {};
    }

    static Result<void> parse_scopes(const uint8_t* entry, size_t at, size_t end,
                                     BoundedList<DmarScope, MAX_DMAR_SCOPES>& out) {
        while (at < end) {
            if (end - at < sizeof(DmarDeviceScope)) return Errno::Inval;
            auto raw = load<DmarDeviceScope>(entry + at);
            if (raw.length < sizeof(DmarDeviceScope) || raw.length > end - at ||
                (raw.length - sizeof(DmarDeviceScope)) % sizeof(DmarScopePath) != 0)
                return Errno::Inval;
            size_t hops = (raw.length - sizeof(DmarDeviceScope)) / sizeof(DmarScopePath);
            if (hops == 0 || hops > MAX_DMAR_SCOPE_PATH) return Errno::Inval;
            DmarScope scope;
            scope.type = static_cast<DmarScopeType>(raw.type);
            scope.enumeration_id = raw.enumeration_id;
            scope.start_bus = raw.start_bus;
            scope.path_length = uint8_t(hops);
            for (size_t i = 0; i < hops; i++) {
                scope.path[i] = load<DmarScopePath>(entry + at + sizeof(DmarDeviceScope) + i * sizeof(DmarScopePath));
                if (scope.path[i].device > 31 || scope.path[i].function > 7) return Errno::Inval;
            }
            out.push(scope);
            at += raw.length;
        }
        return {};
    }

    Result<void> parse_dsdt(uint64_t phys) {
        Table table = TRY(map_table(mapper_, phys, "DSDT", sizeof(SdtHeader)));
        acpi_.s5_ = find_s5(table.data + sizeof(SdtHeader), table.length - sizeof(SdtHeader));
        return {};
    }

    Mapper& mapper_;
    Acpi acpi_;
};

Result<Acpi> Acpi::parse(uint64_t rsdp_phys, Mapper& mapper) {
    Rsdp rsdp = TRY(read_rsdp(mapper, rsdp_phys));
    return AcpiParser::parse(rsdp, mapper);
}

Result<Acpi> Acpi::parse_from_rsdp_copy(const void* rsdp_copy, size_t len, Mapper& mapper) {
    if (rsdp_copy == nullptr) return Errno::Inval;
    Rsdp rsdp = TRY(decode_rsdp(static_cast<const uint8_t*>(rsdp_copy), len));
    return AcpiParser::parse(rsdp, mapper);
}

IsaIrqRoute Acpi::isa_irq_route(uint8_t irq) const {
    IsaIrqRoute route{irq, false, false};
    for (const InterruptOverride& o : madt_.overrides) {
        if (o.bus != 0 || o.source != irq) continue;
        route.gsi = o.gsi;
        route.active_low = o.polarity == Polarity::ActiveLow;
        route.level_triggered = o.trigger == TriggerMode::Level;
        break;
    }
    return route;
}

Result<PowerOff> Acpi::power_off() const {
    if (!fadt_.present || fadt_.hardware_reduced || !fadt_.pm1a_control.present() || !s5_.present) return Errno::NotSup;
    auto fits = [](const Register& r) { return r.space != AddressSpace::SystemIo || r.address <= 0xFFFF; };
    if (!fits(fadt_.pm1a_control) || !fits(fadt_.pm1b_control)) return Errno::Inval;
    PowerOff off;
    off.pm1a_control = fadt_.pm1a_control;
    off.pm1a_value = static_cast<uint16_t>((s5_.slp_typ_a << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN);
    if (fadt_.pm1b_control.present()) {
        off.pm1b_control = fadt_.pm1b_control;
        off.pm1b_value = static_cast<uint16_t>((s5_.slp_typ_b << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN);
    }
    return off;
}

Result<uint64_t> find_rsdp_in_bios_area(Mapper& mapper) {
    constexpr uint64_t EBDA_SEGMENT_POINTER = 0x40E;  // BIOS data area word: EBDA segment
    constexpr size_t EBDA_SEARCH_LENGTH = 1024;
    constexpr uint64_t BIOS_AREA_START = 0xE0000;
    constexpr size_t BIOS_AREA_LENGTH = 0x20000;

    auto scan = [&](uint64_t base, size_t len) -> Result<uint64_t> {
        const uint8_t* area = map_range(mapper, base, len);
        if (area == nullptr) return Errno::NoEnt;
        for (size_t offset = 0; offset + sizeof(RsdpV1) <= len; offset += 16) {
            if (__builtin_memcmp(area + offset, RSDP_SIGNATURE, sizeof(RSDP_SIGNATURE)) != 0) continue;
            // A stray "RSD PTR " in option ROM data fails the checksums; keep looking.
            if (read_rsdp(mapper, base + offset).is_ok()) return base + offset;
        }
        return Errno::NoEnt;
    };

    if (const uint8_t* bda = map_range(mapper, EBDA_SEGMENT_POINTER, sizeof(uint16_t))) {
        uint64_t ebda = static_cast<uint64_t>(load<uint16_t>(bda)) << 4;
        // Outside conventional memory below the VGA hole the pointer is garbage.
        if (ebda >= 0x500 && ebda + EBDA_SEARCH_LENGTH <= 0xA0000) {
            Result<uint64_t> found = scan(ebda, EBDA_SEARCH_LENGTH);
            if (found.is_ok()) return found.value();
        }
    }
    return scan(BIOS_AREA_START, BIOS_AREA_LENGTH);
}

}  // namespace lamina::acpi
