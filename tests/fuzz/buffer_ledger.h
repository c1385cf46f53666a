// Where each of a NIC harness's buffers is (free, on the receive ring, on the transmit ring),
// so that a buffer the driver hands back that it was not given, or hands back twice, is caught.
#pragma once
#include <stdint.h>

#include <algorithm>

#include "tests/fuzz/fuzz.h"

namespace fuzz {

template <uint32_t COUNT>
class BufferLedger {
public:
    enum class Where : uint8_t { Free, Rx, Tx };
    // A free buffer (round robin) now out on `to`; false when none is free.
    bool take(uint32_t& t, Where to) {
        for (uint32_t i = 0; i < COUNT; i++) {
            t = (next_ + i) % COUNT;
            if (where_[t] == Where::Free) {
                where_[t] = to;
                next_ = t + 1;
                return true;
            }
        }
        return false;
    }
    void give_back(uint64_t t, Where from) {
        FUZZ_CHECK(t < COUNT && where_[t] == from, "buffer %lu handed back, but it is not out that way",
                   (unsigned long)t);
        where_[t] = Where::Free;
    }
    // The driver refused it: it never went out.
    void refused(uint64_t t) { where_[t] = Where::Free; }
    uint32_t count(Where w) const { return uint32_t(std::count(where_, where_ + COUNT, w)); }

private:
    Where where_[COUNT] = {};
    uint32_t next_ = 0;
};

}  // namespace fuzz
