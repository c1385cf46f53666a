// eventfd's counter rules (kernel/posix/event/eventfd.h) against eventfd(2), and that a
// blocked read sleeps on the object's poll queue until a write arrives.
#include <gtest/gtest.h>

#include <cstdint>

#include "kernel/posix/event/eventfd.h"
#include "kernel/posix/fd/waiting.h"

namespace lamina::posix {
namespace {

RefPtr<OpenFile> open_eventfd(uint32_t initial, uint32_t flags) {
    auto r = make_eventfd(initial, flags);
    EXPECT_TRUE(r.is_ok());
    return r.release_value();
}

Result<size_t> rd(OpenFile& f, uint64_t& v) { return f.object()->read(f, &v, sizeof v); }
Result<size_t> wr(OpenFile& f, uint64_t v) { return f.object()->write(f, &v, sizeof v); }

TEST(PosixEventFd, ReadTakesTheWholeCount) {
    auto f = open_eventfd(3, efd::NonBlock);
    uint64_t v = 0;
    ASSERT_EQ(rd(*f, v).value(), 8u);
    EXPECT_EQ(v, 3u);
    EXPECT_EQ(rd(*f, v).error().code(), Errno::Again);
    ASSERT_TRUE(wr(*f, 4).is_ok());
    ASSERT_TRUE(wr(*f, 5).is_ok());
    ASSERT_TRUE(rd(*f, v).is_ok());
    EXPECT_EQ(v, 9u);
}

TEST(PosixEventFd, SemaphoreReadsOne) {
    auto f = open_eventfd(2, efd::NonBlock | efd::Semaphore);
    uint64_t v = 0;
    ASSERT_TRUE(rd(*f, v).is_ok());
    EXPECT_EQ(v, 1u);
    ASSERT_TRUE(rd(*f, v).is_ok());
    EXPECT_EQ(v, 1u);
    EXPECT_EQ(rd(*f, v).error().code(), Errno::Again);
}

TEST(PosixEventFd, LimitsAndBadInput) {
    EXPECT_EQ(make_eventfd(0, 0x10).error().code(), Errno::Inval);
    auto f = open_eventfd(0, efd::NonBlock);
    uint32_t small = 0;
    EXPECT_EQ(f->object()->read(*f, &small, sizeof small).error().code(), Errno::Inval);
    EXPECT_EQ(f->object()->write(*f, &small, sizeof small).error().code(), Errno::Inval);
    EXPECT_EQ(wr(*f, UINT64_MAX).error().code(), Errno::Inval);
    ASSERT_TRUE(wr(*f, UINT64_MAX - 1).is_ok());
    EXPECT_EQ(wr(*f, 1).error().code(), Errno::Again);
    // Full: readable, not writable.
    uint32_t ev = f->object()->poll(*f);
    EXPECT_TRUE(ev & pollev::In);
    EXPECT_FALSE(ev & pollev::Out);
    uint64_t v = 0;
    ASSERT_TRUE(rd(*f, v).is_ok());
    ev = f->object()->poll(*f);
    EXPECT_FALSE(ev & pollev::In);
    EXPECT_TRUE(ev & pollev::Out);
}

// The "sleep" writes to the counter, as another thread would, after checking that the read
// is subscribed to the queue it sleeps on.
OpenFile* g_file;
int g_sleeps;

Result<void> writer_wait(PollQueue& queue, WaitCondition& condition) {
    g_sleeps++;
    EXPECT_EQ(&queue, g_file->object()->poll_queue());
    EXPECT_FALSE(condition.satisfied());
    uint64_t v = 7;
    EXPECT_TRUE(g_file->object()->write(*g_file, &v, sizeof v).is_ok());
    EXPECT_TRUE(condition.satisfied());
    return {};
}

TEST(PosixEventFd, BlockingReadWaitsForAWrite) {
    auto f = open_eventfd(0, 0);
    g_file = f.get();
    g_sleeps = 0;
    set_wait_function(writer_wait);
    uint64_t v = 0;
    auto r = rd(*f, v);
    set_wait_function(nullptr);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(v, 7u);
    EXPECT_EQ(g_sleeps, 1);
}

}  // namespace
}  // namespace lamina::posix
