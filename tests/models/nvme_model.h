// NvmeModel: an NVMe 1.4 controller for host tests, over plain memory.
//
// What it models: the controller registers (CAP, VS, CC, CSTS, AQA, ASQ, ACQ, doorbells with
// CAP.DSTRD spacing), enable/disable with CSTS.RDY following CC.EN after a few CSTS reads,
// normal shutdown, the admin commands a driver needs (identify controller / namespace / active
// namespace list, create and delete I/O queues with the spec's validation, set/get features
// number of queues), NVM read/write/flush against in-memory disks with PRP1/PRP2/PRP-list
// walking (chained lists too), completion posting with the phase tag and wrap-around, and a
// full CQ holding back further processing until the host moves the CQ head.
//
// "Physical memory" is ModelMemory: DMA allocations get made-up physical addresses, and the
// model reaches host memory only by translating them, so a driver that hands it a wrong address
// gets the status a real controller would give (data transfer error), not a host crash.
//
// Commands are processed when a submission queue's tail doorbell is written
// (Options::process_on_doorbell) or when the test calls step(), so a test can keep many commands
// in flight. Fault knobs: an error status for the Nth I/O command, a controller that stops
// completing commands, one that never becomes ready, and CSTS.CFS.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <map>
#include <memory>
#include <vector>

#include "drivers/nvme/nvme_spec.h"

namespace lamina::nvme_model {

// Made-up physical memory: page-aligned, zeroed allocations at addresses that never overlap.
class ModelMemory {
public:
    struct Allocation {
        void* virt;
        uint64_t phys;
        size_t size;
    };
    ModelMemory();
    ~ModelMemory();
    Allocation allocate(size_t bytes);
    bool free(uint64_t phys);
    // Makes host memory the model does not own reachable at a made-up physical address (for
    // buffers the driver DMAs into in place, such as exchange-heap objects); never freed by it.
    uint64_t map_external(void* mem, size_t size);
    // Host address of [phys, phys + len) if it lies inside one allocation, else nullptr.
    uint8_t* translate(uint64_t phys, size_t len);
    size_t live_allocations() const;
    size_t live_bytes() const;
    size_t limit_bytes = size_t(1) << 30;  // allocations beyond this fail (virt == nullptr)

private:
    struct Block {
        uint8_t* mem;
        size_t size;
        bool external = false;
    };
    std::map<uint64_t, Block> blocks_;
    uint64_t next_ = 0x10'0000'0000;  // far from zero, so a null-ish pointer never translates
};

struct NamespaceSpec {
    uint32_t nsid = 1;
    uint64_t blocks = 8192;
    uint8_t lbads = 9;  // 512-byte blocks
    bool active = true;
};

struct Options {
    std::vector<NamespaceSpec> namespaces{NamespaceSpec{}};
    uint32_t nn = 0;       // identify NN; 0 = highest nsid in `namespaces`
    uint8_t mdts = 5;      // 128 KiB
    uint16_t mqes = 1023;  // 0-based
    uint8_t dstrd = 0;
    uint8_t timeout = 20;  // CAP.TO, 500 ms units
    uint16_t max_io_queues = 16;
    uint16_t max_vectors = 32;
    uint32_t version = lamina::nvme::spec::version(1, 4);
    uint32_t ready_delay_reads = 2;  // CSTS reads before RDY follows CC.EN
    bool process_on_doorbell = true;
};

class NvmeModel {
public:
    explicit NvmeModel(Options options = {});

    ModelMemory& memory() { return memory_; }
    const Options& options() const { return options_; }

    // Register file (BAR0).
    uint32_t read32(uint32_t offset);
    void write32(uint32_t offset, uint32_t value);
    uint64_t read64(uint32_t offset);
    void write64(uint32_t offset, uint64_t value);

    // Processes every submission queue with commands waiting; returns completions posted.
    size_t step();

    // --- fault injection
    // The nth I/O (NVM) command from now (1 = the next one) completes with this status.
    void fail_io_command(uint64_t nth, uint8_t sct, uint8_t sc, bool dnr = true);
    // Admin commands with this opcode complete with this status until cleared (sc 0).
    void fail_admin_opcode(uint8_t opcode, uint8_t sct, uint8_t sc);
    void set_unresponsive(bool on) { unresponsive_ = on; }        // commands never complete
    void set_never_ready(bool on) { never_ready_ = on; }          // RDY never follows EN=1
    void set_fatal() { csts_ |= lamina::nvme::spec::csts::CFS; }  // cleared by a reset
    void set_gone(bool on) { gone_ = on; }                        // every register reads all ones

