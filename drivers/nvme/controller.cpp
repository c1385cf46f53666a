// lamina:portable
#include "drivers/nvme/controller.h"

#include "drivers/nvme/prp.h"

namespace lamina::nvme {

namespace {

constexpr uint64_t MS = 1'000'000;

// Copies an ASCII identify field, dropping the space padding.
template <size_t N, size_t M>
void copy_trimmed(char (&dst)[N], const char (&src)[M]) {
    static_assert(N == M + 1);
    size_t len = M;
    while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\0')) len--;
    for (size_t i = 0; i < len; i++) dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    dst[len] = '\0';
}

}  // namespace

void NvmeIoQueue::reset() {
    pair.reset();
    uint32_t n = pair.capacity();
    free_request_count = n;
    for (uint32_t i = 0; i < n; i++) free_requests[i] = uint16_t(n - 1 - i);
    for (auto& r : requests) r = Request{};
    requests_in_flight = 0;
    earliest_deadline = ~uint64_t(0);
}

Result<Own<Controller>> Controller::create(Platform& platform, const Config& config) {
    if (config.io_queues == 0 || config.io_queues > MAX_IO_QUEUES) return Errno::Inval;
    if (config.io_queue_entries < 2 || config.io_queue_entries > MAX_QUEUE_ENTRIES) return Errno::Inval;
    if (config.admin_queue_entries < 2 || config.admin_queue_entries > MAX_QUEUE_ENTRIES) return Errno::Inval;
    if (config.command_timeout_ns == 0) return Errno::Inval;
    auto c = TRY(adopt_own_or_nomem(new (std::nothrow) Controller(platform, config)));
    TRY(c->bring_up());
    return c;
}

Controller::~Controller() {
    // The controller must stop using the rings before their memory goes back. A failed one
    // gets the same reset, bounded by the ready timeout like every other wait.
    if (enabled_) (void)disable();
    release_dma();
}

void Controller::release_dma() {
    admin_.free(platform_);
    for (auto& q : io_) q.pair.free(platform_);
    if (scratch_.valid()) platform_.free_dma(scratch_);
    scratch_ = DmaRegion{};
    io_queues_allocated_ = 0;
}

const char* Controller::failure_message() const {
    switch (failure_) {
        case Failure::None:
            return "controller working";
        case Failure::CommandTimeout:
            return "controller failed: a command timed out";
        case Failure::FatalStatus:
            return "controller failed: fatal status (CSTS.CFS)";
        case Failure::DeviceGone:
            return "controller failed: registers read as all ones (device gone)";
        case Failure::NotReady:
            return "controller failed: CSTS.RDY did not follow CC.EN in time";
    }
    return "controller failed";
}

Error Controller::fail(Failure why) {
    if (failure_ == Failure::None) failure_ = why;
    return CONTROLLER_FAILED;
}

bool Controller::check_health() {
    uint32_t csts = platform_.read32(spec::reg::CSTS);
    if (csts == spec::csts::GONE) {
        (void)fail(Failure::DeviceGone);
        return false;
    }
    if (csts & spec::csts::CFS) {
        (void)fail(Failure::FatalStatus);
        return false;
    }
    return true;
}

const NamespaceInfo* Controller::find_namespace(uint32_t nsid) const {
    for (uint32_t i = 0; i < namespace_count_; i++)
        if (namespaces_[i].nsid == nsid) return &namespaces_[i];
    return nullptr;
}

uint32_t Controller::queue_entries(uint16_t queue) const {
    return queue < io_queue_count_ ? io_[queue].pair.entries() : 0;
}

uint64_t Controller::bogus_completions() const {
    uint64_t n = admin_.bogus_completions();
    for (uint16_t i = 0; i < io_queues_allocated_; i++) n += io_[i].pair.bogus_completions();
    return n;
}

// --- bring-up (NVMe 1.4 section 7.6.1) --------------------------------------------------------

Result<void> Controller::wait_ready(bool ready) {
    uint64_t deadline = platform_.now_ns() + info_.ready_timeout_ns;
    uint32_t delay = 1;
    for (;;) {
        uint32_t csts = platform_.read32(spec::reg::CSTS);
        if (csts == spec::csts::GONE) return fail(Failure::DeviceGone);
        if (bool(csts & spec::csts::RDY) == ready) return {};
        // While enabling, fatal status means it will never get ready; while disabling, a
        // controller with CFS set may still go through reset, so keep waiting.
        if (ready && (csts & spec::csts::CFS)) return fail(Failure::FatalStatus);
        if (platform_.now_ns() >= deadline) return fail(Failure::NotReady);
        platform_.delay_us(delay);
        if (delay < 1000) delay *= 2;  // quick for fast controllers, cheap for slow ones
    }
}

Result<void> Controller::disable() {
    uint32_t cc = platform_.read32(spec::reg::CC);
    if (cc == spec::csts::GONE) return fail(Failure::DeviceGone);
    uint32_t csts = platform_.read32(spec::reg::CSTS);
    // Changing EN while RDY still lags behind it is undefined (7.6.1): let it catch up first,
    // unless it is known to be broken (fatal status, or it already failed us, e.g. by never
    // getting ready), in which case only the reset can help.
    if ((cc & spec::cc::EN) && !(csts & spec::csts::RDY) && !(csts & spec::csts::CFS) && !failed())
        (void)wait_ready(true);
    platform_.write32(spec::reg::CC, cc & ~spec::cc::EN);
    enabled_ = false;
    return wait_ready(false);
}

Result<void> Controller::enable() {
    uint32_t cc = 0u << spec::cc::CSS_SHIFT | 0u << spec::cc::MPS_SHIFT | 0u << spec::cc::AMS_SHIFT |
                  spec::SQ_ENTRY_SHIFT << spec::cc::IOSQES_SHIFT | spec::CQ_ENTRY_SHIFT << spec::cc::IOCQES_SHIFT;
    platform_.write32(spec::reg::AQA, spec::aqa(admin_.entries(), admin_.entries()));
    platform_.write64(spec::reg::ASQ, admin_.sq_phys());
    platform_.write64(spec::reg::ACQ, admin_.cq_phys());
    platform_.write32(spec::reg::CC, cc);
    platform_.write32(spec::reg::CC, cc | spec::cc::EN);
    enabled_ = true;
    return wait_ready(true);
}

Result<void> Controller::bring_up() {
    namespace cap = spec::cap;
    cap_ = platform_.read64(spec::reg::CAP);
    if (cap_ == ~uint64_t(0)) return fail(Failure::DeviceGone);
    if (!cap::css_nvm(cap_)) return Errno::NotSup;
    if (cap::mpsmin(cap_) > 0) return Errno::NotSup;  // the driver uses 4 KiB pages
    dstrd_ = cap::dstrd(cap_);
    info_.version = platform_.read32(spec::reg::VS);
    info_.max_queue_entries = uint32_t(cap::mqes(cap_)) + 1;
    info_.doorbell_stride = dstrd_;
    uint64_t to = cap::to(cap_) ? cap::to(cap_) : 1;
    info_.ready_timeout_ns = config_.ready_timeout_ns ? config_.ready_timeout_ns : to * 500 * MS;
    if (info_.max_queue_entries < 2) return Errno::NotSup;

    TRY(disable());
    failure_ = Failure::None;

    if (!scratch_.valid()) scratch_ = TRY(platform_.alloc_dma(spec::IDENTIFY_SIZE));
    uint32_t admin_entries = config_.admin_queue_entries;
    if (admin_entries > info_.max_queue_entries) admin_entries = info_.max_queue_entries;
    if (!admin_.allocated()) TRY(admin_.allocate(platform_, 0, uint16_t(admin_entries), 0, dstrd_, false));
    admin_.reset();
    TRY(enable());
    TRY(identify());
    TRY(identify_namespaces());
    TRY(create_io_queues());
    return {};
}

Result<uint32_t> Controller::admin(spec::SubmissionEntry& entry) {
    if (failed()) return CONTROLLER_FAILED;
    uint16_t cid;
    if (!admin_.alloc_cid(cid)) return Errno::Busy;  // cannot happen: one at a time
    entry.cid = cid;
    admin_.push(entry);
    admin_.ring_sq(platform_);
    uint64_t deadline = platform_.now_ns() + config_.command_timeout_ns;
    for (;;) {
        spec::CompletionEntry cqe;
        if (admin_.take_completion(cqe)) {
            admin_.release_cid(cqe.cid);
            admin_.ring_cq(platform_);
            if (cqe.cid != cid) continue;  // a leftover; not ours
            if (!spec::status::ok(cqe.status)) {
                last_admin_status_ = Status{Status::Kind::Device, spec::status::sct(cqe.status),
                                            spec::status::sc(cqe.status), spec::status::dnr(cqe.status)};
                return Errno::IO;
            }
            return cqe.dw0;
        }
        if (!check_health()) return CONTROLLER_FAILED;
        if (platform_.now_ns() >= deadline) return fail(Failure::CommandTimeout);
        platform_.wait_interrupt(admin_.vector(), deadline);
    }
}

Result<void> Controller::identify() {
    spec::SubmissionEntry e{};
    e.opcode = spec::admin::IDENTIFY;
    e.prp1 = scratch_.bus;
    e.cdw10 = spec::cns::CONTROLLER;
    TRY(admin(e));
    const auto& id = *static_cast<const spec::IdentifyController*>(scratch_.virt);
    info_.vendor_id = id.vid;
    copy_trimmed(info_.serial, id.sn);
    copy_trimmed(info_.model, id.mn);
    copy_trimmed(info_.firmware, id.fr);
    info_.namespace_count = id.nn;
    info_.volatile_write_cache = id.vwc & 1;
    // SQES/CQES bits 3:0 are the smallest entry sizes the controller accepts (from 1.2 on,
    // required to be 6 and 4); 0 in older controllers means "not reported".
    if ((id.sqes & 0xf) > spec::SQ_ENTRY_SHIFT || (id.cqes & 0xf) > spec::CQ_ENTRY_SHIFT) return Errno::NotSup;
    if ((id.sqes >> 4) && (id.sqes >> 4) < spec::SQ_ENTRY_SHIFT) return Errno::NotSup;
    if ((id.cqes >> 4) && (id.cqes >> 4) < spec::CQ_ENTRY_SHIFT) return Errno::NotSup;
    uint64_t max = MAX_PRP_TRANSFER;
    // MDTS counts in units of the minimum page size (CAP.MPSMIN, which is 4 KiB here).
    if (id.mdts && id.mdts < 20) {
        uint64_t mdts = uint64_t(spec::PAGE_SIZE) << id.mdts;
        if (mdts < max) max = mdts;
    }
    info_.max_transfer_bytes = uint32_t(max);
    return {};
}

Result<void> Controller::add_namespace(uint32_t nsid, const spec::IdentifyNamespace& id) {
    if (id.nsze == 0) return {};  // inactive: identify returns zeros
    uint32_t format = spec::flbas_format(id.flbas);
    if (format > id.nlbaf || format >= 16) return {};
    const spec::LbaFormat& f = id.lbaf[format];
    // Metadata and blocks outside 512 B..4 KiB are not supported: such a namespace is left
    // out rather than misread.
    if (f.ms != 0 || f.lbads < 9 || f.lbads > spec::PAGE_SHIFT) return {};
    if (namespace_count_ == MAX_NAMESPACES) return {};
    NamespaceInfo& ns = namespaces_[namespace_count_++];
    ns.nsid = nsid;
    ns.blocks = id.nsze;
    ns.block_size = 1u << f.lbads;
    ns.lba_format = uint8_t(format);
    return {};
}

Result<void> Controller::identify_namespaces() {
    namespace_count_ = 0;
    uint32_t nsids[MAX_NAMESPACES];
    uint32_t count = 0;
    bool listed = false;
    if (info_.version >= spec::version(1, 1)) {
        spec::SubmissionEntry e{};
        e.opcode = spec::admin::IDENTIFY;
        e.prp1 = scratch_.bus;
        e.cdw10 = spec::cns::ACTIVE_NAMESPACES;
        auto r = admin(e);
        if (r.is_ok()) {
            listed = true;
            const auto* list = static_cast<const uint32_t*>(scratch_.virt);
            for (uint32_t i = 0; i < spec::ACTIVE_LIST_ENTRIES && count < MAX_NAMESPACES; i++) {
                if (list[i] == 0) break;
                if (list[i] > info_.namespace_count) continue;  // not a valid NSID
                nsids[count++] = list[i];
            }
        } else if (failed()) {
            return r.error();
        }
    }
    if (!listed)
        for (uint32_t n = 1; n <= info_.namespace_count && count < MAX_NAMESPACES; n++) nsids[count++] = n;
    for (uint32_t i = 0; i < count; i++) {
        spec::SubmissionEntry e{};
        e.opcode = spec::admin::IDENTIFY;
        e.nsid = nsids[i];
        e.prp1 = scratch_.bus;
        e.cdw10 = spec::cns::NAMESPACE;
        auto r = admin(e);
        if (r.is_error()) {
            if (failed()) return r.error();
            continue;  // an NSID the controller refuses is skipped, like an inactive one
        }
        TRY(add_namespace(nsids[i], *static_cast<const spec::IdentifyNamespace*>(scratch_.virt)));
    }
    return {};
}

Result<void> Controller::create_io_queues() {
    spec::SubmissionEntry e{};
    e.opcode = spec::admin::SET_FEATURES;
    e.cdw10 = spec::feature::NUMBER_OF_QUEUES;
    e.cdw11 = spec::feature::queues_cdw11(config_.io_queues, config_.io_queues);
    uint32_t dw0 = TRY(admin(e));
    uint32_t n = config_.io_queues;
    if (spec::feature::allocated_sq(dw0) < n) n = spec::feature::allocated_sq(dw0);
    if (spec::feature::allocated_cq(dw0) < n) n = spec::feature::allocated_cq(dw0);
    // A reset may grant fewer queues than before; the extra memory is kept for later.
    uint32_t entries = config_.io_queue_entries;
    if (entries > info_.max_queue_entries) entries = info_.max_queue_entries;
    // Vector n for I/O queue n (0 is the admin queue's): interrupts only when all were granted.
    bool interrupts = platform_.setup_interrupts(n + 1) > n;
    io_queue_count_ = 0;
    for (uint16_t i = 0; i < n; i++) {
        NvmeIoQueue& q = io_[i];
        uint16_t qid = uint16_t(i + 1);
        if (!q.pair.allocated()) {
            TRY(q.pair.allocate(platform_, qid, uint16_t(entries), qid, dstrd_, true));
            io_queues_allocated_ = uint16_t(i + 1);
        }
        q.reset();
        spec::SubmissionEntry cq{};
        cq.opcode = spec::admin::CREATE_IO_CQ;
        cq.prp1 = q.pair.cq_phys();
        cq.cdw10 = spec::create_cq::cdw10(qid, q.pair.entries());
        cq.cdw11 = spec::create_cq::cdw11(interrupts ? q.pair.vector() : 0, interrupts);
        TRY(admin(cq));
        spec::SubmissionEntry sq{};
        sq.opcode = spec::admin::CREATE_IO_SQ;
        sq.prp1 = q.pair.sq_phys();
        sq.cdw10 = spec::create_sq::cdw10(qid, q.pair.entries());
        sq.cdw11 = spec::create_sq::cdw11(qid);
        TRY(admin(sq));
        io_queue_count_ = uint16_t(i + 1);
    }
    return {};
}

// --- I/O -------------------------------------------------------------------------------------

Result<void> Controller::submit_one(NvmeIoQueue& q, const BlockRequest& r, bool& accepted) {
    accepted = false;
    const NamespaceInfo* ns = find_namespace(r.nsid);
    if (!ns) return Errno::NoEnt;
    uint32_t parts = 1;
    uint32_t part_blocks = 0;
    if (r.op == BlockOp::Flush) {
        if (r.blocks != 0 || r.segment_count != 0) return Errno::Inval;
    } else if (r.op == BlockOp::Read || r.op == BlockOp::Write) {
        if (r.blocks == 0) return Errno::Inval;
        if (r.lba >= ns->blocks || r.blocks > ns->blocks - r.lba) return Errno::Range;
        TRY(validate_segments(r.segments, r.segment_count, uint64_t(r.blocks) * ns->block_size));
        part_blocks = info_.max_transfer_bytes / ns->block_size;
        if (part_blocks > spec::nvm::MAX_BLOCKS_PER_COMMAND) part_blocks = spec::nvm::MAX_BLOCKS_PER_COMMAND;
        parts = (r.blocks + part_blocks - 1) / part_blocks;
    } else {
        return Errno::Inval;
    }
    if (parts > q.pair.capacity()) return Errno::TooBig;
    if (parts > q.pair.free_slots() || q.free_request_count == 0) return {};  // full for now

    uint16_t slot = q.free_requests[--q.free_request_count];
    NvmeIoQueue::Request& req = q.requests[slot];
    req.request = r;
    req.status = Status{};
    req.parts_left = uint16_t(parts);
    req.busy = true;
    q.requests_in_flight++;
    uint64_t deadline = platform_.now_ns() + config_.command_timeout_ns;
    if (deadline < q.earliest_deadline) q.earliest_deadline = deadline;
    for (uint32_t p = 0; p < parts; p++) {
        uint16_t cid;
        (void)q.pair.alloc_cid(cid);  // checked above
        spec::SubmissionEntry e{};
        e.cid = cid;
        e.nsid = r.nsid;
        if (r.op == BlockOp::Flush) {
            e.opcode = spec::nvm::FLUSH;
        } else {
            e.opcode = r.op == BlockOp::Read ? spec::nvm::READ : spec::nvm::WRITE;
            uint32_t first = p * part_blocks;
            uint32_t n = r.blocks - first < part_blocks ? r.blocks - first : part_blocks;
            uint64_t lba = r.lba + first;
            auto prps = build_prps(r.segments, r.segment_count, uint64_t(first) * ns->block_size, n * ns->block_size,
                                   q.pair.prp_list(cid), q.pair.prp_list_phys(cid));
            // Validated segments always yield PRPs; anything else is a driver bug, but it
            // still must not reach the controller half-described.
            if (prps.is_error()) {
                q.pair.release_cid(cid);
                if (p == 0) {
                    req.busy = false;
                    q.free_requests[q.free_request_count++] = slot;
                    q.requests_in_flight--;
                    return prps.error();
                }
                req.parts_left = uint16_t(req.parts_left - (parts - p));
                req.status = Status{Status::Kind::Device, spec::sct::GENERIC, spec::sc::INVALID_FIELD, true};
                break;
            }
            e.prp1 = prps.value().prp1;
            e.prp2 = prps.value().prp2;
            e.cdw10 = uint32_t(lba);
            e.cdw11 = uint32_t(lba >> 32);
            e.cdw12 = n - 1;
        }
        q.cid_request[cid] = slot;
        q.cid_deadline[cid] = deadline;
        q.pair.push(e);
    }
    accepted = true;
    return {};
}

Result<uint32_t> Controller::submit(uint16_t queue, const BlockRequest* requests, uint32_t count) {
    if (failed()) return CONTROLLER_FAILED;
    if (queue >= io_queue_count_ || (count && !requests)) return Errno::Inval;
    NvmeIoQueue& q = io_[queue];
    uint32_t taken = 0;
    Error error = Errno::None;
    for (; taken < count; taken++) {
        bool accepted;
        auto r = submit_one(q, requests[taken], accepted);
        if (r.is_error()) {
            error = r.error();
            break;
        }
        if (!accepted) break;
    }
    q.pair.ring_sq(platform_);
    if (taken == 0 && error.code() != Errno::None) return error;
    return taken;
}

Result<uint32_t> Controller::reap(uint16_t queue, BlockCompletion* out, uint32_t max) {
    if (failed()) return CONTROLLER_FAILED;
    if (queue >= io_queue_count_ || (max && !out)) return Errno::Inval;
    NvmeIoQueue& q = io_[queue];
    uint32_t n = 0;
    spec::CompletionEntry cqe;
    while (n < max && q.pair.take_completion(cqe)) {
        uint16_t slot = q.cid_request[cqe.cid];
        q.pair.release_cid(cqe.cid);
        NvmeIoQueue::Request& req = q.requests[slot];
        if (!req.busy) continue;
        if (!spec::status::ok(cqe.status) && req.status.ok())
            req.status = Status{Status::Kind::Device, spec::status::sct(cqe.status), spec::status::sc(cqe.status),
                                spec::status::dnr(cqe.status)};
        if (--req.parts_left > 0) continue;
        out[n++] = BlockCompletion{req.request.tag, req.status};
        req.busy = false;
        q.free_requests[q.free_request_count++] = slot;
        q.requests_in_flight--;
    }
    q.pair.ring_cq(platform_);
    if (q.requests_in_flight == 0) {
        q.earliest_deadline = ~uint64_t(0);
    } else if (n == 0 && platform_.now_ns() >= q.earliest_deadline) {
        // Nothing came back and something may be overdue: look closer.
        uint64_t now = platform_.now_ns();
        uint64_t earliest = ~uint64_t(0);
        for (uint16_t cid = 0; cid < q.pair.entries(); cid++) {
            if (!q.pair.cid_busy(cid)) continue;
            if (q.cid_deadline[cid] <= now) {
                if (!check_health()) return CONTROLLER_FAILED;
                return fail(Failure::CommandTimeout);
            }
            if (q.cid_deadline[cid] < earliest) earliest = q.cid_deadline[cid];
        }
        q.earliest_deadline = earliest;
    }
    return n;
}

Result<uint32_t> Controller::wait(uint16_t queue, BlockCompletion* out, uint32_t max) {
    if (failed()) return CONTROLLER_FAILED;
    if (queue >= io_queue_count_ || max == 0 || !out) return Errno::Inval;
    NvmeIoQueue& q = io_[queue];
    for (;;) {
        if (q.requests_in_flight == 0) return 0u;
        uint32_t n = TRY(reap(queue, out, max));
        if (n > 0) return n;
        if (!check_health()) return CONTROLLER_FAILED;
        platform_.wait_interrupt(q.pair.vector(), q.earliest_deadline);
    }
}

uint32_t Controller::in_flight(uint16_t queue) const {
    return queue < io_queue_count_ ? io_[queue].requests_in_flight : 0;
}

uint32_t Controller::in_flight() const {
    uint32_t n = 0;
    for (uint16_t i = 0; i < io_queues_allocated_; i++) n += io_[i].requests_in_flight;
    return n;
}

// --- recovery and shutdown -----------------------------------------------------------------

Result<uint32_t> Controller::reinitialize(BlockRequest* out, uint32_t capacity) {
    uint32_t total = in_flight();
    if (total > capacity || (total && !out)) return Errno::Range;
    uint32_t n = 0;
    for (uint16_t i = 0; i < io_queues_allocated_; i++) {
        NvmeIoQueue& q = io_[i];
        for (auto& r : q.requests)
            if (r.busy) out[n++] = r.request;
        q.reset();
    }
    io_queue_count_ = 0;
    last_admin_status_ = Status{};
    TRY(bring_up());  // clears the failure once the controller is disabled
    return n;
}

Result<void> Controller::shutdown() {
    if (failed()) return CONTROLLER_FAILED;
    uint32_t cc = platform_.read32(spec::reg::CC);
    platform_.write32(spec::reg::CC, (cc & ~spec::cc::SHN_MASK) | spec::cc::SHN_NORMAL);
    uint64_t deadline = platform_.now_ns() + info_.ready_timeout_ns;
    uint32_t delay = 1;
    for (;;) {
        uint32_t csts = platform_.read32(spec::reg::CSTS);
        if (csts == spec::csts::GONE) return fail(Failure::DeviceGone);
        if ((csts & spec::csts::SHST_MASK) == spec::csts::SHST_COMPLETE) break;
        if (platform_.now_ns() >= deadline) return fail(Failure::NotReady);
        platform_.delay_us(delay);
        if (delay < 1000) delay *= 2;
    }
    return disable();
}

}  // namespace lamina::nvme
