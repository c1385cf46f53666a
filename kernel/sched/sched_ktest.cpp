// In-kernel tests of threads, the scheduler, wait queues and mutexes (suite `sched`).
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/ktest/ktest.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/sched/mutex.h"
#include "kernel/sched/scheduler.h"

namespace lamina::sched {
namespace {

Thread* must_create(ktest::Context& ktest_ctx, const char* name, Thread::Entry entry, void* arg,
                    const ThreadOptions& options = {}) {
    auto r = Thread::create(name, entry, arg, options);
    if (!KEXPECT(r.is_ok())) return nullptr;
    return r.value();
}

// ---- creation, exit, join ----

void add_one(void* arg) { __atomic_fetch_add(static_cast<uint64_t*>(arg), 1, __ATOMIC_RELAXED); }
void exit_early(void* arg) {
    add_one(arg);
    thread_exit();
}

KTEST(sched, create_and_join_returns_exit_reason) {
    uint64_t counter = 0;
    Thread* a = must_create(ktest_ctx, "returns", add_one, &counter);
    Thread* b = must_create(ktest_ctx, "exits", exit_early, &counter);
    KASSERT_TRUE(a && b);
    KEXPECT(a->id() != b->id());
    KEXPECT(__builtin_strcmp(a->name(), "returns") == 0);
    KEXPECT(a->join() == ExitReason::Returned);
    KEXPECT(b->join() == ExitReason::Exited);
    KEXPECT_EQ(counter, 2u);
}

KTEST(sched, bad_arguments_are_refused) {
    KEXPECT(Thread::create("null", nullptr, nullptr).is_error());
    ThreadOptions o;
    o.cpu = int(arch::MAX_CPUS);
    KEXPECT(Thread::create("far", add_one, nullptr, o).error() == Error(Errno::Inval));
    o = {};
    o.priority = Priority(7);
    KEXPECT(Thread::create("prio", add_one, nullptr, o).error() == Error(Errno::Inval));
    o = {};
    o.stack_size = 100;
    KEXPECT(Thread::create("tiny", add_one, nullptr, o).error() == Error(Errno::Inval));
}

// Thousands of threads, created and joined in batches; memory returns to where it was.
KTEST(sched, thousands_of_threads_created_and_joined) {
    constexpr unsigned TOTAL = 2000, BATCH = 100;
    uint64_t counter = 0;
    Thread* batch[BATCH];
    ThreadOptions o;
    o.stack_size = 8192;
    uint64_t free_before = 0;
    // The first batch is a warm-up: the heap keeps the slabs it grows for Thread objects.
    for (unsigned done = 0; done < TOTAL + BATCH; done += BATCH) {
        if (done == BATCH) free_before = mm::free_pages();
        for (unsigned i = 0; i < BATCH; i++) {
            batch[i] = must_create(ktest_ctx, "many", add_one, &counter, o);
            KASSERT_TRUE(batch[i]);
        }
        for (unsigned i = 0; i < BATCH; i++) KEXPECT(batch[i]->join() == ExitReason::Returned);
    }
    KEXPECT_EQ(counter, uint64_t(TOTAL + BATCH));
    uint64_t free_after = mm::free_pages();
    ktest_ctx.note("free pages before %lu, after %lu", free_before, free_after);
    KEXPECT_EQ(free_before, free_after);
}

// Detached threads are freed by the reaper, not joined.
KTEST(sched, detached_threads_are_reaped) {
    uint64_t counter = 0;
    ThreadOptions o;
    o.detached = true;
    o.stack_size = 8192;
    for (int i = 0; i < 200; i++) KASSERT_TRUE(Thread::create("detached", add_one, &counter, o).is_ok());
    for (int spins = 0; __atomic_load_n(&counter, __ATOMIC_RELAXED) < 200 && spins < 100000; spins++) yield();
    KEXPECT_EQ(__atomic_load_n(&counter, __ATOMIC_RELAXED), 200u);
}

// ---- cooperative switching and priorities ----

// What each thread of a group is started with: the state they share and which one it is.
template <typename Shared>
struct Member {
    Shared* shared;
    unsigned index;
};

// N threads running one entry over shared state, thread i with Member{&shared, i}.
template <typename Shared, unsigned N>
struct Team {
    Member<Shared> members[N];
    Thread* threads[N] = {};

