#include "kernel/sched/wait_queue.h"

#include "kernel/arch/x86_64/registers.h"
#include "kernel/lib/log.h"
#include "kernel/sched/scheduler.h"
#include "kernel/sched/timeout.h"

namespace lamina::sched {

// WaitList is Thread's friend, so the link member is named inside its functions.
void WaitList::push_back(Thread* t) { chain.push_back(&t->wait_link_); }
Thread* WaitList::pop_front() { return ListLink<Thread, &Thread::wait_link_>::owner(chain.pop_front()); }
bool WaitList::remove(Thread* t) { return chain.remove(&t->wait_link_); }

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
    if (flags & RFLAGS_IF) asm volatile("sti" ::: "memory");
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
