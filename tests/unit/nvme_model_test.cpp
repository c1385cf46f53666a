// Host tests for the NVMe controller model itself (tests/models/nvme_model.h), driven by hand
// through its registers and rings, so that the driver tests stand on a model that checks what a
// real controller checks: queue creation rules, PRP rules, completion phase and full queues.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/models/nvme_model.h"

namespace {

using lamina::nvme_model::ModelMemory;
using lamina::nvme_model::NvmeModel;
using lamina::nvme_model::Options;
namespace spec = lamina::nvme::spec;
using Sqe = spec::SubmissionEntry;
using Cqe = spec::CompletionEntry;

constexpr uint16_t ADMIN_ENTRIES = 8;

// A minimal host: admin queue plus one I/O queue pair, commands submitted one at a time.
class Host {
public:
    explicit Host(Options o = {}) : m(std::move(o)) {
        asq = m.memory().allocate(ADMIN_ENTRIES * 64);
        acq = m.memory().allocate(ADMIN_ENTRIES * 16);
        m.write32(spec::reg::AQA, spec::aqa(ADMIN_ENTRIES, ADMIN_ENTRIES));
        m.write64(spec::reg::ASQ, asq.phys);
        m.write64(spec::reg::ACQ, acq.phys);
        m.write32(spec::reg::CC, 6u << 16 | 4u << 20 | spec::cc::EN);
        for (int i = 0; i < 10 && !(m.read32(spec::reg::CSTS) & spec::csts::RDY); i++) {
        }
        EXPECT_TRUE(m.read32(spec::reg::CSTS) & spec::csts::RDY);
        admin.sq = asq;
        admin.cq = acq;
    }

    // Submits on queue `qid` and returns the completion (status without phase).
    Cqe command(uint16_t qid, Sqe e) {
        Ring& r = qid == 0 ? admin : io;
        e.cid = next_cid++;
        static_cast<Sqe*>(r.sq.virt)[r.sq_tail] = e;
        r.sq_tail = uint16_t((r.sq_tail + 1) % r.entries);
        m.write32(spec::reg::sq_tail_doorbell(qid, m.options().dstrd), r.sq_tail);
        m.step();
        Cqe c = static_cast<Cqe*>(r.cq.virt)[r.cq_head];
        EXPECT_EQ(spec::status::phase(c.status), r.phase) << "no completion posted";
        EXPECT_EQ(c.cid, e.cid);
        r.cq_head = uint16_t((r.cq_head + 1) % r.entries);
        if (r.cq_head == 0) r.phase = !r.phase;
        m.write32(spec::reg::cq_head_doorbell(qid, m.options().dstrd), r.cq_head);
        return c;
    }
    // Status code type and code, without phase, more and do-not-retry bits.
    uint16_t status(const Cqe& c) { return (c.status >> 1) & 0x7ff; }
    uint16_t make(uint8_t type, uint8_t code) { return uint16_t(type << 8 | code); }

    uint16_t set_queues(uint16_t n) {
        Sqe e{};
        e.opcode = spec::admin::SET_FEATURES;
        e.cdw10 = spec::feature::NUMBER_OF_QUEUES;
        e.cdw11 = spec::feature::queues_cdw11(n, n);
        Cqe c = command(0, e);
        EXPECT_EQ(status(c), 0);
        return uint16_t(spec::feature::allocated_sq(c.dw0));
    }
    Cqe create_cq(uint16_t qid, uint16_t entries, uint64_t phys, uint32_t cdw11 = 1) {
        Sqe e{};
        e.opcode = spec::admin::CREATE_IO_CQ;
        e.prp1 = phys;
        e.cdw10 = spec::create_cq::cdw10(qid, entries);
        e.cdw11 = cdw11;
        return command(0, e);
    }
    Cqe create_sq(uint16_t qid, uint16_t entries, uint64_t phys, uint16_t cqid) {
        Sqe e{};
        e.opcode = spec::admin::CREATE_IO_SQ;
        e.prp1 = phys;
        e.cdw10 = spec::create_sq::cdw10(qid, entries);
        e.cdw11 = spec::create_sq::cdw11(cqid);
        return command(0, e);
    }
    void make_io_queue(uint16_t entries) {
        io.entries = entries;
        io.sq = m.memory().allocate(entries * 64);
        io.cq = m.memory().allocate(entries * 16);
        set_queues(1);
        ASSERT_EQ(status(create_cq(1, entries, io.cq.phys)), 0);
        ASSERT_EQ(status(create_sq(1, entries, io.sq.phys, 1)), 0);
    }
    Sqe rw(uint8_t op, uint64_t lba, uint32_t blocks, uint64_t prp1, uint64_t prp2) {
        Sqe e{};
        e.opcode = op;
        e.nsid = 1;
        e.prp1 = prp1;
        e.prp2 = prp2;
        e.cdw10 = uint32_t(lba);
        e.cdw11 = uint32_t(lba >> 32);
        e.cdw12 = blocks - 1;
        return e;
    }