    // Starts them in index order; after(i) runs once thread i exists (to wait for it to arrive
    // somewhere before the next one starts). False when a thread could not be created.
    template <typename After>
    bool start(ktest::Context& ktest_ctx, const char* name, Thread::Entry entry, Shared& shared,
               const ThreadOptions& options, After after) {
        for (unsigned i = 0; i < N; i++) {
            members[i] = {&shared, i};
            threads[i] = must_create(ktest_ctx, name, entry, &members[i], options);
            if (!threads[i]) return false;
            after(i);
        }
        return true;
    }
    bool start(ktest::Context& ktest_ctx, const char* name, Thread::Entry entry, Shared& shared,
               const ThreadOptions& options = {}) {
        return start(ktest_ctx, name, entry, shared, options, [](unsigned) {});
    }
    void join() {
        for (Thread* t : threads) t->join();
    }
};

struct PingPong {
    volatile unsigned turn = 0;
    unsigned rounds = 0;
    unsigned log[64];
    unsigned logged = 0;
};

// Thread `index` (0 or 1) waits for its turn, logs itself and hands the turn to the other.
void take_turns(void* arg) {
    auto* m = static_cast<Member<PingPong>*>(arg);
    PingPong* p = m->shared;
    for (unsigned i = 0; i < p->rounds; i++) {
        while (p->turn != m->index) yield();
        if (p->logged < 64) p->log[p->logged++] = m->index;
        p->turn = 1 - m->index;
    }
}

KTEST(sched, yield_alternates_threads_on_one_cpu) {
    PingPong p;
    p.rounds = 32;
    ThreadOptions o;
    o.cpu = 0;
    Member<PingPong> ping{&p, 0}, pong{&p, 1};
    Thread* a = must_create(ktest_ctx, "ping", take_turns, &ping, o);
    Thread* b = must_create(ktest_ctx, "pong", take_turns, &pong, o);
    KASSERT_TRUE(a && b);
    a->join();
    b->join();
    KEXPECT_EQ(p.logged, 64u);
    for (unsigned i = 0; i < p.logged; i++) KEXPECT_EQ(p.log[i], i % 2);
}

// ---- wait queues ----

struct FifoWaiters {
    WaitQueue queue;
    unsigned tokens = 0;  // queue lock
    volatile unsigned woken = 0;
    unsigned order[16];
};
void fifo_waiter(void* arg) {
    auto* a = static_cast<Member<FifoWaiters>*>(arg);
    FifoWaiters* w = a->shared;
    w->queue.wait([w] {
        if (!w->tokens) return false;
        w->tokens--;
        return true;
    });
    w->order[w->woken] = a->index;
    __atomic_store_n(&w->woken, w->woken + 1, __ATOMIC_RELEASE);
}

KTEST(sched, wait_queue_wakes_in_fifo_order) {
    constexpr unsigned N = 8;
    FifoWaiters w;
    Team<FifoWaiters, N> team;
    ThreadOptions o;
    o.cpu = 0;
    // Each reaches the queue before the next one is made, so arrival order is the index.
    KASSERT_TRUE(team.start(ktest_ctx, "waiter", fifo_waiter, w, o, [&w](unsigned i) {
        while (w.queue.waiter_count() != i + 1) yield();
    }));
    for (unsigned i = 0; i < N; i++) {
        w.queue.update_and_wake_all([] {});  // spurious wake-ups: nobody may pass without a token
        while (w.queue.waiter_count() != N - i) yield();
        KEXPECT_EQ(w.woken, i);
        // one token, one wake: the head of the queue takes it
        {
            // tokens is protected by the queue's lock: update it inside the queue's critical section.
            w.queue.update_and_wake_all([&w] { w.tokens++; });
        }
        while (__atomic_load_n(&w.woken, __ATOMIC_ACQUIRE) != i + 1) yield();
    }
    team.join();
    for (unsigned i = 0; i < N; i++) KEXPECT_EQ(w.order[i], i);
}

// ---- mutexes ----

struct Contention {
    MutexProtected<uint64_t> counter;  // deliberately not atomic
    volatile bool stop = false;
    uint64_t per_thread[8] = {};  // each thread's own
    unsigned iterations = 0;      // 0: until stop
};

void contend(void* arg) {
    auto* a = static_cast<Member<Contention>*>(arg);
    Contention* c = a->shared;
    for (unsigned i = 0; c->iterations ? i < c->iterations : !c->stop; i++) {
        c->counter.with([&](uint64_t& counter) {
            uint64_t v = counter;
            // Give others every chance to break in while the mutex is held.
            if (i % 8 == 0) yield();
            for (int spin = 0; spin < 50; spin++) asm volatile("");
            counter = v + 1;
        });
        c->per_thread[a->index]++;
    }
}

KTEST(sched, mutex_excludes) {
    constexpr unsigned N = 6, ITERATIONS = 2000;
    Contention c;
    c.iterations = ITERATIONS;
    Team<Contention, N> team;
    KASSERT_TRUE(team.start(ktest_ctx, "contend", contend, c));
    team.join();
    KEXPECT_EQ(c.counter.with([](uint64_t& n) { return n; }), uint64_t(N) * ITERATIONS);
}

// FIFO hand-off: over a stretch of time every contender gets about the same share (each waits
// at most one round of the others). The contenders share one CPU: across CPUs each hand-off waits
// for a halted vCPU to be woken, which on a loaded host running TCG takes milliseconds and makes
// the shares a measure of the host, not of the mutex (mutex_hands_off_in_arrival_order covers
// the order across CPUs).
KTEST(sched, mutex_is_fair) {
    constexpr unsigned N = 4;
    Contention c;
    Team<Contention, N> team;
    ThreadOptions o;
    o.cpu = int(arch::cpu_count() - 1);
    while (!arch::cpu_by_index(unsigned(o.cpu)).online) o.cpu--;
    KASSERT_TRUE(team.start(ktest_ctx, "fair", contend, c, o));
    // Long enough for many time slices: every contender is running and queued on the mutex for
    // most of it, whichever CPUs they share.
    sleep_ns(400'000'000);
    c.stop = true;
    uint64_t lo = ~0ull, hi = 0;
    for (unsigned i = 0; i < N; i++) {
        lo = c.per_thread[i] < lo ? c.per_thread[i] : lo;
        hi = c.per_thread[i] > hi ? c.per_thread[i] : hi;
    }
    ktest_ctx.note("acquisitions per thread: min %lu, max %lu", lo, hi);
    team.join();
    KEXPECT(lo > 0);
    KEXPECT(hi <= 3 * lo + 16);
}

struct Arrival {
    Mutex mutex;
    unsigned order[8];
    unsigned acquired = 0;  // mutex
};
void lock_and_record(void* arg) {
    auto* m = static_cast<Member<Arrival>*>(arg);
    MutexGuard g(m->shared->mutex);
    m->shared->order[m->shared->acquired++] = m->index;
}

// Waiters queue up in a known order (spread over the CPUs); unlocking hands the mutex down the
// queue in exactly that order.
KTEST(sched, mutex_hands_off_in_arrival_order) {
    constexpr unsigned N = 8;
    Arrival a;
    Team<Arrival, N> team;
    a.mutex.lock();
    KASSERT_TRUE(team.start(ktest_ctx, "arrive", lock_and_record, a, {}, [&a](unsigned i) {
        while (a.mutex.waiter_count() != i + 1) yield();
    }));
    a.mutex.unlock();
    team.join();
    KEXPECT_EQ(a.acquired, N);
    for (unsigned i = 0; i < N; i++) KEXPECT_EQ(a.order[i], i);
}

KTEST(sched, mutex_try_lock_and_owner) {
    Mutex m;
    KEXPECT(m.try_lock());
    KEXPECT(m.is_held_by_current());
    KEXPECT(!m.try_lock());
    m.unlock();
    KEXPECT(!m.is_held_by_current());
}

}  // namespace
}  // namespace lamina::sched

namespace lamina::sched {
namespace {

// ---- contained faults ----

[[gnu::noinline]] void touch_unmapped(void* arg) {
    // Above the boot identity map and below the higher half: never mapped.
    *reinterpret_cast<volatile uint64_t*>(0x4000000000) = 1;
    *static_cast<volatile bool*>(arg) = true;  // never reached
}

KTEST(sched, expected_fault_ends_only_the_thread) {
    volatile bool survived = false;
    uint64_t faults_before = contained_fault_count();
    ThreadOptions o;
    o.faults_expected = true;
    auto r = Thread::create("faulty", touch_unmapped, const_cast<bool*>(&survived), o);
    KASSERT_TRUE(r.is_ok());
    KEXPECT(r.value()->join() == ExitReason::Faulted);
    KEXPECT(!survived);
    KEXPECT_EQ(contained_fault_count(), faults_before + 1);
    // The kernel goes on: threads still run.
    uint64_t counter = 0;
    auto ok = Thread::create("after", add_one, &counter);
    KASSERT_TRUE(ok.is_ok());
    KEXPECT(ok.value()->join() == ExitReason::Returned);
    KEXPECT_EQ(counter, 1u);
}

}  // namespace
}  // namespace lamina::sched
