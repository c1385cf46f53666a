#include <lamina/own.h>

#include <gtest/gtest.h>

namespace lamina {
namespace {

struct Base {
    explicit Base(int* deaths) : deaths(deaths) {}
    virtual ~Base() { ++*deaths; }
    int* deaths;
};

struct Derived final : Base {
    Derived(int* deaths, int v) : Base(deaths), value(v) {}
    int value;
};

// A factory in the shape the library asks for: private constructor, Result<Own<T>>.
class Widget {
public:
    static Result<Own<Widget>> create(int size) {
        if (size < 0) return Errno::Inval;
        return adopt_own_or_nomem(new (std::nothrow) Widget(size));
    }
    int size() const { return size_; }

private:
    explicit Widget(int size) : size_(size) {}
    int size_;
};

TEST(Own, DeletesItsObjectOnceWhenItGoes) {
    int deaths = 0;
    {
        auto own = make_own<Derived>(&deaths, 7);
        ASSERT_TRUE(own.is_ok());
        EXPECT_EQ(own.value()->value, 7);
        EXPECT_EQ(deaths, 0);
    }
    EXPECT_EQ(deaths, 1);
}

TEST(Own, MoveTransfersOwnership) {
    int deaths = 0;
    Own<Base> a = adopt_own(new Derived(&deaths, 1));  // Own<Derived> -> Own<Base>
    Own<Base> b = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_TRUE(b);
    EXPECT_EQ(deaths, 0);
    Own<Base> c = adopt_own(new Derived(&deaths, 2));
    c = std::move(b);  // c's old object dies, b's moves in
    EXPECT_EQ(deaths, 1);
    EXPECT_EQ(static_cast<Derived&>(*c).value, 1);
    c = nullptr;
    EXPECT_EQ(deaths, 2);
    EXPECT_EQ(c, nullptr);
}

TEST(Own, ReleaseGivesUpOwnership) {
    int deaths = 0;
    auto own = adopt_own(new Base(&deaths));
    Base* raw = own.release();
    EXPECT_FALSE(own);
    own.reset();
    EXPECT_EQ(deaths, 0);
    delete raw;
    EXPECT_EQ(deaths, 1);
}

TEST(Own, ResetReplacesTheObject) {
    int deaths = 0;
    auto own = adopt_own(new Base(&deaths));
    own.reset(new Base(&deaths));
    EXPECT_EQ(deaths, 1);
    own.reset();
    EXPECT_EQ(deaths, 2);
}

TEST(Own, FactoryReturnsErrorsAsValues) {
    auto ok = Widget::create(3);
    ASSERT_TRUE(ok.is_ok());
    EXPECT_EQ(ok.value()->size(), 3);
    auto bad = Widget::create(-1);
    ASSERT_TRUE(bad.is_error());
    EXPECT_EQ(bad.error().code(), Errno::Inval);
}

TEST(Own, FailedAllocationIsNoMem) {
    Widget* none = nullptr;
    auto r = adopt_own_or_nomem(none);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().code(), Errno::NoMem);
}

Result<int> size_through_try(int size) {
    auto w = TRY(Widget::create(size));
    return w->size();
}

TEST(Own, WorksWithTry) {
    EXPECT_EQ(size_through_try(5).value(), 5);
    EXPECT_EQ(size_through_try(-5).error().code(), Errno::Inval);
}

// Memory from somewhere other than new: the deleter gives it back there, once.
struct Pool {
    alignas(Derived) unsigned char slot[sizeof(Derived)];
    int returned = 0;
};
Pool g_pool;
struct PoolDelete {
    void operator()(Derived* p) const {
        p->~Derived();
        g_pool.returned++;
    }
};

TEST(Own, ADeleterEndsObjectsFromAnotherAllocator) {
    int deaths = 0;
    g_pool.returned = 0;
    {
        auto own = adopt_own<Derived, PoolDelete>(new (g_pool.slot) Derived(&deaths, 3));
        Own<Derived, PoolDelete> moved = static_cast<Own<Derived, PoolDelete>&&>(own);
        EXPECT_EQ(moved->value, 3);
        own.reset();  // empty: the deleter is not called for nothing
        EXPECT_EQ(g_pool.returned, 0);
    }
    EXPECT_EQ(deaths, 1);
    EXPECT_EQ(g_pool.returned, 1);
}

TEST(OwnDeathTest, DereferencingNullAsserts) {
    Own<int> none;
    EXPECT_DEATH((void)*none, "assertion failed");
    EXPECT_DEATH(adopt_own<int>(nullptr), "assertion failed");
}

}  // namespace
}  // namespace lamina
