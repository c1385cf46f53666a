// Host tests for bus enumeration (kernel/dev/pci/enumerate.*): multi-function devices,
// following bridges, and bridges that point backwards or out of range.
#include "kernel/dev/pci/enumerate.h"

#include <gtest/gtest.h>

#include "tests/unit/pci_fake_config.h"

namespace lamina::pci {
namespace {

using test::FakeConfigSpace;

class PciEnumerate : public ::testing::Test {
protected:
    FakeConfigSpace cs;
    FunctionInfo table[8];

    FakeConfigSpace::Function& bridge(Address a, uint8_t secondary, uint8_t subordinate) {
        auto& f = cs.add(a, 0x1b36, 0x000c, 0x06, 0x04, 0, HEADER_BRIDGE);
        f.bytes[SECONDARY_BUS] = secondary;
        f.bytes[SUBORDINATE_BUS] = subordinate;
        return f;
    }
    bool scanned_bus(uint8_t bus) {
        for (auto& [b, d, f] : cs.scanned)
            if (b == bus) return true;
        return false;
    }
};

TEST_F(PciEnumerate, FindsDevicesAndFollowsBridges) {
    cs.add({0, 0, 0, 0}, 0x8086, 0x29c0, 0x06, 0x00, 0);
    cs.add({0, 0, 2, 0}, 0x1af4, 0x1000, 0x02, 0x00, 0);
    bridge({0, 0, 3, 0}, 5, 5);
    cs.add({0, 5, 0, 0}, 0x1b36, 0x0010, 0x01, 0x08, 0x02);
    auto r = enumerate(cs, BusRange{0, 0, 255}, table, 8);
    ASSERT_EQ(r.found, 4u);
    EXPECT_EQ(r.dropped, 0u);
    EXPECT_EQ(r.buses, 2u);
    EXPECT_EQ(table[0].device, 0x29c0);
    EXPECT_EQ(table[1].device, 0x1000);
    EXPECT_EQ(table[2].address.device, 3);
    EXPECT_EQ(table[3].address.bus, 5);
    EXPECT_EQ(table[3].device, 0x0010);
    EXPECT_FALSE(scanned_bus(1));  // buses no bridge leads to are never touched
}

TEST_F(PciEnumerate, MultiFunctionDevicesAreScannedPastGaps) {
    cs.add({0, 0, 31, 0}, 0x8086, 0x2918, 0x06, 0x01, 0, HEADER_MULTI_FUNCTION);
    cs.add({0, 0, 31, 2}, 0x8086, 0x2922, 0x01, 0x06, 0x01);
    cs.add({0, 0, 31, 3}, 0x8086, 0x2930, 0x0c, 0x05, 0);
    auto r = enumerate(cs, BusRange{}, table, 8);
    ASSERT_EQ(r.found, 3u);
    EXPECT_TRUE(table[0].multifunction);
    EXPECT_EQ(table[1].address.function, 2);
    EXPECT_EQ(table[2].address.function, 3);
}

TEST_F(PciEnumerate, SingleFunctionDevicesAreNotProbedForMoreFunctions) {
    cs.add({0, 0, 4, 0}, 0x1234, 0x1111, 0x02, 0x00, 0);
    cs.add({0, 0, 4, 1}, 0x1234, 0x2222, 0x02, 0x00, 0);  // mirrors of fn 0 on some hardware
    auto r = enumerate(cs, BusRange{}, table, 8);
    EXPECT_EQ(r.found, 1u);
}

TEST_F(PciEnumerate, BridgeBackwardsOrOutOfRangeIsReportedNotFollowed) {
    bridge({0, 1, 0, 0}, 1, 1);  // its own bus: would loop
    bridge({0, 0, 1, 0}, 1, 1);
    bridge({0, 0, 2, 0}, 0, 0);      // backwards
    bridge({0, 0, 3, 0}, 200, 200);  // past the segment's last bus
    auto r = enumerate(cs, BusRange{0, 0, 31}, table, 8);
    ASSERT_EQ(r.found, 4u);
    EXPECT_EQ(r.buses, 2u);
    EXPECT_EQ(table[0].problems, 0u);
    EXPECT_TRUE(table[1].problems & PROBLEM_BRIDGE_BUS_INVALID);
    EXPECT_TRUE(table[2].problems & PROBLEM_BRIDGE_BUS_INVALID);
    EXPECT_TRUE(table[3].address.bus == 1 && (table[3].problems & PROBLEM_BRIDGE_BUS_INVALID));
    EXPECT_FALSE(scanned_bus(200));
}

TEST_F(PciEnumerate, FullTableCountsDroppedFunctionsAndStillFollowsBridges) {
    for (uint8_t d = 0; d < 7; d++) cs.add({0, 0, d, 0}, 0x1234, d, 0x02, 0x00, 0);
    bridge({0, 0, 9, 0}, 2, 2);
    cs.add({0, 2, 0, 0}, 0x1b36, 0x0010, 0x01, 0x08, 0x02);
    FunctionInfo small[4];
    auto r = enumerate(cs, BusRange{}, small, 4);
    EXPECT_EQ(r.found, 4u);
    EXPECT_EQ(r.dropped, 5u);
    EXPECT_TRUE(scanned_bus(2));
}

TEST_F(PciEnumerate, RootBusOtherThanZero) {
    cs.add({0, 0x10, 0, 0}, 0x8086, 0x29c0, 0x06, 0x00, 0);
    auto r = enumerate(cs, BusRange{0, 0x10, 0x1f}, table, 8);
    EXPECT_EQ(r.found, 1u);
    EXPECT_FALSE(scanned_bus(0));
}

}  // namespace
}  // namespace lamina::pci
