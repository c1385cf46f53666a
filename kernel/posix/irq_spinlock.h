// lamina:portable
// A spinlock for the POSIX layer's portable code (file systems, poll queues): in the kernel it
// is held with interrupts off on the holding CPU, like kernel/sync/spinlock.h, so an interrupt
// handler that notifies a poll queue cannot deadlock against it; host builds have no
// interrupts to mask. Hold it briefly and never across a sleep.
#pragma once

#include <stdint.h>

namespace lamina::posix {

class IrqSpinlock {
public:
    IrqSpinlock() = default;
    IrqSpinlock(const IrqSpinlock&) = delete;
    IrqSpinlock& operator=(const IrqSpinlock&) = delete;

    [[nodiscard]] uint64_t lock() {
        uint64_t flags = 0;
#if !__STDC_HOSTED__
        asm volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
#endif
        while (__atomic_exchange_n(&locked_, 1, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(&locked_, __ATOMIC_RELAXED)) __builtin_ia32_pause();
        }
        return flags;
    }
    void unlock(uint64_t flags) {
        __atomic_store_n(&locked_, 0, __ATOMIC_RELEASE);
#if !__STDC_HOSTED__
        if (flags & (1u << 9)) asm volatile("sti" ::: "memory");
#else
        (void)flags;
#endif
    }

private:
    uint32_t locked_ = 0;
};

class IrqSpinlockGuard {
public:
    explicit IrqSpinlockGuard(IrqSpinlock& l) : l_(l), flags_(l.lock()) {}
    ~IrqSpinlockGuard() { l_.unlock(flags_); }
    IrqSpinlockGuard(const IrqSpinlockGuard&) = delete;
    IrqSpinlockGuard& operator=(const IrqSpinlockGuard&) = delete;

private:
    IrqSpinlock& l_;
    uint64_t flags_;
};

}  // namespace lamina::posix
