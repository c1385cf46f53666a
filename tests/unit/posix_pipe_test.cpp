#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "kernel/posix/pipe/pipe.h"
#include "kernel/posix/fd/waiting.h"
#include "kernel/posix/pipe/pipe_file.h"

using namespace lamina;
using namespace lamina::posix;

namespace {

RefPtr<Pipe> open_pipe() {
    auto r = Pipe::create();
    EXPECT_TRUE(r.is_ok());
    RefPtr<Pipe> p = r.release_value();
    p->add_reader();
    p->add_writer();
    return p;
}

}  // namespace

TEST(PosixPipe, CapacityMatchesLinuxDefaults) {
    EXPECT_EQ(PIPE_CAPACITY, 65536u);
    EXPECT_EQ(PIPE_ATOMIC_BYTES, 4096u);
}

TEST(PosixPipe, ReadReturnsWhatIsAvailable) {
    auto p = open_pipe();
    auto w = p->write("hello", 5, false);
    ASSERT_TRUE(w.is_ok());
    EXPECT_EQ(w.value().status, PipeStatus::Done);
    EXPECT_EQ(w.value().bytes, 5u);
    char buf[16] = {};
    auto r = p->read(buf, sizeof buf, false);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().bytes, 5u);
    EXPECT_EQ(std::string(buf, 5), "hello");
    // Short reads leave the rest.
    ASSERT_TRUE(p->write("abcdef", 6, false).is_ok());
    auto r2 = p->read(buf, 4, false);
    EXPECT_EQ(r2.value().bytes, 4u);
    EXPECT_EQ(std::string(buf, 4), "abcd");
    auto r3 = p->read(buf, 16, false);
    EXPECT_EQ(r3.value().bytes, 2u);
    EXPECT_EQ(std::string(buf, 2), "ef");
}

TEST(PosixPipe, EmptyReadBlocksOrFailsWithEagain) {
    auto p = open_pipe();
    char c;
    auto r = p->read(&c, 1, false);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().status, PipeStatus::WouldBlock);
    EXPECT_EQ(r.value().bytes, 0u);
    auto n = p->read(&c, 1, true);
    ASSERT_TRUE(n.is_error());
    EXPECT_EQ(n.error().code(), Errno::Again);
    EXPECT_FALSE(p->readable());
}

TEST(PosixPipe, EofWhenNoWritersAndEmpty) {
    auto p = open_pipe();
    ASSERT_TRUE(p->write("xy", 2, false).is_ok());
    p->remove_writer();
    char buf[4];
    // Buffered data is still delivered after the last writer closed.
    EXPECT_EQ(p->read(buf, 4, false).value().bytes, 2u);
    for (bool nonblock : {false, true}) {
        auto r = p->read(buf, 4, nonblock);
        ASSERT_TRUE(r.is_ok());
        EXPECT_EQ(r.value().status, PipeStatus::Done);
        EXPECT_EQ(r.value().bytes, 0u);
    }
    EXPECT_TRUE(p->readable());
    EXPECT_TRUE(p->hung_up());
}

TEST(PosixPipe, WriteWithoutReadersIsEpipe) {
    auto p = open_pipe();
    p->remove_reader();
    for (bool nonblock : {false, true}) {
        auto w = p->write("x", 1, nonblock);
        ASSERT_TRUE(w.is_ok());
        EXPECT_EQ(w.value().status, PipeStatus::BrokenPipe);
        EXPECT_EQ(w.value().bytes, 0u);
    }
    // A null write still succeeds (Linux's pipe_write checks the length first).
    EXPECT_EQ(p->write("", 0, false).value().status, PipeStatus::Done);
    EXPECT_TRUE(p->writable());
}

TEST(PosixPipe, ZeroLengthOperations) {
    auto p = open_pipe();
    char c;
    EXPECT_EQ(p->read(&c, 0, true).value().status, PipeStatus::Done);
    EXPECT_EQ(p->write(&c, 0, true).value().bytes, 0u);
}

