// Host tests for BAR decoding and sizing, the capability walk and the log line
// (kernel/dev/pci/function.*), over a fake configuration space whose BARs behave like hardware.
#include "kernel/dev/pci/function.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/pci_fake_config.h"

namespace lamina::pci {
namespace {

using test::FakeConfigSpace;

constexpr Address DEV{0, 0, 1, 0};

class PciDecode : public ::testing::Test {
protected:
    FakeConfigSpace cs;
    FunctionInfo info;

    void SetUp() override {
        auto& f = cs.add(DEV, 0x1b36, 0x0010, 0x01, 0x08, 0x02);
        FakeConfigSpace::put16(f, COMMAND, COMMAND_MEMORY_SPACE | COMMAND_IO_SPACE | COMMAND_BUS_MASTER);
    }
    void read() { ASSERT_TRUE(read_function(cs, DEV, info)); }
    uint32_t raw32(uint16_t off) { return cs.read32(DEV, off); }
};

TEST_F(PciDecode, AbsentFunctionIsNotRead) {
    EXPECT_FALSE(read_function(cs, Address{0, 0, 2, 0}, info));
    EXPECT_EQ(info.vendor, NO_VENDOR);
}

// The interface refuses unaligned and out-of-range accesses before any mechanism sees them:
// reads are all ones of the access's width, writes are dropped.
TEST_F(PciDecode, InvalidAccessesNeverReachTheMechanism) {
    FakeConfigSpace small(256);
    small.add(DEV, 0x1b36, 0x0010, 0x01, 0x08, 0x02);
    EXPECT_EQ(small.read16(DEV, VENDOR_ID), 0x1b36);
    unsigned reads = small.reads;
    EXPECT_EQ(small.read16(DEV, 1), 0xFFFFu);
    EXPECT_EQ(small.read32(DEV, 2), 0xFFFFFFFFu);
    EXPECT_EQ(small.read8(DEV, 256), 0xFFu);
    EXPECT_EQ(small.read32(DEV, 254), 0xFFFFFFFFu);
    EXPECT_EQ(small.reads, reads);
    small.write16(DEV, COMMAND + 1, 0xFFFF);
    small.write32(DEV, 256, 0xFFFFFFFF);
    EXPECT_EQ(small.read16(DEV, COMMAND), 0);
    // A valid access to a function that is not there reads as all ones of its width.
    EXPECT_EQ(small.read8(Address{0, 0, 9, 0}, 0), 0xFFu);
    EXPECT_EQ(small.read16(Address{0, 0, 9, 0}, 0), 0xFFFFu);
}

TEST_F(PciDecode, IdentityAndClass) {
    auto& f = cs.at(DEV);
    f.bytes[REVISION_ID] = 2;
    f.bytes[INTERRUPT_LINE] = 11;
    f.bytes[INTERRUPT_PIN] = 1;
    read();
    EXPECT_EQ(info.vendor, 0x1b36);
    EXPECT_EQ(info.device, 0x0010);
    EXPECT_EQ(info.class_code, 0x01);
    EXPECT_EQ(info.subclass, 0x08);
    EXPECT_EQ(info.prog_if, 0x02);
    EXPECT_EQ(info.revision, 2);
    EXPECT_EQ(info.interrupt_line, 11);
    EXPECT_EQ(info.interrupt_pin, 1);
    EXPECT_EQ(info.bar_count, 6u);
    EXPECT_FALSE(info.multifunction);
    EXPECT_EQ(info.problems, 0u);
}

TEST_F(PciDecode, Memory32Bar) {
    cs.mem_bar(DEV, 0, 0xfebf1000, 0x1000, false, false);
    read();
    EXPECT_EQ(info.bars[0].kind, BarKind::Mem32);
    EXPECT_EQ(info.bars[0].address, 0xfebf1000u);
    EXPECT_EQ(info.bars[0].size, 0x1000u);
    EXPECT_FALSE(info.bars[0].prefetchable);
    for (unsigned i = 1; i < 6; i++) EXPECT_EQ(info.bars[i].kind, BarKind::None) << i;
}

TEST_F(PciDecode, Memory64BarSpansTwoRegisters) {
    cs.mem_bar(DEV, 0, 0xfebf0000, 0x4000, true, false);
    cs.mem_bar(DEV, 2, 0x80'0000'0000, 0x2'0000'0000, true, true);  // 8 GiB above 4 GiB
    read();
    EXPECT_EQ(info.bars[0].kind, BarKind::Mem64);
    EXPECT_EQ(info.bars[0].address, 0xfebf0000u);
    EXPECT_EQ(info.bars[0].size, 0x4000u);
    EXPECT_EQ(info.bars[1].kind, BarKind::None);
    EXPECT_EQ(info.bars[2].kind, BarKind::Mem64);
    EXPECT_TRUE(info.bars[2].prefetchable);
    EXPECT_EQ(info.bars[2].address, 0x80'0000'0000u);
    EXPECT_EQ(info.bars[2].size, 0x2'0000'0000u);
    EXPECT_EQ(info.bars[3].kind, BarKind::None);
}

TEST_F(PciDecode, IoBars) {
    cs.io_bar(DEV, 0, 0xc000, 0x20);  // 16-bit decoder, upper half hardwired to 0
    cs.io_bar(DEV, 1, 0xc040, 0x40, /*decode16=*/false);
    read();
    EXPECT_EQ(info.bars[0].kind, BarKind::Io);
    EXPECT_EQ(info.bars[0].address, 0xc000u);
    EXPECT_EQ(info.bars[0].size, 0x20u);
    EXPECT_EQ(info.bars[1].kind, BarKind::Io);
    EXPECT_EQ(info.bars[1].size, 0x40u);
}

TEST_F(PciDecode, SizingRestoresBarsAndCommandAndNeverWritesWhileDecoding) {
    cs.mem_bar(DEV, 0, 0xfebf0000, 0x4000, true, false);
    cs.io_bar(DEV, 2, 0xc000, 0x20);
    cs.mem_bar(DEV, 3, 0xfe000000, 0x100000, false, true);
    uint32_t before[6];
    for (unsigned i = 0; i < 6; i++) before[i] = raw32(uint16_t(BAR0 + 4 * i));
    uint16_t command = cs.read16(DEV, COMMAND);
    read();
    for (unsigned i = 0; i < 6; i++) EXPECT_EQ(raw32(uint16_t(BAR0 + 4 * i)), before[i]) << i;
    EXPECT_EQ(cs.read16(DEV, COMMAND), command);
    EXPECT_EQ(cs.bar_writes_while_decoding, 0u);
}

TEST_F(PciDecode, SizeThatIsNotAPowerOfTwoIsAProblemNotABar) {
    cs.raw_bar(DEV, 0, 0xfe000000, 0xFFF0F000);  // a hole in the size mask
    cs.mem_bar(DEV, 1, 0xfe100000, 0x1000, false, false);
    read();
    EXPECT_EQ(info.bars[0].kind, BarKind::None);
    EXPECT_TRUE(info.problems & PROBLEM_BAR_SIZE_NOT_POWER_OF_TWO);
    EXPECT_EQ(info.bad_bars, 1u);
    EXPECT_EQ(info.bars[1].kind, BarKind::Mem32);  // the next BAR is still decoded
}

TEST_F(PciDecode, Bar64InLastSlotIsAProblem) {
    cs.raw_bar(DEV, 5, 0xfe000000 | BAR_MEM_TYPE64, 0xFFFFF000);
    read();
    EXPECT_EQ(info.bars[5].kind, BarKind::None);
    EXPECT_TRUE(info.problems & PROBLEM_BAR64_IN_LAST_SLOT);
}

TEST_F(PciDecode, ReservedMemoryTypeIsAProblem) {
    cs.raw_bar(DEV, 0, 0xfe000000 | 0x6, 0xFFFFF000);
    read();
    EXPECT_EQ(info.bars[0].kind, BarKind::None);
    EXPECT_TRUE(info.problems & PROBLEM_BAR_RESERVED_TYPE);
}

TEST_F(PciDecode, UnimplementedBarsAreNone) {
    cs.raw_bar(DEV, 0, 0, 0);
    read();
    for (unsigned i = 0; i < 6; i++) EXPECT_EQ(info.bars[i].kind, BarKind::None);
    EXPECT_EQ(info.problems, 0u);
}

TEST_F(PciDecode, BridgeHasTwoBarsAndBusNumbers) {
    Address b{0, 0, 2, 0};
    auto& f = cs.add(b, 0x1b36, 0x000c, 0x06, 0x04, 0x00, HEADER_BRIDGE);
    f.bytes[SECONDARY_BUS] = 1;
    f.bytes[SUBORDINATE_BUS] = 3;
    cs.mem_bar(b, 0, 0xfe800000, 0x1000, false, false);
    // Offsets 0x18 onward are bus numbers, not BARs: a sizing write there would be a bug.
    f.writable[0x18 / 4] = 0xFFFFFFFF;
    ASSERT_TRUE(read_function(cs, b, info));
    EXPECT_EQ(info.bar_count, 2u);
    EXPECT_EQ(info.secondary_bus, 1);
    EXPECT_EQ(info.subordinate_bus, 3);
    EXPECT_EQ(cs.read8(b, SECONDARY_BUS), 1);
    EXPECT_EQ(info.bars[0].size, 0x1000u);
}

TEST_F(PciDecode, UnknownHeaderTypeKeepsIdentityOnly) {
    Address b{0, 0, 3, 0};
    cs.add(b, 0x1234, 0x5678, 0xff, 0, 0, 0x05);
    ASSERT_TRUE(read_function(cs, b, info));
    EXPECT_TRUE(info.problems & PROBLEM_UNKNOWN_HEADER_TYPE);
    EXPECT_EQ(info.bar_count, 0u);
    EXPECT_EQ(info.vendor, 0x1234);
}

// MSI-X with 65 vectors, table in BAR0 at 0x2000, PBA at 0x3000 (QEMU's NVMe layout).
void add_nvme_like_msix(FakeConfigSpace& cs) {
    cs.mem_bar(DEV, 0, 0xfebf0000, 0x4000, true, false);
    cs.capability(DEV, 0x40, uint8_t(CapabilityId::MsiX), {64, 0x00, 0x00, 0x20, 0, 0, 0x00, 0x30, 0, 0});
    cs.capability(DEV, 0x80, uint8_t(CapabilityId::PciExpress), {0x02, 0x00});
    cs.capability(DEV, 0x60, uint8_t(CapabilityId::PowerManagement), {0x03, 0x00});
}

TEST_F(PciDecode, CapabilitiesAreWalkedAndMsixDecoded) {
    add_nvme_like_msix(cs);
    read();
    ASSERT_EQ(info.capability_count, 3u);
    EXPECT_EQ(info.capabilities[0].id, uint8_t(CapabilityId::MsiX));
    EXPECT_EQ(info.capabilities[0].offset, 0x40);
    EXPECT_EQ(info.capabilities[1].id, uint8_t(CapabilityId::PciExpress));
    EXPECT_EQ(info.capabilities[2].offset, 0x60);
    EXPECT_TRUE(info.has_capability(CapabilityId::PowerManagement));
    EXPECT_FALSE(info.has_capability(CapabilityId::Msi));
    ASSERT_TRUE(info.msix.present);
    EXPECT_EQ(info.msix.offset, 0x40);
    EXPECT_EQ(info.msix.table_size, 65);
    EXPECT_EQ(info.msix.table_bar, 0);
    EXPECT_EQ(info.msix.table_offset, 0x2000u);
    EXPECT_EQ(info.msix.pba_bar, 0);
    EXPECT_EQ(info.msix.pba_offset, 0x3000u);
    ASSERT_TRUE(info.pcie.present);
    EXPECT_EQ(info.pcie.port_type, 0);
    EXPECT_EQ(info.problems, 0u);
}

TEST_F(PciDecode, MsiCapability) {
    // 64-bit, per-vector masking, 8 vectors requested (log2 = 3).
    cs.capability(DEV, 0x50, uint8_t(CapabilityId::Msi), {uint8_t(3 << 1 | 0x80), 0x01});
    read();
    ASSERT_TRUE(info.msi.present);
    EXPECT_EQ(info.msi.offset, 0x50);
    EXPECT_TRUE(info.msi.is_64bit);
    EXPECT_TRUE(info.msi.per_vector_mask);
    EXPECT_EQ(info.msi.vectors, 8);
}

TEST_F(PciDecode, NoCapabilitiesWithoutTheStatusBit) {
    cs.at(DEV).bytes[CAPABILITIES_POINTER] = 0x40;
    cs.at(DEV).bytes[0x40] = uint8_t(CapabilityId::Msi);
    read();
    EXPECT_EQ(info.capability_count, 0u);
    EXPECT_FALSE(info.msi.present);
}

TEST_F(PciDecode, CapabilityLoopIsCutAndReported) {
    cs.capability(DEV, 0x40, uint8_t(CapabilityId::PowerManagement));
    cs.capability(DEV, 0x50, uint8_t(CapabilityId::Msi));
    cs.at(DEV).bytes[0x51] = 0x40;  // back to the first
    read();
    EXPECT_EQ(info.capability_count, 2u);
    EXPECT_TRUE(info.problems & PROBLEM_CAP_LOOP);
    EXPECT_EQ(info.bad_cap_pointer, 0x40);
}

TEST_F(PciDecode, CapabilityPointingToItselfIsALoop) {
    cs.capability(DEV, 0x40, uint8_t(CapabilityId::VendorSpecific));
    cs.at(DEV).bytes[0x41] = 0x40;
    read();
    EXPECT_EQ(info.capability_count, 1u);
    EXPECT_TRUE(info.problems & PROBLEM_CAP_LOOP);
}

TEST_F(PciDecode, CapabilityPointerIntoTheHeader) {
    cs.capability(DEV, 0x40, uint8_t(CapabilityId::PowerManagement));
    cs.at(DEV).bytes[0x41] = 0x10;  // the BARs
    read();
    EXPECT_EQ(info.capability_count, 1u);
    EXPECT_TRUE(info.problems & PROBLEM_CAP_POINTER_INTO_HEADER);
    EXPECT_EQ(info.bad_cap_pointer, 0x10);
}

TEST_F(PciDecode, MisalignedCapabilityPointer) {
    cs.at(DEV).bytes[STATUS] |= STATUS_CAPABILITIES_LIST;
    cs.at(DEV).bytes[CAPABILITIES_POINTER] = 0x42;
    read();
    EXPECT_EQ(info.capability_count, 0u);
    EXPECT_TRUE(info.problems & PROBLEM_CAP_POINTER_MISALIGNED);
}

TEST_F(PciDecode, LongestLegalListIsWalkedAndOneMoreIsALoop) {
    // 48 vendor-specific entries fill 0x40-0xFC exactly: legal, though more than we record.
    auto& f = cs.at(DEV);
    f.bytes[STATUS] |= STATUS_CAPABILITIES_LIST;
    f.bytes[CAPABILITIES_POINTER] = 0x40;
    for (unsigned off = 0x40; off <= 0xFC; off += 4) {
        f.bytes[off] = uint8_t(CapabilityId::VendorSpecific);
        f.bytes[off + 1] = off == 0xFC ? 0 : uint8_t(off + 4);
    }
    read();
    EXPECT_EQ(info.capability_count, MAX_RECORDED_CAPABILITIES);
    EXPECT_TRUE(info.problems & PROBLEM_CAP_TOO_MANY_TO_RECORD);
    EXPECT_FALSE(info.problems & PROBLEM_CAP_LOOP);

    f.bytes[0xFD] = 0x40;  // close the ring
    read();
    EXPECT_TRUE(info.problems & PROBLEM_CAP_LOOP);
}

TEST_F(PciDecode, DuplicateMsixCapabilityUsesTheFirst) {
    add_nvme_like_msix(cs);
    cs.capability(DEV, 0xA0, uint8_t(CapabilityId::MsiX), {0, 0, 0x01, 0, 0, 0, 0x01, 0, 0, 0});
    read();
    EXPECT_EQ(info.msix.table_size, 65);
    EXPECT_TRUE(info.problems & PROBLEM_CAP_DUPLICATE);
}

TEST_F(PciDecode, MsixTableOutsideItsBar) {
    cs.mem_bar(DEV, 0, 0xfebf0000, 0x1000, false, false);
    // 65 entries at 0xC00 need 0x410 bytes: past the 4 KiB BAR. The PBA names BAR 4, absent.
    cs.capability(DEV, 0x40, uint8_t(CapabilityId::MsiX), {64, 0, 0x00, 0x0C, 0, 0, 0x04, 0, 0, 0});
    read();
    ASSERT_TRUE(info.msix.present);
    EXPECT_TRUE(info.problems & PROBLEM_MSIX_TABLE_OUTSIDE_BAR);
    EXPECT_TRUE(info.problems & PROBLEM_MSIX_PBA_OUTSIDE_BAR);
}

TEST_F(PciDecode, DescribeNvme) {
    add_nvme_like_msix(cs);
    read();
    char line[160];
    size_t n = describe(info, line, sizeof line);
    EXPECT_EQ(std::string(line),
              "00:01.0 1b36:0010 class 01.08.02 nvme BAR0 mem64 0xfebf0000 16 KiB, MSI-X 65 vectors");
    EXPECT_EQ(n, strlen(line));
}

TEST_F(PciDecode, DescribeTruncatesSafely) {
    add_nvme_like_msix(cs);
    cs.io_bar(DEV, 2, 0xc000, 0x20);
    read();
    char full[200];
    size_t n = describe(info, full, sizeof full);
    EXPECT_NE(std::string(full).find("BAR2 io 0xc000 32 B"), std::string::npos) << full;
    char small[20];
    EXPECT_EQ(describe(info, small, sizeof small), n);
    EXPECT_EQ(std::string(small), std::string(full, sizeof small - 1));
}

TEST_F(PciDecode, ProblemNamesCoverEveryBit) {
    for (unsigned i = 0; i < PROBLEM_COUNT; i++) EXPECT_STRNE(problem_name(1u << i), "unknown problem") << i;
}

}  // namespace
}  // namespace lamina::pci
