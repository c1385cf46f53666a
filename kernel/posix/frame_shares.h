// lamina:portable
// Copy-on-write bookkeeping: how many address spaces map each user frame. The count kept is the
// number of *extra* sharers, so a frame fresh from the allocator (count 0) needs no setup and
// a count of 0 means "exclusively mine": a write fault on it just makes the page writable again.
//
// Guarantees
//   - share() adds a sharer (fork mapping the frame a second time).
//   - release() drops one mapping and returns true when it was the last, i.e. when the caller
//     must free the frame. Concurrent releases by different address spaces (each under its own
//     lock) free the frame exactly once.
//   - exclusive() is exact for the caller's own mapping while it holds its address-space lock:
//     nobody else can add a sharer to a frame without holding the lock of an address space
//     that maps it.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::posix {

class FrameShares {
public:
    // counts[i] stands for the frame at physical address i * 4096; the array starts zeroed.
    void attach(uint16_t* counts, size_t frames) {
        counts_ = counts;
        frames_ = frames;
    }
    bool covers(uint64_t phys) const { return (phys >> 12) < frames_; }

    void share(uint64_t phys) { __atomic_fetch_add(&counts_[phys >> 12], 1, __ATOMIC_ACQ_REL); }

    bool release(uint64_t phys) {
        uint16_t* c = &counts_[phys >> 12];
        uint16_t old = __atomic_load_n(c, __ATOMIC_ACQUIRE);
        for (;;) {
            if (old == 0) return true;
            if (__atomic_compare_exchange_n(c, &old, uint16_t(old - 1), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return false;
        }
    }

    bool exclusive(uint64_t phys) const { return __atomic_load_n(&counts_[phys >> 12], __ATOMIC_ACQUIRE) == 0; }
    uint16_t sharers(uint64_t phys) const { return __atomic_load_n(&counts_[phys >> 12], __ATOMIC_ACQUIRE); }

private:
    uint16_t* counts_ = nullptr;
    size_t frames_ = 0;
};

}  // namespace lamina::posix