TEST(PosixPipe, SmallWritesAreAtomic) {
    auto p = open_pipe();
    std::vector<uint8_t> big(PIPE_CAPACITY - 100, 'a');
    auto w = p->write(big.data(), big.size(), false);
    ASSERT_EQ(w.value().status, PipeStatus::Done);
    EXPECT_EQ(p->space(), 100u);
    // 101 bytes do not fit: nothing is written, rather than 100 of them.
    std::vector<uint8_t> small(101, 'b');
    auto nb = p->write(small.data(), small.size(), true);
    ASSERT_TRUE(nb.is_error());
    EXPECT_EQ(nb.error().code(), Errno::Again);
    auto b = p->write(small.data(), small.size(), false);
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(b.value().status, PipeStatus::WouldBlock);
    EXPECT_EQ(b.value().bytes, 0u);
    EXPECT_EQ(p->space(), 100u);
    // Exactly PIPE_BUF is still atomic.
    std::vector<uint8_t> out(PIPE_CAPACITY);
    ASSERT_TRUE(p->read(out.data(), PIPE_ATOMIC_BYTES - 1 - 100, false).is_ok());
    EXPECT_EQ(p->space(), PIPE_ATOMIC_BYTES - 1);
    std::vector<uint8_t> pb(PIPE_ATOMIC_BYTES, 'c');
    EXPECT_EQ(p->write(pb.data(), pb.size(), false).value().status, PipeStatus::WouldBlock);
    EXPECT_FALSE(p->writable());
    ASSERT_TRUE(p->read(out.data(), 1, false).is_ok());
    EXPECT_TRUE(p->writable());
    EXPECT_EQ(p->write(pb.data(), pb.size(), false).value().bytes, PIPE_ATOMIC_BYTES);
    EXPECT_EQ(p->space(), 0u);
}

TEST(PosixPipe, LargeWritesArePartial) {
    auto p = open_pipe();
    std::vector<uint8_t> big(PIPE_CAPACITY + 5000);
    for (size_t i = 0; i < big.size(); i++) big[i] = uint8_t(i * 7);
    auto w = p->write(big.data(), big.size(), false);
    ASSERT_TRUE(w.is_ok());
    EXPECT_EQ(w.value().status, PipeStatus::WouldBlock);
    EXPECT_EQ(w.value().bytes, PIPE_CAPACITY);
    // The full pipe refuses even one more byte of a large write.
    auto nb = p->write(big.data() + PIPE_CAPACITY, 5000, true);
    ASSERT_TRUE(nb.is_error());
    EXPECT_EQ(nb.error().code(), Errno::Again);
    std::vector<uint8_t> out(big.size());
    ASSERT_EQ(p->read(out.data(), 6000, false).value().bytes, 6000u);
    // Non-blocking large write: what fits, reported as done.
    auto w2 = p->write(big.data() + PIPE_CAPACITY, 5000, true);
    ASSERT_TRUE(w2.is_ok());
    EXPECT_EQ(w2.value().status, PipeStatus::Done);
    EXPECT_EQ(w2.value().bytes, 5000u);
    ASSERT_EQ(p->read(out.data() + 6000, big.size(), false).value().bytes, big.size() - 6000);
    EXPECT_EQ(out, big);
}

