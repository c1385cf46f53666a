#include "tests/models/nvme_model.h"

#include <stdlib.h>
#include <string.h>

#include <algorithm>

namespace lamina::nvme_model {

namespace spec = lamina::nvme::spec;
namespace sc = lamina::nvme::spec::sc;
namespace sct = lamina::nvme::spec::sct;
constexpr uint64_t PAGE = spec::PAGE_SIZE;

// --- ModelMemory ---------------------------------------------------------------------------

ModelMemory::ModelMemory() = default;

ModelMemory::~ModelMemory() {
    for (auto& [phys, b] : blocks_)
        if (!b.external) ::free(b.mem);
}

ModelMemory::Allocation ModelMemory::allocate(size_t bytes) {
    size_t size = (std::max<size_t>(bytes, 1) + PAGE - 1) & ~(PAGE - 1);
    if (live_bytes() + size > limit_bytes) return {nullptr, 0, 0};
    void* mem = aligned_alloc(PAGE, size);
    if (!mem) return {nullptr, 0, 0};
    memset(mem, 0, size);
    uint64_t phys = next_;
    next_ += size + PAGE;  // a hole after each allocation catches overruns
    blocks_[phys] = Block{static_cast<uint8_t*>(mem), size};
    return {mem, phys, size};
}

uint64_t ModelMemory::map_external(void* mem, size_t size) {
    uint64_t phys = next_ + (reinterpret_cast<uintptr_t>(mem) & (PAGE - 1));  // keeps the page offset
    next_ += ((size + (phys & (PAGE - 1)) + PAGE - 1) & ~(PAGE - 1)) + PAGE;
    blocks_[phys] = Block{static_cast<uint8_t*>(mem), size, true};
    return phys;
}

bool ModelMemory::free(uint64_t phys) {
    auto it = blocks_.find(phys);
    if (it == blocks_.end() || it->second.external) return false;
    ::free(it->second.mem);
    blocks_.erase(it);
    return true;
}

uint8_t* ModelMemory::translate(uint64_t phys, size_t len) {
    auto it = blocks_.upper_bound(phys);
    if (it == blocks_.begin()) return nullptr;
    --it;
    uint64_t off = phys - it->first;
    if (off >= it->second.size || len > it->second.size - off) return nullptr;
    return it->second.mem + off;
}

size_t ModelMemory::live_allocations() const {
    size_t n = 0;
    for (auto& [phys, b] : blocks_) n += !b.external;
    return n;
}

size_t ModelMemory::live_bytes() const {
    size_t n = 0;
    for (auto& [phys, b] : blocks_)
        if (!b.external) n += b.size;
    return n;
}

// --- registers -----------------------------------------------------------------------------

NvmeModel::NvmeModel(Options options) : options_(std::move(options)) {
    cap_ = spec::cap::make(options_.mqes, true, options_.timeout, options_.dstrd, 0, 4);
    if (options_.nn == 0)
        for (auto& ns : options_.namespaces) options_.nn = std::max(options_.nn, ns.nsid);
    for (auto& ns : options_.namespaces)
        if (ns.active) disks_[ns.nsid].assign(ns.blocks << ns.lbads, 0);
    sqs_.resize(size_t(options_.max_io_queues) + 1);
    cqs_.resize(size_t(options_.max_io_queues) + 1);
    pending_.assign(sqs_.size(), false);
}

uint32_t NvmeModel::read32(uint32_t offset) {
    if (gone_) return 0xffffffff;
    switch (offset) {
        case spec::reg::CAP:
            return uint32_t(cap_);
        case spec::reg::CAP + 4:
            return uint32_t(cap_ >> 32);
        case spec::reg::VS:
            return options_.version;
        case spec::reg::INTMS:
        case spec::reg::INTMC:
            return intms_;
        case spec::reg::CC:
            return cc_;
        case spec::reg::CSTS:
            if (rdy_pending_ && rdy_countdown_ > 0 && --rdy_countdown_ == 0) {
                rdy_pending_ = false;
                if (rdy_target_)
                    csts_ |= spec::csts::RDY;
                else
                    csts_ &= ~spec::csts::RDY;
            }
            return csts_;
        case spec::reg::AQA:
            return aqa_;
        case spec::reg::ASQ:
            return uint32_t(asq_);
        case spec::reg::ASQ + 4:
            return uint32_t(asq_ >> 32);
        case spec::reg::ACQ:
            return uint32_t(acq_);
        case spec::reg::ACQ + 4:
            return uint32_t(acq_ >> 32);
        default:
            return 0;  // doorbells and reserved registers read as zero
    }
}

uint64_t NvmeModel::read64(uint32_t offset) {
    if (gone_) return ~uint64_t(0);
    return uint64_t(read32(offset)) | uint64_t(read32(offset + 4)) << 32;
}

void NvmeModel::write64(uint32_t offset, uint64_t value) {
    if (offset == spec::reg::ASQ)
        asq_ = value;
    else if (offset == spec::reg::ACQ)
        acq_ = value;
    else {
        write32(offset, uint32_t(value));
        write32(offset + 4, uint32_t(value >> 32));
    }
}

void NvmeModel::write32(uint32_t offset, uint32_t value) {
    if (gone_) return;
    if (offset >= spec::reg::DOORBELL_BASE) return doorbell(offset, value);
    switch (offset) {
        case spec::reg::INTMS:
            intms_ |= value;
            break;
        case spec::reg::INTMC:
            intms_ &= ~value;
            break;
        case spec::reg::CC:
            write_cc(value);
            break;
        case spec::reg::AQA:
            aqa_ = value & 0x0fff0fff;
            break;
        case spec::reg::ASQ:
            asq_ = (asq_ & ~uint64_t(0xffffffff)) | value;
            break;
        case spec::reg::ASQ + 4:
            asq_ = (asq_ & 0xffffffff) | uint64_t(value) << 32;
            break;
        case spec::reg::ACQ:
            acq_ = (acq_ & ~uint64_t(0xffffffff)) | value;
            break;
        case spec::reg::ACQ + 4:
            acq_ = (acq_ & 0xffffffff) | uint64_t(value) << 32;
            break;
        default:
            break;
    }
}

void NvmeModel::reset_queues() {
    for (auto& q : sqs_) q = Sq{};
    for (auto& q : cqs_) q = Cq{};
    pending_.assign(sqs_.size(), false);
    granted_queues_ = 0;
    queues_created_since_reset_ = false;
}

void NvmeModel::write_cc(uint32_t value) {
    bool was = cc_ & spec::cc::EN;
    bool now = value & spec::cc::EN;
    cc_ = value;
    if (was && !now) {
        // Controller reset (7.3.2): queues gone, fatal status and shutdown state cleared.
        stats_.resets++;
        reset_queues();
        csts_ &= ~(spec::csts::CFS | spec::csts::SHST_MASK);
        rdy_target_ = false;
        rdy_pending_ = true;
        rdy_countdown_ = std::max<uint32_t>(options_.ready_delay_reads, 1);
        return;
    }
    if (!was && now) {
        if (never_ready_) return;
        uint32_t sq_entries = (aqa_ & 0xfff) + 1;
        uint32_t cq_entries = ((aqa_ >> 16) & 0xfff) + 1;
        bool bad = sq_entries < 2 || cq_entries < 2 || asq_ == 0 || acq_ == 0 || (asq_ & (PAGE - 1)) ||
                   (acq_ & (PAGE - 1)) || spec::cc::iosqes(value) != spec::SQ_ENTRY_SHIFT ||
                   spec::cc::iocqes(value) != spec::CQ_ENTRY_SHIFT || spec::cc::mps(value) > spec::cap::mpsmax(cap_) ||
                   spec::cc::css(value) != 0;
        if (bad) {
            csts_ |= spec::csts::CFS;
            return;
        }
        sqs_[0] = Sq{true, asq_, uint16_t(sq_entries), 0, 0, 0};
        cqs_[0] = Cq{true, acq_, uint16_t(cq_entries), 0, 0, true, true, 0};
        rdy_target_ = true;
        rdy_pending_ = true;
        rdy_countdown_ = std::max<uint32_t>(options_.ready_delay_reads, 1);
        return;
    }
    if (now && (value & spec::cc::SHN_MASK)) {
        csts_ = (csts_ & ~spec::csts::SHST_MASK) | spec::csts::SHST_COMPLETE;
    }
}

void NvmeModel::doorbell(uint32_t offset, uint32_t value) {
    uint32_t stride = 4u << options_.dstrd;
    uint32_t rel = offset - spec::reg::DOORBELL_BASE;
    if (rel % stride != 0 || !(csts_ & spec::csts::RDY)) {
        stats_.invalid_doorbells++;
        return;
    }
    uint32_t index = rel / stride;
    uint16_t qid = uint16_t(index / 2);
    if (qid >= sqs_.size()) {
        stats_.invalid_doorbells++;
        return;
    }
    if (index % 2 == 0) {
        Sq& sq = sqs_[qid];
        if (!sq.exists || value >= sq.size) {
            stats_.invalid_doorbells++;
            return;
        }
        sq.tail = uint16_t(value);
        pending_[qid] = true;
        if (options_.process_on_doorbell) process(qid);
    } else {
        Cq& cq = cqs_[qid];
        if (!cq.exists || value >= cq.size) {
            stats_.invalid_doorbells++;
            return;
        }
        // The head may not pass entries the controller has not posted.
        uint32_t posted = (cq.tail + cq.size - cq.head) % cq.size;
        uint32_t moved = (value + cq.size - cq.head) % cq.size;
        if (moved > posted) {
            stats_.invalid_doorbells++;
            return;
        }
        cq.head = uint16_t(value);
        if (options_.process_on_doorbell)
            for (uint16_t s = 0; s < sqs_.size(); s++)
                if (sqs_[s].exists && sqs_[s].cqid == qid && pending_[s]) process(s);
    }
}

size_t NvmeModel::step() {
    size_t n = 0;
    for (uint16_t q = 0; q < sqs_.size(); q++)
        if (pending_[q]) n += process(q);
    return n;
}

uint64_t NvmeModel::outstanding() const {
    uint64_t n = 0;
    for (size_t q = 1; q < sqs_.size(); q++)
        if (sqs_[q].exists) n += (sqs_[q].tail + sqs_[q].size - sqs_[q].head) % sqs_[q].size;
    return n;
}

size_t NvmeModel::process(uint16_t qid) {
    if (gone_ || unresponsive_ || (csts_ & spec::csts::CFS) || !(csts_ & spec::csts::RDY)) return 0;
    Sq& sq = sqs_[qid];
    if (!sq.exists) return 0;
    if (qid != 0) stats_.max_outstanding = std::max(stats_.max_outstanding, outstanding());
    size_t posted = 0;
    while (sq.exists && sq.head != sq.tail) {
        Cq& cq = cqs_[sq.cqid];
        if (uint16_t((cq.tail + 1) % cq.size) == cq.head) {
            stats_.cq_full_stalls++;
            return posted;  // resumes when the host moves the CQ head
        }
        auto* e = reinterpret_cast<spec::SubmissionEntry*>(memory_.translate(
            sq.base + uint64_t(sq.head) * sizeof(spec::SubmissionEntry), sizeof(spec::SubmissionEntry)));
        if (!e) {
            csts_ |= spec::csts::CFS;  // the queue itself is unreachable: nothing to report to
            return posted;
        }
        spec::SubmissionEntry cmd = *e;
        sq.head = uint16_t((sq.head + 1) % sq.size);
        Result r = qid == 0 ? execute_admin(cmd) : execute_io(cmd);
        // An admin command may have deleted this very queue pair's CQ... not the admin one.
        Cq& target = cqs_[sq.cqid];
        auto* c = reinterpret_cast<spec::CompletionEntry*>(memory_.translate(
            target.base + uint64_t(target.tail) * sizeof(spec::CompletionEntry), sizeof(spec::CompletionEntry)));
        if (!c) {
            csts_ |= spec::csts::CFS;
            return posted;
        }
        if (r.status) stats_.error_completions++;
        c->dw0 = r.dw0;
        c->dw1 = 0;
        c->sq_head = sq.head;
        c->sq_id = qid;
        c->cid = cmd.cid;
        // The phase tag goes in last, as a device's single 16-byte write would appear.
        __atomic_store_n(&c->status, uint16_t(r.status | (target.phase ? 1 : 0)), __ATOMIC_RELEASE);
        target.tail = uint16_t((target.tail + 1) % target.size);
        if (target.tail == 0) {
            target.phase = !target.phase;
            if (sq.cqid != 0) stats_.cq_wraps++;
        }
        if (target.ien) interrupts_[target.vector]++;
        posted++;
    }
    pending_[qid] = false;
    return posted;
}

// --- admin commands ------------------------------------------------------------------------

static uint16_t status_of(uint8_t type, uint8_t code, bool dnr = true) {
    return uint16_t(spec::status::make(type, code, dnr, false));
}

NvmeModel::Result NvmeModel::execute_admin(const spec::SubmissionEntry& e) {
    stats_.admin_commands++;
    auto f = admin_fail_.find(e.opcode);
    if (f != admin_fail_.end()) return {f->second, 0};
    if (e.flags != 0) return {status_of(sct::GENERIC, sc::INVALID_FIELD), 0};
    switch (e.opcode) {
        case spec::admin::IDENTIFY:
            return identify(e);
        case spec::admin::CREATE_IO_CQ:
            return create_cq(e);
        case spec::admin::CREATE_IO_SQ:
            return create_sq(e);
        case spec::admin::DELETE_IO_CQ:
            return delete_cq(e);
        case spec::admin::DELETE_IO_SQ:
            return delete_sq(e);
        case spec::admin::SET_FEATURES:
            return set_features(e);
        case spec::admin::GET_FEATURES:
            if ((e.cdw10 & 0xff) == spec::feature::NUMBER_OF_QUEUES) {
                uint16_t n = granted_queues_ ? granted_queues_ : options_.max_io_queues;
                return {0, spec::feature::queues_cdw11(n, n)};
            }
            return {status_of(sct::GENERIC, sc::INVALID_FIELD), 0};
        default:
            return {status_of(sct::GENERIC, sc::INVALID_OPCODE), 0};
    }
}

const NamespaceSpec* NvmeModel::find_ns(uint32_t nsid) const {
    for (auto& ns : options_.namespaces)
        if (ns.nsid == nsid) return &ns;
    return nullptr;
}

uint16_t NvmeModel::copy_out(uint64_t prp1, uint64_t prp2, const void* data, size_t bytes) {
    std::vector<std::pair<uint8_t*, size_t>> pieces;
    if (uint16_t s = walk_prps(prp1, prp2, bytes, pieces)) return s;
    auto* src = static_cast<const uint8_t*>(data);
    for (auto& [p, n] : pieces) {
        memcpy(p, src, n);
        src += n;
    }
    return 0;
}

NvmeModel::Result NvmeModel::identify(const spec::SubmissionEntry& e) {
    uint8_t cns = e.cdw10 & 0xff;
    if (cns == spec::cns::CONTROLLER) {
        spec::IdentifyController id{};
        id.vid = 0x1d1d;
        id.ssvid = 0x1d1d;
        memcpy(id.sn, "LAMINA-MODEL-0001   ", 20);
        char mn[40];
        memset(mn, ' ', sizeof mn);
        memcpy(mn, "Lamina NVMe model", 17);
        memcpy(id.mn, mn, 40);
        memcpy(id.fr, "1.0     ", 8);
        id.mdts = options_.mdts;
        id.cntlid = 1;
        id.ver = options_.version;
        id.sqes = 0x66;
        id.cqes = 0x44;
        id.maxcmd = 0;
        id.nn = options_.nn;
        id.vwc = 1;
        return {copy_out(e.prp1, e.prp2, &id, sizeof id), 0};
    }
    if (cns == spec::cns::NAMESPACE) {
        if (e.nsid == 0 || (e.nsid > options_.nn && e.nsid != spec::BROADCAST_NSID))
            return {status_of(sct::GENERIC, sc::INVALID_NAMESPACE), 0};
        spec::IdentifyNamespace id{};
        const NamespaceSpec* ns = find_ns(e.nsid);
        if (ns && ns->active) {
            id.nsze = id.ncap = id.nuse = ns->blocks;
            id.nlbaf = 1;  // two formats: 512 B and 4 KiB
            id.lbaf[0] = spec::LbaFormat{0, 9, 2};
            id.lbaf[1] = spec::LbaFormat{0, 12, 0};
            id.flbas = ns->lbads == 12 ? 1 : 0;
            if (ns->lbads != 9 && ns->lbads != 12) {
                id.nlbaf = 2;
                id.lbaf[2] = spec::LbaFormat{0, ns->lbads, 3};
                id.flbas = 2;
            }
        }
        return {copy_out(e.prp1, e.prp2, &id, sizeof id), 0};
    }
    if (cns == spec::cns::ACTIVE_NAMESPACES) {
        if (options_.version < spec::version(1, 1)) return {status_of(sct::GENERIC, sc::INVALID_FIELD), 0};
        if (e.nsid >= 0xfffffffe) return {status_of(sct::GENERIC, sc::INVALID_NAMESPACE), 0};
        uint32_t list[spec::ACTIVE_LIST_ENTRIES] = {};
        std::vector<uint32_t> ids;
        for (auto& ns : options_.namespaces)
            if (ns.active && ns.nsid > e.nsid && ns.nsid <= options_.nn) ids.push_back(ns.nsid);
        std::sort(ids.begin(), ids.end());
        for (size_t i = 0; i < ids.size() && i < spec::ACTIVE_LIST_ENTRIES; i++) list[i] = ids[i];
        return {copy_out(e.prp1, e.prp2, list, sizeof list), 0};
    }
    return {status_of(sct::GENERIC, sc::INVALID_FIELD), 0};
}

NvmeModel::Result NvmeModel::set_features(const spec::SubmissionEntry& e) {
    if ((e.cdw10 & 0xff) != spec::feature::NUMBER_OF_QUEUES) return {status_of(sct::GENERIC, sc::INVALID_FIELD), 0};
    if (e.cdw10 & (1u << 31))  // SV: nothing here is saveable
        return {status_of(sct::COMMAND_SPECIFIC, sc::FEATURE_NOT_SAVEABLE), 0};
    // Only before any I/O queue exists (5.21.1.7).
    if (queues_created_since_reset_) return {status_of(sct::GENERIC, sc::COMMAND_SEQUENCE_ERROR), 0};
    uint32_t nsqr = e.cdw11 & 0xffff, ncqr = e.cdw11 >> 16;
    if (nsqr == 0xffff || ncqr == 0xffff) return {status_of(sct::GENERIC, sc::INVALID_FIELD), 0};
    uint16_t granted = uint16_t(std::min<uint32_t>({nsqr + 1, ncqr + 1, uint32_t(options_.max_io_queues)}));
    granted_queues_ = granted;
    return {0, spec::feature::queues_cdw11(granted, granted)};
}

NvmeModel::Result NvmeModel::create_cq(const spec::SubmissionEntry& e) {
    uint16_t qid = e.cdw10 & 0xffff;
    uint32_t size = (e.cdw10 >> 16) + 1;
    uint16_t limit = granted_queues_ ? granted_queues_ : 0;
    if (qid == 0 || qid > limit || cqs_[qid].exists) return {status_of(sct::COMMAND_SPECIFIC, sc::INVALID_QUEUE_ID), 0};
    if (size < 2 || size > spec::cap::mqes(cap_) + 1)
        return {status_of(sct::COMMAND_SPECIFIC, sc::INVALID_QUEUE_SIZE), 0};
    if (!(e.cdw11 & spec::create_cq::PC))  // CAP.CQR: contiguous queues only
        return {status_of(sct::GENERIC, sc::INVALID_FIELD), 0};
    bool ien = e.cdw11 & spec::create_cq::IEN;
    uint16_t vector = uint16_t(e.cdw11 >> 16);
    if (ien && vector >= options_.max_vectors)
        return {status_of(sct::COMMAND_SPECIFIC, sc::INVALID_INTERRUPT_VECTOR), 0};
    if (e.prp1 & (PAGE - 1)) return {status_of(sct::GENERIC, sc::INVALID_PRP_OFFSET), 0};
    if (!memory_.translate(e.prp1, size * sizeof(spec::CompletionEntry)))
        return {status_of(sct::GENERIC, sc::DATA_TRANSFER_ERROR), 0};
    cqs_[qid] = Cq{true, e.prp1, uint16_t(size), 0, 0, true, ien, vector};
    queues_created_since_reset_ = true;
    return {};
}

NvmeModel::Result NvmeModel::create_sq(const spec::SubmissionEntry& e) {
    uint16_t qid = e.cdw10 & 0xffff;
    uint32_t size = (e.cdw10 >> 16) + 1;
    uint16_t cqid = uint16_t(e.cdw11 >> 16);
    if (qid == 0 || qid > granted_queues_ || sqs_[qid].exists)
        return {status_of(sct::COMMAND_SPECIFIC, sc::INVALID_QUEUE_ID), 0};
    if (size < 2 || size > spec::cap::mqes(cap_) + 1)
        return {status_of(sct::COMMAND_SPECIFIC, sc::INVALID_QUEUE_SIZE), 0};
    if (!(e.cdw11 & spec::create_sq::PC)) return {status_of(sct::GENERIC, sc::INVALID_FIELD), 0};
    if (cqid == 0 || cqid >= cqs_.size() || !cqs_[cqid].exists)
        return {status_of(sct::COMMAND_SPECIFIC, sc::CQ_INVALID), 0};
    if (e.prp1 & (PAGE - 1)) return {status_of(sct::GENERIC, sc::INVALID_PRP_OFFSET), 0};
    if (!memory_.translate(e.prp1, size * sizeof(spec::SubmissionEntry)))
        return {status_of(sct::GENERIC, sc::DATA_TRANSFER_ERROR), 0};
    sqs_[qid] = Sq{true, e.prp1, uint16_t(size), 0, 0, cqid};
    queues_created_since_reset_ = true;
    return {};
}

NvmeModel::Result NvmeModel::delete_sq(const spec::SubmissionEntry& e) {
    uint16_t qid = e.cdw10 & 0xffff;
    if (qid == 0 || qid >= sqs_.size() || !sqs_[qid].exists)
        return {status_of(sct::COMMAND_SPECIFIC, sc::INVALID_QUEUE_ID), 0};
    sqs_[qid] = Sq{};  // commands still queued are dropped (aborted, never completed)
    pending_[qid] = false;
    return {};
}

NvmeModel::Result NvmeModel::delete_cq(const spec::SubmissionEntry& e) {
    uint16_t qid = e.cdw10 & 0xffff;
    if (qid == 0 || qid >= cqs_.size() || !cqs_[qid].exists)
        return {status_of(sct::COMMAND_SPECIFIC, sc::INVALID_QUEUE_ID), 0};
    for (size_t s = 1; s < sqs_.size(); s++)
        if (sqs_[s].exists && sqs_[s].cqid == qid)
            return {status_of(sct::COMMAND_SPECIFIC, sc::INVALID_QUEUE_DELETION), 0};
    cqs_[qid] = Cq{};
    return {};
}

bool NvmeModel::io_queue_exists(uint16_t qid) const {
    return qid > 0 && qid < sqs_.size() && sqs_[qid].exists && cqs_[sqs_[qid].cqid].exists;
}

uint64_t NvmeModel::interrupts(uint16_t vector) const {
    auto it = interrupts_.find(vector);
    return it == interrupts_.end() ? 0 : it->second;
}

void NvmeModel::fail_io_command(uint64_t nth, uint8_t type, uint8_t code, bool dnr) {
    io_fail_at_ = nth ? stats_.io_commands + nth : 0;
    io_fail_status_ = status_of(type, code, dnr);
}

void NvmeModel::fail_admin_opcode(uint8_t opcode, uint8_t type, uint8_t code) {
    if (code == 0 && type == 0)
        admin_fail_.erase(opcode);
    else
        admin_fail_[opcode] = status_of(type, code);
}

std::vector<uint8_t>& NvmeModel::disk(uint32_t nsid) { return disks_[nsid]; }

// --- NVM commands --------------------------------------------------------------------------

NvmeModel::Result NvmeModel::execute_io(const spec::SubmissionEntry& e) {
    stats_.io_commands++;
    if (io_fail_at_ && stats_.io_commands == io_fail_at_) {
        io_fail_at_ = 0;
        return {io_fail_status_, 0};
    }
    if (e.flags != 0) return {status_of(sct::GENERIC, sc::INVALID_FIELD), 0};
    const NamespaceSpec* ns = find_ns(e.nsid);
    if (!ns || !ns->active || e.nsid > options_.nn) return {status_of(sct::GENERIC, sc::INVALID_NAMESPACE), 0};
    switch (e.opcode) {
        case spec::nvm::FLUSH:
            stats_.flushes++;
            return {};
        case spec::nvm::READ:
            stats_.reads++;
            return read_write(e, false);
        case spec::nvm::WRITE:
            stats_.writes++;
            return read_write(e, true);
        default:
            return {status_of(sct::GENERIC, sc::INVALID_OPCODE), 0};
    }
}

NvmeModel::Result NvmeModel::read_write(const spec::SubmissionEntry& e, bool write) {
    const NamespaceSpec* ns = find_ns(e.nsid);
    uint64_t slba = uint64_t(e.cdw11) << 32 | e.cdw10;
    uint64_t nlb = uint64_t(e.cdw12 & 0xffff) + 1;
    if (slba >= ns->blocks || nlb > ns->blocks - slba) return {status_of(sct::GENERIC, sc::LBA_OUT_OF_RANGE), 0};
    size_t bytes = size_t(nlb) << ns->lbads;
    if (options_.mdts && bytes > (size_t(PAGE) << options_.mdts))
        return {status_of(sct::GENERIC, sc::INVALID_FIELD), 0};
    std::vector<std::pair<uint8_t*, size_t>> pieces;
    if (uint16_t s = walk_prps(e.prp1, e.prp2, bytes, pieces)) return {s, 0};
    uint8_t* media = disks_[e.nsid].data() + (slba << ns->lbads);
    for (auto& [p, n] : pieces) {
        if (write)
            memcpy(media, p, n);
        else
            memcpy(p, media, n);
        media += n;
    }
    return {};
}

uint16_t NvmeModel::walk_prps(uint64_t prp1, uint64_t prp2, size_t bytes,
                              std::vector<std::pair<uint8_t*, size_t>>& out) {
    const uint16_t bad_offset = status_of(sct::GENERIC, sc::INVALID_PRP_OFFSET);
    const uint16_t bad_address = status_of(sct::GENERIC, sc::DATA_TRANSFER_ERROR);
    if (prp1 & 3) return bad_offset;
    size_t first = std::min<size_t>(bytes, PAGE - (prp1 & (PAGE - 1)));
    uint8_t* p = memory_.translate(prp1, first);
    if (!p) return bad_address;
    out.emplace_back(p, first);
    size_t left = bytes - first;
    if (left == 0) return 0;
    if (left <= PAGE) {
        // PRP2 is the second (and last) page.
        if (prp2 & (PAGE - 1)) return bad_offset;
        uint8_t* q = memory_.translate(prp2, left);
        if (!q) return bad_address;
        out.emplace_back(q, left);
        return 0;
    }
    // PRP2 points into a list; entries run to the end of that page, whose last entry chains
    // to the next list page when more remain (4.3).
    if (prp2 & 7) return bad_offset;
    uint64_t list = prp2;
    stats_.prp_list_pages++;
    while (left > 0) {
        bool last_in_page = ((list + 8) & (PAGE - 1)) == 0;
        auto* entry = reinterpret_cast<uint64_t*>(memory_.translate(list, 8));
        if (!entry) return bad_address;
        if (last_in_page && left > PAGE) {
            if (*entry & 7) return bad_offset;
            list = *entry;
            stats_.prp_list_pages++;
            continue;
        }
        uint64_t page = *entry;
        if (page & (PAGE - 1)) return bad_offset;
        size_t n = std::min<size_t>(left, PAGE);
        uint8_t* q = memory_.translate(page, n);
        if (!q) return bad_address;
        out.emplace_back(q, n);
        left -= n;
        list += 8;
    }
    return 0;
}

}  // namespace lamina::nvme_model
