// lamina:portable
#include "drivers/nvme/queue_pair.h"

namespace lamina::nvme {

Result<void> NvmeQueuePair::allocate(Platform& platform, uint16_t qid, uint16_t entries, uint16_t vector,
                                     uint32_t dstrd, bool prp_lists) {
    if (entries < 2 || entries > MAX_QUEUE_ENTRIES) return Errno::Inval;
    qid_ = qid;
    entries_ = entries;
    vector_ = vector;
    sq_doorbell_ = spec::reg::sq_tail_doorbell(qid, dstrd);
    cq_doorbell_ = spec::reg::cq_head_doorbell(qid, dstrd);
    auto sq = platform.alloc_dma(size_t(entries) << spec::SQ_ENTRY_SHIFT);
    if (sq.is_error()) return sq.error();
    sq_ = sq.value();
    auto cq = platform.alloc_dma(size_t(entries) << spec::CQ_ENTRY_SHIFT);
    if (cq.is_error()) {
        free(platform);
        return cq.error();
    }
    cq_ = cq.value();
    if (prp_lists) {
        auto prp = platform.alloc_dma(size_t(entries) * spec::PAGE_SIZE);
        if (prp.is_error()) {
            free(platform);
            return prp.error();
        }
        prp_ = prp.value();
    }
    reset();
    return {};
}

void NvmeQueuePair::free(Platform& platform) {
    if (sq_.valid()) platform.free_dma(sq_);
    if (cq_.valid()) platform.free_dma(cq_);
    if (prp_.valid()) platform.free_dma(prp_);
    sq_ = cq_ = prp_ = DmaRegion{};
}

void NvmeQueuePair::reset() {
    __builtin_memset(sq_.virt, 0, size_t(entries_) << spec::SQ_ENTRY_SHIFT);
    __builtin_memset(cq_.virt, 0, size_t(entries_) << spec::CQ_ENTRY_SHIFT);
    sq_tail_ = sq_head_ = sq_rung_ = cq_head_ = cq_rung_ = 0;
    phase_ = true;
    // Hand out low cids first (pop from the end).
    free_count_ = capacity();
    for (uint32_t i = 0; i < free_count_; i++) free_cids_[i] = uint16_t(free_count_ - 1 - i);
    for (uint32_t i = 0; i < MAX_QUEUE_ENTRIES; i++) busy_[i] = false;
}

bool NvmeQueuePair::alloc_cid(uint16_t& cid) {
    if (free_count_ == 0) return false;
    cid = free_cids_[--free_count_];
    busy_[cid] = true;
    return true;
}

void NvmeQueuePair::release_cid(uint16_t cid) {
    if (cid >= entries_ || !busy_[cid]) return;
    busy_[cid] = false;
    free_cids_[free_count_++] = cid;
}

uint64_t* NvmeQueuePair::prp_list(uint16_t cid) const {
    return reinterpret_cast<uint64_t*>(static_cast<uint8_t*>(prp_.virt) + size_t(cid) * spec::PAGE_SIZE);
}

uint64_t NvmeQueuePair::prp_list_phys(uint16_t cid) const { return prp_.bus + uint64_t(cid) * spec::PAGE_SIZE; }

void NvmeQueuePair::push(const spec::SubmissionEntry& entry) {
    auto* slot = static_cast<spec::SubmissionEntry*>(sq_.virt) + sq_tail_;
    *slot = entry;
    sq_tail_ = uint16_t((sq_tail_ + 1) % entries_);
}

void NvmeQueuePair::ring_sq(Platform& platform) {
    if (sq_tail_ == sq_rung_) return;
    // The entries must be in memory before the controller hears of them.
    __atomic_thread_fence(__ATOMIC_RELEASE);
    platform.write32(sq_doorbell_, sq_tail_);
    sq_rung_ = sq_tail_;
}

bool NvmeQueuePair::take_completion(spec::CompletionEntry& out) {
    for (;;) {
        volatile auto* e = static_cast<volatile spec::CompletionEntry*>(cq_.virt) + cq_head_;
        uint16_t status = e->status;
        if (spec::status::phase(status) != phase_) return false;
        // Read the rest of the entry only after seeing its phase tag.
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        out.dw0 = e->dw0;
        out.dw1 = e->dw1;
        out.sq_head = e->sq_head;
        out.sq_id = e->sq_id;
        out.cid = e->cid;
        out.status = status;
        cq_head_ = uint16_t(cq_head_ + 1);
        if (cq_head_ == entries_) {
            cq_head_ = 0;
            phase_ = !phase_;
        }
        if (out.sq_head < entries_) sq_head_ = out.sq_head;
        if (!cid_busy(out.cid)) {
            bogus_++;
            continue;
        }
        return true;
    }
}

void NvmeQueuePair::ring_cq(Platform& platform) {
    if (cq_head_ == cq_rung_) return;
    platform.write32(cq_doorbell_, cq_head_);
    cq_rung_ = cq_head_;
}

}  // namespace lamina::nvme
