// lamina:portable
// BlockAdaptor: the block interface (interfaces/block.idl, idl::Block) over the NVMe driver
// core. It is what the nvme domain publishes as "block"; the host tests run it against the
// controller model.
//
// A batch (up to 32 requests, one proxy call) goes to one I/O queue at once: every request is
// validated, its RRefBytes buffer translated into DMA segments (the controller reads and writes
// the exchange-heap buffer itself: zero copy), and all of them submitted before the first wait,
// so the queue depth is the batch size. A Flush is a barrier: the requests before it complete
// first, then the flush, then the requests after it.
//
// Statuses. Each request ends with status 0 or a positive errno: EIO for an error completion
// (media error and the like), EINVAL for a range outside the namespace. The whole call fails
// with Inval, without running anything, for a malformed batch: a null batch or request, an
// unknown op, a read or write of zero blocks, more than info().max_blocks, or without a buffer
// big enough for blocks * block_size.
//
// Failures. A controller that fails (a command timed out, CSTS.CFS, registers reading all ones)
// is reported to BlockHost::controller_failed; the domain panics there, which makes its shadow
// restart the driver and resubmit the batch. If the host returns, the batch fails with IO.
//
// Concurrency: calls may come from several threads at once; each takes one I/O queue for its
// whole batch (waiting through BlockHost::yield when all are taken).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/own.h>
#include <lamina/page.h>
#include <lamina/result.h>

#include "drivers/nvme/block.h"
#include "drivers/nvme/controller.h"
#include "interfaces/block.h"

namespace lamina::nvme {

class BlockHost {
public:
    // The bus-address segments of [offset, offset + length) of an exchange-heap object the
    // caller has handed over; returns how many of `max` were used.
    virtual Result<uint32_t> map_buffer(const void* object, uint64_t offset, uint64_t length, DmaSegment* out,
                                        uint32_t max) = 0;
    // The controller failed (see above). The domain does not return from here.
    virtual void controller_failed(const char* why) = 0;
    // Called while waiting for a free queue.
    virtual void yield() = 0;

protected:
    ~BlockHost() = default;
};

class BlockAdaptor final : public idl::Block {
public:
    static constexpr uint32_t BATCH = 32;
    static constexpr uint32_t MAX_REQUEST_BYTES = 128 * 1024;
    // Segments one request's buffer may need: a page each, plus one for an unaligned start.
    static constexpr uint32_t MAX_SEGMENTS = MAX_REQUEST_BYTES / PAGE_SIZE + 1;

    // Serves namespace `nsid` of `controller` (which must outlive the adaptor). NoEnt without
    // that namespace, NoMem.
    static Result<Own<BlockAdaptor>> create(Controller& controller, BlockHost& host, uint32_t nsid = 1);
    ~BlockAdaptor();

    Result<idl::BlockInfo> info() override;
    Result<RRefDeque<idl::BlockRequest, BATCH>> submit(RRefDeque<idl::BlockRequest, BATCH> batch) override;

    // Takes every queue (waiting for batches in flight), for a reinitialisation of the
    // controller; release_all gives them back.
    void acquire_all();
    void release_all();

    uint64_t batches() const { return __atomic_load_n(&batches_, __ATOMIC_RELAXED); }
    uint64_t requests() const { return __atomic_load_n(&requests_, __ATOMIC_RELAXED); }

private:
    BlockAdaptor(Controller& controller, BlockHost& host, uint32_t nsid, const NamespaceInfo& ns)
        : controller_(controller), host_(host), nsid_(nsid), ns_(ns) {}

    uint16_t acquire_queue();
    void release_queue(uint16_t q);
    // Runs requests [first, end) of the batch (no Flush among them but possibly `first`) on q.
    Result<void> run(uint16_t q, idl::BlockRequest** reqs, uint32_t first, uint32_t end);

    Controller& controller_;
    BlockHost& host_;
    uint32_t nsid_;
    NamespaceInfo ns_;
    uint32_t queue_busy_[MAX_IO_QUEUES] = {};                // atomic flags
    DmaSegment (*segments_)[BATCH][MAX_SEGMENTS] = nullptr;  // per queue, from new
    uint64_t batches_ = 0;
    uint64_t requests_ = 0;
};

}  // namespace lamina::nvme
