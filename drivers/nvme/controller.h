// lamina:portable
// Controller: the NVMe driver core. Brings a controller up (reset, admin queue, identify,
// number of queues, I/O queue pairs), moves block requests through the I/O queues, and detects
// a failed controller; the host it runs on is hidden behind Platform.
//
// Guarantees
//   - Every wait on the controller is bounded: CSTS.RDY transitions by CAP.TO (or
//     Config::ready_timeout_ns), each command by Config::command_timeout_ns.
//   - A command that times out, a controller that reports fatal status (CSTS.CFS), reads as
//     all ones (gone) or never becomes ready make the controller *failed*: every call then
//     returns CONTROLLER_FAILED (see block.h) until reinitialize() succeeds. failure_message()
//     says which. Error completions are not failures: they end the one request, with the
//     decoded status in its completion.
//   - A request larger than the controller's MDTS (and than one PRP list page) is split into
//     several commands; its completion arrives once, after the last of them, carrying the
//     first error any of them had.
//   - reinitialize() resets the controller, recreates the queues and hands back every request
//     that was accepted but not completed, for the caller to resubmit; the driver forgets them.
//
// Locking
//   None inside. Requests on different queues touch disjoint state (NvmeIoQueue), so the host
//   may serialise per queue (e.g. one queue per CPU, or one lock per queue); init, reinitialize,
//   shutdown and the destructor need every queue quiet.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/own.h>
#include <lamina/result.h>

#include "drivers/nvme/block.h"
#include "drivers/nvme/nvme_spec.h"
#include "drivers/nvme/platform.h"
#include "drivers/nvme/queue_pair.h"

namespace lamina::nvme {

constexpr uint32_t MAX_IO_QUEUES = 8;
constexpr uint32_t MAX_NAMESPACES = 16;

struct Config {
    uint16_t io_queues = 4;          // asked for; the controller may grant fewer
    uint16_t io_queue_entries = 64;  // per queue, capped by CAP.MQES and MAX_QUEUE_ENTRIES
    uint16_t admin_queue_entries = 16;
    uint64_t command_timeout_ns = 5'000'000'000;
    uint64_t ready_timeout_ns = 0;  // 0: what CAP.TO says
};

struct ControllerInfo {
    uint16_t vendor_id = 0;
    char serial[21] = {};  // trailing spaces removed
    char model[41] = {};
    char firmware[9] = {};
    uint32_t version = 0;             // VS register
    uint32_t max_transfer_bytes = 0;  // what one command may carry (MDTS, PRP list limit)
    uint32_t namespace_count = 0;     // NN
    bool volatile_write_cache = false;
    uint32_t max_queue_entries = 0;  // CAP.MQES + 1
    uint32_t doorbell_stride = 0;    // CAP.DSTRD
    uint64_t ready_timeout_ns = 0;
};

struct NamespaceInfo {
    uint32_t nsid = 0;
    uint64_t blocks = 0;      // NSZE
    uint32_t block_size = 0;  // from the LBA format FLBAS selects
    uint8_t lba_format = 0;
};

enum class Failure : uint8_t { None, CommandTimeout, FatalStatus, DeviceGone, NotReady };

// One I/O queue pair and the requests travelling through it.
struct NvmeIoQueue {
    struct Request {
        BlockRequest request;
        Status status;
        uint16_t parts_left = 0;
        bool busy = false;
    };
    NvmeQueuePair pair;
    Request requests[MAX_QUEUE_ENTRIES];
    uint16_t free_requests[MAX_QUEUE_ENTRIES];
    uint32_t free_request_count = 0;
    uint16_t cid_request[MAX_QUEUE_ENTRIES];  // request slot of each command in flight
    uint64_t cid_deadline[MAX_QUEUE_ENTRIES];
    uint32_t requests_in_flight = 0;
    // No command in flight is due before this. Every command gets the same timeout on a
    // monotonic clock, so later submissions never lower the minimum and completions only
    // raise it: the deadlines need scanning only once this has passed.
    uint64_t earliest_deadline = ~uint64_t(0);
    void reset();
};

class Controller {
public:
    // Brings the controller at `platform` up. CONTROLLER_FAILED when it does not become ready
    // or stops answering; NotSup when it lacks what the driver needs (NVM command set, 4 KiB
    // pages, 64/16-byte queue entries); IO (with last_admin_status()) when an admin command
    // fails; NoMem when DMA memory runs out; Inval for a bad Config.
    static Result<Own<Controller>> create(Platform& platform, const Config& config);
    ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    const ControllerInfo& info() const { return info_; }
    uint32_t namespace_count() const { return namespace_count_; }
    const NamespaceInfo& namespace_at(uint32_t index) const { return namespaces_[index]; }
    const NamespaceInfo* find_namespace(uint32_t nsid) const;
    uint16_t io_queue_count() const { return io_queue_count_; }
    uint32_t queue_entries(uint16_t queue) const;

