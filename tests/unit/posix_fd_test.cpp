#include <gtest/gtest.h>

#include "kernel/posix/fd/fd_table.h"

using namespace lamina;
using namespace lamina::posix;

namespace {

// Counts live objects so the tests see when the last description dies.
struct CountedObject : FileObject {
    explicit CountedObject(int* live) : live_(live) { ++*live_; }
    ~CountedObject() override { --*live_; }
    int* live_;
};

RefPtr<OpenFile> make_file(int* live, uint32_t flags = oflag::ReadWrite) {
    auto f = OpenFile::create(adopt_ref<FileObject>(new CountedObject(live)), flags);
    EXPECT_TRUE(f.is_ok());
    return f.release_value();
}

RefPtr<FdTable> make_table(uint32_t limit = FdTable::DEFAULT_LIMIT) {
    auto t = FdTable::create(limit);
    EXPECT_TRUE(t.is_ok());
    return t.release_value();
}

int ok(Result<int> r) {
    EXPECT_TRUE(r.is_ok()) << (r.is_error() ? int(r.error().code()) : 0);
    return r.is_ok() ? r.value() : -1;
}

Errno err(Result<int> r) { return r.is_error() ? r.error().code() : Errno::None; }

}  // namespace

TEST(PosixFd, LowestFreeDescriptorIsAllocated) {
    int live = 0;
    auto t = make_table();
    EXPECT_EQ(ok(t->install(make_file(&live), false)), 0);
    EXPECT_EQ(ok(t->install(make_file(&live), false)), 1);
    EXPECT_EQ(ok(t->install(make_file(&live), false)), 2);
    ASSERT_TRUE(t->close(1).is_ok());
    EXPECT_EQ(ok(t->install(make_file(&live), false)), 1);
    EXPECT_EQ(ok(t->install(make_file(&live), false)), 3);
    EXPECT_EQ(live, 4);
    EXPECT_EQ(t->count(), 4u);
}

TEST(PosixFd, CloseBadDescriptorIsEbadf) {
    int live = 0;
    auto t = make_table();
    EXPECT_EQ(t->close(0).error().code(), Errno::BadF);
    EXPECT_EQ(t->close(-1).error().code(), Errno::BadF);
    EXPECT_EQ(t->close(100000).error().code(), Errno::BadF);
    ok(t->install(make_file(&live), false));
    ASSERT_TRUE(t->close(0).is_ok());
    EXPECT_EQ(live, 0);
    EXPECT_EQ(t->close(0).error().code(), Errno::BadF);
    EXPECT_EQ(t->get(0).error().code(), Errno::BadF);
}

TEST(PosixFd, DupSharesTheDescription) {
    int live = 0;
    auto t = make_table();
    ok(t->install(make_file(&live), true));
    int d = ok(t->dup(0));
    EXPECT_EQ(d, 1);
    t->get(0).value()->offset = 42;
    EXPECT_EQ(t->get(1).value()->offset, 42u);
    EXPECT_EQ(t->get(0).value().get(), t->get(1).value().get());
    // dup clears FD_CLOEXEC on the copy; the original keeps it.
    EXPECT_EQ(ok(t->fcntl(0, fcntl_cmd::GetFd, 0)), fcntl_cmd::FdCloExec);
    EXPECT_EQ(ok(t->fcntl(1, fcntl_cmd::GetFd, 0)), 0);
    ASSERT_TRUE(t->close(0).is_ok());
    EXPECT_EQ(live, 1);
    ASSERT_TRUE(t->close(1).is_ok());
    EXPECT_EQ(live, 0);
    EXPECT_EQ(err(t->dup(5)), Errno::BadF);
}

TEST(PosixFd, Dup2) {
    int live = 0;
    auto t = make_table(64);
    ok(t->install(make_file(&live), false));
    ok(t->install(make_file(&live), false));
    // Same descriptor: a no-op that returns it (and does not clear FD_CLOEXEC).
    ok(t->fcntl(1, fcntl_cmd::SetFd, fcntl_cmd::FdCloExec));
    EXPECT_EQ(ok(t->dup2(1, 1)), 1);
    EXPECT_EQ(ok(t->fcntl(1, fcntl_cmd::GetFd, 0)), fcntl_cmd::FdCloExec);
    EXPECT_EQ(err(t->dup2(7, 7)), Errno::BadF);
    // The target is closed first.
    EXPECT_EQ(ok(t->dup2(0, 1)), 1);
    EXPECT_EQ(live, 1);
    EXPECT_EQ(t->get(0).value().get(), t->get(1).value().get());
    EXPECT_EQ(ok(t->fcntl(1, fcntl_cmd::GetFd, 0)), 0);
    // Beyond the current size, up to the limit.
    EXPECT_EQ(ok(t->dup2(0, 63)), 63);
    EXPECT_EQ(err(t->dup2(0, 64)), Errno::BadF);
    EXPECT_EQ(err(t->dup2(0, -1)), Errno::BadF);
    EXPECT_EQ(err(t->dup2(5, 6)), Errno::BadF);
    EXPECT_FALSE(t->is_open(6));
}

