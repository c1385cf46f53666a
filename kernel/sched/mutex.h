// A blocking mutual-exclusion lock for threads (never for interrupt context).
//
// Fair: unlock() hands the mutex straight to the longest-waiting thread (FIFO), so acquisition
// order follows arrival order and a thread that unlocks and relocks at once cannot barge ahead
// of the waiters. Owner tracking: unlocking a mutex one does not hold, or locking one already
// held by the caller, is a kernel panic.
//
// Lock order: a Mutex's internal spinlock, then a run queue lock. A thread may hold a Mutex
// while taking other Mutexes or spinlocks; it must not block while holding a spinlock.
#pragma once

#include "kernel/sched/wait_queue.h"
#include "kernel/sync/spinlock.h"

namespace lamina::sched {

class Thread;

class Mutex {
public:
    constexpr Mutex() = default;
    Mutex(const Mutex&) = delete;
    Mutex& operator=(const Mutex&) = delete;

    void lock();
    bool try_lock();
    void unlock();
    bool is_held_by_current() const;
    size_t waiter_count() const { return waiters_.count(); }

private:
    mutable Spinlock lock_;
    Thread* owner_ = nullptr;  // lock_
    WaitList waiters_;         // lock_
};

class MutexGuard {
public:
    explicit MutexGuard(Mutex& m) : m_(m) { m_.lock(); }
    ~MutexGuard() { m_.unlock(); }
    MutexGuard(const MutexGuard&) = delete;
    MutexGuard& operator=(const MutexGuard&) = delete;

private:
    Mutex& m_;
};

// Data reachable only with its mutex held (Protected, in kernel/sync/spinlock.h).
template <typename T>
using MutexProtected = Protected<T, Mutex, MutexGuard>;

}  // namespace lamina::sched