TEST(PosixPipe, RandomTrafficPreservesOrder) {
    auto p = open_pipe();
    std::mt19937 rng(1234);
    std::vector<uint8_t> sent, got;
    uint8_t next = 0;
    std::vector<uint8_t> buf(3 * PIPE_ATOMIC_BYTES);
    for (int i = 0; i < 4000; i++) {
        size_t n = rng() % buf.size();
        bool nonblock = rng() & 1;
        if (rng() & 1) {
            for (size_t k = 0; k < n; k++) buf[k] = next + uint8_t(k);
            size_t before = p->space();
            auto w = p->write(buf.data(), n, nonblock);
            if (w.is_error()) {
                EXPECT_EQ(w.error().code(), Errno::Again);
                EXPECT_TRUE(n <= PIPE_ATOMIC_BYTES ? before < n : before == 0);
                continue;
            }
            if (n <= PIPE_ATOMIC_BYTES) {
                EXPECT_TRUE(w.value().bytes == 0 || w.value().bytes == n);
            }
            sent.insert(sent.end(), buf.begin(), buf.begin() + w.value().bytes);
            next += uint8_t(w.value().bytes);
        } else {
            auto r = p->read(buf.data(), n, nonblock);
            if (r.is_error()) continue;
            got.insert(got.end(), buf.begin(), buf.begin() + r.value().bytes);
        }
        ASSERT_EQ(p->size(), sent.size() - got.size());
    }
    EXPECT_TRUE(std::equal(got.begin(), got.end(), sent.begin()));
}

// The test's stand-in for the kernel's sleep: runs the scripted action (the "other side"), then
// reports whether the sleeper's condition now holds; Intr when told to simulate a signal.
struct Scripted {
    std::function<void()> action;
    bool signal = false;
    int sleeps = 0;
};
Scripted* g_script = nullptr;

Result<void> scripted_wait(PollQueue& q, WaitCondition& c) {
    EXPECT_NE(g_script, nullptr);
    g_script->sleeps++;
    EXPECT_GE(q.subscribers(), 0u);
    if (g_script->action) {
        auto a = std::move(g_script->action);
        g_script->action = nullptr;
        a();
    }
    if (c.satisfied()) return {};
    if (g_script->signal) return Errno::Intr;
    ADD_FAILURE() << "a sleep nothing would end";
    return Errno::Intr;
}

int g_raised = 0;
void record_signal(int sig) { g_raised = sig; }

class PosixPipeFile : public ::testing::Test {
protected:
    void SetUp() override {
        set_wait_function(scripted_wait);
        set_signal_function(record_signal);
        g_script = &script;
        g_raised = 0;
    }
    void TearDown() override {
        set_wait_function(nullptr);
        set_signal_function(nullptr);
        g_script = nullptr;
    }
    static Result<size_t> rd(OpenFile& f, void* dst, size_t n) { return f.object()->read(f, dst, n); }
    static Result<size_t> wr(OpenFile& f, const void* src, size_t n) { return f.object()->write(f, src, n); }
    Scripted script;
};

struct BufferIo final : UserIo {
    uint8_t mem[64] = {};
    Result<void> copy_in(void* dst, uint64_t src, size_t n) override {
        if (src + n > sizeof mem) return Errno::Fault;
        memcpy(dst, mem + src, n);
        return {};
    }
    Result<void> copy_out(uint64_t dst, const void* src, size_t n) override {
        if (dst + n > sizeof mem) return Errno::Fault;
        memcpy(mem + dst, src, n);
        return {};
    }
};