    struct Ring {
        ModelMemory::Allocation sq{}, cq{};
        uint16_t entries = ADMIN_ENTRIES;
        uint16_t sq_tail = 0, cq_head = 0;
        bool phase = true;
    };
    NvmeModel m;
    ModelMemory::Allocation asq, acq;
    Ring admin;
    Ring io;
    uint16_t next_cid = 0;
};

TEST(NvmeModel, ReadyFollowsEnableAndReset) {
    NvmeModel m;
    EXPECT_EQ(m.read32(spec::reg::CSTS) & spec::csts::RDY, 0u);
    auto sq = m.memory().allocate(4096), cq = m.memory().allocate(4096);
    m.write32(spec::reg::AQA, spec::aqa(4, 4));
    m.write64(spec::reg::ASQ, sq.phys);
    m.write64(spec::reg::ACQ, cq.phys);
    m.write32(spec::reg::CC, 6u << 16 | 4u << 20 | 1);
    EXPECT_EQ(m.read32(spec::reg::CSTS) & spec::csts::RDY, 0u);  // not at once
    EXPECT_EQ(m.read32(spec::reg::CSTS) & spec::csts::RDY, 1u);
    m.set_fatal();
    EXPECT_TRUE(m.read32(spec::reg::CSTS) & spec::csts::CFS);
    m.write32(spec::reg::CC, 0);
    EXPECT_FALSE(m.read32(spec::reg::CSTS) & spec::csts::CFS);  // reset clears it
    m.read32(spec::reg::CSTS);
    EXPECT_EQ(m.read32(spec::reg::CSTS) & spec::csts::RDY, 0u);
    // Bad entry sizes: fatal instead of ready.
    m.write32(spec::reg::CC, 7u << 16 | 4u << 20 | 1);
    EXPECT_TRUE(m.read32(spec::reg::CSTS) & spec::csts::CFS);
    EXPECT_EQ(spec::cap::dstrd(m.read64(spec::reg::CAP)), 0u);
    EXPECT_EQ(m.read32(spec::reg::VS), spec::version(1, 4));
}

TEST(NvmeModel, QueueCreationIsValidated) {
    Host h;
    auto mem = h.m.memory().allocate(4096 * 4);
    uint16_t cs = spec::sct::COMMAND_SPECIFIC;
    // Before set features: no queues granted.
    EXPECT_EQ(h.status(h.create_cq(1, 16, mem.phys)), h.make(cs, spec::sc::INVALID_QUEUE_ID));
    EXPECT_EQ(h.set_queues(4), 4);
    EXPECT_EQ(h.status(h.create_cq(0, 16, mem.phys)), h.make(cs, spec::sc::INVALID_QUEUE_ID));
    EXPECT_EQ(h.status(h.create_cq(5, 16, mem.phys)), h.make(cs, spec::sc::INVALID_QUEUE_ID));
    EXPECT_EQ(h.status(h.create_cq(1, 2000, mem.phys)), h.make(cs, spec::sc::INVALID_QUEUE_SIZE));
    EXPECT_EQ(h.status(h.create_cq(1, 16, mem.phys, 0)), h.make(0, spec::sc::INVALID_FIELD));
    EXPECT_EQ(h.status(h.create_cq(1, 16, mem.phys, 1u << 16 | 3)), h.make(0, 0));  // vector 1, interrupts on
    EXPECT_EQ(h.status(h.create_cq(2, 16, mem.phys + 4096, 99u << 16 | 3)),
              h.make(cs, spec::sc::INVALID_INTERRUPT_VECTOR));
    EXPECT_EQ(h.status(h.create_cq(2, 16, mem.phys + 8)), h.make(0, spec::sc::INVALID_PRP_OFFSET));
    EXPECT_EQ(h.status(h.create_cq(2, 16, 0x1234000)), h.make(0, spec::sc::DATA_TRANSFER_ERROR));
    EXPECT_EQ(h.status(h.create_cq(1, 16, mem.phys)), h.make(cs, spec::sc::INVALID_QUEUE_ID));
    EXPECT_EQ(h.status(h.create_sq(1, 16, mem.phys + 8192, 3)), h.make(cs, spec::sc::CQ_INVALID));
    EXPECT_EQ(h.status(h.create_sq(1, 16, mem.phys + 8192, 1)), 0);
    // Set features only before queues exist.
    Sqe e{};
    e.opcode = spec::admin::SET_FEATURES;
    e.cdw10 = spec::feature::NUMBER_OF_QUEUES;
    EXPECT_EQ(h.status(h.command(0, e)), h.make(0, spec::sc::COMMAND_SEQUENCE_ERROR));
    // A CQ with an SQ on it cannot go; after the SQ, it can.
    Sqe del{};
    del.opcode = spec::admin::DELETE_IO_CQ;
    del.cdw10 = 1;
    EXPECT_EQ(h.status(h.command(0, del)), h.make(cs, spec::sc::INVALID_QUEUE_DELETION));
    Sqe dsq{};
    dsq.opcode = spec::admin::DELETE_IO_SQ;
    dsq.cdw10 = 1;
    EXPECT_EQ(h.status(h.command(0, dsq)), 0);
    EXPECT_EQ(h.status(h.command(0, del)), 0);
    Sqe bad{};
    bad.opcode = 0x7f;
    EXPECT_EQ(h.status(h.command(0, bad)), h.make(0, spec::sc::INVALID_OPCODE));
}

TEST(NvmeModel, PrpRulesAndChainedLists) {
    Options o;
    o.mdts = 0;  // no limit, so that a transfer needs a chained list
    o.namespaces = {lamina::nvme_model::NamespaceSpec{1, 8192, 9, true}};
    Host h(o);
    h.make_io_queue(16);
    uint16_t g = spec::sct::GENERIC;
    auto data = h.m.memory().allocate(4096 * 4);
    // PRP1 not dword aligned.
    EXPECT_EQ(h.status(h.command(1, h.rw(spec::nvm::READ, 0, 1, data.phys + 2, 0))),
              h.make(g, spec::sc::INVALID_PRP_OFFSET));
    // Two pages with PRP2 carrying an offset.
    Sqe two = h.rw(spec::nvm::READ, 0, 8, data.phys + 512, data.phys + 4608);
    EXPECT_EQ(h.status(h.command(1, two)), h.make(g, spec::sc::INVALID_PRP_OFFSET));
    // An address outside any memory.
    EXPECT_EQ(h.status(h.command(1, h.rw(spec::nvm::READ, 0, 1, 0x42000, 0))),
              h.make(g, spec::sc::DATA_TRANSFER_ERROR));
    // LBA range and namespace.
    EXPECT_EQ(h.status(h.command(1, h.rw(spec::nvm::READ, 8190, 4, data.phys, data.phys + 4096))),
              h.make(g, spec::sc::LBA_OUT_OF_RANGE));
    Sqe ns = h.rw(spec::nvm::READ, 0, 1, data.phys, 0);
    ns.nsid = 2;
    EXPECT_EQ(h.status(h.command(1, ns)), h.make(g, spec::sc::INVALID_NAMESPACE));

    // 600 pages (2.4 MiB): PRP1 + a list page of 511 entries chained to a second list page.
    constexpr uint32_t PAGES = 600;
    auto big = h.m.memory().allocate(PAGES * 4096);
    auto lists = h.m.memory().allocate(2 * 4096);
    auto* l0 = static_cast<uint64_t*>(lists.virt);
    auto* l1 = l0 + 512;
    for (uint32_t i = 1; i < 512; i++) l0[i - 1] = big.phys + uint64_t(i) * 4096;
    l0[511] = lists.phys + 4096;
    for (uint32_t i = 512; i < PAGES; i++) l1[i - 512] = big.phys + uint64_t(i) * 4096;
    for (uint32_t i = 0; i < PAGES * 4096; i++) static_cast<uint8_t*>(big.virt)[i] = uint8_t(i * 7);
    uint64_t before = h.m.stats().prp_list_pages;
    Sqe chained = h.rw(spec::nvm::WRITE, 0, PAGES * 8, big.phys, lists.phys);
    EXPECT_EQ(h.status(h.command(1, chained)), 0);
    EXPECT_EQ(h.m.stats().prp_list_pages - before, 2u);
    EXPECT_EQ(std::memcmp(h.m.disk(1).data(), big.virt, PAGES * 4096), 0);
    // A list entry with an offset.
    l1[3] += 8;
    EXPECT_EQ(h.status(h.command(1, h.rw(spec::nvm::READ, 0, PAGES * 8, big.phys, lists.phys))),
              h.make(g, spec::sc::INVALID_PRP_OFFSET));
}

TEST(NvmeModel, MdtsIsEnforced) {
    Options o;
    o.mdts = 1;  // 8 KiB
    Host h(o);
    h.make_io_queue(4);
    auto data = h.m.memory().allocate(4 * 4096);
    auto list = h.m.memory().allocate(4096);
    auto* l = static_cast<uint64_t*>(list.virt);
    l[0] = data.phys + 4096;
    l[1] = data.phys + 8192;
    EXPECT_EQ(h.status(h.command(1, h.rw(spec::nvm::READ, 0, 16, data.phys, data.phys + 4096))), 0);
    EXPECT_EQ(h.status(h.command(1, h.rw(spec::nvm::READ, 0, 24, data.phys, list.phys))),
              h.make(0, spec::sc::INVALID_FIELD));
}

TEST(NvmeModel, PhaseFlipsAndFullCqHoldsBack) {
    Host h;
    h.make_io_queue(4);
    auto data = h.m.memory().allocate(4096);
    // Ten commands one at a time through a 4-entry ring: the phase flips twice.
    for (int i = 0; i < 10; i++) EXPECT_EQ(h.status(h.command(1, h.rw(spec::nvm::READ, 0, 1, data.phys, 0))), 0);
    EXPECT_EQ(h.m.stats().cq_wraps, 2u);
    // Three commands fill the CQ (one slot always stays empty); the host does not consume
    // them and queues two more: those wait until the CQ head moves.
    Host::Ring& r = h.io;
    auto queue = [&](int n) {
        for (int i = 0; i < n; i++) {
            Sqe e = h.rw(spec::nvm::READ, 0, 1, data.phys, 0);
            e.cid = uint16_t(100 + i);
            static_cast<Sqe*>(r.sq.virt)[r.sq_tail] = e;
            r.sq_tail = uint16_t((r.sq_tail + 1) % r.entries);
        }
        h.m.write32(spec::reg::sq_tail_doorbell(1, 0), r.sq_tail);
    };
    queue(3);
    queue(2);
    EXPECT_EQ(h.m.step(), 0u);
    EXPECT_GE(h.m.stats().cq_full_stalls, 1u);
    int got = 0;
    for (int round = 0; round < 4 && got < 5; round++) {
        for (;;) {
            Cqe c = static_cast<Cqe*>(r.cq.virt)[r.cq_head];
            if (spec::status::phase(c.status) != r.phase) break;
            got++;
            r.cq_head = uint16_t((r.cq_head + 1) % r.entries);
            if (r.cq_head == 0) r.phase = !r.phase;
        }
        h.m.write32(spec::reg::cq_head_doorbell(1, 0), r.cq_head);
        h.m.step();
    }
    EXPECT_EQ(got, 5);
    // Doorbells out of range are flagged, not obeyed.
    uint64_t bad = h.m.stats().invalid_doorbells;
    h.m.write32(spec::reg::sq_tail_doorbell(1, 0), 9);
    h.m.write32(spec::reg::sq_tail_doorbell(5, 0), 0);
    h.m.write32(spec::reg::cq_head_doorbell(1, 0), (r.cq_head + 2) % 4);  // past the tail
    EXPECT_EQ(h.m.stats().invalid_doorbells - bad, 3u);
}

TEST(NvmeModel, IdentifyData) {
    Options o;
    o.namespaces = {lamina::nvme_model::NamespaceSpec{1, 1000, 9, true},
                    lamina::nvme_model::NamespaceSpec{4, 0, 9, false},
                    lamina::nvme_model::NamespaceSpec{5, 64, 12, true}};
    Host h(o);
    auto page = h.m.memory().allocate(4096);
    Sqe e{};
    e.opcode = spec::admin::IDENTIFY;
    e.prp1 = page.phys;
    e.cdw10 = spec::cns::CONTROLLER;
    ASSERT_EQ(h.status(h.command(0, e)), 0);
    auto* id = static_cast<spec::IdentifyController*>(page.virt);
    EXPECT_EQ(id->nn, 5u);
    EXPECT_EQ(id->sqes, 0x66);
    e.cdw10 = spec::cns::ACTIVE_NAMESPACES;
    ASSERT_EQ(h.status(h.command(0, e)), 0);
    auto* list = static_cast<uint32_t*>(page.virt);
    EXPECT_EQ(list[0], 1u);
    EXPECT_EQ(list[1], 5u);
    EXPECT_EQ(list[2], 0u);
    e.cdw10 = spec::cns::NAMESPACE;
    e.nsid = 5;
    ASSERT_EQ(h.status(h.command(0, e)), 0);
    auto* ns = static_cast<spec::IdentifyNamespace*>(page.virt);
    EXPECT_EQ(ns->nsze, 64u);
    EXPECT_EQ(ns->lbaf[spec::flbas_format(ns->flbas)].lbads, 12);
    e.nsid = 4;  // inactive: zeros
    ASSERT_EQ(h.status(h.command(0, e)), 0);
    EXPECT_EQ(ns->nsze, 0u);
    e.nsid = 6;
    EXPECT_EQ(h.status(h.command(0, e)), h.make(0, spec::sc::INVALID_NAMESPACE));
}

}  // namespace
