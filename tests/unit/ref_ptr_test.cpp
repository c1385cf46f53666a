#include <lamina/ref_ptr.h>

#include <gtest/gtest.h>

#include <thread>

namespace lamina {
namespace {

struct Counted : RefCounted {
    explicit Counted(int* deaths) : deaths(deaths) {}
    ~Counted() override { ++*deaths; }
    int* deaths;
};

struct Special final : Counted {
    using Counted::Counted;
};

TEST(RefPtr, ANewObjectHasOneReferenceThatAdoptionTakesOver) {
    int deaths = 0;
    auto* raw = new Counted(&deaths);
    EXPECT_EQ(raw->ref_count(), 1u);
    {
        RefPtr<Counted> p = adopt_ref(raw);
        EXPECT_EQ(p->ref_count(), 1u);
    }
    EXPECT_EQ(deaths, 1);
}

TEST(RefPtr, TheLastReferenceDeletes) {
    int deaths = 0;
    auto made = make_ref<Counted>(&deaths);
    ASSERT_TRUE(made.is_ok());
    RefPtr<Counted> a = made.release_value();
    RefPtr<Counted> b = a;
    RefPtr<Counted> c(*a);  // from a reference someone holds: adds one
    EXPECT_EQ(a->ref_count(), 3u);
    a = nullptr;
    b.clear();
    EXPECT_EQ(deaths, 0);
    EXPECT_EQ(c->ref_count(), 1u);
    c = nullptr;
    EXPECT_EQ(deaths, 1);
}

TEST(RefPtr, MovesDoNotCount) {
    int deaths = 0;
    RefPtr<Special> s = adopt_ref(new Special(&deaths));
    RefPtr<Counted> moved = std::move(s);  // converts to the base, keeps the one reference
    EXPECT_EQ(s, nullptr);
    EXPECT_EQ(moved->ref_count(), 1u);
    RefPtr<Counted> other;
    other = std::move(moved);
    EXPECT_EQ(other->ref_count(), 1u);
    other = other;  // self-assignment keeps the object
    EXPECT_EQ(other->ref_count(), 1u);
    other = nullptr;
    EXPECT_EQ(deaths, 1);
}

TEST(RefPtr, LeakAndAdoptHandOverAReference) {
    int deaths = 0;
    RefPtr<Counted> p = adopt_ref(new Counted(&deaths));
    Counted* raw = p.leak_ref();
    EXPECT_EQ(p, nullptr);
    EXPECT_EQ(raw->ref_count(), 1u);
    RefPtr<Counted> back = adopt_ref(raw);
    EXPECT_EQ(back, raw);
    back = nullptr;
    EXPECT_EQ(deaths, 1);
}

TEST(RefPtr, FailedAllocationIsNoMem) {
    Counted* none = nullptr;
    auto r = adopt_ref_or_nomem(none);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().code(), Errno::NoMem);
}

TEST(RefPtr, CountsAcrossThreads) {
    int deaths = 0;
    RefPtr<Counted> shared = adopt_ref(new Counted(&deaths));
    auto churn = [&] {
        for (int i = 0; i < 10000; i++) {
            RefPtr<Counted> copy = shared;
            (void)copy;
        }
    };
    std::thread t1(churn), t2(churn);
    t1.join();
    t2.join();
    EXPECT_EQ(shared->ref_count(), 1u);
    shared = nullptr;
    EXPECT_EQ(deaths, 1);
}

TEST(RefPtrDeathTest, MisuseAsserts) {
    RefPtr<Counted> none;
    EXPECT_DEATH((void)none->ref_count(), "assertion failed");
    EXPECT_DEATH(adopt_ref<Counted>(nullptr), "assertion failed");
}

}  // namespace
}  // namespace lamina
