// Spinlocks that save and restore the interrupt flag. A spinlock is held with interrupts off on
// the holding CPU, so an interrupt handler on the same CPU cannot deadlock against it.
//
// SpinlockProtected<T> ties a lock to the data it protects: the data is reachable only inside
// with(), which holds the lock for the call.
#pragma once

#include <stdint.h>

#include <utility>

namespace lamina {

class Spinlock {
public:
    constexpr Spinlock() = default;
    Spinlock(const Spinlock&) = delete;
    Spinlock& operator=(const Spinlock&) = delete;

    // Returns the caller's interrupt flag, to give back to unlock().
    [[nodiscard]] uint64_t lock() {
        uint64_t flags;
        asm volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
        while (__atomic_exchange_n(&locked_, 1, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(&locked_, __ATOMIC_RELAXED)) asm volatile("pause");
        }
        return flags;
    }

    void unlock(uint64_t flags) {
        __atomic_store_n(&locked_, 0, __ATOMIC_RELEASE);
        if (flags & (1u << 9)) asm volatile("sti" ::: "memory");
    }

    // For code that already runs with interrupts off (interrupt handlers, the scheduler).
    void lock_noirq() {
        while (__atomic_exchange_n(&locked_, 1, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(&locked_, __ATOMIC_RELAXED)) asm volatile("pause");
        }
    }
    void unlock_noirq() { __atomic_store_n(&locked_, 0, __ATOMIC_RELEASE); }

    bool is_locked() const { return __atomic_load_n(&locked_, __ATOMIC_RELAXED); }

private:
    volatile uint32_t locked_ = 0;
};

class SpinlockGuard {
public:
    explicit SpinlockGuard(Spinlock& l) : lock_(l), flags_(l.lock()) {}
    ~SpinlockGuard() { lock_.unlock(flags_); }
    SpinlockGuard(const SpinlockGuard&) = delete;
    SpinlockGuard& operator=(const SpinlockGuard&) = delete;

private:
    Spinlock& lock_;
    uint64_t flags_;
};

// Data reachable only inside with(), which holds `Lock` (through a `Guard`) for the call. The
// same wrapper serves every lock kind: SpinlockProtected here, sched::MutexProtected.
template <typename T, typename Lock, typename Guard>
class Protected {
public:
    template <typename... Args>
    constexpr explicit Protected(Args&&... args) : value_(std::forward<Args>(args)...) {}

    template <typename F>
    decltype(auto) with(F&& f) {
        Guard g(lock_);
        return f(value_);
    }

    // For initialisation before other CPUs or interrupts exist.
    T& unsafe_get() { return value_; }

private:
    Lock lock_;
    T value_;
};

template <typename T>
using SpinlockProtected = Protected<T, Spinlock, SpinlockGuard>;

}  // namespace lamina
