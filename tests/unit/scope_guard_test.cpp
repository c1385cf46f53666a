#include <lamina/scope_guard.h>
#include <lamina/result.h>

#include <gtest/gtest.h>

namespace lamina {
namespace {

// The pattern ScopeGuard exists for: undo on every error return, keep on success.
Result<int> acquire_then(bool fail_second, bool fail_third, int& held) {
    held++;
    ScopeGuard undo([&] { held--; });
    if (fail_second) return Errno::NoMem;
    if (fail_third) return Errno::IO;
    undo.dismiss();
    return held;
}

TEST(ScopeGuard, RunsWhenTheScopeEnds) {
    int runs = 0;
    {
        ScopeGuard g([&] { runs++; });
        EXPECT_TRUE(g.armed());
        EXPECT_EQ(runs, 0);
    }
    EXPECT_EQ(runs, 1);
}

TEST(ScopeGuard, DismissedDoesNotRun) {
    int runs = 0;
    {
        ScopeGuard g([&] { runs++; });
        g.dismiss();
        EXPECT_FALSE(g.armed());
    }
    EXPECT_EQ(runs, 0);
}

TEST(ScopeGuard, UndoesOnEveryErrorPath) {
    int held = 0;
    EXPECT_EQ(acquire_then(true, false, held).error().code(), Errno::NoMem);
    EXPECT_EQ(held, 0);
    EXPECT_EQ(acquire_then(false, true, held).error().code(), Errno::IO);
    EXPECT_EQ(held, 0);
    EXPECT_EQ(acquire_then(false, false, held).value(), 1);
    EXPECT_EQ(held, 1);
}

TEST(ScopeGuard, GuardsRunInReverseOrder) {
    char order[3] = {};
    int n = 0;
    {
        ScopeGuard first([&] { order[n++] = 'a'; });
        ScopeGuard second([&] { order[n++] = 'b'; });
    }
    EXPECT_EQ(order[0], 'b');
    EXPECT_EQ(order[1], 'a');
}

}  // namespace
}  // namespace lamina