TEST_F(PosixPipeFile, Pipe2FlagsAndEnds) {
    EXPECT_EQ(make_pipe(oflag::Append).error().code(), Errno::Inval);
    auto pr = make_pipe(oflag::NonBlock | oflag::CloExec);
    ASSERT_TRUE(pr.is_ok());
    PipePair p = pr.release_value();
    EXPECT_EQ(p.read_end->flags(), oflag::ReadOnly | oflag::NonBlock);
    EXPECT_EQ(p.write_end->flags(), oflag::WriteOnly | oflag::NonBlock);
    EXPECT_TRUE(p.read_end->object()->is_stream());
    char c = 'x';
    EXPECT_EQ(wr(*p.read_end, &c, 1).error().code(), Errno::BadF);
    EXPECT_EQ(rd(*p.write_end, &c, 1).error().code(), Errno::BadF);
    EXPECT_EQ(rd(*p.read_end, &c, 1).error().code(), Errno::Again);
    EXPECT_EQ(wr(*p.write_end, "y", 1).value(), 1u);
    BufferIo io;
    EXPECT_EQ(p.read_end->object()->ioctl(*p.read_end, 0x541B, 8, io).value(), 0);
    int32_t avail;
    memcpy(&avail, io.mem + 8, 4);
    EXPECT_EQ(avail, 1);
    EXPECT_EQ(p.read_end->object()->ioctl(*p.read_end, 0x541B, 62, io).error().code(), Errno::Fault);
    EXPECT_EQ(p.read_end->object()->ioctl(*p.read_end, 0x5401, 8, io).error().code(), Errno::NotTty);
    EXPECT_EQ(rd(*p.read_end, &c, 1).value(), 1u);
    EXPECT_EQ(c, 'y');
    Stat st;
    ASSERT_TRUE(p.read_end->object()->stat(st).is_ok());
    EXPECT_EQ(st.st_mode & 0170000, 0010000u);
    EXPECT_EQ(script.sleeps, 0);
}

TEST_F(PosixPipeFile, PollReadinessFollowsTheEnds) {
    PipePair p = make_pipe(0).release_value();
    FileObject& r = *p.read_end->object();
    FileObject& w = *p.write_end->object();
    EXPECT_EQ(r.poll(*p.read_end), 0u);
    EXPECT_EQ(w.poll(*p.write_end), pollev::Out | pollev::WrNorm);
    EXPECT_EQ(r.poll_queue(), w.poll_queue()) << "both ends wake the same subscribers";
    ASSERT_TRUE(wr(*p.write_end, "ab", 2).is_ok());
    EXPECT_EQ(r.poll(*p.read_end), pollev::In | pollev::RdNorm);
    RefPtr<OpenFile> keep_r = p.read_end;
    p.write_end = nullptr;
    EXPECT_EQ(r.poll(*keep_r), pollev::In | pollev::RdNorm | pollev::Hup);
    PipePair q = make_pipe(0).release_value();
    RefPtr<OpenFile> keep_w = q.write_end;
    q.read_end = nullptr;
    EXPECT_EQ(keep_w->object()->poll(*keep_w), pollev::Out | pollev::WrNorm | pollev::Err);
}

// A notify reaches every subscriber of the queue (what poll/select and sleepers rely on).
TEST_F(PosixPipeFile, ChangesNotifySubscribers) {
    struct Counter final : PollWaker {
        int n = 0;
        void wake() override { n++; }
    } counter;
    PipePair p = make_pipe(0).release_value();
    PollQueue* q = p.read_end->object()->poll_queue();
    PollEntry e;
    q->subscribe(e, counter);
    ASSERT_TRUE(wr(*p.write_end, "a", 1).is_ok());
    EXPECT_EQ(counter.n, 1);
    char c;
    ASSERT_TRUE(rd(*p.read_end, &c, 1).is_ok());
    EXPECT_EQ(counter.n, 2);
    p.write_end = nullptr;  // the last writer goes: readers must wake for EOF
    EXPECT_EQ(counter.n, 3);
    q->unsubscribe(e);
}

TEST_F(PosixPipeFile, BlockingReadSleepsUntilDataOrEof) {
    PipePair p = make_pipe(0).release_value();
    RefPtr<OpenFile> w = p.write_end;
    script.action = [&] { ASSERT_TRUE(wr(*w, "hi", 2).is_ok()); };
    char buf[8];
    EXPECT_EQ(rd(*p.read_end, buf, sizeof buf).value(), 2u);
    EXPECT_EQ(script.sleeps, 1);
    script.action = [&] {
        w = nullptr;
        p.write_end = nullptr;
    };
    EXPECT_EQ(rd(*p.read_end, buf, sizeof buf).value(), 0u) << "EOF once the writer is gone";
    EXPECT_EQ(script.sleeps, 2);
}