TEST(PosixFd, Dup3) {
    int live = 0;
    auto t = make_table();
    ok(t->install(make_file(&live), false));
    EXPECT_EQ(err(t->dup3(0, 0, 0)), Errno::Inval);
    EXPECT_EQ(err(t->dup3(0, 0, oflag::CloExec)), Errno::Inval);
    EXPECT_EQ(err(t->dup3(0, 3, oflag::NonBlock)), Errno::Inval);
    EXPECT_EQ(ok(t->dup3(0, 3, oflag::CloExec)), 3);
    EXPECT_EQ(ok(t->fcntl(3, fcntl_cmd::GetFd, 0)), fcntl_cmd::FdCloExec);
    EXPECT_EQ(ok(t->dup3(0, 4, 0)), 4);
    EXPECT_EQ(ok(t->fcntl(4, fcntl_cmd::GetFd, 0)), 0);
    EXPECT_EQ(err(t->dup3(9, 4, 0)), Errno::BadF);
}

TEST(PosixFd, FcntlDupFd) {
    int live = 0;
    auto t = make_table(32);
    ok(t->install(make_file(&live), false));
    ok(t->install(make_file(&live), false, 10));
    EXPECT_TRUE(t->is_open(10));
    EXPECT_EQ(ok(t->fcntl(0, fcntl_cmd::DupFd, 10)), 11);
    EXPECT_EQ(ok(t->fcntl(0, fcntl_cmd::DupFd, 0)), 1);
    EXPECT_EQ(ok(t->fcntl(0, fcntl_cmd::GetFd, 0)), 0);
    int c = ok(t->fcntl(0, fcntl_cmd::DupFdCloExec, 5));
    EXPECT_EQ(c, 5);
    EXPECT_EQ(ok(t->fcntl(c, fcntl_cmd::GetFd, 0)), fcntl_cmd::FdCloExec);
    EXPECT_EQ(err(t->fcntl(0, fcntl_cmd::DupFd, 32)), Errno::Inval);
    EXPECT_EQ(err(t->fcntl(0, fcntl_cmd::DupFd, uint64_t(-1))), Errno::Inval);
    EXPECT_EQ(err(t->fcntl(3, fcntl_cmd::DupFd, 0)), Errno::BadF);
    // All of 31 taken below the limit: EMFILE.
    for (int i = 0; i < 31; i++) (void)t->install(make_file(&live), false);
    EXPECT_EQ(t->count(), 32u);
    EXPECT_EQ(err(t->fcntl(0, fcntl_cmd::DupFd, 31 - 0)), Errno::MFile);
    EXPECT_EQ(err(t->fcntl(0, 12345, 0)), Errno::Inval);
}

TEST(PosixFd, CloexecIsPerDescriptor) {
    int live = 0;
    auto t = make_table();
    ok(t->install(make_file(&live), false));
    ok(t->dup(0));
    ok(t->fcntl(0, fcntl_cmd::SetFd, fcntl_cmd::FdCloExec));
    EXPECT_EQ(ok(t->fcntl(0, fcntl_cmd::GetFd, 0)), 1);
    EXPECT_EQ(ok(t->fcntl(1, fcntl_cmd::GetFd, 0)), 0);
    // Only bit 0 matters.
    ok(t->fcntl(1, fcntl_cmd::SetFd, 0xfe));
    EXPECT_EQ(ok(t->fcntl(1, fcntl_cmd::GetFd, 0)), 0);
    ok(t->fcntl(0, fcntl_cmd::SetFd, 0));
    EXPECT_EQ(ok(t->fcntl(0, fcntl_cmd::GetFd, 0)), 0);
}

TEST(PosixFd, GetflSetflChangeOnlyAppendAndNonblock) {
    int live = 0;
    auto t = make_table();
    ok(t->install(make_file(&live, oflag::WriteOnly | oflag::Creat | oflag::Trunc | oflag::CloExec | oflag::DSync),
                  false));
    ok(t->dup(0));
    EXPECT_EQ(uint32_t(ok(t->fcntl(0, fcntl_cmd::GetFl, 0))), oflag::WriteOnly | oflag::DSync);
    ok(t->fcntl(0, fcntl_cmd::SetFl, oflag::Append | oflag::NonBlock | oflag::ReadWrite | oflag::Trunc));
    // Shared by the duplicate, since status flags live in the description.
    EXPECT_EQ(uint32_t(ok(t->fcntl(1, fcntl_cmd::GetFl, 0))),
              oflag::WriteOnly | oflag::DSync | oflag::Append | oflag::NonBlock);
    auto f = t->get(1).release_value();
    EXPECT_TRUE(f->append());
    EXPECT_TRUE(f->nonblocking());
    EXPECT_TRUE(f->writable());
    EXPECT_FALSE(f->readable());
    ok(t->fcntl(0, fcntl_cmd::SetFl, 0));
    EXPECT_EQ(uint32_t(ok(t->fcntl(1, fcntl_cmd::GetFl, 0))), oflag::WriteOnly | oflag::DSync);
    EXPECT_EQ(OpenFile::create(adopt_ref<FileObject>(new CountedObject(&live)), 3).error().code(), Errno::Inval);
}

