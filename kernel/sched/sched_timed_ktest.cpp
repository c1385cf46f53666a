// In-kernel tests of the scheduler that need the clock and timers: preemption, sleeping, timed
// waits (suite `sched`).
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/ktest/ktest.h"
#include "kernel/sched/scheduler.h"
#include "kernel/time/time.h"

namespace lamina::sched {
namespace {

struct Busy {
    volatile bool stop = false;
    volatile uint64_t progress[2] = {};
};
struct BusyArg {
    Busy* b;
    unsigned index;
};

void spin_without_yielding(void* arg) {
    auto* a = static_cast<BusyArg*>(arg);
    while (!a->b->stop) a->b->progress[a->index] = a->b->progress[a->index] + 1;
}

// Waits until both busy threads have gone past `since` and returns where they are then; gives
// up after 20 s (a TCG vCPU on a loaded host can miss ticks for a long while, so no fixed
// sleep is long enough, but without preemption one thread never moves at all).
void wait_for_both(const Busy& b, const uint64_t (&since)[2], uint64_t (&seen)[2]) {
    uint64_t deadline = time::now_ns() + 20'000'000'000;
    do {
        sleep_ns(20'000'000);
        seen[0] = b.progress[0], seen[1] = b.progress[1];
    } while ((seen[0] <= since[0] || seen[1] <= since[1]) && time::now_ns() < deadline);
}

// Two threads that never yield share one CPU: the tick preempts each in turn. The test thread
// itself sleeps (on whatever CPU) and so only needs the timer to come back.
KTEST(sched, busy_threads_on_one_cpu_are_preempted) {
    Busy b;
    BusyArg args[2] = {{&b, 0}, {&b, 1}};
    ThreadOptions o;
    o.cpu = int(arch::cpu_count() - 1);
    while (!arch::cpu_by_index(unsigned(o.cpu)).online) o.cpu--;
    Thread* t0 = Thread::create("busy0", spin_without_yielding, &args[0], o).value();
    Thread* t1 = Thread::create("busy1", spin_without_yielding, &args[1], o).value();
    // Both must run, then both must run again: each is preempted and resumed.
    const uint64_t start[2] = {0, 0};
    uint64_t seen[2][2];
    wait_for_both(b, start, seen[0]);
    wait_for_both(b, seen[0], seen[1]);
    b.stop = true;
    t0->join();
    t1->join();
    ktest_ctx.note("progress: %lu/%lu, then %lu/%lu", seen[0][0], seen[0][1], seen[1][0], seen[1][1]);
    KEXPECT(seen[0][0] > 0 && seen[0][1] > 0);
    KEXPECT(seen[1][0] > seen[0][0] && seen[1][1] > seen[0][1]);
}

KTEST(sched, sleep_is_never_early) {
    const uint64_t durations[] = {1'000'000, 5'000'000, 20'000'000, 50'000'000};
    uint64_t worst_late = 0;
    for (uint64_t d : durations) {
        for (int i = 0; i < 3; i++) {
            uint64_t t0 = time::now_ns();
            sleep_ns(d);
            uint64_t slept = time::now_ns() - t0;
            KEXPECT(slept >= d);
            uint64_t late = slept - d;
            if (late > worst_late) worst_late = late;
            // Generous: TCG on a loaded host can stall a vCPU for a long while.
            KEXPECT(late < 500'000'000);
        }
    }
    ktest_ctx.note("worst lateness %lu us", worst_late / 1000);
}

void sleep_a_little(void* arg) {
    sleep_ns(2'000'000);
    __atomic_fetch_add(static_cast<uint64_t*>(arg), 1, __ATOMIC_RELAXED);
}

// Many sleepers on every CPU at once, all woken by their own timers.
KTEST(sched, many_concurrent_sleepers_all_wake) {
    constexpr unsigned N = 64;
    uint64_t woke = 0;
    Thread* threads[N];
    for (unsigned i = 0; i < N; i++) {
        auto r = Thread::create("sleeper", sleep_a_little, &woke);
        KASSERT_TRUE(r.is_ok());
        threads[i] = r.value();
    }
    for (unsigned i = 0; i < N; i++) threads[i]->join();
    KEXPECT_EQ(woke, uint64_t(N));
}

KTEST(sched, wait_queue_timeout) {
    WaitQueue q;
    uint64_t t0 = time::now_ns();
    auto r = q.wait_for([] { return false; }, 10'000'000);
    uint64_t waited = time::now_ns() - t0;
    KEXPECT(r.is_error() && r.error() == Error(Errno::TimedOut));
    KEXPECT(waited >= 10'000'000);
    KEXPECT_EQ(q.waiter_count(), 0u);
    // A zero timeout only checks.
    KEXPECT(q.wait_for([] { return true; }, 0).is_ok());
    KEXPECT(q.wait_for([] { return false; }, 0).is_error());
}

struct LateWake {
    WaitQueue q;
    bool flag = false;  // q's lock
};

void set_flag_later(void* arg) {
    auto* w = static_cast<LateWake*>(arg);
    sleep_ns(5'000'000);
    w->q.update_and_wake_all([w] { w->flag = true; });
}

KTEST(sched, wait_queue_wake_before_timeout) {
    LateWake w;
    Thread* t = Thread::create("waker", set_flag_later, &w).value();
    uint64_t t0 = time::now_ns();
    auto r = w.q.wait_for([&w] { return w.flag; }, 5'000'000'000);
    KEXPECT(r.is_ok());
    KEXPECT(time::now_ns() - t0 < 4'000'000'000);
    t->join();
}

}  // namespace
}  // namespace lamina::sched
