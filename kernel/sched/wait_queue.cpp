#include "kernel/sched/wait_queue.h"

#include "kernel/lib/log.h"
#include "kernel/sched/scheduler.h"
#include "kernel/sched/timeout.h"

namespace lamina::sched {

void WaitList::push_back(Thread* t) {
    t->wait_next_ = nullptr;
    if (tail) tail->wait_next_ = t;
    else head = t;
    tail = t;
    count++;
}

Thread* WaitList::pop_front() {
    Thread* t = head;
    if (!t) return nullptr;
    head = t->wait_next_;
    if (!head) tail = nullptr;
    t->wait_next_ = nullptr;
    count--;
    return t;
}

bool WaitList::remove(Thread* t) {
    Thread* prev = nullptr;
    for (Thread* c = head; c; prev = c, c = c->wait_next_) {
        if (c != t) continue;
        if (prev) prev->wait_next_ = c->wait_next_;
        else head = c->wait_next_;
        if (tail == c) tail = prev;
        c->wait_next_ = nullptr;
        count--;
        return true;
    }
    return false;
}

size_t WaitQueue::wake_one() {
    uint64_t flags = lock_.lock();
    Thread* t = waiters_.pop_front();
    if (t) {
        t->waiting_on_ = nullptr;
        Scheduler::wake(t);
    }
    lock_.unlock(flags);
    return t ? 1 : 0;
}

size_t WaitQueue::wake_all_locked() {
    size_t n = 0;
    while (Thread* t = waiters_.pop_front()) {
        t->waiting_on_ = nullptr;
        Scheduler::wake(t);
        n++;
    }
    return n;
}

size_t WaitQueue::wake_all() {
    uint64_t flags = lock_.lock();
    size_t n = wake_all_locked();
    lock_.unlock(flags);
    return n;
}

void WaitQueue::block_locked(uint64_t flags, uint64_t deadline) {
    Thread* t = current_thread();
    KASSERT(!t->idle_);
    t->state_ = ThreadState::Blocked;
    t->waiting_on_ = this;
    t->wait_timed_out_ = false;
    waiters_.push_back(t);
    lock_.unlock_noirq();
    // Armed with no lock held (timer queues come first in their lock order) but interrupts
    // still off: the timer fires on this CPU, so not before schedule() has switched away.
    if (deadline) arm_timeout(t, this, deadline);
    Scheduler::schedule();
    if (deadline) disarm_timeout(t);
    if (flags & (1u << 9)) asm volatile("sti" ::: "memory");
}

void WaitQueue::remove_timed_out(Thread* t) {
    uint64_t flags = lock_.lock();
    if (t->waiting_on_ == this && waiters_.remove(t)) {
        t->waiting_on_ = nullptr;
        t->wait_timed_out_ = true;
        Scheduler::wake(t);
    }
    lock_.unlock(flags);
}

uint64_t WaitQueue::deadline_after(uint64_t timeout_ns) { return timeout_deadline_after(timeout_ns); }
bool WaitQueue::deadline_passed(uint64_t deadline) { return timeout_now_ns() >= deadline; }

}  // namespace lamina::sched
