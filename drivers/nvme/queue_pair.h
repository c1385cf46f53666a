// lamina:portable
// NvmeQueuePair: one submission queue and its completion queue (NVMe 1.4 sections 4.1, 4.6):
// ring memory, tail/head/phase bookkeeping, doorbells, and command identifiers.
//
// Guarantees
//   - At most entries - 1 commands are in flight, so neither ring can overflow: the SQ holds
//     only unconsumed commands and the CQ only their completions.
//   - A command id is the index of its slot and stays unique among the commands in flight
//     until its completion has been taken (take_completion) and released (release_cid).
//   - The SQ head is learned from completions (CQE.sq_head), never from a register.
//   - Completions are recognised by the phase tag, which flips each time the CQ wraps.
//
// Locking
//   None: the owner (Controller, or its caller per queue) serialises every call.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "drivers/nvme/nvme_spec.h"
#include "drivers/nvme/platform.h"

namespace lamina::nvme {

constexpr uint32_t MAX_QUEUE_ENTRIES = 256;  // per queue; the driver's tables are sized for it

class NvmeQueuePair {
public:
    NvmeQueuePair() = default;
    NvmeQueuePair(const NvmeQueuePair&) = delete;
    NvmeQueuePair& operator=(const NvmeQueuePair&) = delete;

    // Allocates the rings (and, with prp_lists, one PRP list page per slot). The queue starts
    // empty; reset() empties it again after a controller reset.
    Result<void> allocate(Platform& platform, uint16_t qid, uint16_t entries, uint16_t vector, uint32_t dstrd,
                          bool prp_lists);
    void free(Platform& platform);
    void reset();

    bool allocated() const { return sq_.valid(); }
    uint16_t qid() const { return qid_; }
    uint16_t entries() const { return entries_; }
    uint16_t vector() const { return vector_; }
    uint64_t sq_phys() const { return sq_.bus; }
    uint64_t cq_phys() const { return cq_.bus; }

    // Command ids.
    uint32_t free_slots() const { return free_count_; }
    uint32_t capacity() const { return entries_ - 1u; }
    bool alloc_cid(uint16_t& cid);
    void release_cid(uint16_t cid);
    bool cid_busy(uint16_t cid) const { return cid < entries_ && busy_[cid]; }
    uint64_t* prp_list(uint16_t cid) const;
    uint64_t prp_list_phys(uint16_t cid) const;

    // Copies the entry into the SQ at the tail (entry.cid must be an allocated cid). Doorbell
    // rung by ring_sq(), so that a batch costs one MMIO write.
    void push(const spec::SubmissionEntry& entry);
    void ring_sq(Platform& platform);

    // The next completion if the controller has posted one (consumes it; the CQ head doorbell
    // is written by ring_cq()). A completion naming a cid not in flight is dropped and
    // counted in bogus_completions(); the caller sees only valid ones.
    bool take_completion(spec::CompletionEntry& out);
    void ring_cq(Platform& platform);

    uint64_t bogus_completions() const { return bogus_; }

private:
    uint16_t qid_ = 0;
    uint16_t entries_ = 0;
    uint16_t vector_ = 0;
    uint32_t sq_doorbell_ = 0;
    uint32_t cq_doorbell_ = 0;
    DmaRegion sq_;
    DmaRegion cq_;
    DmaRegion prp_;
    uint16_t sq_tail_ = 0;
    uint16_t sq_head_ = 0;
    uint16_t sq_rung_ = 0;  // tail last written to the doorbell
    uint16_t cq_head_ = 0;
    uint16_t cq_rung_ = 0;
    bool phase_ = true;
    uint64_t bogus_ = 0;
    uint32_t free_count_ = 0;
    uint16_t free_cids_[MAX_QUEUE_ENTRIES] = {};
    bool busy_[MAX_QUEUE_ENTRIES] = {};
};

}  // namespace lamina::nvme
