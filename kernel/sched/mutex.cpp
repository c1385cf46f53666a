#include "kernel/sched/mutex.h"

#include "kernel/arch/x86_64/registers.h"
#include "kernel/lib/log.h"
#include "kernel/sched/scheduler.h"

namespace lamina::sched {

void Mutex::lock() {
    Thread* self = current_thread();
    uint64_t flags = lock_.lock();
    if (!owner_) {
        owner_ = self;
        lock_.unlock(flags);
        return;
    }
    if (owner_ == self) {
        lock_.unlock(flags);
        panic("thread %lu '%s' locked a mutex it already holds", self->id(), self->name());
    }
    self->state_ = ThreadState::Blocked;
    waiters_.push_back(self);
    lock_.unlock_noirq();
    Scheduler::schedule();
    // unlock() made us the owner before waking us.
    KASSERT(__atomic_load_n(&owner_, __ATOMIC_RELAXED) == self);
    if (flags & RFLAGS_IF) asm volatile("sti" ::: "memory");
}

bool Mutex::try_lock() {
    uint64_t flags = lock_.lock();
    bool got = owner_ == nullptr;
    if (got) owner_ = current_thread();
    lock_.unlock(flags);
    return got;
}

void Mutex::unlock() {
    Thread* self = current_thread();
    uint64_t flags = lock_.lock();
    if (owner_ != self) {
        Thread* owner = owner_;
        lock_.unlock(flags);
        panic("thread %lu '%s' unlocked a mutex held by %s", self->id(), self->name(),
              owner ? owner->name() : "nobody");
    }
    Thread* next = waiters_.pop_front();
    owner_ = next;
    if (next) Scheduler::wake(next);
    lock_.unlock(flags);
}

bool Mutex::is_held_by_current() const {
    uint64_t flags = lock_.lock();
    bool held = owner_ == current_thread();
    lock_.unlock(flags);
    return held;
}

}  // namespace lamina::sched