    // --- inspection
    std::vector<uint8_t>& disk(uint32_t nsid);
    bool enabled() const { return cc_ & lamina::nvme::spec::cc::EN; }
    bool io_queue_exists(uint16_t qid) const;
    uint16_t io_queues_granted() const { return granted_queues_; }
    struct Stats {
        uint64_t admin_commands = 0;
        uint64_t io_commands = 0;
        uint64_t reads = 0, writes = 0, flushes = 0;
        uint64_t error_completions = 0;
        uint64_t cq_wraps = 0;  // I/O completion queues' phase flips
        uint64_t cq_full_stalls = 0;
        uint64_t invalid_doorbells = 0;  // writes a real controller would flag as an error
        uint64_t resets = 0;
        uint64_t max_outstanding = 0;  // most commands submitted but not completed at once
        uint64_t prp_list_pages = 0;   // list pages walked
    };
    const Stats& stats() const { return stats_; }
    uint64_t interrupts(uint16_t vector) const;

private:
    struct Sq {
        bool exists = false;
        uint64_t base = 0;
        uint16_t size = 0;
        uint16_t head = 0;
        uint16_t tail = 0;
        uint16_t cqid = 0;
    };
    struct Cq {
        bool exists = false;
        uint64_t base = 0;
        uint16_t size = 0;
        uint16_t head = 0;
        uint16_t tail = 0;
        bool phase = true;
        bool ien = false;
        uint16_t vector = 0;
    };
    struct Result {
        uint16_t status = 0;  // status field without the phase tag
        uint32_t dw0 = 0;
    };

    void write_cc(uint32_t value);
    void reset_queues();
    void doorbell(uint32_t offset, uint32_t value);
    size_t process(uint16_t qid);
    Result execute_admin(const lamina::nvme::spec::SubmissionEntry& e);
    Result execute_io(const lamina::nvme::spec::SubmissionEntry& e);
    Result identify(const lamina::nvme::spec::SubmissionEntry& e);
    Result create_cq(const lamina::nvme::spec::SubmissionEntry& e);
    Result create_sq(const lamina::nvme::spec::SubmissionEntry& e);
    Result delete_cq(const lamina::nvme::spec::SubmissionEntry& e);
    Result delete_sq(const lamina::nvme::spec::SubmissionEntry& e);
    Result set_features(const lamina::nvme::spec::SubmissionEntry& e);
    Result read_write(const lamina::nvme::spec::SubmissionEntry& e, bool write);
    // Resolves a data pointer into host pieces; a nonzero status when the PRPs are bad.
    uint16_t walk_prps(uint64_t prp1, uint64_t prp2, size_t bytes, std::vector<std::pair<uint8_t*, size_t>>& out);
    uint16_t copy_out(uint64_t prp1, uint64_t prp2, const void* data, size_t bytes);
    const NamespaceSpec* find_ns(uint32_t nsid) const;
    uint64_t outstanding() const;

    Options options_;
    ModelMemory memory_;
    uint64_t cap_;
    uint32_t cc_ = 0;
    uint32_t csts_ = 0;
    uint32_t aqa_ = 0;
    uint64_t asq_ = 0;
    uint64_t acq_ = 0;
    uint32_t intms_ = 0;
    uint32_t rdy_countdown_ = 0;
    bool rdy_target_ = false;
    bool rdy_pending_ = false;
    std::vector<Sq> sqs_;
    std::vector<Cq> cqs_;
    std::vector<bool> pending_;
    uint16_t granted_queues_ = 0;
    bool queues_created_since_reset_ = false;
    std::map<uint32_t, std::vector<uint8_t>> disks_;
    std::map<uint16_t, uint64_t> interrupts_;
    uint64_t io_fail_at_ = 0;  // stats_.io_commands value that fails; 0 = none
    uint16_t io_fail_status_ = 0;
    std::map<uint8_t, uint16_t> admin_fail_;
    bool unresponsive_ = false;
    bool never_ready_ = false;
    bool gone_ = false;
    Stats stats_;
};

}  // namespace lamina::nvme_model