// nginx's master sets both on each worker channel (FIOASYNC is the same flag as O_ASYNC).
TEST(PosixFd, AsyncFlagAndOwnerBelongToTheDescription) {
    int live = 0;
    auto t = make_table();
    ok(t->install(make_file(&live), false));
    ok(t->dup(0));
    EXPECT_EQ(ok(t->fcntl(0, fcntl_cmd::GetOwn, 0)), 0);
    ok(t->fcntl(0, fcntl_cmd::SetOwn, 42));
    ok(t->fcntl(0, fcntl_cmd::SetFl, oflag::Async));
    EXPECT_EQ(ok(t->fcntl(1, fcntl_cmd::GetOwn, 0)), 42);
    EXPECT_EQ(uint32_t(ok(t->fcntl(1, fcntl_cmd::GetFl, 0))), oflag::ReadWrite | oflag::Async);
    // A negative owner names a process group, as on Linux.
    ok(t->fcntl(1, fcntl_cmd::SetOwn, uint64_t(int64_t(-7))));
    EXPECT_EQ(ok(t->fcntl(0, fcntl_cmd::GetOwn, 0)), -7);
    ok(t->fcntl(0, fcntl_cmd::SetFl, 0));
    EXPECT_EQ(uint32_t(ok(t->fcntl(1, fcntl_cmd::GetFl, 0))), oflag::ReadWrite);
}

TEST(PosixFd, CloseOnExecSweep) {
    int live = 0;
    auto t = make_table();
    ok(t->install(make_file(&live), false));
    ok(t->install(make_file(&live), true));
    ok(t->dup3(1, 5, 0));
    ok(t->install(make_file(&live), true, 7));
    EXPECT_EQ(live, 3);
    t->close_on_exec();
    EXPECT_TRUE(t->is_open(0));
    EXPECT_FALSE(t->is_open(1));
    EXPECT_TRUE(t->is_open(5));
    EXPECT_FALSE(t->is_open(7));
    EXPECT_EQ(live, 2);
}

TEST(PosixFd, ForkSharesDescriptionsAndCopiesCloexec) {
    int live = 0;
    auto t = make_table(100);
    ok(t->install(make_file(&live), false));
    ok(t->install(make_file(&live), true, 40));
    auto c = t->fork().release_value();
    EXPECT_EQ(c->limit(), 100u);
    EXPECT_EQ(c->count(), 2u);
    c->get(0).value()->offset = 7;
    EXPECT_EQ(t->get(0).value()->offset, 7u);
    ok(c->fcntl(0, fcntl_cmd::SetFl, oflag::Append));
    EXPECT_TRUE(t->get(0).value()->append());
    EXPECT_EQ(ok(c->fcntl(40, fcntl_cmd::GetFd, 0)), 1);
    // Descriptor changes after the fork are private.
    ASSERT_TRUE(c->close(0).is_ok());
    EXPECT_TRUE(t->is_open(0));
    ok(c->fcntl(40, fcntl_cmd::SetFd, 0));
    EXPECT_EQ(ok(t->fcntl(40, fcntl_cmd::GetFd, 0)), 1);
    EXPECT_EQ(live, 2);
    t = nullptr;
    EXPECT_EQ(live, 1);
    c = nullptr;
    EXPECT_EQ(live, 0);
}

TEST(PosixFd, RlimitNofile) {
    int live = 0;
    auto t = make_table(4);
    for (int i = 0; i < 4; i++) EXPECT_EQ(ok(t->install(make_file(&live), false)), i);
    EXPECT_EQ(err(t->install(make_file(&live), false)), Errno::MFile);
    EXPECT_EQ(err(t->dup(0)), Errno::MFile);
    EXPECT_EQ(err(t->dup2(0, 4)), Errno::BadF);
    // Lowering the limit keeps open descriptors; raising it makes room.
    ASSERT_TRUE(t->set_limit(2).is_ok());
    EXPECT_TRUE(t->is_open(3));
    ASSERT_TRUE(t->close(1).is_ok());
    EXPECT_EQ(ok(t->dup(0)), 1);
    EXPECT_EQ(err(t->dup(0)), Errno::MFile);
    ASSERT_TRUE(t->set_limit(3000).is_ok());
    EXPECT_EQ(ok(t->dup2(0, 2999)), 2999);
    EXPECT_EQ(ok(t->dup(0)), 4);
    EXPECT_EQ(t->set_limit(0).error().code(), Errno::Inval);
    EXPECT_EQ(FdTable::create(0).error().code(), Errno::Inval);
}
