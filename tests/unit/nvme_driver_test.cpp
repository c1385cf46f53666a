// Host tests for the NVMe driver core (drivers/nvme/controller.h) against the controller model
// (tests/models/nvme_model.h), with a fake clock so that timeouts are instant.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "drivers/nvme/controller.h"
#include "tests/models/nvme_model.h"
#include "tests/models/nvme_model_platform.h"

namespace {

using lamina::Errno;
using lamina::Own;
using lamina::nvme::BlockCompletion;
using lamina::nvme::BlockOp;
using lamina::nvme::BlockRequest;
using lamina::nvme::Config;
using lamina::nvme::Controller;
using lamina::nvme::DmaSegment;
using lamina::nvme::Failure;
using lamina::nvme::is_controller_failure;
using lamina::nvme::Status;
using lamina::nvme_model::ModelPlatform;
using lamina::nvme_model::NamespaceSpec;
using lamina::nvme_model::NvmeModel;
using lamina::nvme_model::Options;
namespace spec = lamina::nvme::spec;

// A DMA buffer from the model's memory, described as one segment.
struct Buffer {
    uint8_t* data;
    uint64_t phys;
    size_t size;
    DmaSegment seg;
};

class Rig {
public:
    explicit Rig(Options o = {}, Config c = {}) : model(std::move(o)), platform(model), config(c) {}

    void start() {
        auto r = Controller::create(platform, config);
        ASSERT_TRUE(r.is_ok()) << r.error().name();
        ctl = r.release_value();
    }
    Buffer buffer(size_t bytes, size_t offset = 0) {
        auto a = model.memory().allocate(bytes + offset);
        EXPECT_NE(a.virt, nullptr);
        Buffer b{static_cast<uint8_t*>(a.virt) + offset, a.phys + offset, bytes, {}};
        b.seg = DmaSegment{b.phys, uint32_t(bytes)};
        return b;
    }
    BlockRequest request(BlockOp op, uint64_t lba, uint32_t blocks, const DmaSegment* segs, uint32_t n, uint64_t tag) {
        BlockRequest r;
        r.tag = tag;
        r.op = op;
        r.lba = lba;
        r.blocks = blocks;
        r.segments = segs;
        r.segment_count = n;
        return r;
    }
    // Submits one request on `queue` and waits for its completion.
    Status run(uint16_t queue, const BlockRequest& r) {
        auto s = ctl->submit(queue, &r, 1);
        EXPECT_TRUE(s.is_ok()) << s.error().name();
        if (s.is_error()) return Status{Status::Kind::ControllerFailed};
        EXPECT_EQ(s.value(), 1u);
        BlockCompletion c;
        auto w = ctl->wait(queue, &c, 1);
        if (w.is_error()) return Status{Status::Kind::ControllerFailed};
        EXPECT_EQ(w.value(), 1u);
        EXPECT_EQ(c.tag, r.tag);
        return c.status;
    }

