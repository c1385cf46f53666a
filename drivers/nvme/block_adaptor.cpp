// lamina:portable
#include "drivers/nvme/block_adaptor.h"

#include <new>

namespace lamina::nvme {

namespace {

constexpr int32_t ABI_EINVAL = 22, ABI_EIO = 5;
constexpr uint64_t DATA_OFFSET = offsetof(ExchangeBytes, data);

idl::BlockRequest* slot(RRefDeque<idl::BlockRequest, BlockAdaptor::BATCH>& batch, uint32_t i) {
    auto& storage = *batch.handle();
    return storage.slots[(storage.head + i) % BlockAdaptor::BATCH].get();
}

}  // namespace

Result<Own<BlockAdaptor>> BlockAdaptor::create(Controller& controller, BlockHost& host, uint32_t nsid) {
    const NamespaceInfo* ns = controller.find_namespace(nsid);
    if (!ns || ns->block_size == 0) return Errno::NoEnt;
    auto a = TRY(adopt_own_or_nomem(new (std::nothrow) BlockAdaptor(controller, host, nsid, *ns)));
    a->segments_ = new (std::nothrow) DmaSegment[MAX_IO_QUEUES][BATCH][MAX_SEGMENTS];
    if (!a->segments_) return Errno::NoMem;
    return a;
}

BlockAdaptor::~BlockAdaptor() { delete[] segments_; }

Result<idl::BlockInfo> BlockAdaptor::info() {
    uint32_t max_bytes = controller_.info().max_transfer_bytes;
    if (max_bytes == 0 || max_bytes > MAX_REQUEST_BYTES) max_bytes = MAX_REQUEST_BYTES;
    return idl::BlockInfo{ns_.block_size, max_bytes / ns_.block_size, ns_.blocks};
}

uint16_t BlockAdaptor::acquire_queue() {
    for (;;) {
        uint16_t n = controller_.io_queue_count();
        for (uint16_t q = 0; q < n; q++) {
            uint32_t expected = 0;
            if (__atomic_compare_exchange_n(&queue_busy_[q], &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return q;
        }
        host_.yield();
    }
}

void BlockAdaptor::release_queue(uint16_t q) { __atomic_store_n(&queue_busy_[q], 0, __ATOMIC_RELEASE); }

void BlockAdaptor::acquire_all() {
    for (uint16_t q = 0; q < MAX_IO_QUEUES; q++) {
        uint32_t expected = 0;
        while (!__atomic_compare_exchange_n(&queue_busy_[q], &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            expected = 0;
            host_.yield();
        }
    }
}

void BlockAdaptor::release_all() {
    for (uint16_t q = 0; q < MAX_IO_QUEUES; q++) release_queue(q);
}

Result<RRefDeque<idl::BlockRequest, BlockAdaptor::BATCH>> BlockAdaptor::submit(
    RRefDeque<idl::BlockRequest, BATCH> batch) {
    if (!batch) return Errno::Inval;
    uint32_t count = batch.size();
    if (count > BATCH) return Errno::Inval;
    idl::BlockRequest* reqs[BATCH];
    uint32_t max_blocks = info().value().max_blocks;
    // The whole batch is checked before anything runs: a malformed one runs nothing.
    for (uint32_t i = 0; i < count; i++) {
        idl::BlockRequest* r = slot(batch, i);
        if (!r) return Errno::Inval;
        reqs[i] = r;
        switch (r->op) {
            case idl::BlockOp::Flush:
                break;
            case idl::BlockOp::Read:
            case idl::BlockOp::Write:
                if (r->blocks == 0 || r->blocks > max_blocks || !r->buf ||
                    uint64_t(r->blocks) * ns_.block_size > r->buf.capacity())
                    return Errno::Inval;
                break;
            default:
                return Errno::Inval;
        }
        r->status = 0;
    }
    __atomic_fetch_add(&batches_, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&requests_, count, __ATOMIC_RELAXED);
    uint16_t q = acquire_queue();
    Result<void> outcome;
    uint32_t first = 0;
    while (first < count && outcome.is_ok()) {
        // A Flush runs alone, after everything before it has completed.
        uint32_t end = first + 1;
        if (reqs[first]->op != idl::BlockOp::Flush)
            while (end < count && reqs[end]->op != idl::BlockOp::Flush) end++;
        outcome = run(q, reqs, first, end);
        first = end;
    }
    release_queue(q);
    if (outcome.is_error()) return outcome.error();
    return batch;
}

Result<void> BlockAdaptor::run(uint16_t q, idl::BlockRequest** reqs, uint32_t first, uint32_t end) {
    BlockRequest cmds[BATCH];
    uint32_t tags[BATCH];  // cmds index -> batch index
    uint32_t n = 0;
    for (uint32_t i = first; i < end; i++) {
        idl::BlockRequest* r = reqs[i];
        BlockRequest c;
        c.tag = i;
        c.nsid = nsid_;
        if (r->op == idl::BlockOp::Flush) {
            c.op = BlockOp::Flush;
        } else {
            if (r->lba >= ns_.blocks || r->blocks > ns_.blocks - r->lba) {
                r->status = ABI_EINVAL;
                (void)r->buf.set_length(0);
                continue;
            }
            c.op = r->op == idl::BlockOp::Read ? BlockOp::Read : BlockOp::Write;
            c.lba = r->lba;
            c.blocks = r->blocks;
            DmaSegment* segs = segments_[q][i];
            auto mapped =
                host_.map_buffer(r->buf.raw(), DATA_OFFSET, uint64_t(r->blocks) * ns_.block_size, segs, MAX_SEGMENTS);
            if (mapped.is_error()) {
                r->status = int32_t(mapped.error().code());
                (void)r->buf.set_length(0);
                continue;
            }
            c.segments = segs;
            c.segment_count = mapped.value();
        }
        tags[n] = i;
        cmds[n++] = c;
    }
    (void)tags;
    uint32_t submitted = 0, completed = 0;
    BlockCompletion done[BATCH];
    auto failed = [&](Error e) -> Result<void> {
        if (is_controller_failure(e)) {
            host_.controller_failed(controller_.failure_message());
            return Errno::IO;
        }
        return e;
    };
    while (completed < n) {
        while (submitted < n) {
            auto taken = controller_.submit(q, cmds + submitted, n - submitted);
            if (taken.is_error()) {
                if (is_controller_failure(taken.error())) return failed(taken.error());
                // This request was refused (bad range after all, too many commands): it ends
                // here, the ones after it go on.
                idl::BlockRequest* r = reqs[cmds[submitted].tag];
                r->status = int32_t(taken.error().code());
                if (r->buf) (void)r->buf.set_length(0);
                submitted++;
                completed++;
                continue;
            }
            if (taken.value() == 0) break;  // the queue is full: reap first
            submitted += taken.value();
        }
        if (completed >= n) break;
        auto got = controller_.wait(q, done, BATCH);
        if (got.is_error()) return failed(got.error());
        for (uint32_t k = 0; k < got.value(); k++) {
            idl::BlockRequest* r = reqs[done[k].tag];
            if (done[k].status.ok()) {
                r->status = 0;
                if (r->op != idl::BlockOp::Flush) (void)r->buf.set_length(r->blocks * ns_.block_size);
            } else {
                Error e = done[k].status.error();
                r->status = e.code() == Errno::Range  ? ABI_EINVAL
                            : e.code() == Errno::None ? ABI_EIO
                                                      : int32_t(e.code());
                if (r->buf) (void)r->buf.set_length(0);
            }
            completed++;
        }
    }
    return {};
}

}  // namespace lamina::nvme
