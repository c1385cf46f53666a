// In-kernel tests of the pipe's sleeping and waking with real threads on both CPUs: a blocked
// reader wakes for data and for the last writer's close, a blocked writer for room, a poll
// sleeper for a notify; a large transfer goes through intact.
#include "kernel/ktest/ktest.h"
#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/pipe/pipe_file.h"
#include "kernel/posix/poll/poll_sleeper.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::posix {

namespace {

struct Transfer {
    RefPtr<OpenFile> end;
    size_t bytes = 0;       // to write, or read so far
    uint32_t checksum = 0;  // of what went through
    uint64_t delay_ns = 0;  // before starting
    bool close_after = false;
};

uint8_t pattern(size_t i) { return uint8_t(i * 31 + (i >> 9)); }

void writer_main(void* arg) {
    auto* t = static_cast<Transfer*>(arg);
    if (t->delay_ns) sched::sleep_ns(t->delay_ns);
    uint8_t buf[3000];  // not a divisor of the capacity: writes straddle the ring's end
    size_t done = 0;
    while (done < t->bytes) {
        size_t k = t->bytes - done < sizeof buf ? t->bytes - done : sizeof buf;
        for (size_t i = 0; i < k; i++) buf[i] = pattern(done + i);
        auto r = t->end->object()->write(*t->end, buf, k);
        if (r.is_error()) break;
        for (size_t i = 0; i < r.value(); i++) t->checksum = t->checksum * 33 + buf[i];
        done += r.value();
    }
    if (t->close_after) t->end = nullptr;
}

}  // namespace

KTEST(pipe, blocked_reader_wakes_for_data_and_eof) {
    auto pair = make_pipe(0);
    KASSERT_TRUE(pair.is_ok());
    Transfer w{pair.value().write_end, 5, 0, 20'000'000, true};
    pair.value().write_end = nullptr;
    auto t = sched::Thread::create("pipe-writer", writer_main, &w);
    KASSERT_TRUE(t.is_ok());
    OpenFile& r = *pair.value().read_end;
    uint8_t buf[16];
    uint64_t t0 = time::now_ns();
    auto got = r.object()->read(r, buf, sizeof buf);  // sleeps until the writer's 5 bytes
    KASSERT_TRUE(got.is_ok());
    KEXPECT_EQ(got.value(), 5u);
    KEXPECT(time::now_ns() - t0 >= 10'000'000);
    auto eof = r.object()->read(r, buf, sizeof buf);  // sleeps until the writer closes
    KASSERT_TRUE(eof.is_ok());
    KEXPECT_EQ(eof.value(), 0u);
    t.value()->join();
}

KTEST(pipe, large_transfer_blocks_both_sides_and_arrives_intact) {
    auto pair = make_pipe(0);
    KASSERT_TRUE(pair.is_ok());
    constexpr size_t BYTES = 1 << 20;  // 16 times the capacity
    Transfer w{pair.value().write_end, BYTES, 0, 0, true};
    pair.value().write_end = nullptr;
    auto t = sched::Thread::create("pipe-writer", writer_main, &w);
    KASSERT_TRUE(t.is_ok());
    OpenFile& r = *pair.value().read_end;
    static uint8_t buf[5000];
    size_t total = 0;
    uint32_t sum = 0;
    bool in_order = true;
    for (;;) {
        auto got = r.object()->read(r, buf, sizeof buf);
        KASSERT_TRUE(got.is_ok());
        if (got.value() == 0) break;
        for (size_t i = 0; i < got.value(); i++) {
            if (buf[i] != pattern(total + i)) in_order = false;
            sum = sum * 33 + buf[i];
        }
        total += got.value();
    }
    t.value()->join();
    KEXPECT_EQ(total, BYTES);
    KEXPECT(in_order);
    KEXPECT_EQ(sum, w.checksum);
}

KTEST(pipe, writer_gets_epipe_when_the_reader_leaves_while_it_sleeps) {
    auto pair = make_pipe(0);
    KASSERT_TRUE(pair.is_ok());
    Transfer w{pair.value().write_end, PIPE_CAPACITY + 4096, 0, 0, false};
    auto t = sched::Thread::create("pipe-writer", writer_main, &w);
    KASSERT_TRUE(t.is_ok());
    sched::sleep_ns(30'000'000);  // the writer fills the pipe and sleeps
    pair.value().read_end = nullptr;
    t.value()->join();
    // What fit went in; the rest met EPIPE (no process: no SIGPIPE to raise).
    auto again = w.end->object()->write(*w.end, "x", 1);
    KEXPECT(again.is_error() && again.error().code() == Errno::Pipe);
}

KTEST(pipe, poll_sleeper_wakes_on_notify) {
    auto pair = make_pipe(0);
    KASSERT_TRUE(pair.is_ok());
    OpenFile& r = *pair.value().read_end;
    PollSleeper sleeper;
    PollEntry entry;
    r.object()->poll_queue()->subscribe(entry, sleeper);
    uint64_t seen = sleeper.generation();
    KEXPECT_EQ(r.object()->poll(r) & pollev::In, 0u);
    // Nothing happens: the deadline ends the sleep.
    auto timed = sleeper.sleep(seen, time::now_ns() + 20'000'000);
    KEXPECT(timed.is_error() && timed.error().code() == Errno::TimedOut);
    Transfer w{pair.value().write_end, 1, 0, 10'000'000, false};
    auto t = sched::Thread::create("pipe-writer", writer_main, &w);
    KASSERT_TRUE(t.is_ok());
    auto woke = sleeper.sleep(seen, time::now_ns() + 5'000'000'000ull);
    KEXPECT(woke.is_ok());
    KEXPECT(r.object()->poll(r) & pollev::In);
    r.object()->poll_queue()->unsubscribe(entry);
    t.value()->join();
}

}  // namespace lamina::posix
