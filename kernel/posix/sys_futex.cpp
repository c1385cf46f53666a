// futex(2) and robust futex lists.
//
// Contract
//   - Operations: FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET (a zero bitset
//     is EINVAL), FUTEX_REQUEUE, FUTEX_CMP_REQUEUE (EAGAIN when the word is not val3) and
//     FUTEX_WAKE_OP (Linux's encoding of op, cmp and their arguments in val3), each with or
//     without FUTEX_PRIVATE_FLAG. Anything else (PI futexes) is ENOSYS.
//   - Keys: a private futex, or one in private memory, is the address space and the address,
//     so the threads of a process meet on it. A futex without FUTEX_PRIVATE_FLAG in a
//     MAP_SHARED mapping is its frame and offset, so processes sharing the mapping meet on it
//     wherever each maps it.
//   - Timeouts: FUTEX_WAIT's is relative; FUTEX_WAIT_BITSET's is absolute, on CLOCK_MONOTONIC
//     or, with FUTEX_CLOCK_REALTIME, on CLOCK_REALTIME. ETIMEDOUT when it passes, EINTR when a
//     signal arrives (restarted after an SA_RESTART handler: the word is checked again), EAGAIN
//     when the word is not the expected value, EFAULT for a bad address, EINVAL for a
//     misaligned one.
//   - A waiter is woken exactly once: a wake counts it only if it was still waiting.
//   - Robust lists (set_robust_list): at a thread's exit each mutex on its list (and the one in
//     list_op_pending) still owned by it gets FUTEX_OWNER_DIED, and one waiter is woken.
#include "kernel/posix/futex.h"

#include "kernel/posix/process.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/sched/wait_queue.h"
#include "kernel/sync/spinlock.h"
#include "kernel/time/rtc.h"
#include "kernel/time/time.h"

