// Host tests for MSI message composition (kernel/irq/msi.h), against the Intel SDM 11.11 layout.
#include <gtest/gtest.h>

#include "kernel/irq/msi.h"

namespace {

using namespace lamina::irq;

TEST(MsiTest, AddressCarriesDestinationInBits19To12) {
    EXPECT_EQ(msi_address(0), 0xFEE00000u);
    EXPECT_EQ(msi_address(1), 0xFEE01000u);
    EXPECT_EQ(msi_address(0xFF), 0xFEEFF000u);
    // Physical destination mode, no redirection hint.
    EXPECT_EQ(msi_address(5) & 0xC, 0u);
}

TEST(MsiTest, DataIsFixedDeliveryEdgeByDefault) {
    EXPECT_EQ(msi_data(0x41), 0x41u);
    EXPECT_EQ(msi_data(0x41, MsiTrigger::Level), 0x41u | (1u << 15) | (1u << 14));
}

TEST(MsiTest, ComposeIsEdgeTriggered) {
    constexpr MsiMessage m = compose_msi(3, 0x60);
    static_assert(m.address == 0xFEE03000 && m.data == 0x60);
    EXPECT_EQ(m.address, 0xFEE03000u);
    EXPECT_EQ(m.data, 0x60u);
}

TEST(MsiTest, OnlyEightBitDestinationsCanBeTargeted) {
    EXPECT_TRUE(msi_can_target(0));
    EXPECT_TRUE(msi_can_target(255));
    EXPECT_FALSE(msi_can_target(256));
}

}  // namespace
