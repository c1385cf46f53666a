#include <lamina/optional.h>

#include <gtest/gtest.h>

namespace lamina {
namespace {

struct Tracked {
    explicit Tracked(int v, int* live) : v(v), live(live) { ++*live; }
    Tracked(const Tracked& o) : v(o.v), live(o.live) { ++*live; }
    Tracked(Tracked&& o) : v(o.v), live(o.live) {
        ++*live;
        o.v = -1;
    }
    ~Tracked() { --*live; }
    int v;
    int* live;
};

constexpr Optional<int> half(int v) {
    if (v % 2) return {};
    return v / 2;
}
static_assert(half(4) == 2);
static_assert(!half(3).has_value());
static_assert(half(3).value_or(-1) == -1);

TEST(Optional, EmptyAndFull) {
    Optional<int> none;
    EXPECT_FALSE(none);
    EXPECT_EQ(none.value_or(9), 9);
    Optional<int> some = 4;
    ASSERT_TRUE(some);
    EXPECT_EQ(*some, 4);
    EXPECT_EQ(some, 4);
    EXPECT_NE(some, none);
    EXPECT_EQ(none, Optional<int>());
    some.clear();
    EXPECT_EQ(some, none);
}

TEST(Optional, ConstructsAndDestroysItsValueExactlyOnce) {
    int live = 0;
    {
        Optional<Tracked> a;
        EXPECT_EQ(live, 0);
        a.emplace(1, &live);
        EXPECT_EQ(live, 1);
        Optional<Tracked> b = a;  // copy
        EXPECT_EQ(live, 2);
        Optional<Tracked> c = std::move(a);
        EXPECT_EQ(live, 3);
        EXPECT_EQ(c->v, 1);
        b = Optional<Tracked>();  // b's value dies
        EXPECT_EQ(live, 2);
        b = c;
        EXPECT_EQ(live, 3);
        Tracked out = c.release_value();
        EXPECT_FALSE(c);
        EXPECT_EQ(out.v, 1);
        EXPECT_EQ(live, 3);  // a (moved-from) and b still hold values, out is the third
    }
    EXPECT_EQ(live, 0);
}

TEST(Optional, EmplaceReplacesTheValue) {
    int live = 0;
    Optional<Tracked> a = Tracked(1, &live);
    EXPECT_EQ(live, 1);
    a.emplace(2, &live);
    EXPECT_EQ(live, 1);
    EXPECT_EQ(a->v, 2);
}

TEST(OptionalDeathTest, ReadingAnEmptyOneAsserts) {
    Optional<int> none;
    EXPECT_DEATH((void)none.value(), "assertion failed");
}

}  // namespace
}  // namespace lamina
