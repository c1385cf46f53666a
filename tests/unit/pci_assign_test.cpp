// Host tests for BAR assignment (kernel/dev/pci/assign.*): the top-down allocator around taken
// ranges, and assign_bars writing the registers of unassigned BARs on the root bus only.
#include "kernel/dev/pci/assign.h"

#include <gtest/gtest.h>

#include "kernel/dev/pci/enumerate.h"
#include "tests/unit/pci_fake_config.h"

namespace lamina::pci {
namespace {

using test::FakeConfigSpace;

TEST(PciAddressAllocator, TopDownAlignedAndAroundReservations) {
    AddressAllocator a(0xC0000000, 0xFEC00000);
    uint64_t at = 0;
    ASSERT_TRUE(a.allocate(0x4000, at));
    EXPECT_EQ(at, 0xFEBFC000u);
    ASSERT_TRUE(a.reserve(0xFE000000, 0xBFC000));  // everything up to the first block
    ASSERT_TRUE(a.allocate(0x1000, at));
    EXPECT_EQ(at, 0xFDFFF000u);
    ASSERT_TRUE(a.allocate(0x100000, at));
    EXPECT_EQ(at, 0xFDE00000u);
    EXPECT_EQ(at % 0x100000, 0u);
}

TEST(PciAddressAllocator, RefusesWhatDoesNotFit) {
    AddressAllocator a(0xC000, 0x10000);
    uint64_t at = 0;
    EXPECT_FALSE(a.allocate(0x8000, at));  // 0x8000-aligned block would start below the window
    EXPECT_FALSE(a.allocate(0x30, at));    // not a power of two
    EXPECT_FALSE(a.allocate(0, at));
    ASSERT_TRUE(a.reserve(0xC000, 0x4000));
    EXPECT_FALSE(a.allocate(0x20, at));
}

TEST(PciAssign, UnassignedRootBusBarsGetAddressesAndRegistersAreWritten) {
    FakeConfigSpace cs;
    Address nvme{0, 0, 1, 0}, net{0, 0, 2, 0}, behind{0, 1, 0, 0};
    cs.add(nvme, 0x1b36, 0x0010, 0x01, 0x08, 0x02);
    cs.mem_bar(nvme, 0, 0, 0x4000, true, false);
    cs.add(net, 0x1af4, 0x1000, 0x02, 0x00, 0);
    cs.io_bar(net, 0, 0, 0x20);
    cs.mem_bar(net, 1, 0xFEBFF000, 0x1000, false, false);  // the firmware placed this one
    auto& bridge = cs.add({0, 0, 3, 0}, 0x1b36, 0x000c, 0x06, 0x04, 0, HEADER_BRIDGE);
    bridge.bytes[SECONDARY_BUS] = 1;
    bridge.bytes[SUBORDINATE_BUS] = 1;
    cs.add(behind, 0x1234, 0x0001, 0x02, 0x00, 0);
    cs.mem_bar(behind, 0, 0, 0x1000, false, false);
    FakeConfigSpace::put16(cs.at(nvme), COMMAND, COMMAND_MEMORY_SPACE);

    FunctionInfo table[8];
    auto e = enumerate(cs, BusRange{}, table, 8);
    ASSERT_EQ(e.found, 4u);
    AddressAllocator mem(0xC0000000, 0xFEC00000), io(0xC000, 0x10000);
    auto r = assign_bars(cs, table, e.found, 0, mem, io);
    EXPECT_EQ(r.assigned, 2u);
    EXPECT_EQ(r.failed, 1u);
    EXPECT_EQ(table[0].bars[0].address, 0xFEBF8000u);  // below the firmware's 0xFEBFF000 page
    EXPECT_EQ(cs.read32(nvme, BAR0), 0xFEBF8000u | BAR_MEM_TYPE64);
    EXPECT_EQ(cs.read32(nvme, BAR0 + 4), 0u);
    EXPECT_EQ(cs.read16(nvme, COMMAND), COMMAND_MEMORY_SPACE);  // restored
    EXPECT_EQ(cs.bar_writes_while_decoding, 0u);
    EXPECT_EQ(table[1].bars[0].address, 0xFFE0u);
    EXPECT_EQ(cs.read32(net, BAR0), 0xFFE0u | BAR_IO_SPACE);
    EXPECT_EQ(table[1].bars[1].address, 0xFEBFF000u);
    EXPECT_TRUE(table[3].problems & PROBLEM_BAR_UNASSIGNED);
    EXPECT_EQ(table[3].bars[0].address, 0u);
}

}  // namespace
}  // namespace lamina::pci