namespace lamina::posix {

namespace {

struct FutexKey {
    uint64_t space;  // the AddressSpace for a private key, 0 for a frame's
    uint64_t addr;   // virtual address, or physical for a frame's
    bool operator==(const FutexKey&) const = default;
};

struct FutexBucket;

// One waiting thread, on its own stack. A waker changes it only under the lock of the bucket
// that lists it, and wakes `queue` before dropping that lock: once the waiter has taken the
// lock itself after its wait, nobody refers to it any more.
struct FutexWaiter {
    FutexKey key;
    uint32_t bitset;
    bool woken;           // atomic reads
    FutexBucket* bucket;  // atomic reads; changed by a requeue under both buckets' locks
    FutexWaiter* next;
    sched::WaitQueue queue;
};

struct FutexBucket {
    Spinlock lock;  // guards waiters and their fields; lock order: by address, then queue locks
    FutexWaiter* waiters = nullptr;
};
constexpr size_t FUTEX_BUCKETS = 64;
FutexBucket g_futex[FUTEX_BUCKETS];

FutexBucket& bucket(const FutexKey& k) {
    uint64_t h = ((k.space >> 4) ^ (k.addr >> 2)) * 0x9e3779b97f4a7c15ull;
    return g_futex[(h >> 32) % FUTEX_BUCKETS];
}

FutexKey private_key(const AddressSpace& as, uint64_t addr) { return {reinterpret_cast<uint64_t>(&as), addr}; }

// The key for the word at addr (present: the caller has read it).
FutexKey key_for(AddressSpace& as, uint64_t addr, bool is_private) {
    if (!is_private) {
        auto info = as.lookup(addr);
        if (info.is_ok() && info.value().shared_mapping) return {0, info.value().phys + (addr & (mm::PAGE_SIZE - 1))};
    }
    return private_key(as, addr);
}

void unlink_locked(FutexBucket& b, FutexWaiter* w) {
    for (FutexWaiter** l = &b.waiters; *l; l = &(*l)->next)
        if (*l == w) {
            *l = w->next;
            return;
        }
}

// Wakes up to count waiters on key whose bitset meets `bitset` (bucket lock held).
int64_t wake_locked(FutexBucket& b, const FutexKey& key, uint32_t count, uint32_t bitset) {
    int64_t n = 0;
    for (FutexWaiter** l = &b.waiters; *l && uint64_t(n) < count;) {
        FutexWaiter* w = *l;
        if (w->key == key && (w->bitset & bitset)) {
            *l = w->next;
            __atomic_store_n(&w->woken, true, __ATOMIC_RELEASE);
            w->queue.wake_all();
            n++;
        } else {
            l = &w->next;
        }
    }
    return n;
}

int64_t wake_key(const FutexKey& key, uint32_t count, uint32_t bitset) {
    FutexBucket& b = bucket(key);
    uint64_t flags = b.lock.lock();
    int64_t n = wake_locked(b, key, count, bitset);
    b.lock.unlock(flags);
    return n;
}

// Both buckets locked, the lower address first.
struct TwoBuckets {
    FutexBucket &a, &b;
    uint64_t flags;
    TwoBuckets(FutexBucket& x, FutexBucket& y) : a(&x < &y ? x : y), b(&x < &y ? y : x) {
        flags = a.lock.lock();
        if (&a != &b) b.lock.lock_noirq();
    }
    ~TwoBuckets() {
        if (&a != &b) b.lock.unlock_noirq();
        a.lock.unlock(flags);
    }
    TwoBuckets(const TwoBuckets&) = delete;
    TwoBuckets& operator=(const TwoBuckets&) = delete;
};

AddressSpace& space() { return *current_process()->as; }

SyscallResult futex_wait(uint64_t addr, uint32_t expected, uint64_t timeout_ns, bool timed, uint32_t bitset,
                         bool is_private) {
    AddressSpace& as = space();
    // A first read faults the page in (a shared key needs its frame) and saves a queueing when
    // the word has already moved on.
    auto first = UserPtr<uint32_t>(addr).read();
    if (first.is_error()) return Errno::Fault;
    if (first.value() != expected) return Errno::Again;
    FutexWaiter w{key_for(as, addr, is_private), bitset, false, nullptr, nullptr, {}};
    FutexBucket* b = &bucket(w.key);
    w.bucket = b;
    // Queue first, then read the word: a waker that changes it afterwards finds us on the list;
    // one that changed it before makes the read differ (EAGAIN). The read is a user copy, so it
    // cannot happen under the bucket lock.
    {
        uint64_t flags = b->lock.lock();
        w.next = b->waiters;
        b->waiters = &w;
        b->lock.unlock(flags);
    }
    auto value = UserPtr<uint32_t>(addr).read();
    Result<void> r = {};
    if (value.is_ok() && value.value() == expected) {
        auto cond = [&w] { return __atomic_load_n(&w.woken, __ATOMIC_ACQUIRE); };
        r = timed ? wait_interruptible_for(w.queue, cond, timeout_ns) : wait_interruptible(w.queue, cond);
    }
    // Off the list of whichever bucket holds it now (a requeue may have moved it).
    bool woken;
    for (;;) {
        b = __atomic_load_n(&w.bucket, __ATOMIC_ACQUIRE);
        uint64_t flags = b->lock.lock();
        if (__atomic_load_n(&w.bucket, __ATOMIC_ACQUIRE) != b) {
            b->lock.unlock(flags);
            continue;
        }
        woken = w.woken;
        if (!woken) unlink_locked(*b, &w);
        b->lock.unlock(flags);
        break;
    }
    if (woken) return 0;
    if (value.is_error()) return Errno::Fault;
    if (value.value() != expected) return Errno::Again;
    if (r.is_error()) return r.error().code() == Errno::TimedOut ? Errno::TimedOut : Errno::Intr;
    return 0;
}

SyscallResult futex_wake(uint64_t addr, uint32_t count, uint32_t bitset, bool is_private) {
    AddressSpace& as = space();
    if (!is_private) {
        // A shared key needs the frame: fault the page in as a waiter's read did.
        if (UserPtr<uint32_t>(addr).read().is_error()) return Errno::Fault;
    }
    return wake_key(key_for(as, addr, is_private), count, bitset);
}

// Wakes nr_wake waiters on `from` and moves up to nr_move of the rest to `to` (both buckets
// locked). Returns how many were woken or moved, as Linux counts.
int64_t requeue_locked(FutexBucket& b1, FutexBucket& b2, const FutexKey& from, const FutexKey& to, uint32_t nr_wake,
                       uint32_t nr_move) {
    int64_t n = wake_locked(b1, from, nr_wake, ~0u);
    uint32_t moved = 0;
    for (FutexWaiter** l = &b1.waiters; *l && moved < nr_move;) {
        FutexWaiter* w = *l;
        if (w->key != from) {
            l = &w->next;
            continue;
        }
        moved++;
        w->key = to;
        if (&b1 == &b2) {
            l = &w->next;
            continue;
        }
        *l = w->next;
        w->next = b2.waiters;
        b2.waiters = w;
        __atomic_store_n(&w->bucket, &b2, __ATOMIC_RELEASE);
    }
    return n + moved;
}

// FUTEX_REQUEUE and FUTEX_CMP_REQUEUE.
SyscallResult futex_requeue(uint64_t addr, uint64_t addr2, uint32_t nr_wake, uint32_t nr_move, bool compare,
                            uint32_t expected, bool is_private) {
    AddressSpace& as = space();
    if (UserPtr<uint32_t>(addr).read().is_error() || UserPtr<uint32_t>(addr2).read().is_error()) return Errno::Fault;
    FutexKey from = key_for(as, addr, is_private), to = key_for(as, addr2, is_private);
    FutexBucket &b1 = bucket(from), &b2 = bucket(to);
    for (int attempt = 0;; attempt++) {
        bool fault = false;
        int64_t n = 0;
        {
            TwoBuckets locks(b1, b2);
            if (compare) {
                // An atomic read (a swap of the value with itself) under the locks, as Linux
                // compares: a waiter that queued before has already seen the word.
                auto now = as.cmpxchg_user_word(addr, expected, expected);
                if (now.is_error())
                    fault = true;
                else if (now.value() != expected)
                    return Errno::Again;
            }
            if (!fault) n = requeue_locked(b1, b2, from, to, nr_wake, nr_move);
        }
        if (!fault) return n;
        // Not writable yet (copy-on-write): take the write fault outside the locks, then retry.
        if (attempt == 2 || as.handle_fault(addr, true, false) != FaultResult::Handled) return Errno::Fault;
    }
}

bool wake_op_compare(uint32_t cmp, int32_t old, int32_t arg, bool& ok) {
    ok = true;
    switch (cmp) {
        case 0:
            return old == arg;
        case 1:
            return old != arg;
        case 2:
            return old < arg;
        case 3:
            return old <= arg;
        case 4:
            return old > arg;
        case 5:
            return old >= arg;
    }
    ok = false;
    return false;
}

// FUTEX_WAKE_OP: atomically applies op to the word at addr2, wakes nr_wake waiters on addr and,
// when the old value of addr2 passes the comparison, nr_wake2 waiters on addr2.
SyscallResult futex_wake_op(uint64_t addr, uint64_t addr2, uint32_t nr_wake, uint32_t nr_wake2, uint32_t encoded,
                            bool is_private) {
    constexpr uint32_t SET = 0, ADD = 1, OR = 2, ANDN = 3, XOR = 4, ARG_SHIFT = 8;
    uint32_t op = (encoded >> 28) & 15, cmp = (encoded >> 24) & 15;
    int32_t oparg = int32_t(encoded << 8) >> 20, cmparg = int32_t(encoded << 20) >> 20;  // 12-bit signed
    if (op & ARG_SHIFT) {
        if (uint32_t(oparg) > 31) return Errno::Inval;
        oparg = int32_t(1u << oparg);
        op &= ~ARG_SHIFT;
    }
    if (op > XOR) return Errno::NoSys;
    bool cmp_ok;
    (void)wake_op_compare(cmp, 0, 0, cmp_ok);
    if (!cmp_ok) return Errno::NoSys;
    if (addr2 & 3) return Errno::Inval;
    AddressSpace& as = space();
    auto first = UserPtr<uint32_t>(addr2).read();
    if (first.is_error()) return Errno::Fault;
    uint32_t old = first.value();
    for (int faults = 0;;) {
        uint32_t next = op == SET    ? uint32_t(oparg)
                        : op == ADD  ? old + uint32_t(oparg)
                        : op == OR   ? old | uint32_t(oparg)
                        : op == ANDN ? old & ~uint32_t(oparg)
                                     : old ^ uint32_t(oparg);
        auto seen = as.cmpxchg_user_word(addr2, old, next);
        if (seen.is_ok() && seen.value() == old) break;
        if (seen.is_ok()) {
            old = seen.value();  // another thread got there first: redo the operation
            continue;
        }
        if (++faults > 3 || as.handle_fault(addr2, true, false) != FaultResult::Handled) return Errno::Fault;
    }
    if (!is_private && UserPtr<uint32_t>(addr).read().is_error()) return Errno::Fault;
    int64_t n = wake_key(key_for(as, addr, is_private), nr_wake, ~0u);
    if (wake_op_compare(cmp, int32_t(old), cmparg, cmp_ok))
        n += wake_key(key_for(as, addr2, is_private), nr_wake2, ~0u);
    return n;
}

struct TimeSpec {
    int64_t sec, nsec;
};

// The user's timeout as nanoseconds from now (absolute ones against the chosen clock).
Result<uint64_t> timeout_from_user(uint64_t user, bool absolute, bool realtime) {
    auto ts = UserPtr<TimeSpec>(user).read();
    if (ts.is_error()) return Errno::Fault;
    if (ts.value().sec < 0 || ts.value().nsec < 0 || ts.value().nsec >= 1'000'000'000) return Errno::Inval;
    constexpr uint64_t MAX_SEC = 1ull << 32;  // beyond a century: as good as forever
    uint64_t sec = uint64_t(ts.value().sec) < MAX_SEC ? uint64_t(ts.value().sec) : MAX_SEC;
    uint64_t ns = sec * 1'000'000'000ull + uint64_t(ts.value().nsec);
    if (absolute) {
        uint64_t now = realtime ? time::realtime_ns() : time::now_ns();
        ns = ns > now ? ns - now : 0;
    }
    return ns;
}

}  // namespace

void futex_wake_word(AddressSpace& as, uint64_t addr, uint32_t count) {
    (void)wake_key(private_key(as, addr), count, ~0u);
}

void release_robust_list(Task& t) {
    // struct robust_list_head: the list (a pointer to the next entry, the head itself ending
    // it), the futex word's offset from an entry, and the entry being locked or unlocked now.
    constexpr uint32_t FUTEX_WAITERS = 0x80000000u, FUTEX_OWNER_DIED = 0x40000000u, FUTEX_TID_MASK = 0x3fffffffu;
    constexpr int MAX_ENTRIES = 2048;  // Linux's ROBUST_LIST_LIMIT: a cyclic list cannot hang us
    uint64_t head = t.robust_list;
    if (!head) return;
    struct {
        uint64_t next;
        int64_t offset;
        uint64_t pending;
    } h;
    if (copy_from_user(&h, head, sizeof h).is_error()) return;
    AddressSpace& as = *t.process->as;
    auto release = [&](uint64_t entry) {
        uint64_t word_addr = (entry & ~uint64_t(1)) + uint64_t(h.offset);
        for (int tries = 0; tries < 4; tries++) {
            auto word = UserPtr<uint32_t>(word_addr).read();
            if (word.is_error() || (word.value() & FUTEX_TID_MASK) != t.tid) return;
            uint32_t next = (word.value() & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
            auto seen = as.cmpxchg_user_word(word_addr, word.value(), next);
            if (seen.is_error()) {
                if (as.handle_fault(word_addr, true, false) != FaultResult::Handled) return;
                continue;
            }
            if (seen.value() != word.value()) continue;
            if (word.value() & FUTEX_WAITERS) (void)wake_key(key_for(as, word_addr, false), 1, ~0u);
            return;
        }
    };
    uint64_t entry = h.next;
    for (int i = 0; i < MAX_ENTRIES && entry && entry != head; i++) {
        auto next = UserPtr<uint64_t>(entry & ~uint64_t(1)).read();
        if (next.is_error()) break;
        if (entry != h.pending) release(entry);
        entry = next.value();
    }
    if (h.pending) release(h.pending);
    t.robust_list = 0;
}

SyscallResult sys_futex(uint64_t addr, uint64_t op, uint64_t val, uint64_t timeout, uint64_t addr2, uint64_t val3) {
    constexpr uint64_t WAIT = 0, WAKE = 1, REQUEUE = 3, CMP_REQUEUE = 4, WAKE_OP = 5, WAIT_BITSET = 9, WAKE_BITSET = 10,
                       PRIVATE = 128, CLOCK_REALTIME = 256;
    uint64_t cmd = op & ~(PRIVATE | CLOCK_REALTIME);
    bool is_private = op & PRIVATE;
    if (addr & 3) return Errno::Inval;
    // The second count rides in the timeout argument for the two-word operations.
    auto count = [](uint64_t v) { return uint32_t(v > 0x7fffffff ? 0x7fffffff : v); };
    if ((op & CLOCK_REALTIME) && cmd != WAIT && cmd != WAIT_BITSET) return Errno::NoSys;
    switch (cmd) {
        case WAIT:
        case WAIT_BITSET: {
            uint32_t bitset = cmd == WAIT ? ~0u : uint32_t(val3);
            if (!bitset) return Errno::Inval;
            uint64_t ns = 0;
            if (timeout) ns = TRY(timeout_from_user(timeout, cmd == WAIT_BITSET, op & CLOCK_REALTIME));
            return futex_wait(addr, uint32_t(val), ns, timeout != 0, bitset, is_private);
        }
        case WAKE:
        case WAKE_BITSET: {
            uint32_t bitset = cmd == WAKE ? ~0u : uint32_t(val3);
            if (!bitset) return Errno::Inval;
            return futex_wake(addr, count(val), bitset, is_private);
        }
        case REQUEUE:
        case CMP_REQUEUE:
            if (addr2 & 3) return Errno::Inval;
            if (int32_t(val) < 0 || int32_t(timeout) < 0) return Errno::Inval;
            return futex_requeue(addr, addr2, count(val), count(timeout), cmd == CMP_REQUEUE, uint32_t(val3),
                                 is_private);
        case WAKE_OP:
            return futex_wake_op(addr, addr2, count(val), count(timeout), uint32_t(val3), is_private);
    }
    return Errno::NoSys;
}

}  // namespace lamina::posix
