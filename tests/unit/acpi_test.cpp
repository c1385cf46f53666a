// Host tests for the ACPI table parser (kernel/dev/acpi). The tables are synthesized here, at
// fake physical addresses, with the layout QEMU's q35 machine produces; every malformed case
// is a mutation of that valid layout, so a failure points at exactly one broken field.
#include "kernel/dev/acpi/acpi.h"

#include <gtest/gtest.h>

#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace acpi = lamina::acpi;
using lamina::Errno;

namespace {

using Bytes = std::vector<uint8_t>;

// Physical memory made of separately allocated buffers of exactly the region's size, so that
// AddressSanitizer reports any read past the end of a region the parser was handed.
class FakeMemory final : public acpi::Mapper {
public:
    void add(uint64_t phys, Bytes bytes) {
        bytes.shrink_to_fit();
        regions_[phys] = std::move(bytes);
    }
    void remove(uint64_t phys) { regions_.erase(phys); }
    void resize(uint64_t phys, size_t size) {
        regions_.at(phys).resize(size);
        regions_.at(phys).shrink_to_fit();
    }
    Bytes& region(uint64_t phys) { return regions_.at(phys); }
    std::map<uint64_t, Bytes>& regions() { return regions_; }
    size_t map_calls() const { return map_calls_; }

