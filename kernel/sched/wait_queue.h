// WaitQueue: threads wait, in FIFO order, for a condition that other threads or interrupt
// handlers make true. The condition is evaluated with the queue's lock held (interrupts off), so
// it must be cheap and must not block; a waker changes the state the condition reads, then calls
// wake_one() or wake_all(), and no wake-up can fall between a waiter's check and its sleep.
// A woken waiter re-checks its condition and waits again (at the tail) if it no longer holds.
//
// Waking is safe from interrupt context (timer callbacks, device interrupts).
//
// Lock order: a WaitQueue's lock, then a run queue's lock (RunQueue in scheduler.h). A wait
// queue's lock is never held while taking another wait queue's or a mutex's lock.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include <lamina/intrusive_list.h>
#include "kernel/sync/spinlock.h"

namespace lamina::sched {

class Thread;

// A FIFO of waiting threads linked through Thread::wait_link_ (Thread is incomplete here, so
// the list is kept as an untyped chain and typed in wait_queue.cpp).
struct WaitList {
    ListChain chain;
    void push_back(Thread* t);
    Thread* pop_front();
    bool remove(Thread* t);
    bool empty() const { return chain.empty(); }
    size_t count() const { return chain.size_relaxed(); }
};

class WaitQueue {
public:
    constexpr WaitQueue() = default;
    WaitQueue(const WaitQueue&) = delete;
    WaitQueue& operator=(const WaitQueue&) = delete;

    // Waits until cond() is true.
    template <typename Cond>
    void wait(Cond&& cond) {
        for (;;) {
            uint64_t flags = lock_.lock();
            if (cond()) {
                lock_.unlock(flags);
                return;
            }
            block_locked(flags, 0);
        }
    }

    // Waits until cond() is true or timeout_ns have passed (TimedOut; the condition was false
    // at the last check). Timeout 0 only checks.
    template <typename Cond>
    Result<void> wait_for(Cond&& cond, uint64_t timeout_ns) {
        uint64_t deadline = deadline_after(timeout_ns);
        for (;;) {
            uint64_t flags = lock_.lock();
            if (cond()) {
                lock_.unlock(flags);
                return {};
            }
            if (deadline_passed(deadline)) {
                lock_.unlock(flags);
                return Errno::TimedOut;
            }
            block_locked(flags, deadline);
        }
    }

    // Wake the longest-waiting thread / every thread. Return how many were woken.
    size_t wake_one();
    size_t wake_all();

    // Runs update() with the queue's lock held, then wakes every waiter before releasing it: for
    // a waker whose state change must not be seen before the wake-up is done (the waiter may
    // free the object holding the queue as soon as its condition holds).
    template <typename F>
    size_t update_and_wake_all(F&& update) {
        uint64_t flags = lock_.lock();
        update();
        size_t n = wake_all_locked();
        lock_.unlock(flags);
        return n;
    }

    size_t waiter_count() const { return waiters_.count(); }

    // For the timeout machinery (timeout.cpp): t's timed wait on this queue expired.
    void remove_timed_out(Thread* t);

private:
    friend class Scheduler;
    // Queues the current thread, releases the lock, sleeps until woken or until deadline
    // (absolute ns, 0 for none), then restores flags.
    void block_locked(uint64_t flags, uint64_t deadline);
    size_t wake_all_locked();
    static uint64_t deadline_after(uint64_t timeout_ns);
    static bool deadline_passed(uint64_t deadline);

    Spinlock lock_;
    WaitList waiters_;
};

}  // namespace lamina::sched
