#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernel/posix/pipe/pipe.h"
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
    EXPECT_EQ(kPipeCapacity, 65536u);
    EXPECT_EQ(kPipeBuf, 4096u);
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
    // Even a zero-length write reports the broken pipe.
    EXPECT_EQ(p->write("", 0, false).value().status, PipeStatus::BrokenPipe);
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
    std::vector<uint8_t> big(kPipeCapacity - 100, 'a');
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
    std::vector<uint8_t> out(kPipeCapacity);
    ASSERT_TRUE(p->read(out.data(), kPipeBuf - 1 - 100, false).is_ok());
    EXPECT_EQ(p->space(), kPipeBuf - 1);
    std::vector<uint8_t> pb(kPipeBuf, 'c');
    EXPECT_EQ(p->write(pb.data(), pb.size(), false).value().status, PipeStatus::WouldBlock);
    EXPECT_FALSE(p->writable());
    ASSERT_TRUE(p->read(out.data(), 1, false).is_ok());
    EXPECT_TRUE(p->writable());
    EXPECT_EQ(p->write(pb.data(), pb.size(), false).value().bytes, kPipeBuf);
    EXPECT_EQ(p->space(), 0u);
}

TEST(PosixPipe, LargeWritesArePartial) {
    auto p = open_pipe();
    std::vector<uint8_t> big(kPipeCapacity + 5000);
    for (size_t i = 0; i < big.size(); i++) big[i] = uint8_t(i * 7);
    auto w = p->write(big.data(), big.size(), false);
    ASSERT_TRUE(w.is_ok());
    EXPECT_EQ(w.value().status, PipeStatus::WouldBlock);
    EXPECT_EQ(w.value().bytes, kPipeCapacity);
    // The full pipe refuses even one more byte of a large write.
    auto nb = p->write(big.data() + kPipeCapacity, 5000, true);
    ASSERT_TRUE(nb.is_error());
    EXPECT_EQ(nb.error().code(), Errno::Again);
    std::vector<uint8_t> out(big.size());
    ASSERT_EQ(p->read(out.data(), 6000, false).value().bytes, 6000u);
    // Non-blocking large write: what fits, reported as done.
    auto w2 = p->write(big.data() + kPipeCapacity, 5000, true);
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
    std::vector<uint8_t> buf(3 * kPipeBuf);
    for (int i = 0; i < 4000; i++) {
        size_t n = rng() % buf.size();
        bool nonblock = rng() & 1;
        if (rng() & 1) {
            for (size_t k = 0; k < n; k++) buf[k] = next + uint8_t(k);
            size_t before = p->space();
            auto w = p->write(buf.data(), n, nonblock);
            if (w.is_error()) {
                EXPECT_EQ(w.error().code(), Errno::Again);
                EXPECT_TRUE(n <= kPipeBuf ? before < n : before == 0);
                continue;
            }
            if (n <= kPipeBuf) { EXPECT_TRUE(w.value().bytes == 0 || w.value().bytes == n); }
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

TEST(PosixPipeFile, Pipe2FlagsAndEnds) {
    EXPECT_EQ(make_pipe(oflag::Append).error().code(), Errno::Inval);
    auto pr = make_pipe(oflag::NonBlock | oflag::CloExec);
    ASSERT_TRUE(pr.is_ok());
    PipePair p = pr.release_value();
    EXPECT_EQ(p.read_end->flags(), oflag::ReadOnly | oflag::NonBlock);
    EXPECT_EQ(p.write_end->flags(), oflag::WriteOnly | oflag::NonBlock);
    char c = 'x';
    EXPECT_EQ(pipe_write(*p.read_end, &c, 1).error().code(), Errno::BadF);
    EXPECT_EQ(pipe_read(*p.write_end, &c, 1).error().code(), Errno::BadF);
    EXPECT_EQ(pipe_read(*p.read_end, &c, 1).error().code(), Errno::Again);
    EXPECT_EQ(pipe_write(*p.write_end, "y", 1).value().bytes, 1u);
    EXPECT_EQ(pipe_read(*p.read_end, &c, 1).value().bytes, 1u);
    EXPECT_EQ(c, 'y');
}

TEST(PosixPipeFile, EofAndEpipeFollowTheLastDescriptor) {
    auto t = FdTable::create().release_value();
    PipePair p = make_pipe(0).release_value();
    Pipe& pipe = static_cast<PipeEnd*>(p.read_end->object())->pipe();
    RefPtr<Pipe> keep(&pipe);
    int rfd = t->install(p.read_end, false).value();
    int wfd = t->install(p.write_end, false).value();
    p = PipePair{};
    int wdup = t->dup(wfd).value();
    auto child = t->fork().release_value();
    EXPECT_EQ(keep->writers(), 1u);  // one description, however many descriptors
    ASSERT_TRUE(t->close(wfd).is_ok());
    ASSERT_TRUE(t->close(wdup).is_ok());
    char c;
    // The child still holds the write end: a blocking read waits instead of seeing EOF.
    EXPECT_EQ(pipe_read(*t->get(rfd).value(), &c, 1).value().status, PipeStatus::WouldBlock);
    ASSERT_TRUE(child->close(wfd).is_ok());
    ASSERT_TRUE(child->close(wdup).is_ok());
    EXPECT_EQ(keep->writers(), 0u);
    auto eof = pipe_read(*t->get(rfd).value(), &c, 1);
    EXPECT_EQ(eof.value().status, PipeStatus::Done);
    EXPECT_EQ(eof.value().bytes, 0u);
    // And with every reader gone, writes break.
    PipePair q = make_pipe(0).release_value();
    RefPtr<OpenFile> w = q.write_end;
    q.read_end = nullptr;
    EXPECT_EQ(pipe_write(*w, "z", 1).value().status, PipeStatus::BrokenPipe);
}