    NvmeModel model;
    ModelPlatform platform;
    Config config;
    Own<Controller> ctl;
};

void fill(uint8_t* p, size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    for (size_t i = 0; i < n; i++) p[i] = uint8_t(rng());
}

TEST(NvmeDriver, BringsUpAndParsesIdentify) {
    Options o;
    o.namespaces = {NamespaceSpec{1, 20000, 9, true}, NamespaceSpec{2, 0, 9, false}, NamespaceSpec{3, 512, 12, true}};
    o.mdts = 3;
    Rig rig(o, {.io_queues = 3, .io_queue_entries = 32});
    rig.start();
    const auto& info = rig.ctl->info();
    EXPECT_EQ(info.vendor_id, 0x1d1d);
    EXPECT_STREQ(info.serial, "LAMINA-MODEL-0001");
    EXPECT_STREQ(info.model, "Lamina NVMe model");
    EXPECT_STREQ(info.firmware, "1.0");
    EXPECT_EQ(info.namespace_count, 3u);
    EXPECT_EQ(info.max_transfer_bytes, 4096u << 3);
    EXPECT_EQ(info.version, spec::version(1, 4));
    EXPECT_TRUE(info.volatile_write_cache);
    ASSERT_EQ(rig.ctl->namespace_count(), 2u);  // namespace 2 is inactive
    EXPECT_EQ(rig.ctl->namespace_at(0).nsid, 1u);
    EXPECT_EQ(rig.ctl->namespace_at(0).blocks, 20000u);
    EXPECT_EQ(rig.ctl->namespace_at(0).block_size, 512u);
    EXPECT_EQ(rig.ctl->namespace_at(1).nsid, 3u);
    EXPECT_EQ(rig.ctl->namespace_at(1).block_size, 4096u);
    EXPECT_EQ(rig.ctl->find_namespace(2), nullptr);
    EXPECT_EQ(rig.ctl->io_queue_count(), 3);
    EXPECT_EQ(rig.ctl->queue_entries(0), 32u);
    for (uint16_t q = 1; q <= 3; q++) EXPECT_TRUE(rig.model.io_queue_exists(q));
    EXPECT_FALSE(rig.model.io_queue_exists(4));
    EXPECT_EQ(rig.model.stats().invalid_doorbells, 0u);
}

TEST(NvmeDriver, OldControllerWithoutActiveListAndFewerQueues) {
    Options o;
    o.version = spec::version(1, 0);
    // No active-namespace list before 1.1: the driver asks for every NSID up to NN and skips
    // the inactive ones (identify data all zero).
    o.namespaces = {NamespaceSpec{1, 0, 9, false}, NamespaceSpec{2, 8192, 9, true}};
    o.nn = 3;
    o.max_io_queues = 2;
    o.dstrd = 2;  // 16-byte doorbell stride
    o.mqes = 15;
    Rig rig(o, {.io_queues = 4, .io_queue_entries = 64});
    rig.start();
    EXPECT_EQ(rig.ctl->io_queue_count(), 2);    // granted fewer than asked
    EXPECT_EQ(rig.ctl->queue_entries(1), 16u);  // capped by CAP.MQES
    ASSERT_EQ(rig.ctl->namespace_count(), 1u);
    EXPECT_EQ(rig.ctl->namespace_at(0).nsid, 2u);
    auto b = rig.buffer(4096);
    fill(b.data, 4096, 1);
    BlockRequest w = rig.request(BlockOp::Write, 8, 8, &b.seg, 1, 1);
    w.nsid = 2;
    EXPECT_TRUE(rig.run(1, w).ok());
    EXPECT_EQ(std::memcmp(rig.model.disk(2).data() + 8 * 512, b.data, 4096), 0);
    EXPECT_EQ(rig.model.stats().invalid_doorbells, 0u);
}

TEST(NvmeDriver, RejectsBadConfigAndMissingFeatures) {
    Rig rig;
    Config c;
    c.io_queues = 0;
    EXPECT_EQ(Controller::create(rig.platform, c).error(), Errno::Inval);
    c = Config{};
    c.io_queue_entries = 1000;
    EXPECT_EQ(Controller::create(rig.platform, c).error(), Errno::Inval);
    // An admin command the controller refuses stops bring-up with its status kept.
    rig.model.fail_admin_opcode(spec::admin::CREATE_IO_CQ, spec::sct::COMMAND_SPECIFIC, spec::sc::INVALID_QUEUE_SIZE);
    EXPECT_EQ(Controller::create(rig.platform, Config{}).error(), Errno::IO);
    EXPECT_EQ(rig.platform.dma_allocations, rig.platform.dma_frees);  // nothing leaked
    // Out of DMA memory.
    rig.model.fail_admin_opcode(spec::admin::CREATE_IO_CQ, 0, 0);
    rig.platform.dma_failures_left = 1;
    EXPECT_EQ(Controller::create(rig.platform, Config{}).error(), Errno::NoMem);
    EXPECT_EQ(rig.platform.dma_allocations, rig.platform.dma_frees);
}

TEST(NvmeDriver, ReadAfterWriteManySizes) {
    Options o;
    o.namespaces = {NamespaceSpec{1, 16384, 9, true}};  // 8 MiB
    o.mdts = 4;                                         // 64 KiB per command
    Rig rig(o);
    rig.start();
    const uint32_t sizes[] = {1, 7, 8, 9, 16, 24, 120, 128, 129, 255, 256, 1000, 2048};
    uint64_t lba = 0;
    uint32_t seed = 10;
    for (uint32_t blocks : sizes) {
        for (size_t offset : {size_t(0), size_t(512), size_t(3584)}) {
            size_t bytes = size_t(blocks) * 512;
            auto w = rig.buffer(bytes, offset);
            auto r = rig.buffer(bytes, offset);
            fill(w.data, bytes, seed++);
            Status s = rig.run(0, rig.request(BlockOp::Write, lba, blocks, &w.seg, 1, lba));
            ASSERT_TRUE(s.ok()) << blocks << " blocks: " << s.message();
            s = rig.run(1, rig.request(BlockOp::Read, lba, blocks, &r.seg, 1, lba + 1));
            ASSERT_TRUE(s.ok()) << blocks << " blocks: " << s.message();
            ASSERT_EQ(std::memcmp(w.data, r.data, bytes), 0) << blocks << " blocks";
            ASSERT_EQ(std::memcmp(rig.model.disk(1).data() + lba * 512, w.data, bytes), 0);
            lba += blocks;
        }
    }
    EXPECT_GT(rig.model.stats().prp_list_pages, 0u);
    // 2048 blocks = 1 MiB: split into 16 commands of MDTS.
    EXPECT_GT(rig.model.stats().writes, 3u * std::size(sizes));
    EXPECT_EQ(rig.model.stats().error_completions, 0u);
}

TEST(NvmeDriver, ScatteredSegmentsAndFourKiBNamespace) {
    Options o;
    o.namespaces = {NamespaceSpec{1, 4096, 12, true}};
    o.mdts = 0;  // no limit: the driver's own one-list limit (2 MiB) applies
    Rig rig(o);
    rig.start();
    // 3 MiB in 6 segments of 512 KiB at scattered addresses: 2 commands.
    std::vector<Buffer> parts;
    std::vector<DmaSegment> segs;
    for (int i = 0; i < 6; i++) {
        parts.push_back(rig.buffer(512 * 1024));
        fill(parts.back().data, 512 * 1024, 100 + i);
        segs.push_back(parts.back().seg);
    }
    uint32_t blocks = 3 * 1024 * 1024 / 4096;
    auto s = rig.run(2, rig.request(BlockOp::Write, 100, blocks, segs.data(), 6, 7));
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(rig.model.stats().writes, 2u);
    auto back = rig.buffer(3 * 1024 * 1024);
    ASSERT_TRUE(rig.run(3, rig.request(BlockOp::Read, 100, blocks, &back.seg, 1, 8)).ok());
    for (int i = 0; i < 6; i++) ASSERT_EQ(std::memcmp(back.data + i * 512 * 1024, parts[i].data, 512 * 1024), 0);
    ASSERT_TRUE(rig.run(0, rig.request(BlockOp::Flush, 0, 0, nullptr, 0, 9)).ok());
    EXPECT_EQ(rig.model.stats().flushes, 1u);
}

TEST(NvmeDriver, RejectsBadRequests) {
    Rig rig;
    rig.start();
    auto b = rig.buffer(4096);
    BlockRequest r = rig.request(BlockOp::Read, 0, 8, &b.seg, 1, 1);
    BlockRequest bad = r;
    bad.nsid = 9;
    EXPECT_EQ(rig.ctl->submit(0, &bad, 1).error(), Errno::NoEnt);
    bad = r;
    bad.lba = 8190;
    EXPECT_EQ(rig.ctl->submit(0, &bad, 1).error(), Errno::Range);
    bad = r;
    bad.blocks = 9;  // buffer too small
    EXPECT_EQ(rig.ctl->submit(0, &bad, 1).error(), Errno::Inval);
    bad = r;
    bad.blocks = 0;
    EXPECT_EQ(rig.ctl->submit(0, &bad, 1).error(), Errno::Inval);
    EXPECT_EQ(rig.ctl->submit(7, &r, 1).error(), Errno::Inval);
    // A request that needs more commands than the queue holds.
    auto big = rig.buffer(8192 * 512);
    bad = rig.request(BlockOp::Read, 0, 8192, &big.seg, 1, 2);
    Config small;
    small.io_queue_entries = 8;
    Rig tiny(Options{}, small);
    tiny.start();
    auto big2 = tiny.buffer(8192 * 512);
    bad.segments = &big2.seg;
    EXPECT_EQ(tiny.ctl->submit(0, &bad, 1).error(), Errno::TooBig);
    // A bad request after good ones: the good ones are taken, the next call reports it.
    BlockRequest batch[2] = {r, r};
    batch[1].nsid = 5;
    EXPECT_EQ(rig.ctl->submit(0, batch, 2).value(), 1u);
    EXPECT_EQ(rig.ctl->submit(0, &batch[1], 1).error(), Errno::NoEnt);
    BlockCompletion c;
    EXPECT_EQ(rig.ctl->wait(0, &c, 1).value(), 1u);
    EXPECT_EQ(rig.ctl->in_flight(), 0u);
}

// Many requests in flight on several queues; completions wrap each CQ several times.
TEST(NvmeDriver, ManyInFlightAcrossQueuesWithPhaseWrap) {
    Options o;
    o.process_on_doorbell = false;  // the model works only when the driver waits
    o.namespaces = {NamespaceSpec{1, 65536, 9, true}};
    Config c;
    c.io_queues = 4;
    c.io_queue_entries = 16;  // small rings: wrap often
    Rig rig(o, c);
    rig.start();
    constexpr int PER_QUEUE = 40, QUEUES = 4, BLOCKS = 8;
    std::vector<Buffer> bufs;
    std::vector<BlockRequest> reqs;
    bufs.reserve(PER_QUEUE * QUEUES);
    for (int i = 0; i < PER_QUEUE * QUEUES; i++) {
        bufs.push_back(rig.buffer(BLOCKS * 512));
        fill(bufs.back().data, BLOCKS * 512, 1000 + i);
    }
    for (int i = 0; i < PER_QUEUE * QUEUES; i++)
        reqs.push_back(rig.request(BlockOp::Write, uint64_t(i) * BLOCKS, BLOCKS, &bufs[i].seg, 1, uint64_t(i)));
    std::vector<int> done(reqs.size(), 0);
    uint32_t max_in_flight = 0;
    // Keep every queue as full as it goes, then drain; repeat until all are done.
    size_t next[QUEUES] = {};
    size_t completed = 0;
    while (completed < reqs.size()) {
        for (int q = 0; q < QUEUES; q++) {
            size_t base = size_t(q) * PER_QUEUE;
            if (next[q] < PER_QUEUE) {
                auto n = rig.ctl->submit(uint16_t(q), &reqs[base + next[q]], PER_QUEUE - next[q]);
                ASSERT_TRUE(n.is_ok());
                next[q] += n.value();
            }
        }
        max_in_flight = std::max(max_in_flight, rig.ctl->in_flight());
        for (int q = 0; q < QUEUES; q++) {
            BlockCompletion out[64];
            auto n = rig.ctl->wait(uint16_t(q), out, 64);
            ASSERT_TRUE(n.is_ok()) << n.error().name();
            for (uint32_t i = 0; i < n.value(); i++) {
                ASSERT_TRUE(out[i].status.ok());
                ASSERT_EQ(done[out[i].tag]++, 0) << "completed twice: " << out[i].tag;
                completed++;
            }
        }
    }
    EXPECT_GE(max_in_flight, 32u);
    EXPECT_GE(rig.model.stats().max_outstanding, 32u);
    EXPECT_GE(rig.model.stats().cq_wraps, 8u);
    for (size_t i = 0; i < reqs.size(); i++)
        ASSERT_EQ(std::memcmp(rig.model.disk(1).data() + i * BLOCKS * 512, bufs[i].data, BLOCKS * 512), 0);
    EXPECT_EQ(rig.model.stats().invalid_doorbells, 0u);
    EXPECT_EQ(rig.ctl->bogus_completions(), 0u);
}

TEST(NvmeDriver, ErrorCompletionCarriesDecodedStatus) {
    Rig rig;
    rig.start();
    auto b = rig.buffer(4096);
    rig.model.fail_io_command(1, spec::sct::MEDIA, spec::sc::UNRECOVERED_READ_ERROR);
    Status s = rig.run(0, rig.request(BlockOp::Read, 0, 8, &b.seg, 1, 5));
    EXPECT_EQ(s.kind, Status::Kind::Device);
    EXPECT_EQ(s.sct, spec::sct::MEDIA);
    EXPECT_EQ(s.sc, spec::sc::UNRECOVERED_READ_ERROR);
    EXPECT_TRUE(s.dnr);
    char msg[96];
    EXPECT_EQ(std::string(s.format(msg, sizeof msg)), "media error status 0x81: unrecovered read error (do not retry)");
    EXPECT_EQ(s.error(), Errno::IO);
    EXPECT_FALSE(rig.ctl->failed());
    // The second part of a split request failing fails the whole request, once.
    auto big = rig.buffer(256 * 1024);
    rig.model.fail_io_command(2, spec::sct::GENERIC, spec::sc::DATA_TRANSFER_ERROR, false);
    s = rig.run(0, rig.request(BlockOp::Write, 0, 512, &big.seg, 1, 6));
    EXPECT_EQ(s.sc, spec::sc::DATA_TRANSFER_ERROR);
    EXPECT_STREQ(s.message(), "data transfer error");
    // And the next request is fine.
    EXPECT_TRUE(rig.run(0, rig.request(BlockOp::Read, 0, 8, &b.seg, 1, 7)).ok());
}

TEST(NvmeDriver, StoppedControllerTimesOut) {
    Config c;
    c.command_timeout_ns = 30'000'000'000;  // 30 s of fake time: instant here
    Rig rig(Options{}, c);
    rig.start();
    auto b = rig.buffer(4096);
    rig.model.set_unresponsive(true);
    BlockRequest r = rig.request(BlockOp::Read, 0, 8, &b.seg, 1, 1);
    uint64_t before = rig.platform.clock_ns;
    ASSERT_EQ(rig.ctl->submit(0, &r, 1).value(), 1u);
    BlockCompletion out;
    auto w = rig.ctl->wait(0, &out, 1);
    ASSERT_TRUE(w.is_error());
    EXPECT_TRUE(is_controller_failure(w.error()));
    EXPECT_EQ(rig.ctl->failure(), Failure::CommandTimeout);
    EXPECT_STREQ(rig.ctl->failure_message(), "controller failed: a command timed out");
    uint64_t waited = rig.platform.clock_ns - before;
    EXPECT_GE(waited, c.command_timeout_ns);
    EXPECT_LT(waited, c.command_timeout_ns + 1'000'000'000);
    // Everything fails until reinitialize.
    EXPECT_TRUE(is_controller_failure(rig.ctl->submit(0, &r, 1).error()));
    EXPECT_TRUE(is_controller_failure(rig.ctl->reap(0, &out, 1).error()));
}

TEST(NvmeDriver, AdminCommandThatNeverCompletes) {
    Rig rig(Options{}, {.command_timeout_ns = 2'000'000'000});
    rig.model.set_unresponsive(true);
    uint64_t before = rig.platform.clock_ns;
    auto r = Controller::create(rig.platform, rig.config);
    ASSERT_TRUE(r.is_error());
    EXPECT_TRUE(is_controller_failure(r.error()));
    EXPECT_GE(rig.platform.clock_ns - before, rig.config.command_timeout_ns);
    EXPECT_EQ(rig.platform.dma_allocations, rig.platform.dma_frees);
    EXPECT_FALSE(rig.model.enabled());  // left disabled before its rings were freed
}

TEST(NvmeDriver, ControllerThatNeverGetsReady) {
    Rig rig;
    rig.model.set_never_ready(true);
    uint64_t before = rig.platform.clock_ns;
    auto r = Controller::create(rig.platform, Config{});
    ASSERT_TRUE(r.is_error());
    EXPECT_TRUE(is_controller_failure(r.error()));
    // CAP.TO = 20 (10 s): given up after it, not much later.
    uint64_t waited = rig.platform.clock_ns - before;
    EXPECT_GE(waited, 10'000'000'000u);
    EXPECT_LT(waited, 11'000'000'000u);
    EXPECT_EQ(rig.platform.dma_allocations, rig.platform.dma_frees);
}

TEST(NvmeDriver, FatalStatusIsControllerFailure) {
    Rig rig(Options{.process_on_doorbell = false});
    rig.start();
    auto b = rig.buffer(4096);
    BlockRequest r = rig.request(BlockOp::Read, 0, 8, &b.seg, 1, 1);
    ASSERT_EQ(rig.ctl->submit(0, &r, 1).value(), 1u);
    rig.model.set_fatal();
    uint64_t before = rig.platform.clock_ns;
    BlockCompletion out;
    auto w = rig.ctl->wait(0, &out, 1);
    ASSERT_TRUE(w.is_error());
    EXPECT_TRUE(is_controller_failure(w.error()));
    EXPECT_EQ(rig.ctl->failure(), Failure::FatalStatus);
    EXPECT_EQ(rig.platform.clock_ns, before);  // noticed at once, not by timing out
}

TEST(NvmeDriver, VanishedDeviceIsControllerFailure) {
    Rig rig;
    rig.start();
    auto b = rig.buffer(4096);
    BlockRequest r = rig.request(BlockOp::Read, 0, 8, &b.seg, 1, 1);
    rig.model.set_gone(true);
    ASSERT_EQ(rig.ctl->submit(0, &r, 1).value(), 1u);
    BlockCompletion out;
    EXPECT_TRUE(is_controller_failure(rig.ctl->wait(0, &out, 1).error()));
    EXPECT_EQ(rig.ctl->failure(), Failure::DeviceGone);
}

// After a failure, reinitialize hands back what was in flight; resubmitting it completes and
// the data on the disk is what the writes said.
TEST(NvmeDriver, ReinitializeRecoversAndReturnsInFlight) {
    Rig rig({.process_on_doorbell = false}, {.io_queues = 2, .io_queue_entries = 32});
    rig.start();
    constexpr int N = 24;
    std::vector<Buffer> bufs;
    std::vector<BlockRequest> reqs;
    for (int i = 0; i < N; i++) {
        bufs.push_back(rig.buffer(64 * 512));  // 32 KiB each: PRP lists
        fill(bufs.back().data, 64 * 512, 500 + i);
    }
    for (int i = 0; i < N; i++) reqs.push_back(rig.request(BlockOp::Write, uint64_t(i) * 64, 64, &bufs[i].seg, 1, i));
    // Half of them complete before the controller dies.
    ASSERT_EQ(rig.ctl->submit(0, reqs.data(), N / 2).value(), uint32_t(N / 2));
    BlockCompletion out[N];
    uint32_t got = 0;
    while (got < N / 2) got += rig.ctl->wait(0, out + got, N).value();
    rig.model.set_unresponsive(true);
    ASSERT_EQ(rig.ctl->submit(0, reqs.data() + N / 2, N / 4).value(), uint32_t(N / 4));
    ASSERT_EQ(rig.ctl->submit(1, reqs.data() + N / 2 + N / 4, N / 4).value(), uint32_t(N / 4));
    EXPECT_TRUE(is_controller_failure(rig.ctl->wait(1, out, N).error()));
    EXPECT_EQ(rig.ctl->failure(), Failure::CommandTimeout);

    rig.model.set_unresponsive(false);
    BlockRequest back[N];
    EXPECT_EQ(rig.ctl->reinitialize(back, 2).error(), Errno::Range);  // too small
    auto n = rig.ctl->reinitialize(back, N);
    ASSERT_TRUE(n.is_ok()) << n.error().name();
    ASSERT_EQ(n.value(), uint32_t(N / 2));
    EXPECT_FALSE(rig.ctl->failed());
    EXPECT_EQ(rig.ctl->in_flight(), 0u);
    EXPECT_EQ(rig.model.stats().resets, 1u);  // the first bring-up found it disabled
    std::vector<int> seen(N, 0);
    for (uint32_t i = 0; i < n.value(); i++) {
        ASSERT_GE(back[i].tag, uint64_t(N / 2));
        seen[back[i].tag]++;
    }
    for (int i = N / 2; i < N; i++) EXPECT_EQ(seen[i], 1) << i;

    // Resubmit (after wiping what the model may have half-written) and check the disk.
    std::fill(rig.model.disk(1).begin(), rig.model.disk(1).end(), 0);
    ASSERT_EQ(rig.ctl->submit(0, reqs.data(), N / 2).value(), uint32_t(N / 2));
    ASSERT_EQ(rig.ctl->submit(1, back, n.value()).value(), n.value());
    got = 0;
    while (rig.ctl->in_flight(0)) got += rig.ctl->wait(0, out, N).value();
    while (rig.ctl->in_flight(1)) got += rig.ctl->wait(1, out, N).value();
    EXPECT_EQ(got, uint32_t(N));
    for (int i = 0; i < N; i++)
        ASSERT_EQ(std::memcmp(rig.model.disk(1).data() + i * 64 * 512, bufs[i].data, 64 * 512), 0);
    // And reads work after recovery.
    auto r = rig.buffer(64 * 512);
    ASSERT_TRUE(rig.run(1, rig.request(BlockOp::Read, 64 * 3, 64, &r.seg, 1, 99)).ok());
    EXPECT_EQ(std::memcmp(r.data, bufs[3].data, 64 * 512), 0);
}

TEST(NvmeDriver, ReinitializeAfterFatalStatus) {
    Rig rig;
    rig.start();
    auto b = rig.buffer(4096);
    rig.model.set_fatal();
    BlockRequest r = rig.request(BlockOp::Read, 0, 8, &b.seg, 1, 1);
    ASSERT_EQ(rig.ctl->submit(0, &r, 1).value(), 1u);  // the model ignores it: CFS
    BlockCompletion out;
    EXPECT_TRUE(is_controller_failure(rig.ctl->wait(0, &out, 1).error()));
    BlockRequest back[4];
    auto n = rig.ctl->reinitialize(back, 4);
    ASSERT_TRUE(n.is_ok());
    ASSERT_EQ(n.value(), 1u);
    EXPECT_EQ(back[0].tag, 1u);
    EXPECT_TRUE(rig.run(0, back[0]).ok());
}

TEST(NvmeDriver, InterruptModeAsksForOneVectorPerQueue) {
    Rig rig({.process_on_doorbell = false}, {.io_queues = 3});
    rig.platform.interrupts = true;
    rig.start();
    auto b = rig.buffer(4096);
    for (uint16_t q = 0; q < 3; q++) {
        ASSERT_TRUE(rig.run(q, rig.request(BlockOp::Read, 0, 8, &b.seg, 1, q)).ok());
        EXPECT_EQ(rig.platform.last_wait_vector, q + 1);  // waited on this queue's vector
    }
    for (uint16_t v = 1; v <= 3; v++) EXPECT_EQ(rig.model.interrupts(v), 1u) << v;
    // Polled mode asks for no interrupts at all.
    Rig polled(rig.model.options(), rig.config);
    polled.start();
    auto pb = polled.buffer(4096);
    ASSERT_TRUE(polled.run(0, polled.request(BlockOp::Read, 0, 8, &pb.seg, 1, 1)).ok());
    EXPECT_EQ(polled.model.interrupts(1), 0u);
}

// A full queue takes part of a batch; the rest goes in after completions are reaped.
TEST(NvmeDriver, FullQueueTakesPartOfABatch) {
    Rig rig({.process_on_doorbell = false}, {.io_queues = 1, .io_queue_entries = 8});
    rig.start();
    std::vector<Buffer> bufs;
    std::vector<BlockRequest> reqs;
    for (int i = 0; i < 20; i++) bufs.push_back(rig.buffer(4096));
    for (int i = 0; i < 20; i++) reqs.push_back(rig.request(BlockOp::Read, uint64_t(i) * 8, 8, &bufs[i].seg, 1, i));
    EXPECT_EQ(rig.ctl->submit(0, reqs.data(), 20).value(), 7u);  // entries - 1
    EXPECT_EQ(rig.ctl->submit(0, reqs.data() + 7, 13).value(), 0u);
    BlockCompletion out[8];
    EXPECT_EQ(rig.ctl->wait(0, out, 8).value(), 7u);
    EXPECT_EQ(rig.ctl->submit(0, reqs.data() + 7, 13).value(), 7u);
}

TEST(NvmeDriver, ShutdownAndTeardownReleaseEverything) {
    Rig rig;
    rig.start();
    EXPECT_TRUE(rig.ctl->shutdown().is_ok());
    EXPECT_FALSE(rig.model.enabled());
    rig.ctl.reset();
    EXPECT_EQ(rig.platform.dma_allocations, rig.platform.dma_frees);
    EXPECT_EQ(rig.model.memory().live_allocations(), 0u);
    // Destroying a working controller disables it before its memory goes.
    rig.start();
    EXPECT_TRUE(rig.model.enabled());
    rig.ctl.reset();
    EXPECT_FALSE(rig.model.enabled());
    EXPECT_EQ(rig.model.memory().live_allocations(), 0u);
}

// Random reads, writes and flushes of random sizes, buffer offsets and segment layouts on all
// queues at once, checked against a shadow copy of the disk. Each queue works on its own third
// of the disk; the model executes a queue's commands in order, so a read must see the shadow as
// it was when the read was submitted.
TEST(NvmeDriver, RandomMixAgainstShadowDisk) {
    Options o;
    o.process_on_doorbell = false;
    o.mdts = 3;                                        // 32 KiB: many splits
    o.namespaces = {NamespaceSpec{1, 4096, 9, true}};  // 2 MiB
    Rig rig(o, {.io_queues = 3, .io_queue_entries = 16});
    rig.start();
    std::mt19937 rng(12345);
    std::vector<uint8_t> shadow(4096 * 512, 0);
    struct Pending {
        BlockRequest req;
        std::vector<Buffer> bufs;
        std::vector<DmaSegment> segs;
        std::vector<uint8_t> expect;
    };
    std::vector<std::unique_ptr<Pending>> live(1024);
    uint64_t next_tag = 0;
    int completed = 0;
    auto finish = [&](const BlockCompletion* out, uint32_t n) {
        for (uint32_t i = 0; i < n; i++) {
            ASSERT_TRUE(out[i].status.ok()) << out[i].status.message();
            auto& p = live[out[i].tag % live.size()];
            ASSERT_TRUE(p);
            if (p->req.op == BlockOp::Read) {
                size_t off = 0;
                for (auto& b : p->bufs) {
                    ASSERT_EQ(std::memcmp(b.data, p->expect.data() + off, b.size), 0) << "tag " << out[i].tag;
                    off += b.size;
                }
            }
            p.reset();
            completed++;
        }
    };
    for (int round = 0; round < 300; round++) {
        for (uint16_t q = 0; q < 3; q++) {
            if (rig.ctl->in_flight(q) >= 8) continue;
            auto p = std::make_unique<Pending>();
            uint32_t op = rng() % 10;
            uint32_t blocks = 1 + rng() % 200;
            uint64_t lba = q * 1365 + rng() % (1365 - blocks);
            p->req.tag = next_tag;
            p->req.lba = lba;
            p->req.blocks = blocks;
            if (op == 0) {
                p->req.op = BlockOp::Flush;
                p->req.blocks = 0;
            } else {
                p->req.op = op < 5 ? BlockOp::Write : BlockOp::Read;
                size_t bytes = size_t(blocks) * 512;
                // 1-3+ segments: the first may start mid-page, inner edges on page boundaries.
                size_t first_off = (rng() % 8) * 512;
                size_t first_len = std::min(bytes, 4096 - first_off + (rng() % 3) * 4096);
                p->bufs.push_back(rig.buffer(first_len, first_off));
                size_t left = bytes - first_len;
                while (left > 0) {
                    size_t len = left > 8192 && rng() % 2 ? 8192 : left;
                    p->bufs.push_back(rig.buffer(len));
                    left -= len;
                }
                for (auto& b : p->bufs) {
                    if (p->req.op == BlockOp::Write) fill(b.data, b.size, uint32_t(next_tag));
                    p->segs.push_back(b.seg);
                }
                p->req.segments = p->segs.data();
                p->req.segment_count = uint32_t(p->segs.size());
            }
            auto n = rig.ctl->submit(q, &p->req, 1);
            ASSERT_TRUE(n.is_ok()) << n.error().name();
            if (n.value() == 0) continue;
            uint8_t* disk = shadow.data() + lba * 512;
            if (p->req.op == BlockOp::Write) {
                for (auto& b : p->bufs) {
                    std::memcpy(disk, b.data, b.size);
                    disk += b.size;
                }
            } else if (p->req.op == BlockOp::Read) {
                p->expect.assign(disk, disk + size_t(blocks) * 512);
            }
            ASSERT_FALSE(live[next_tag % live.size()]);
            live[next_tag % live.size()] = std::move(p);
            next_tag++;
        }
        for (uint16_t q = 0; q < 3; q++) {
            BlockCompletion out[16];
            auto n = rig.ctl->reap(q, out, 16);
            ASSERT_TRUE(n.is_ok());
            uint32_t got = n.value();
            if (got == 0 && rig.ctl->in_flight(q) > 4) {
                auto w = rig.ctl->wait(q, out, 16);
                ASSERT_TRUE(w.is_ok());
                got = w.value();
            }
            finish(out, got);
        }
    }
    for (uint16_t q = 0; q < 3; q++) {
        BlockCompletion out[16];
        while (rig.ctl->in_flight(q)) {
            auto n = rig.ctl->wait(q, out, 16);
            ASSERT_TRUE(n.is_ok());
            finish(out, n.value());
        }
    }
    EXPECT_EQ(completed, int(next_tag));
    EXPECT_GT(next_tag, 500u);
    EXPECT_EQ(std::memcmp(rig.model.disk(1).data(), shadow.data(), shadow.size()), 0);
    EXPECT_EQ(rig.model.stats().error_completions, 0u);
    EXPECT_EQ(rig.model.stats().invalid_doorbells, 0u);
}

}  // namespace