TEST_F(PosixPipeFile, SignalInterruptsASleep) {
    PipePair p = make_pipe(0).release_value();
    script.signal = true;
    char c;
    EXPECT_EQ(rd(*p.read_end, &c, 1).error().code(), Errno::Intr);
    // A blocked write that already moved data reports the count instead.
    std::vector<uint8_t> big(PIPE_CAPACITY + 100, 'x');
    EXPECT_EQ(wr(*p.write_end, big.data(), big.size()).value(), PIPE_CAPACITY);
}

TEST_F(PosixPipeFile, LargeBlockingWriteGoesInPieces) {
    PipePair p = make_pipe(0).release_value();
    std::vector<uint8_t> big(PIPE_CAPACITY * 2 + 10);
    for (size_t i = 0; i < big.size(); i++) big[i] = uint8_t(i * 13);
    std::vector<uint8_t> got;
    std::function<void()> drain = [&] {
        uint8_t buf[8192];
        auto n = rd(*p.read_end, buf, sizeof buf);
        ASSERT_TRUE(n.is_ok());
        got.insert(got.end(), buf, buf + n.value());
        script.action = drain;  // the reader keeps draining at every sleep
    };
    script.action = drain;
    EXPECT_EQ(wr(*p.write_end, big.data(), big.size()).value(), big.size());
    script.action = nullptr;
    uint8_t buf[PIPE_CAPACITY];
    while (p.read_end->object()->poll(*p.read_end) & pollev::In) {
        size_t n = rd(*p.read_end, buf, sizeof buf).value();
        got.insert(got.end(), buf, buf + n);
    }
    EXPECT_EQ(got, big);
}

TEST_F(PosixPipeFile, EpipeRaisesSigpipe) {
    PipePair p = make_pipe(0).release_value();
    RefPtr<OpenFile> w = p.write_end;
    p.read_end = nullptr;
    EXPECT_EQ(wr(*w, "z", 1).error().code(), Errno::Pipe);
    EXPECT_EQ(g_raised, 13);
    g_raised = 0;
    EXPECT_EQ(wr(*w, "", 0).value(), 0u);
    EXPECT_EQ(g_raised, 0);
    // The reader leaving while a writer sleeps: the writer wakes, EPIPE after what went in.
    PipePair q = make_pipe(0).release_value();
    std::vector<uint8_t> big(PIPE_CAPACITY + 10, 'x');
    script.action = [&] { q.read_end = nullptr; };
    EXPECT_EQ(wr(*q.write_end, big.data(), big.size()).value(), PIPE_CAPACITY);
    EXPECT_EQ(g_raised, 13);
}

TEST_F(PosixPipeFile, EofAndEpipeFollowTheLastDescriptor) {
    auto t = FdTable::create().release_value();
    PipePair p = make_pipe(oflag::NonBlock).release_value();
    Pipe& pipe = static_cast<PipeEnd*>(p.read_end->object())->pipe();
    int rfd = t->install(p.read_end, false).value();
    int wfd = t->install(p.write_end, false).value();
    RefPtr<OpenFile> rend = p.read_end;
    p = PipePair{};
    int wdup = t->dup(wfd).value();
    auto child = t->fork().release_value();
    EXPECT_EQ(pipe.writers(), 1u);  // one description, however many descriptors
    ASSERT_TRUE(t->close(wfd).is_ok());
    ASSERT_TRUE(t->close(wdup).is_ok());
    char c;
    // The child still holds the write end: the read would wait instead of seeing EOF.
    EXPECT_EQ(rd(*t->get(rfd).value(), &c, 1).error().code(), Errno::Again);
    ASSERT_TRUE(child->close(wfd).is_ok());
    ASSERT_TRUE(child->close(wdup).is_ok());
    EXPECT_EQ(pipe.writers(), 0u);
    EXPECT_EQ(rd(*t->get(rfd).value(), &c, 1).value(), 0u);
}