    // Queues requests on I/O queue `queue` (0-based) and returns how many were taken, in
    // order: fewer than `count` when the queue is full (reap, then submit the rest). An
    // invalid request stops the batch: its error is returned when it is the first (Inval for
    // a bad queue, op, length or buffer; NoEnt for an unknown namespace; Range past the
    // namespace's end; TooBig when it needs more commands than the queue holds), otherwise the
    // requests before it are taken and the next submit reports it.
    Result<uint32_t> submit(uint16_t queue, const BlockRequest* requests, uint32_t count);
    // Completed requests on `queue`, without waiting (0 if none).
    Result<uint32_t> reap(uint16_t queue, BlockCompletion* out, uint32_t max);
    // Waits for at least one completion on `queue` (0 only when nothing is in flight there).
    Result<uint32_t> wait(uint16_t queue, BlockCompletion* out, uint32_t max);
    uint32_t in_flight(uint16_t queue) const;
    uint32_t in_flight() const;

    // Resets and brings the controller up again; the requests that were in flight (accepted,
    // not completed) are copied to `out` and forgotten. Range if `capacity` < in_flight(),
    // and nothing happens. The requests are copied out before the reset is tried, so when
    // bring-up fails, the first in_flight() entries (as counted before the call) of `out`
    // still hold them.
    Result<uint32_t> reinitialize(BlockRequest* out, uint32_t capacity);

    // Orderly shutdown (CC.SHN), for power-off; the controller is then disabled.
    Result<void> shutdown();

    bool failed() const { return failure_ != Failure::None; }
    Failure failure() const { return failure_; }
    const char* failure_message() const;
    // The status of the last admin command that failed during bring-up.
    Status last_admin_status() const { return last_admin_status_; }
    uint64_t bogus_completions() const;

private:
    Controller(Platform& platform, const Config& config) : platform_(platform), config_(config) {}

    Result<void> bring_up();
    Result<void> disable();
    Result<void> enable();
    Result<void> wait_ready(bool ready);
    Result<void> identify();
    Result<void> identify_namespaces();
    Result<void> add_namespace(uint32_t nsid, const spec::IdentifyNamespace& id);
    Result<void> create_io_queues();
    Result<uint32_t> admin(spec::SubmissionEntry& entry);
    Error fail(Failure why);
    bool check_health();  // false (and failed) on CFS or a vanished device
    void release_dma();

    Result<void> submit_one(NvmeIoQueue& q, const BlockRequest& r, bool& accepted);

    Platform& platform_;
    Config config_;
    ControllerInfo info_;
    uint64_t cap_ = 0;
    uint32_t dstrd_ = 0;
    Failure failure_ = Failure::None;
    Status last_admin_status_;
    NvmeQueuePair admin_;
    DmaRegion scratch_;  // one page for identify data
    NamespaceInfo namespaces_[MAX_NAMESPACES];
    uint32_t namespace_count_ = 0;
    uint16_t io_queue_count_ = 0;
    uint16_t io_queues_allocated_ = 0;
    NvmeIoQueue io_[MAX_IO_QUEUES];
    bool enabled_ = false;
};

}  // namespace lamina::nvme