    const void* map(uint64_t phys, size_t len) override {
        ++map_calls_;
        // A kernel Mapper may compute phys + len naively; the parser must never ask for a
        // range that wraps or is empty.
        EXPECT_GT(len, 0u);
        EXPECT_LE(phys, ~uint64_t{0} - (len - 1)) << "range wraps around 2^64";
        auto it = regions_.upper_bound(phys);
        if (it == regions_.begin()) return nullptr;
        --it;
        uint64_t offset = phys - it->first;
        const Bytes& bytes = it->second;
        if (offset > bytes.size() || len > bytes.size() - offset) return nullptr;
        return bytes.data() + offset;
    }

private:
    std::map<uint64_t, Bytes> regions_;
    size_t map_calls_ = 0;
};

void put8(Bytes& b, uint8_t v) { b.push_back(v); }
void put16(Bytes& b, uint16_t v) {
    for (int i = 0; i < 2; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
void put32(Bytes& b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
void put64(Bytes& b, uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
void put_str(Bytes& b, const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) b.push_back(uint8_t(s[i]));
}
void put_gas(Bytes& b, uint8_t space, uint8_t width, uint8_t access, uint64_t address) {
    put8(b, space);
    put8(b, width);
    put8(b, 0);
    put8(b, access);
    put64(b, address);
}
void set32(Bytes& b, size_t offset, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[offset + i] = uint8_t(v >> (8 * i));
}
void set64(Bytes& b, size_t offset, uint64_t v) {
    for (int i = 0; i < 8; ++i) b[offset + i] = uint8_t(v >> (8 * i));
}

uint8_t sum(const Bytes& b, size_t from, size_t len) {
    uint8_t s = 0;
    for (size_t i = from; i < from + len && i < b.size(); ++i) s = uint8_t(s + b[i]);
    return s;
}

// Recomputes an SDT's checksum over its declared length (or what exists of it).
void seal_sdt(Bytes& t) {
    if (t.size() < 10) return;
    uint32_t length = uint32_t(t[4]) | uint32_t(t[5]) << 8 | uint32_t(t[6]) << 16 | uint32_t(t[7]) << 24;
    t[9] = 0;
    t[9] = uint8_t(-sum(t, 0, length));
}

void seal_rsdp(Bytes& r) {
    if (r.size() < 20) return;
    r[8] = 0;
    r[8] = uint8_t(-sum(r, 0, 20));
    if (r[15] >= 2 && r.size() >= 36) {
        r[32] = 0;
        r[32] = uint8_t(-sum(r, 0, r.size()));
    }
}

Bytes sdt(const char* signature, uint8_t revision, const Bytes& body) {
    Bytes t;
    put_str(t, signature, 4);
    put32(t, uint32_t(36 + body.size()));
    put8(t, revision);
    put8(t, 0);
    put_str(t, "BOCHS ", 6);
    put_str(t, "BXPC    ", 8);
    put32(t, 1);
    put32(t, 0x43505842);  // "BXPC"
    put32(t, 1);
    t.insert(t.end(), body.begin(), body.end());
    seal_sdt(t);
    return t;
}

Bytes rsdp(uint8_t revision, uint32_t rsdt, uint64_t xsdt) {
    Bytes r;
    put_str(r, "RSD PTR ", 8);
    put8(r, 0);
    put_str(r, "BOCHS ", 6);
    put8(r, revision);
    put32(r, rsdt);
    if (revision >= 2) {
        put32(r, 36);
        put64(r, xsdt);
        put8(r, 0);
        put8(r, 0);
        put8(r, 0);
        put8(r, 0);
    }
    seal_rsdp(r);
    return r;
}

// MADT structures (ACPI 6.5, 5.2.12.x).
void lapic(Bytes& b, uint8_t uid, uint8_t id, uint32_t flags) {
    put8(b, 0);
    put8(b, 8);
    put8(b, uid);
    put8(b, id);
    put32(b, flags);
}
void x2apic(Bytes& b, uint32_t uid, uint32_t id, uint32_t flags) {
    put8(b, 9);
    put8(b, 16);
    put16(b, 0);
    put32(b, id);
    put32(b, flags);
    put32(b, uid);
}
void ioapic(Bytes& b, uint8_t id, uint32_t address, uint32_t gsi_base) {
    put8(b, 1);
    put8(b, 12);
    put8(b, id);
    put8(b, 0);
    put32(b, address);
    put32(b, gsi_base);
}
void iso(Bytes& b, uint8_t irq, uint32_t gsi, uint16_t flags) {
    put8(b, 2);
    put8(b, 10);
    put8(b, 0);
    put8(b, irq);
    put32(b, gsi);
    put16(b, flags);
}
void lapic_nmi(Bytes& b, uint8_t uid, uint16_t flags, uint8_t lint) {
    put8(b, 4);
    put8(b, 6);
    put8(b, uid);
    put16(b, flags);
    put8(b, lint);
}
void nmi_source(Bytes& b, uint16_t flags, uint32_t gsi) {
    put8(b, 3);
    put8(b, 8);
    put16(b, flags);
    put32(b, gsi);
}
void lapic_override(Bytes& b, uint64_t address) {
    put8(b, 5);
    put8(b, 12);
    put16(b, 0);
    put64(b, address);
}

constexpr uint16_t LEVEL_ACTIVE_HIGH = 0xD;  // trigger 3 (level), polarity 1 (high)

Bytes q35_madt_entries() {
    Bytes e;
    for (uint8_t i = 0; i < 4; ++i) lapic(e, i, i, 1);
    ioapic(e, 0, 0xFEC00000, 0);
    iso(e, 0, 2, 0);
    iso(e, 5, 5, LEVEL_ACTIVE_HIGH);
    iso(e, 9, 9, LEVEL_ACTIVE_HIGH);
    iso(e, 10, 10, LEVEL_ACTIVE_HIGH);
    iso(e, 11, 11, LEVEL_ACTIVE_HIGH);
    lapic_nmi(e, 0xFF, 0, 1);
    return e;
}

// AML: a Name(_S5_, Package(n) {...}) with the given raw element bytes.
Bytes s5_package(uint8_t count, const Bytes& elements) {
    Bytes b = {0x08, '_', 'S', '5', '_', 0x12};
    put8(b, uint8_t(1 + 1 + elements.size()));  // one-byte PkgLength, NumElements, elements
    put8(b, count);
    b.insert(b.end(), elements.begin(), elements.end());
    return b;
}

// Roughly what QEMU's DSDT looks like around \_S5_: unrelated AML first, a use of the name
// that is not its definition, then Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero }).
Bytes q35_aml() {
    Bytes b = {0x10, 0x0F, '\\', '_', 'S', 'B',  '_',             // Scope (\_SB) {
               0x08, 'P',  'I',  'C', 'F', 0x00,                  //   Name (PICF, Zero)
               0x70, '_',  'S',  '5', '_', 'X',  'X', 'X', 'X'};  // Store (_S5_, XXXX): a decoy
    Bytes s5 = s5_package(4, {0x00, 0x00, 0x00, 0x00});
    b.insert(b.end(), s5.begin(), s5.end());
    Bytes tail = {0x14, 0x08, '_', 'P', 'T', 'S', 0x01, 0x70, 0x00, 0x60};  // a method after it
    b.insert(b.end(), tail.begin(), tail.end());
    return b;
}

struct FadtParams {
    uint32_t length = 244;  // QEMU q35: FADT revision 3
    uint8_t revision = 3;
    uint32_t pm1a_cnt = 0x604;
    uint32_t pm1b_cnt = 0;
    uint64_t x_pm1a_cnt = 0x604;
    uint64_t x_pm1b_cnt = 0;
    uint32_t flags = acpi::FADT_FLAG_RESET_REG_SUP | acpi::FADT_FLAG_TMR_VAL_EXT;
};

Bytes make_fadt(uint64_t dsdt, const FadtParams& p) {
    Bytes b;
    put32(b, 0);                         // FIRMWARE_CTRL (no FACS here)
    put32(b, uint32_t(dsdt));            // DSDT
    put8(b, 1);                          // reserved (INT_MODEL)
    put8(b, 0);                          // Preferred_PM_Profile
    put16(b, 9);                         // SCI_INT
    put32(b, 0xB2);                      // SMI_CMD
    put8(b, 0x02);                       // ACPI_ENABLE
    put8(b, 0x03);                       // ACPI_DISABLE
    put8(b, 0);                          // S4BIOS_REQ
    put8(b, 0);                          // PSTATE_CNT
    put32(b, 0x600);                     // PM1a_EVT_BLK
    put32(b, 0);                         // PM1b_EVT_BLK
    put32(b, p.pm1a_cnt);                // PM1a_CNT_BLK
    put32(b, p.pm1b_cnt);                // PM1b_CNT_BLK
    put32(b, 0);                         // PM2_CNT_BLK
    put32(b, 0x608);                     // PM_TMR_BLK
    put32(b, 0x620);                     // GPE0_BLK
    put32(b, 0);                         // GPE1_BLK
    put8(b, 4);                          // PM1_EVT_LEN
    put8(b, 2);                          // PM1_CNT_LEN
    put8(b, 0);                          // PM2_CNT_LEN
    put8(b, 4);                          // PM_TMR_LEN
    put8(b, 16);                         // GPE0_BLK_LEN
    put8(b, 0);                          // GPE1_BLK_LEN
    put8(b, 0);                          // GPE1_BASE
    put8(b, 0);                          // CST_CNT
    put16(b, 0xFFF);                     // P_LVL2_LAT
    put16(b, 0xFFF);                     // P_LVL3_LAT
    put16(b, 0);                         // FLUSH_SIZE
    put16(b, 0);                         // FLUSH_STRIDE
    put8(b, 0);                          // DUTY_OFFSET
    put8(b, 0);                          // DUTY_WIDTH
    put8(b, 0);                          // DAY_ALRM
    put8(b, 0);                          // MON_ALRM
    put8(b, 0x32);                       // CENTURY
    put16(b, acpi::BOOT_ARCH8042);       // IAPC_BOOT_ARCH
    put8(b, 0);                          // reserved
    put32(b, p.flags);                   // Flags
    put_gas(b, 1, 8, 0, 0xCF9);          // RESET_REG
    put8(b, 0x06);                       // RESET_VALUE
    put16(b, 0);                         // ARM_BOOT_ARCH
    put8(b, 0);                          // FADT minor version
    put64(b, 0);                         // X_FIRMWARE_CTRL
    put64(b, dsdt);                      // X_DSDT
    put_gas(b, 1, 32, 0, 0x600);         // X_PM1a_EVT_BLK
    put_gas(b, 0, 0, 0, 0);              // X_PM1b_EVT_BLK
    put_gas(b, 1, 16, 0, p.x_pm1a_cnt);  // X_PM1a_CNT_BLK
    put_gas(b, 1, 16, 0, p.x_pm1b_cnt);  // X_PM1b_CNT_BLK
    put_gas(b, 0, 0, 0, 0);              // X_PM2_CNT_BLK
    put_gas(b, 1, 32, 0, 0x608);         // X_PM_TMR_BLK
    put_gas(b, 1, 128, 0, 0x620);        // X_GPE0_BLK
    put_gas(b, 0, 0, 0, 0);              // X_GPE1_BLK
    put_gas(b, 0, 0, 0, 0);              // SLEEP_CONTROL_REG
    put_gas(b, 0, 0, 0, 0);              // SLEEP_STATUS_REG
    put64(b, 0);                         // Hypervisor Vendor Identity
    EXPECT_EQ(b.size() + 36, sizeof(acpi::Fadt));
    b.resize(p.length - 36);
    return sdt("FACP", p.revision, b);
}

Bytes mcfg(const std::vector<acpi::McfgSegment>& segments) {
    Bytes b(8, 0);
    for (const auto& s : segments) {
        put64(b, s.base);
        put16(b, s.segment_group);
        put8(b, s.start_bus);
        put8(b, s.end_bus);
        put32(b, 0);
    }
    return sdt("MCFG", 1, b);
}

Bytes hpet() {
    Bytes b;
    put32(b, 0x8086A201);
    put_gas(b, 0, 64, 0, 0xFED00000);
    put8(b, 0);
    put16(b, 0x80);
    put8(b, 0);
    return sdt("HPET", 1, b);
}

// A DMAR like QEMU's intel-iommu on q35 (VT-d 8.1): host address width 38 (39 bits), one DRHD
// listing an IOAPIC and two endpoints, and an RMRR for 00:1d.0.
Bytes dmar_body(uint8_t drhd_flags = 0, uint64_t register_base = 0xFED90000) {
    Bytes b;
    put8(b, 38);
    put8(b, 0);
    for (int i = 0; i < 10; i++) put8(b, 0);
    auto scope = [](Bytes& s, uint8_t type, uint8_t id, uint8_t bus, uint8_t dev, uint8_t fn) {
        put8(s, type);
        put8(s, 8);
        put16(s, 0);
        put8(s, id);
        put8(s, bus);
        put8(s, dev);
        put8(s, fn);
    };
    Bytes scopes;
    scope(scopes, 3, 0, 0xFF, 0, 0);  // IOAPIC 0
    scope(scopes, 1, 0, 0, 1, 0);     // 00:01.0
    scope(scopes, 1, 0, 0, 2, 0);     // 00:02.0
    put16(b, 0);                      // DRHD
    put16(b, uint16_t(16 + scopes.size()));
    put8(b, drhd_flags);
    put8(b, 0);
    put16(b, 0);
    put64(b, register_base);
    b.insert(b.end(), scopes.begin(), scopes.end());
    Bytes rmrr_scope;
    scope(rmrr_scope, 1, 0, 0, 0x1D, 0);
    put16(b, 1);  // RMRR
    put16(b, uint16_t(24 + rmrr_scope.size()));
    put16(b, 0);
    put16(b, 0);
    put64(b, 0x7E000000);
    put64(b, 0x7E0FFFFF);
    b.insert(b.end(), rmrr_scope.begin(), rmrr_scope.end());
    return b;
}

// Where the synthetic tables live; the addresses mimic a 128 MiB q35 guest under SeaBIOS.
constexpr uint64_t RSDP_AT = 0xF5A10;
constexpr uint64_t RSDT_AT = 0x7FE1000;
constexpr uint64_t XSDT_AT = 0x7FE2000;
constexpr uint64_t FADT_AT = 0x7FE3000;
constexpr uint64_t MADT_AT = 0x7FE4000;
constexpr uint64_t HPET_AT = 0x7FE5000;
constexpr uint64_t MCFG_AT = 0x7FE6000;
constexpr uint64_t WAET_AT = 0x7FE7000;
constexpr uint64_t DSDT_AT = 0x7FE8000;
constexpr uint64_t DMAR_AT = 0x7FE9000;

struct Layout {
    uint8_t rsdp_revision = 2;
    bool rsdt = true;
    bool xsdt = true;
    FadtParams fadt;
    Bytes madt_entries = q35_madt_entries();
    uint32_t madt_flags = acpi::MADT_FLAG_PCAT_COMPAT;
    Bytes aml = q35_aml();
    std::vector<acpi::McfgSegment> mcfg_segments = {{0xB0000000, 0, 0, 255}};
    Bytes dmar;  // a DMAR body; none when empty

    std::vector<uint64_t> table_addresses() const {
        std::vector<uint64_t> all = {FADT_AT, MADT_AT, HPET_AT, MCFG_AT, WAET_AT};
        if (!dmar.empty()) all.push_back(DMAR_AT);
        return all;
    }

    FakeMemory build() const {
        FakeMemory memory;
        memory.add(RSDP_AT, rsdp(rsdp_revision, rsdt ? uint32_t(RSDT_AT) : 0, xsdt ? XSDT_AT : 0));
        Bytes rsdt_body, xsdt_body;
        for (uint64_t a : table_addresses()) {
            put32(rsdt_body, uint32_t(a));
            put64(xsdt_body, a);
        }
        if (rsdt) memory.add(RSDT_AT, sdt("RSDT", 1, rsdt_body));
        if (xsdt) memory.add(XSDT_AT, sdt("XSDT", 1, xsdt_body));
        memory.add(FADT_AT, make_fadt(DSDT_AT, fadt));
        Bytes madt_body;
        put32(madt_body, 0xFEE00000);
        put32(madt_body, madt_flags);
        madt_body.insert(madt_body.end(), madt_entries.begin(), madt_entries.end());
        memory.add(MADT_AT, sdt("APIC", 3, madt_body));
        memory.add(HPET_AT, hpet());
        memory.add(MCFG_AT, mcfg(mcfg_segments));
        memory.add(WAET_AT, sdt("WAET", 1, {0x02, 0, 0, 0}));
        memory.add(DSDT_AT, sdt("DSDT", 1, aml));
        if (!dmar.empty()) memory.add(DMAR_AT, sdt("DMAR", 1, dmar));
        return memory;
    }
};

std::optional<acpi::Acpi> parse(FakeMemory& memory) {
    auto result = acpi::Acpi::parse(RSDP_AT, memory);
    if (result.is_error()) return std::nullopt;
    return result.release_value();
}

// Declares `a`, the parsed tables, or fails the test.
#define PARSE_OK(a, memory)              \
    auto a##_parsed = parse(memory);     \
    ASSERT_TRUE(a##_parsed.has_value()); \
    const acpi::Acpi& a = *a##_parsed

void expect_error(FakeMemory& memory, Errno code = Errno::Inval) {
    auto result = acpi::Acpi::parse(RSDP_AT, memory);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), code);
}

// --- Valid layouts ---------------------------------------------------------------------------

TEST(AcpiParse, Q35Layout) {
    FakeMemory memory = Layout{}.build();
    PARSE_OK(a, memory);

    EXPECT_EQ(a.rsdp_revision(), 2);
    EXPECT_STREQ(a.oem_id(), "BOCHS ");
    EXPECT_TRUE(a.uses_xsdt());

    const auto& madt = a.madt();
    ASSERT_TRUE(madt.present);
    EXPECT_EQ(madt.local_apic_address, 0xFEE00000u);
    EXPECT_FALSE(madt.local_apic_address_overridden);
    EXPECT_TRUE(madt.has_8259);
    ASSERT_EQ(madt.cpus.size(), 4u);
    for (uint32_t i = 0; i < 4; ++i) {
        EXPECT_EQ(madt.cpus[i].apic_id, i);
        EXPECT_EQ(madt.cpus[i].processor_uid, i);
        EXPECT_TRUE(madt.cpus[i].enabled);
        EXPECT_FALSE(madt.cpus[i].online_capable);
        EXPECT_FALSE(madt.cpus[i].x2apic_entry);
    }
    EXPECT_EQ(madt.cpus.dropped(), 0u);
    EXPECT_EQ(madt.unusable_cpus, 0u);
    ASSERT_EQ(madt.io_apics.size(), 1u);
    EXPECT_EQ(madt.io_apics[0].id, 0);
    EXPECT_EQ(madt.io_apics[0].address, 0xFEC00000u);
    EXPECT_EQ(madt.io_apics[0].gsi_base, 0u);
    ASSERT_EQ(madt.overrides.size(), 5u);
    EXPECT_EQ(madt.overrides[0].source, 0);
    EXPECT_EQ(madt.overrides[0].gsi, 2u);
    EXPECT_EQ(madt.overrides[0].polarity, acpi::Polarity::BusDefault);
    EXPECT_EQ(madt.overrides[0].trigger, acpi::TriggerMode::BusDefault);
    EXPECT_EQ(madt.overrides[2].source, 9);
    EXPECT_EQ(madt.overrides[2].polarity, acpi::Polarity::ActiveHigh);
    EXPECT_EQ(madt.overrides[2].trigger, acpi::TriggerMode::Level);
    ASSERT_EQ(madt.local_apic_nmis.size(), 1u);
    EXPECT_EQ(madt.local_apic_nmis[0].processor_uid, acpi::LocalApicNmi::ALL_PROCESSORS);
    EXPECT_EQ(madt.local_apic_nmis[0].lint, 1);
    EXPECT_EQ(madt.nmi_sources.size(), 0u);
    EXPECT_EQ(madt.unknown_entries, 0u);

    auto irq0 = a.isa_irq_route(0);
    EXPECT_EQ(irq0.gsi, 2u);
    EXPECT_FALSE(irq0.active_low);
    EXPECT_FALSE(irq0.level_triggered);
    auto irq9 = a.isa_irq_route(9);
    EXPECT_EQ(irq9.gsi, 9u);
    EXPECT_FALSE(irq9.active_low);
    EXPECT_TRUE(irq9.level_triggered);
    auto irq4 = a.isa_irq_route(4);
    EXPECT_EQ(irq4.gsi, 4u);
    EXPECT_FALSE(irq4.level_triggered);

    const auto& fadt = a.fadt();
    ASSERT_TRUE(fadt.present);
    EXPECT_EQ(fadt.revision, 3);
    EXPECT_EQ(fadt.sci_irq, 9);
    EXPECT_EQ(fadt.smi_cmd, 0xB2u);
    EXPECT_EQ(fadt.acpi_enable, 0x02);
    EXPECT_EQ(fadt.acpi_disable, 0x03);
    EXPECT_EQ(fadt.pm1a_control.space, acpi::AddressSpace::SystemIo);
    EXPECT_EQ(fadt.pm1a_control.address, 0x604u);
    EXPECT_EQ(fadt.pm1a_control.bit_width, 16);
    EXPECT_FALSE(fadt.pm1b_control.present());
    EXPECT_EQ(fadt.pm1a_event.address, 0x600u);
    EXPECT_EQ(fadt.pm_timer.address, 0x608u);
    EXPECT_EQ(fadt.pm_timer.bit_width, 32);
    EXPECT_TRUE(fadt.pm_timer_32bit);
    EXPECT_TRUE(fadt.reset_supported);
    EXPECT_EQ(fadt.reset.space, acpi::AddressSpace::SystemIo);
    EXPECT_EQ(fadt.reset.address, 0xCF9u);
    EXPECT_EQ(fadt.reset_value, 0x06);
    EXPECT_EQ(fadt.century, 0x32);
    EXPECT_EQ(fadt.iapc_boot_arch, acpi::BOOT_ARCH8042);
    EXPECT_FALSE(fadt.hardware_reduced);
    EXPECT_EQ(fadt.dsdt_address, DSDT_AT);

    ASSERT_TRUE(a.mcfg().present);
    ASSERT_EQ(a.mcfg().segments.size(), 1u);
    EXPECT_EQ(a.mcfg().segments[0].base, 0xB0000000u);
    EXPECT_EQ(a.mcfg().segments[0].segment_group, 0);
    EXPECT_EQ(a.mcfg().segments[0].start_bus, 0);
    EXPECT_EQ(a.mcfg().segments[0].end_bus, 255);

    ASSERT_TRUE(a.hpet().present);
    EXPECT_EQ(a.hpet().space, acpi::AddressSpace::SystemMemory);
    EXPECT_EQ(a.hpet().base_address, 0xFED00000u);
    EXPECT_EQ(a.hpet().minimum_tick, 0x80);
    EXPECT_EQ(a.hpet().event_timer_block_id, 0x8086A201u);

    ASSERT_TRUE(a.s5().present);
    EXPECT_EQ(a.s5().slp_typ_a, 0);
    EXPECT_EQ(a.s5().slp_typ_b, 0);
    auto off = a.power_off();
    ASSERT_TRUE(off.is_ok());
    EXPECT_EQ(off.value().pm1a_control.address, 0x604u);
    EXPECT_EQ(off.value().pm1a_value, 0x2000);  // the well-known QEMU power-off write
    EXPECT_FALSE(off.value().pm1b_control.present());
}

TEST(AcpiParse, RsdtOnlyAcpi10) {
    Layout layout;
    layout.rsdp_revision = 0;
    layout.xsdt = false;
    layout.fadt.length = 116;  // ACPI 1.0 FADT: no reset register, no X_ fields
    layout.fadt.revision = 1;
    layout.fadt.flags = acpi::FADT_FLAG_RESET_REG_SUP;  // must be ignored: no room for RESET_REG
    layout.aml = s5_package(2, {0x0A, 0x05, 0x0A, 0x05});
    FakeMemory memory = layout.build();
    PARSE_OK(a, memory);

    EXPECT_EQ(a.rsdp_revision(), 0);
    EXPECT_FALSE(a.uses_xsdt());
    EXPECT_EQ(a.madt().cpus.size(), 4u);
    EXPECT_TRUE(a.mcfg().present);
    EXPECT_TRUE(a.hpet().present);
    ASSERT_TRUE(a.fadt().present);
    EXPECT_EQ(a.fadt().pm1a_control.space, acpi::AddressSpace::SystemIo);
    EXPECT_EQ(a.fadt().pm1a_control.address, 0x604u);
    EXPECT_EQ(a.fadt().pm1a_control.bit_width, 16);  // from PM1_CNT_LEN
    EXPECT_EQ(a.fadt().pm_timer.address, 0x608u);
    EXPECT_FALSE(a.fadt().reset_supported);
    EXPECT_EQ(a.fadt().dsdt_address, DSDT_AT);
    ASSERT_TRUE(a.s5().present);
    EXPECT_EQ(a.s5().slp_typ_a, 5);
    auto off = a.power_off();
    ASSERT_TRUE(off.is_ok());
    EXPECT_EQ(off.value().pm1a_value, (5 << 10) | (1 << 13));
}

TEST(AcpiParse, RevisionTwoWithoutXsdtUsesRsdt) {
    Layout layout;
    layout.xsdt = false;
    FakeMemory memory = layout.build();
    PARSE_OK(a, memory);
    EXPECT_FALSE(a.uses_xsdt());
    EXPECT_EQ(a.madt().cpus.size(), 4u);
}

TEST(AcpiParse, PrefersXsdtOverRsdt) {
    FakeMemory memory = Layout{}.build();
    // Point the RSDT at a different MADT that describes a single CPU.
    Bytes one_cpu;
    put32(one_cpu, 0xFEE00000);
    put32(one_cpu, 0);
    lapic(one_cpu, 0, 0, 1);
    memory.add(0x7FF0000, sdt("APIC", 3, one_cpu));
    Bytes& rsdt = memory.region(RSDT_AT);
    set32(rsdt, 36 + 4, 0x7FF0000);
    seal_sdt(rsdt);

    PARSE_OK(a, memory);
    EXPECT_TRUE(a.uses_xsdt());
    EXPECT_EQ(a.madt().cpus.size(), 4u);
}

TEST(AcpiParse, FallsBackToRsdtWhenXsdtIsCorrupt) {
    FakeMemory memory = Layout{}.build();
    memory.region(XSDT_AT)[20] ^= 0x55;
    PARSE_OK(a, memory);
    EXPECT_FALSE(a.uses_xsdt());
    EXPECT_EQ(a.madt().cpus.size(), 4u);
}

TEST(AcpiParse, CorruptXsdtWithoutRsdtIsAnError) {
    Layout layout;
    layout.rsdt = false;
    FakeMemory memory = layout.build();
    memory.region(XSDT_AT)[20] ^= 0x55;
    expect_error(memory);
}

TEST(AcpiParse, FromRsdpCopy) {
    FakeMemory memory = Layout{}.build();
    Bytes copy = memory.region(RSDP_AT);
    memory.remove(RSDP_AT);  // under UEFI only the loader's copy exists

    auto result = acpi::Acpi::parse_from_rsdp_copy(copy.data(), copy.size(), memory);
    ASSERT_TRUE(result.is_ok());
    EXPECT_EQ(result.value().madt().cpus.size(), 4u);
    EXPECT_TRUE(result.value().uses_xsdt());

    auto short_copy = acpi::Acpi::parse_from_rsdp_copy(copy.data(), 20, memory);
    ASSERT_TRUE(short_copy.is_error());  // revision 2 needs all 36 bytes
    EXPECT_EQ(short_copy.error().code(), Errno::Inval);

    auto none = acpi::Acpi::parse_from_rsdp_copy(nullptr, 36, memory);
    EXPECT_TRUE(none.is_error());
}

TEST(AcpiParse, RsdpCopyShorterThanItsLength) {
    FakeMemory memory = Layout{}.build();
    for (uint32_t length : {37u, 100u, 4096u}) {
        Bytes copy = memory.region(RSDP_AT);  // 36 bytes, on the heap: over-reads are caught
        set32(copy, 20, length);
        seal_rsdp(copy);
        auto result = acpi::Acpi::parse_from_rsdp_copy(copy.data(), copy.size(), memory);
        ASSERT_TRUE(result.is_error());
        EXPECT_EQ(result.error().code(), Errno::Inval);
    }
}

TEST(AcpiParse, FromAcpi10RsdpCopy) {
    Layout layout;
    layout.rsdp_revision = 0;
    layout.xsdt = false;
    FakeMemory memory = layout.build();
    Bytes copy = memory.region(RSDP_AT);
    ASSERT_EQ(copy.size(), 20u);  // the multiboot2 "ACPI old RSDP" tag carries 20 bytes
    auto result = acpi::Acpi::parse_from_rsdp_copy(copy.data(), copy.size(), memory);
    ASSERT_TRUE(result.is_ok());
    EXPECT_FALSE(result.value().uses_xsdt());
}

TEST(AcpiParse, MissingOptionalTables) {
    FakeMemory memory = Layout{}.build();
    // An XSDT with only the MADT: no FADT means no DSDT, no S5 and no power-off.
    Bytes body;
    put64(body, MADT_AT);
    put64(body, 0);  // a hole, which firmware sometimes leaves
    memory.add(XSDT_AT, sdt("XSDT", 1, body));
    PARSE_OK(a, memory);
    EXPECT_TRUE(a.madt().present);
    EXPECT_FALSE(a.fadt().present);
    EXPECT_FALSE(a.mcfg().present);
    EXPECT_FALSE(a.hpet().present);
    EXPECT_FALSE(a.s5().present);
    auto off = a.power_off();
    ASSERT_TRUE(off.is_error());
    EXPECT_EQ(off.error().code(), Errno::NotSup);
}

// --- RSDP discovery --------------------------------------------------------------------------

// Copies `what` into `area` at `offset`.
void place(Bytes& area, size_t offset, const Bytes& what) {
    std::copy(what.begin(), what.end(), area.begin() + offset);
}

// The address the BIOS-area search finds (0, and a test failure, when it finds none).
uint64_t found_rsdp(FakeMemory& memory) {
    auto found = acpi::find_rsdp_in_bios_area(memory);
    EXPECT_TRUE(found.is_ok());
    return found.is_ok() ? found.value() : 0;
}

TEST(AcpiFindRsdp, InBiosArea) {
    FakeMemory memory = Layout{}.build();
    Bytes area(0x20000, 0);
    Bytes decoy = rsdp(2, 0x1234, 0x5678);
    decoy[8] ^= 1;  // right signature, wrong checksum: an option ROM string, say
    place(area, 0x100, decoy);
    place(area, 0x208, memory.region(RSDP_AT));  // not on 16 bytes
    place(area, 0x15A10, memory.region(RSDP_AT));
    memory.remove(RSDP_AT);
    memory.add(0xE0000, area);

    uint64_t found = found_rsdp(memory);
    EXPECT_EQ(found, 0xF5A10u);
    auto parsed = acpi::Acpi::parse(found, memory);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value().madt().cpus.size(), 4u);
}

TEST(AcpiFindRsdp, InEbdaFirst) {
    FakeMemory memory;
    Bytes bda(0x100, 0);
    bda[0x0E] = 0xC0;  // EBDA segment 0x9FC0 -> 0x9FC00
    bda[0x0F] = 0x9F;
    memory.add(0x400, bda);
    Bytes ebda(0x400, 0);
    Bytes r = rsdp(0, 0x7FE1000, 0);
    place(ebda, 0x20, r);
    memory.add(0x9FC00, ebda);
    Bytes area(0x20000, 0);
    place(area, 0x10, r);
    memory.add(0xE0000, area);

    EXPECT_EQ(found_rsdp(memory), 0x9FC20u);
}

TEST(AcpiFindRsdp, RejectsBadExtendedChecksumAndKeepsLooking) {
    FakeMemory memory;
    Bytes area(0x20000, 0);
    Bytes bad = rsdp(2, 0x1000, 0x2000);
    bad[32] ^= 0xFF;  // v1 checksum still fine
    place(area, 0x40, bad);
    place(area, 0x80, rsdp(2, 0x1000, 0x2000));
    memory.add(0xE0000, area);
    EXPECT_EQ(found_rsdp(memory), 0xE0080u);
}

TEST(AcpiFindRsdp, NotFound) {
    FakeMemory memory;
    auto nothing_mapped = acpi::find_rsdp_in_bios_area(memory);
    ASSERT_TRUE(nothing_mapped.is_error());
    EXPECT_EQ(nothing_mapped.error().code(), Errno::NoEnt);

    memory.add(0xE0000, Bytes(0x20000, 0));
    auto empty = acpi::find_rsdp_in_bios_area(memory);
    ASSERT_TRUE(empty.is_error());
    EXPECT_EQ(empty.error().code(), Errno::NoEnt);
}

TEST(AcpiFindRsdp, SignatureAtTheVeryEndOfTheArea) {
    FakeMemory memory;
    Bytes area(0x20000, 0);
    // Only 16 bytes left after the last candidate: too short for an RSDP, must not be read.
    memcpy(area.data() + 0x20000 - 16, "RSD PTR ", 8);
    memory.add(0xE0000, area);
    EXPECT_TRUE(acpi::find_rsdp_in_bios_area(memory).is_error());
}

// --- Malformed RSDP and tables ---------------------------------------------------------------

TEST(AcpiMalformed, BadRsdpChecksum) {
    FakeMemory memory = Layout{}.build();
    memory.region(RSDP_AT)[8] ^= 1;
    expect_error(memory);
}

TEST(AcpiMalformed, BadRsdpV1ChecksumWithGoodExtendedChecksum) {
    FakeMemory memory = Layout{}.build();
    Bytes& r = memory.region(RSDP_AT);
    r[8] ^= 1;
    r[32] = 0;
    r[32] = uint8_t(-sum(r, 0, 36));  // only the ACPI 1.0 checksum is now wrong
    expect_error(memory);

    Layout acpi10;
    acpi10.rsdp_revision = 0;
    FakeMemory memory10 = acpi10.build();
    memory10.region(RSDP_AT)[19] ^= 0x40;  // the RSDT address
    expect_error(memory10);
}

TEST(AcpiMalformed, BadRsdpExtendedChecksum) {
    FakeMemory memory = Layout{}.build();
    memory.region(RSDP_AT)[32] ^= 1;
    expect_error(memory);
}

TEST(AcpiMalformed, BadRsdpSignature) {
    FakeMemory memory = Layout{}.build();
    Bytes& r = memory.region(RSDP_AT);
    r[0] = 'X';
    seal_rsdp(r);
    expect_error(memory);
}

TEST(AcpiMalformed, RsdpLengthOutOfRange) {
    for (uint32_t length : {0u, 20u, 35u, 37u, 0x10000u, 0xFFFFFFFFu}) {
        FakeMemory memory = Layout{}.build();
        Bytes& r = memory.region(RSDP_AT);
        set32(r, 20, length);
        seal_rsdp(r);
        expect_error(memory);
    }
}

TEST(AcpiMalformed, RsdpNotMapped) {
    FakeMemory memory = Layout{}.build();
    EXPECT_TRUE(acpi::Acpi::parse(0x12345678, memory).is_error());
    EXPECT_TRUE(acpi::Acpi::parse(~uint64_t{0} - 3, memory).is_error());  // wraps around
}

TEST(AcpiMalformed, BadTableChecksums) {
    for (uint64_t at : {FADT_AT, MADT_AT, HPET_AT, MCFG_AT, DSDT_AT}) {
        SCOPED_TRACE(at);
        FakeMemory memory = Layout{}.build();
        memory.region(at).back() ^= 0x01;
        expect_error(memory);
    }
}

TEST(AcpiMalformed, UnusedTablesAreNotValidated) {
    FakeMemory memory = Layout{}.build();
    memory.region(WAET_AT).back() ^= 0x01;  // nobody reads the WAET
    EXPECT_TRUE(acpi::Acpi::parse(RSDP_AT, memory).is_ok());
}

TEST(AcpiMalformed, WrongSignatureAtDsdtAddress) {
    FakeMemory memory = Layout{}.build();
    Bytes& dsdt = memory.region(DSDT_AT);
    memcpy(dsdt.data(), "SSDT", 4);
    seal_sdt(dsdt);
    expect_error(memory);
}

TEST(AcpiMalformed, TruncatedTableLengths) {
    // Declared lengths below each table's fixed part, with the checksum made to match.
    struct Case {
        uint64_t at;
        uint32_t length;
    };
    for (Case c : {Case{MADT_AT, 43}, Case{MADT_AT, 36}, Case{MADT_AT, 0}, Case{FADT_AT, 115}, Case{FADT_AT, 40},
                   Case{HPET_AT, 55}, Case{MCFG_AT, 43}, Case{MCFG_AT, 50}, Case{XSDT_AT, 35}, Case{DSDT_AT, 20}}) {
        SCOPED_TRACE(testing::Message() << std::hex << c.at << " length " << std::dec << c.length);
        Layout layout;
        layout.rsdt = false;  // no fallback: the XSDT case must fail outright
        FakeMemory memory = layout.build();
        Bytes& t = memory.region(c.at);
        set32(t, 4, c.length);
        seal_sdt(t);
        expect_error(memory);
    }
}

TEST(AcpiMalformed, RootTableWithPartialEntry) {
    Layout layout;
    layout.rsdt = false;
    FakeMemory memory = layout.build();
    memory.resize(XSDT_AT, memory.region(XSDT_AT).size() + 4);  // half an entry
    Bytes& x = memory.region(XSDT_AT);
    set32(x, 4, uint32_t(x.size()));
    seal_sdt(x);
    expect_error(memory);
}

TEST(AcpiMalformed, LengthsPastMappedMemory) {
    for (uint64_t at : {XSDT_AT, FADT_AT, MADT_AT, HPET_AT, MCFG_AT, DSDT_AT}) {
        for (uint32_t extra : {1u, 100u, 0x100000u}) {
            SCOPED_TRACE(testing::Message() << std::hex << at << " +" << extra);
            Layout layout;
            layout.rsdt = false;
            FakeMemory memory = layout.build();
            Bytes& t = memory.region(at);
            set32(t, 4, uint32_t(t.size() + extra));
            expect_error(memory);
        }
        Layout layout;
        layout.rsdt = false;
        FakeMemory memory = layout.build();
        set32(memory.region(at), 4, 0xFFFFFFFF);
        expect_error(memory);
    }
}

TEST(AcpiMalformed, RootEntryPointsAtUnmappedMemory) {
    FakeMemory memory = Layout{}.build();
    Bytes& x = memory.region(XSDT_AT);
    set64(x, 36, 0xDEAD0000);
    seal_sdt(x);
    Bytes& r = memory.region(RSDT_AT);
    set32(r, 36, 0xDEAD0000);
    seal_sdt(r);
    expect_error(memory);
}

TEST(AcpiMalformed, RootEntryNearTheTopOfTheAddressSpace) {
    Layout layout;
    layout.rsdt = false;
    FakeMemory memory = layout.build();
    Bytes& x = memory.region(XSDT_AT);
    set64(x, 36, ~uint64_t{0} - 10);  // header would wrap past 2^64
    seal_sdt(x);
    expect_error(memory);
}

Bytes madt_with(const Bytes& entries) {
    Bytes body;
    put32(body, 0xFEE00000);
    put32(body, 1);
    body.insert(body.end(), entries.begin(), entries.end());
    return sdt("APIC", 3, body);
}

// The standard layout with a MADT of these entries fails to parse.
void expect_madt_refused(const Bytes& entries) {
    FakeMemory memory = Layout{}.build();
    memory.add(MADT_AT, madt_with(entries));
    expect_error(memory);
}

TEST(AcpiMadt, EntryWithZeroOrOneLengthIsRejected) {
    // Type 0x7F is one we do not decode: only the length check stands between it and a loop
    // that never advances.
    for (uint8_t type : {0x00, 0x7F})
        for (uint8_t length : {0, 1}) {
            SCOPED_TRACE(testing::Message() << "type " << int(type) << " length " << int(length));
            Bytes entries;
            lapic(entries, 0, 0, 1);
            put8(entries, type);
            put8(entries, length);
            put_str(entries, "\0\0\0\0\0\0", 6);
            expect_madt_refused(entries);
        }
}

TEST(AcpiMadt, EntryLongerThanTheTableIsRejected) {
    Bytes entries;
    lapic(entries, 0, 0, 1);
    put8(entries, 1);
    put8(entries, 255);  // an IO APIC claiming 255 bytes, with 10 left in the table
    put_str(entries, "\0\0\0\0\0\0\0\0\0\0", 10);
    expect_madt_refused(entries);
}

TEST(AcpiMadt, EntryShorterThanItsTypeIsRejected) {
    expect_madt_refused({0, 6, 0, 0, 1, 0});  // a local APIC needs 8 bytes
}

TEST(AcpiMadt, TrailingByteIsRejected) {
    Bytes entries;
    lapic(entries, 0, 0, 1);
    put8(entries, 0);
    expect_madt_refused(entries);
}

TEST(AcpiMadt, LongerEntriesAndUnknownTypesAreAccepted) {
    FakeMemory memory = Layout{}.build();
    Bytes entries = {0, 10, 7, 3, 1, 0, 0, 0, 0xEE, 0xEE};  // local APIC with 2 extra bytes
    Bytes gicc(80, 0);
    gicc[0] = 0x0B;  // a GIC CPU interface: not ours to decode
    gicc[1] = 80;
    entries.insert(entries.end(), gicc.begin(), gicc.end());
    memory.add(MADT_AT, madt_with(entries));
    PARSE_OK(a, memory);
    ASSERT_EQ(a.madt().cpus.size(), 1u);
    EXPECT_EQ(a.madt().cpus[0].apic_id, 3u);
    EXPECT_EQ(a.madt().cpus[0].processor_uid, 7u);
    EXPECT_EQ(a.madt().unknown_entries, 1u);
}

TEST(AcpiMadt, EmptyEntryList) {
    FakeMemory memory = Layout{}.build();
    memory.add(MADT_AT, madt_with({}));
    PARSE_OK(a, memory);
    EXPECT_TRUE(a.madt().present);
    EXPECT_EQ(a.madt().cpus.size(), 0u);
}

TEST(AcpiMadt, CpuFlagsX2ApicAndDuplicates) {
    FakeMemory memory = Layout{}.build();
    Bytes e;
    lapic(e, 0, 0, acpi::LOCAL_APIC_ENABLED);
    lapic(e, 1, 1, acpi::LOCAL_APIC_ONLINE_CAPABLE);  // hot-pluggable
    lapic(e, 2, 2, 0);                                // must be ignored
    lapic(e, 3, 0xFF, acpi::LOCAL_APIC_ENABLED);      // not an xAPIC id
    x2apic(e, 0, 0, acpi::LOCAL_APIC_ENABLED);        // same CPU as the first entry
    x2apic(e, 300, 300, acpi::LOCAL_APIC_ENABLED);
    lapic_override(e, 0xFEE10000);
    nmi_source(e, LEVEL_ACTIVE_HIGH, 23);
    Bytes x2nmi = {10, 12, 0x0F, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0};
    e.insert(e.end(), x2nmi.begin(), x2nmi.end());
    memory.add(MADT_AT, madt_with(e));

    PARSE_OK(a, memory);
    const auto& m = a.madt();
    ASSERT_EQ(m.cpus.size(), 3u);
    EXPECT_EQ(m.cpus[0].apic_id, 0u);
    EXPECT_FALSE(m.cpus[0].x2apic_entry);
    EXPECT_EQ(m.cpus[1].apic_id, 1u);
    EXPECT_FALSE(m.cpus[1].enabled);
    EXPECT_TRUE(m.cpus[1].online_capable);
    EXPECT_EQ(m.cpus[2].apic_id, 300u);
    EXPECT_EQ(m.cpus[2].processor_uid, 300u);
    EXPECT_TRUE(m.cpus[2].x2apic_entry);
    EXPECT_EQ(m.unusable_cpus, 2u);
    EXPECT_EQ(m.local_apic_address, 0xFEE10000u);
    EXPECT_TRUE(m.local_apic_address_overridden);
    ASSERT_EQ(m.nmi_sources.size(), 1u);
    EXPECT_EQ(m.nmi_sources[0].gsi, 23u);
    EXPECT_EQ(m.nmi_sources[0].trigger, acpi::TriggerMode::Level);
    ASSERT_EQ(m.local_apic_nmis.size(), 1u);
    EXPECT_EQ(m.local_apic_nmis[0].processor_uid, acpi::LocalApicNmi::ALL_PROCESSORS);
    EXPECT_EQ(m.local_apic_nmis[0].polarity, acpi::Polarity::ActiveLow);
    EXPECT_EQ(m.local_apic_nmis[0].trigger, acpi::TriggerMode::Level);
}

TEST(AcpiMadt, TooManyEntriesAreCountedNotFatal) {
    FakeMemory memory = Layout{}.build();
    Bytes e;
    for (uint32_t i = 0; i < 70; ++i) x2apic(e, i, i, acpi::LOCAL_APIC_ENABLED);
    for (uint8_t i = 0; i < 10; ++i) ioapic(e, i, 0xFEC00000 + i * 0x1000, i * 24u);
    for (uint8_t i = 0; i < 20; ++i) iso(e, i, i, 0);
    memory.add(MADT_AT, madt_with(e));
    PARSE_OK(a, memory);
    EXPECT_EQ(a.madt().cpus.size(), acpi::MAX_CPUS);
    EXPECT_EQ(a.madt().cpus.dropped(), 70 - acpi::MAX_CPUS);
    EXPECT_EQ(a.madt().io_apics.size(), acpi::MAX_IO_APICS);
    EXPECT_EQ(a.madt().io_apics.dropped(), 2u);
    EXPECT_EQ(a.madt().overrides.size(), acpi::MAX_INTERRUPT_OVERRIDES);
    EXPECT_EQ(a.madt().overrides.dropped(), 4u);
}

TEST(AcpiMadt, ActiveLowOverride) {
    FakeMemory memory = Layout{}.build();
    Bytes e;
    iso(e, 9, 20, 0x3 | (0x3 << 2));  // active low, level: the usual SCI on real hardware
    memory.add(MADT_AT, madt_with(e));
    PARSE_OK(a, memory);
    auto route = a.isa_irq_route(9);
    EXPECT_EQ(route.gsi, 20u);
    EXPECT_TRUE(route.active_low);
    EXPECT_TRUE(route.level_triggered);
}

// --- MCFG ------------------------------------------------------------------------------------

TEST(AcpiMcfg, SegmentsAndLimits) {
    Layout layout;
    layout.mcfg_segments.clear();
    for (uint16_t s = 0; s < 6; ++s) layout.mcfg_segments.push_back({0xE0000000ull + s * 0x10000000ull, s, 0, 63});
    FakeMemory memory = layout.build();
    PARSE_OK(a, memory);
    ASSERT_EQ(a.mcfg().segments.size(), acpi::MAX_MCFG_SEGMENTS);
    EXPECT_EQ(a.mcfg().segments.dropped(), 2u);
    EXPECT_EQ(a.mcfg().segments[3].segment_group, 3);
    EXPECT_EQ(a.mcfg().segments[3].base, 0x110000000ull);
    EXPECT_EQ(a.mcfg().segments[3].end_bus, 63);
}

TEST(AcpiMcfg, InvertedBusRangeIsRejected) {
    Layout layout;
    layout.mcfg_segments = {{0xB0000000, 0, 10, 5}};
    FakeMemory memory = layout.build();
    expect_error(memory);
}

TEST(AcpiMcfg, NoSegments) {
    Layout layout;
    layout.mcfg_segments.clear();
    FakeMemory memory = layout.build();
    PARSE_OK(a, memory);
    EXPECT_TRUE(a.mcfg().present);
    EXPECT_TRUE(a.mcfg().segments.empty());
}

// --- DSDT \_S5_ ------------------------------------------------------------------------------

acpi::SleepType s5_of(const Bytes& aml) {
    Layout layout;
    layout.aml = aml;
    FakeMemory memory = layout.build();
    auto result = acpi::Acpi::parse(RSDP_AT, memory);
    EXPECT_TRUE(result.is_ok());
    return result.is_ok() ? result.value().s5() : acpi::SleepType{};
}

TEST(AcpiS5, DsdtWithoutS5) {
    Layout layout;
    layout.aml = {0x10, 0x05, '_', 'S', 'B', '_', 0x00};
    FakeMemory memory = layout.build();
    PARSE_OK(a, memory);
    EXPECT_FALSE(a.s5().present);
    auto off = a.power_off();
    ASSERT_TRUE(off.is_error());
    EXPECT_EQ(off.error().code(), Errno::NotSup);
}

TEST(AcpiS5, EmptyDsdt) { EXPECT_FALSE(s5_of({}).present); }

TEST(AcpiS5, ReferenceIsNotADefinition) {
    EXPECT_FALSE(s5_of({0x70, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0x01}).present);
}

TEST(AcpiS5, ElementEncodings) {
    struct Case {
        const char* name;
        Bytes elements;
        uint8_t count;
        uint8_t a;
        uint8_t b;
    };
    std::vector<Case> cases = {
        {"zero/one", {0x00, 0x01}, 2, 0, 1},
        {"one/zero", {0x01, 0x00}, 2, 1, 0},
        {"byte prefix", {0x0A, 0x07, 0x0A, 0x06, 0x00, 0x00}, 4, 7, 6},
        {"word prefix", {0x0B, 0x05, 0x00, 0x0B, 0x03, 0x00}, 2, 5, 3},
        {"dword prefix", {0x0C, 0x05, 0x00, 0x00, 0x00, 0x0A, 0x02}, 2, 5, 2},
        {"qword prefix", {0x0E, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x00}, 2, 4, 0},
        {"ones op is masked", {0xFF, 0x0A, 0x0D}, 2, 7, 5},
        {"one element packs a and b", {0x0B, 0x05, 0x03}, 1, 5, 3},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        acpi::SleepType s5 = s5_of(s5_package(c.count, c.elements));
        ASSERT_TRUE(s5.present);
        EXPECT_EQ(s5.slp_typ_a, c.a);
        EXPECT_EQ(s5.slp_typ_b, c.b);
    }
}

TEST(AcpiS5, RootPrefixedNameAndMultiBytePackageLength) {
    // Name (\_S5_, Package (4) {...}) with a two-byte PkgLength (0x40 | low nibble, high byte).
    Bytes aml = {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x49, 0x00, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00};
    acpi::SleepType s5 = s5_of(aml);
    ASSERT_TRUE(s5.present);
    EXPECT_EQ(s5.slp_typ_a, 5);
    EXPECT_EQ(s5.slp_typ_b, 5);
}

TEST(AcpiS5, UnsupportedOrEmptyPackages) {
    EXPECT_FALSE(s5_of(s5_package(0, {})).present);
    EXPECT_FALSE(s5_of(s5_package(2, {'A', 'B', 'C', 'D', 0x00})).present);  // a name
    EXPECT_FALSE(s5_of({0x08, '_', 'S', '5', '_', 0x0A, 0x05}).present);     // not a package
}

TEST(AcpiS5, MalformedFirstDefinitionThenGoodOne) {
    Bytes aml = {0x08, '_', 'S', '5', '_', 0x12, 0x7F, 0x02};  // PkgLength runs far past the end
    Bytes good = s5_package(2, {0x0A, 0x03, 0x0A, 0x04});
    aml.insert(aml.end(), good.begin(), good.end());
    acpi::SleepType s5 = s5_of(aml);
    ASSERT_TRUE(s5.present);
    EXPECT_EQ(s5.slp_typ_a, 3);
    EXPECT_EQ(s5.slp_typ_b, 4);
}

TEST(AcpiS5, TruncatedAtEveryByte) {
    Bytes full = {0x08, '_',  'S',  '5',  '_',  0x12, 0x4D, 0x00, 0x04, 0x0C,
                  0x05, 0x00, 0x00, 0x00, 0x0B, 0x05, 0x00, 0x00, 0x00};
    ASSERT_TRUE(s5_of(full).present);
    for (size_t len = 0; len < full.size(); ++len) {
        SCOPED_TRACE(len);
        Bytes cut(full.begin(), full.begin() + len);
        EXPECT_FALSE(s5_of(cut).present);
    }
}

TEST(AcpiS5, PackageLengthShorterThanItsContents) {
    // PkgLength says 3 bytes (itself, NumElements, one byte): the elements lie outside it.
    EXPECT_FALSE(s5_of({0x08, '_', 'S', '5', '_', 0x12, 0x03, 0x02, 0x0A, 0x05, 0x0A}).present);
    EXPECT_FALSE(s5_of({0x08, '_', 'S', '5', '_', 0x12, 0x00, 0x02, 0x01, 0x01}).present);
}

// --- Power-off ------------------------------------------------------------------------------

TEST(AcpiPowerOff, WithPm1bBlock) {
    Layout layout;
    layout.fadt.pm1b_cnt = 0x704;
    layout.fadt.x_pm1b_cnt = 0x704;
    layout.aml = s5_package(4, {0x0A, 0x07, 0x0A, 0x05, 0x00, 0x00});
    FakeMemory memory = layout.build();
    PARSE_OK(a, memory);
    auto off = a.power_off();
    ASSERT_TRUE(off.is_ok());
    EXPECT_EQ(off.value().pm1a_control.address, 0x604u);
    EXPECT_EQ(off.value().pm1a_value, 0x3C00);
    ASSERT_TRUE(off.value().pm1b_control.present());
    EXPECT_EQ(off.value().pm1b_control.address, 0x704u);
    EXPECT_EQ(off.value().pm1b_value, 0x3400);
    // SCI_EN (bit 0) survives, an old SLP_TYP does not.
    EXPECT_EQ(acpi::PowerOff::merge(0x1C01, off.value().pm1b_value), 0x3401);
}

TEST(AcpiPowerOff, LegacyPortUsedWhenExtendedFieldIsZero) {
    Layout layout;
    layout.fadt.x_pm1a_cnt = 0;
    layout.fadt.pm1a_cnt = 0x404;
    FakeMemory memory = layout.build();
    PARSE_OK(a, memory);
    auto off = a.power_off();
    ASSERT_TRUE(off.is_ok());
    EXPECT_EQ(off.value().pm1a_control.address, 0x404u);
    EXPECT_EQ(off.value().pm1a_control.space, acpi::AddressSpace::SystemIo);
}

TEST(AcpiPowerOff, RefusedOnHardwareReducedOrBadPort) {
    {
        Layout layout;
        layout.fadt.flags |= acpi::FADT_FLAG_HW_REDUCED_ACPI;
        FakeMemory memory = layout.build();
        PARSE_OK(a, memory);
        auto off = a.power_off();
        ASSERT_TRUE(off.is_error());
        EXPECT_EQ(off.error().code(), Errno::NotSup);
    }
    {
        Layout layout;
        layout.fadt.x_pm1a_cnt = 0x10004;  // an I/O port that does not exist
        FakeMemory memory = layout.build();
        PARSE_OK(a, memory);
        auto off = a.power_off();
        ASSERT_TRUE(off.is_error());
        EXPECT_EQ(off.error().code(), Errno::Inval);
    }
    {
        Layout layout;
        layout.fadt.x_pm1a_cnt = 0;
        layout.fadt.pm1a_cnt = 0;
        FakeMemory memory = layout.build();
        PARSE_OK(a, memory);
        auto off = a.power_off();
        ASSERT_TRUE(off.is_error());
        EXPECT_EQ(off.error().code(), Errno::NotSup);
    }
}

// --- Fuzzing ---------------------------------------------------------------------------------

// Flips random bytes of a valid layout and checks only that the parser returns. Half of the
// mutants get their checksums repaired, so that the mutations reach the table decoders instead
// of all stopping at checksum validation.
size_t fuzz_byte_flips(const FakeMemory& base, uint64_t rsdp_at, uint64_t seed, int iterations) {
    std::mt19937_64 rng(seed);
    size_t parsed_ok = 0;
    for (int iteration = 0; iteration < iterations; ++iteration) {
        FakeMemory memory = base;
        auto& regions = memory.regions();
        int flips = 1 + int(rng() % 4);
        for (int f = 0; f < flips; ++f) {
            auto it = regions.begin();
            std::advance(it, rng() % regions.size());
            Bytes& bytes = it->second;
            // Bias toward the length field, the one that steers the parser most.
            size_t at = (rng() % 3 == 0) ? 4 + rng() % 4 : rng() % bytes.size();
            at %= bytes.size();
            bytes[at] = (rng() % 2) ? uint8_t(rng()) : uint8_t(bytes[at] ^ (1u << (rng() % 8)));
        }
        if (rng() % 2) {
            for (auto& [phys, bytes] : regions) {
                if (phys == rsdp_at)
                    seal_rsdp(bytes);
                else
                    seal_sdt(bytes);
            }
        }
        auto result = acpi::Acpi::parse(rsdp_at, memory);
        if (result.is_ok()) {
            ++parsed_ok;
            const acpi::Acpi& a = result.value();
            EXPECT_LE(a.madt().cpus.size(), acpi::MAX_CPUS);
            EXPECT_LE(a.mcfg().segments.size(), acpi::MAX_MCFG_SEGMENTS);
            (void)a.power_off();
            (void)a.isa_irq_route(uint8_t(rng()));
        } else {
            EXPECT_EQ(result.error().code(), Errno::Inval);
        }
        EXPECT_LT(memory.map_calls(), 1000u);  // no runaway loop of mappings
    }
    return parsed_ok;
}

TEST(AcpiFuzz, RandomByteFlips) {
    Layout layout;
    x2apic(layout.madt_entries, 9, 400, 1);
    nmi_source(layout.madt_entries, 0, 3);
    lapic_override(layout.madt_entries, 0xFEE00000);
    size_t parsed_ok = fuzz_byte_flips(layout.build(), RSDP_AT, 0x1A417A, 4000);
    // If nothing ever parsed, the mutations were too destructive to exercise the decoders.
    EXPECT_GT(parsed_ok, 400u);
}

// The same for the AML scan alone, with every kind of package header and element mangled.
TEST(AcpiFuzz, S5Package) {
    std::mt19937_64 rng(0x55);
    Bytes base = {0x08, '_',  'S',  '5',  '_',  0x12, 0x4E, 0x00, 0x04, 0x0C,
                  0x05, 0x00, 0x00, 0x00, 0x0B, 0x05, 0x00, 0x0A, 0x00, 0x00};
    for (int iteration = 0; iteration < 2000; ++iteration) {
        Bytes aml = base;
        aml.resize(rng() % (base.size() + 1));
        for (int f = 0; f < 3 && aml.size() > 5; ++f) aml[5 + rng() % (aml.size() - 5)] = uint8_t(rng());
        acpi::SleepType s5 = s5_of(aml);
        if (s5.present) {
            EXPECT_LE(s5.slp_typ_a, 7);
            EXPECT_LE(s5.slp_typ_b, 7);
        }
    }
}

// Cut every table short of its declared length: the mapper refuses the long range, and the
// parser must fail rather than read the bytes that are not there.
TEST(AcpiFuzz, TruncatedRegions) {
    Layout layout;
    layout.rsdt = false;
    const FakeMemory base = layout.build();
    std::mt19937_64 rng(7);
    for (uint64_t at : {RSDP_AT, XSDT_AT, FADT_AT, MADT_AT, HPET_AT, MCFG_AT, DSDT_AT}) {
        size_t size = FakeMemory(base).region(at).size();
        for (size_t keep = 0; keep < size; keep += 1 + rng() % 5) {
            SCOPED_TRACE(testing::Message() << std::hex << at << " keep " << std::dec << keep);
            FakeMemory memory = base;
            memory.resize(at, keep);
            expect_error(memory);
        }
    }
}

}  // namespace

// --- DMAR (Intel VT-d) -----------------------------------------------------------------------

TEST(AcpiDmar, AbsentWithoutTheTable) {
    FakeMemory memory = Layout{}.build();
    PARSE_OK(a, memory);
    EXPECT_FALSE(a.dmar().present);
}

TEST(AcpiDmar, UnitsScopesAndReservedRegions) {
    Layout l;
    l.dmar = dmar_body();
    FakeMemory memory = l.build();
    PARSE_OK(a, memory);
    const auto& d = a.dmar();
    ASSERT_TRUE(d.present);
    EXPECT_EQ(d.host_address_width, 38);
    ASSERT_EQ(d.units.size(), 1u);
    const auto& u = d.units[0];
    EXPECT_EQ(u.register_base, 0xFED90000u);
    EXPECT_EQ(u.register_pages, 1u);
    EXPECT_FALSE(u.include_pci_all);
    ASSERT_EQ(u.scopes.size(), 3u);
    EXPECT_EQ(u.scopes[0].type, acpi::DmarScopeType::IoApic);
    EXPECT_EQ(u.scopes[1].type, acpi::DmarScopeType::PciEndpoint);
    EXPECT_EQ(u.scopes[1].start_bus, 0);
    EXPECT_EQ(u.scopes[1].path_length, 1);
    EXPECT_EQ(u.scopes[1].path[0].device, 1);
    EXPECT_EQ(u.scopes[2].path[0].device, 2);
    ASSERT_EQ(d.rmrrs.size(), 1u);
    EXPECT_EQ(d.rmrrs[0].base, 0x7E000000u);
    EXPECT_EQ(d.rmrrs[0].limit, 0x7E0FFFFFu);
    ASSERT_EQ(d.rmrrs[0].scopes.size(), 1u);
    EXPECT_EQ(d.rmrrs[0].scopes[0].path[0].device, 0x1D);
}

TEST(AcpiDmar, IncludePciAll) {
    Layout l;
    l.dmar = dmar_body(acpi::DRHD_FLAG_INCLUDE_PCI_ALL);
    FakeMemory memory = l.build();
    PARSE_OK(a, memory);
    ASSERT_EQ(a.dmar().units.size(), 1u);
    EXPECT_TRUE(a.dmar().units[0].include_pci_all);
}

TEST(AcpiDmar, MalformedEntriesFailTheParse) {
    // A register base that is not page aligned.
    Layout unaligned;
    unaligned.dmar = dmar_body(0, 0xFED90010);
    FakeMemory m1 = unaligned.build();
    expect_error(m1);
    // A device scope longer than its DRHD: byte 16 of the body is the DRHD's length.
    Layout overlong;
    overlong.dmar = dmar_body();
    overlong.dmar[12 + 2] = 100;
    FakeMemory m2 = overlong.build();
    expect_error(m2);
    // A scope whose length leaves half a path entry.
    Layout odd;
    odd.dmar = dmar_body();
    odd.dmar[12 + 16 + 1] = 7;
    FakeMemory m3 = odd.build();
    expect_error(m3);
}
