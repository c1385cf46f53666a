// Host tests for the interrupt vector allocator (kernel/irq/vector_allocator.h).
#include <gtest/gtest.h>

#include <set>

#include "kernel/irq/vector_allocator.h"
#include "kernel/irq/vectors.h"

namespace {

using lamina::Errno;
using lamina::irq::VectorAllocator;

VectorAllocator device_range() {
    auto r = VectorAllocator::create(lamina::irq::DEVICE_VECTOR_FIRST, lamina::irq::DEVICE_VECTOR_LAST);
    EXPECT_TRUE(r.is_ok());
    return r.release_value();
}

TEST(VectorAllocatorTest, RejectsEmptyRange) {
    EXPECT_EQ(VectorAllocator::create(0x40, 0x3F).error().code(), Errno::Inval);
    auto one = VectorAllocator::create(0x40, 0x40);
    ASSERT_TRUE(one.is_ok());
    EXPECT_EQ(one.value().free_count(), 1u);
}

TEST(VectorAllocatorTest, AllocatesUntilExhaustedThenFrees) {
    auto a = device_range();
    const size_t total = lamina::irq::DEVICE_VECTOR_LAST - lamina::irq::DEVICE_VECTOR_FIRST + 1;
    EXPECT_EQ(a.free_count(), total);
    std::set<int> got;
    for (size_t i = 0; i < total; i++) {
        auto v = a.allocate();
        ASSERT_TRUE(v.is_ok());
        EXPECT_GE(v.value(), lamina::irq::DEVICE_VECTOR_FIRST);
        EXPECT_LE(v.value(), lamina::irq::DEVICE_VECTOR_LAST);
        EXPECT_TRUE(got.insert(v.value()).second) << "vector handed out twice";
    }
    EXPECT_EQ(a.allocate().error().code(), Errno::NoSpc);
    EXPECT_EQ(a.free_count(), 0u);
    ASSERT_TRUE(a.free(0x77).is_ok());
    auto again = a.allocate();
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(again.value(), 0x77);
}

TEST(VectorAllocatorTest, DoubleFreeAndOutOfRangeAreErrors) {
    auto a = device_range();
    auto v = a.allocate();
    ASSERT_TRUE(v.is_ok());
    EXPECT_TRUE(a.free(v.value()).is_ok());
    EXPECT_EQ(a.free(v.value()).error().code(), Errno::Inval);
    EXPECT_EQ(a.free(0x20).error().code(), Errno::Inval);
    EXPECT_EQ(a.free(0xE0).error().code(), Errno::Inval);
    EXPECT_EQ(a.free_block(0xD0, 32).error().code(), Errno::Inval);  // runs past the end
}

TEST(VectorAllocatorTest, BlocksAreAlignedPowersOfTwo) {
    auto a = device_range();
    ASSERT_TRUE(a.allocate().is_ok());  // 0x30: the next 32-block must skip to 0x40
    for (unsigned count : {1u, 2u, 4u, 8u, 16u, 32u}) {
        auto b = a.allocate_block(count);
        ASSERT_TRUE(b.is_ok()) << count;
        EXPECT_EQ(b.value() % count, 0u) << count;
        for (unsigned i = 0; i < count; i++) EXPECT_TRUE(a.is_allocated(uint8_t(b.value() + i)));
    }
    for (unsigned bad : {0u, 3u, 6u, 64u}) EXPECT_EQ(a.allocate_block(bad).error().code(), Errno::Inval) << bad;
}

TEST(VectorAllocatorTest, BlockSkipsFragmentedSpace) {
    auto a = device_range();
    // Take every eighth vector: no free aligned block of 8 remains, but blocks of 4 do.
    for (unsigned v = 0x30; v <= 0xDF; v += 8) ASSERT_TRUE(a.reserve(uint8_t(v)).is_ok());
    EXPECT_EQ(a.allocate_block(8).error().code(), Errno::NoSpc);
    auto four = a.allocate_block(4);
    ASSERT_TRUE(four.is_ok());
    EXPECT_EQ(four.value(), 0x34);
    ASSERT_TRUE(a.free(0x30).is_ok());
    EXPECT_EQ(a.allocate_block(8).error().code(), Errno::NoSpc);  // 0x34..0x37 still taken
    ASSERT_TRUE(a.free_block(0x34, 4).is_ok());
    auto eight = a.allocate_block(8);
    ASSERT_TRUE(eight.is_ok());
    EXPECT_EQ(eight.value(), 0x30);
}

TEST(VectorAllocatorTest, ReserveRejectsTakenAndOutside) {
    auto a = device_range();
    EXPECT_TRUE(a.reserve(0x50).is_ok());
    EXPECT_EQ(a.reserve(0x50).error().code(), Errno::Busy);
    EXPECT_EQ(a.reserve(0xF0).error().code(), Errno::Inval);
}

TEST(VectorAllocatorTest, BlockAtTopOfRange) {
    auto r = VectorAllocator::create(0xF8, 0xFF);
    ASSERT_TRUE(r.is_ok());
    auto a = r.release_value();
    auto b = a.allocate_block(8);
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(b.value(), 0xF8);
    EXPECT_EQ(a.allocate().error().code(), Errno::NoSpc);
    EXPECT_TRUE(a.free_block(0xF8, 8).is_ok());
}

}  // namespace
