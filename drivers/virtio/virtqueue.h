// lamina:portable
// Virtqueue: one split virtqueue (virtio 1.1, 2.6) as the driver side sees it. The descriptor
// table, available ring and used ring live in one DMA region. Buffers are added as descriptor
// chains carrying a caller's token; the available index is published once per batch
// (publish), after which notify_needed() says whether the device wants a doorbell (it sets
// USED_F_NO_NOTIFY while it is polling anyway, 2.6.10). Used-buffer interrupts stay suppressed
// (AVAIL_F_NO_INTERRUPT, 2.6.7) except while the driver is about to sleep (arm_interrupt).
//
// Memory ordering (2.6.13): descriptors and ring entries are written before the release store
// of avail->idx; used entries are read after the acquire load of used->idx; the check of the
// device's flags after publishing needs a full barrier, as does the re-check after arming.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "drivers/virtio/platform.h"
#include "drivers/virtio/virtio_spec.h"

namespace lamina::virtio {

struct Segment {
    uint64_t bus;
    uint32_t len;
    bool device_writes;
};

class Virtqueue {
public:
    static constexpr uint16_t MAX_SIZE = 1024;

    Virtqueue() = default;
    ~Virtqueue() { release(); }
    Virtqueue(const Virtqueue&) = delete;
    Virtqueue& operator=(const Virtqueue&) = delete;

    // Allocates the rings for `size` entries (a power of two up to MAX_SIZE). NoMem, Inval.
    Result<void> init(Platform& platform, uint16_t size);
    // Frees the rings: only after the device was reset (or never saw them).
    void release();

    uint16_t size() const { return size_; }
    uint16_t free_descriptors() const { return free_count_; }
    uint64_t desc_bus() const { return region_.bus; }
    uint64_t avail_bus() const { return region_.bus + avail_offset_; }
    uint64_t used_bus() const { return region_.bus + used_offset_; }

    // Queues a chain (device-readable segments before device-writable ones, 2.6.4.2); Busy
    // when there are too few free descriptors, Inval for an empty chain. Visible to the device
    // after publish().
    Result<void> add(const Segment* segments, uint16_t count, uint32_t token);
    // Makes what add() queued visible. Returns whether anything new was published.
    bool publish();
    // After publish(): whether the device asked to be notified.
    bool notify_needed() const;

    // The oldest used buffer, if any: its token and the bytes the device wrote.
    bool pop_used(uint32_t& token, uint32_t& len);
    bool has_used() const;
    uint16_t in_flight() const { return uint16_t(size_ - free_count_); }

    // Asks the device for an interrupt on the next used buffer; returns false (interrupt
    // suppressed again) when one is already there, so the caller need not sleep.
    bool arm_interrupt();
    void suppress_interrupt();

private:
    spec::AvailHeader* avail() const {
        return reinterpret_cast<spec::AvailHeader*>(static_cast<uint8_t*>(region_.virt) + avail_offset_);
    }
    uint16_t* avail_ring() const {
        return reinterpret_cast<uint16_t*>(static_cast<uint8_t*>(region_.virt) + avail_offset_ +
                                           sizeof(spec::AvailHeader));
    }
    spec::UsedHeader* used() const {
        return reinterpret_cast<spec::UsedHeader*>(static_cast<uint8_t*>(region_.virt) + used_offset_);
    }
    spec::UsedElem* used_ring() const {
        return reinterpret_cast<spec::UsedElem*>(static_cast<uint8_t*>(region_.virt) + used_offset_ +
                                                 sizeof(spec::UsedHeader));
    }
    spec::Desc* desc() const { return static_cast<spec::Desc*>(region_.virt); }

    Platform* platform_ = nullptr;
    DmaRegion region_;
    size_t avail_offset_ = 0, used_offset_ = 0;
    uint16_t size_ = 0;
    uint16_t free_head_ = 0;  // free descriptors are chained through next_
    uint16_t free_count_ = 0;
    uint16_t avail_idx_ = 0;         // next avail->idx (not yet published)
    uint16_t published_idx_ = 0;     // avail->idx as the device sees it
    uint16_t last_used_ = 0;         // used entries consumed
    uint32_t token_[MAX_SIZE] = {};  // by head descriptor
    uint16_t chain_len_[MAX_SIZE] = {};
    // Each descriptor's link, in the driver's own memory: the table is memory the device can
    // write, so the free list and the chains are never read back from it (a hostile device
    // rewriting `next` made pop_used write past the table; found by tests/fuzz/virtio_net).
    uint16_t next_[MAX_SIZE] = {};
};

}  // namespace lamina::virtio
