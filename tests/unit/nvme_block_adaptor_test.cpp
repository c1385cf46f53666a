// Host tests of the block interface over the NVMe driver core (drivers/nvme/block_adaptor.h)
// against the controller model: batches, zero-copy DMA into exchange-heap buffers, Flush
// ordering, per-request statuses, malformed batches, and controllers that fail.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "drivers/nvme/block_adaptor.h"
#include "tests/models/nvme_model.h"
#include "tests/models/nvme_model_platform.h"
#include "tests/unit/host_domains.h"

namespace {

using lamina::Errno;
using lamina::Own;
using lamina::Result;
using lamina::RRef;
using lamina::RRefBytes;
using lamina::RRefDeque;
using lamina::idl::BlockOp;
using lamina::idl::BlockRequest;
using lamina::nvme::BlockAdaptor;
using lamina::nvme::Config;
using lamina::nvme::Controller;
using lamina::nvme::DmaSegment;
using lamina::nvme_model::ModelPlatform;
using lamina::nvme_model::NvmeModel;
using lamina::nvme_model::Options;
using Batch = RRefDeque<BlockRequest, 32>;

// Maps exchange-heap buffers into the model's "physical" memory in place (no copy), the way
// the domain's exchange_dma_segments capability maps them for the real controller.
class ModelHost final : public lamina::nvme::BlockHost {
public:
    explicit ModelHost(NvmeModel& m) : model(m) {}
    Result<uint32_t> map_buffer(const void* object, uint64_t offset, uint64_t length, DmaSegment* out,
                                uint32_t max) override {
        if (max == 0) return Errno::NoSpc;
        auto* p = const_cast<uint8_t*>(static_cast<const uint8_t*>(object)) + offset;
        out[0] = DmaSegment{model.memory().map_external(p, length), uint32_t(length)};
        mapped++;
        return 1u;
    }
    void controller_failed(const char* why) override { failures.push_back(why); }
    void yield() override {}

    NvmeModel& model;
    std::vector<std::string> failures;
    int mapped = 0;
};

class NvmeBlockAdaptorTest : public ::testing::Test {
protected:
    NvmeBlockAdaptorTest() : model(options()), platform(model), host(model) {
        for (const auto* t = lamina::idl::block_types; *t; t++) EXPECT_TRUE(domains.heap().register_type(**t).is_ok());
        Config c;
        c.io_queues = 2;
        c.command_timeout_ns = 1'000'000'000;
        auto ctl = Controller::create(platform, c);
        EXPECT_TRUE(ctl.is_ok());
        controller = ctl.release_value();
        auto a = BlockAdaptor::create(*controller, host);
        EXPECT_TRUE(a.is_ok());
        adaptor = a.release_value();
    }
    static Options options() {
        Options o;
        o.namespaces = {lamina::nvme_model::NamespaceSpec{1, 4096, 9, true}};  // 2 MiB of 512-byte blocks
        return o;
    }

    void add(Batch& b, BlockOp op, uint64_t lba, uint32_t blocks, uint32_t capacity = 0, uint8_t fill = 0) {
        auto r = RRef<BlockRequest>::create();
        ASSERT_TRUE(r.is_ok());
        r.value()->op = op;
        r.value()->lba = lba;
        r.value()->blocks = blocks;
        r.value()->status = -1;
        uint32_t cap = capacity ? capacity : blocks * 512;
        if (cap) {
            auto buf = RRefBytes::create(cap);
            ASSERT_TRUE(buf.is_ok());
            for (uint32_t i = 0; i < cap; i++) buf.value().data()[i] = uint8_t(fill + i / 512);
            r.value()->buf = std::move(buf.value());
        }
        ASSERT_TRUE(b.push_back(std::move(r.value())).is_ok());
    }
    static BlockRequest& at(Batch& b, uint32_t i) {
        auto& s = *b.handle();
        return *s.slots[(s.head + i) % 32];
    }

    lamina::host::HostDomains domains;
    NvmeModel model;
    ModelPlatform platform;
    ModelHost host;
    Own<Controller> controller;
    Own<BlockAdaptor> adaptor;
};

TEST_F(NvmeBlockAdaptorTest, InfoDescribesTheNamespace) {
    auto info = adaptor->info();
    ASSERT_TRUE(info.is_ok());
    EXPECT_EQ(info.value().block_size, 512u);
    EXPECT_EQ(info.value().block_count, 4096u);
    EXPECT_EQ(info.value().max_blocks, BlockAdaptor::MAX_REQUEST_BYTES / 512);
}

TEST_F(NvmeBlockAdaptorTest, Qd32WritesAndReadsGoStraightIntoTheBuffers) {
    auto w = Batch::create();
    ASSERT_TRUE(w.is_ok());
    for (uint32_t i = 0; i < 32; i++) add(w.value(), BlockOp::Write, i * 8, 8, 0, uint8_t(i * 3));
    auto done = adaptor->submit(std::move(w.value()));
    ASSERT_TRUE(done.is_ok());
    ASSERT_EQ(done.value().size(), 32u);
    for (uint32_t i = 0; i < 32; i++) {
        EXPECT_EQ(at(done.value(), i).status, 0);
        EXPECT_EQ(at(done.value(), i).buf.length(), 4096u);
    }
    EXPECT_EQ(host.mapped, 32);
    auto r = Batch::create();
    ASSERT_TRUE(r.is_ok());
    for (uint32_t i = 0; i < 32; i++) add(r.value(), BlockOp::Read, i * 8, 8);
    auto read = adaptor->submit(std::move(r.value()));
    ASSERT_TRUE(read.is_ok());
    for (uint32_t i = 0; i < 32; i++) {
        BlockRequest& q = at(read.value(), i);
        ASSERT_EQ(q.status, 0);
        for (uint32_t k = 0; k < 4096; k++) ASSERT_EQ(q.buf.data()[k], uint8_t(i * 3 + k / 512)) << i << " " << k;
    }
    EXPECT_EQ(adaptor->batches(), 2u);
}

TEST_F(NvmeBlockAdaptorTest, FlushIsABarrierAndBadRangesFailAlone) {
    auto b = Batch::create();
    ASSERT_TRUE(b.is_ok());
    add(b.value(), BlockOp::Write, 100, 2, 0, 7);
    add(b.value(), BlockOp::Flush, 0, 0);
    add(b.value(), BlockOp::Read, 100, 2);
    add(b.value(), BlockOp::Read, 4095, 2);  // past the end
    add(b.value(), BlockOp::Read, 4095, 1);
    auto done = adaptor->submit(std::move(b.value()));
    ASSERT_TRUE(done.is_ok());
    EXPECT_EQ(at(done.value(), 0).status, 0);
    EXPECT_EQ(at(done.value(), 1).status, 0);
    EXPECT_EQ(at(done.value(), 2).status, 0);
    EXPECT_EQ(at(done.value(), 2).buf.data()[600], 8);
    EXPECT_EQ(at(done.value(), 3).status, 22);
    EXPECT_EQ(at(done.value(), 3).buf.length(), 0u);
    EXPECT_EQ(at(done.value(), 4).status, 0);
}

TEST_F(NvmeBlockAdaptorTest, MalformedBatchesAreInval) {
    struct Case {
        BlockOp op;
        uint32_t blocks, capacity;
    } cases[] = {
        {BlockOp::Read, 0, 512}, {BlockOp::Read, 2, 512}, {BlockOp(9), 1, 512}, {BlockOp::Write, 1000, 512 * 1000}};
    for (const Case& c : cases) {
        auto b = Batch::create();
        ASSERT_TRUE(b.is_ok());
        add(b.value(), BlockOp::Read, 0, 1);
        add(b.value(), c.op, 0, c.blocks, c.capacity);
        auto r = adaptor->submit(std::move(b.value()));
        ASSERT_TRUE(r.is_error());
        EXPECT_EQ(r.error().code(), Errno::Inval);
    }
    auto none = adaptor->submit(Batch());
    ASSERT_TRUE(none.is_error());
    EXPECT_EQ(none.error().code(), Errno::Inval);
    EXPECT_EQ(host.mapped, 0);  // nothing ran
    EXPECT_EQ(adaptor->batches(), 0u);
}

TEST_F(NvmeBlockAdaptorTest, MediaErrorsEndOneRequestWithEio) {
    model.fail_io_command(2, 0x2 /* media errors */, 0x81 /* unrecovered read error */);
    auto b = Batch::create();
    ASSERT_TRUE(b.is_ok());
    for (uint32_t i = 0; i < 3; i++) add(b.value(), BlockOp::Read, i, 1);
    auto done = adaptor->submit(std::move(b.value()));
    ASSERT_TRUE(done.is_ok());
    int eio = 0, ok = 0;
    for (uint32_t i = 0; i < 3; i++) {
        eio += at(done.value(), i).status == 5;
        ok += at(done.value(), i).status == 0;
    }
    EXPECT_EQ(eio, 1);
    EXPECT_EQ(ok, 2);
    EXPECT_TRUE(host.failures.empty());
}

TEST_F(NvmeBlockAdaptorTest, AControllerThatStopsAnsweringIsReportedAsAFailure) {
    model.set_unresponsive(true);
    auto b = Batch::create();
    ASSERT_TRUE(b.is_ok());
    for (uint32_t i = 0; i < 4; i++) add(b.value(), BlockOp::Read, i, 1);
    auto r = adaptor->submit(std::move(b.value()));
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().code(), Errno::IO);
    ASSERT_EQ(host.failures.size(), 1u);
    EXPECT_NE(host.failures[0].find("tim"), std::string::npos) << host.failures[0];
    // What the shadow's fresh instance does: reset and bring the controller up again.
    model.set_unresponsive(false);
    lamina::nvme::BlockRequest lost[64];
    auto again = controller->reinitialize(lost, 64);
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(again.value(), 4u);
    auto b2 = Batch::create();
    ASSERT_TRUE(b2.is_ok());
    add(b2.value(), BlockOp::Read, 0, 1);
    auto ok = adaptor->submit(std::move(b2.value()));
    ASSERT_TRUE(ok.is_ok());
    EXPECT_EQ(at(ok.value(), 0).status, 0);
}

TEST_F(NvmeBlockAdaptorTest, FatalControllerStatusIsReportedAsAFailure) {
    model.set_fatal();
    auto b = Batch::create();
    ASSERT_TRUE(b.is_ok());
    add(b.value(), BlockOp::Write, 0, 1);
    auto r = adaptor->submit(std::move(b.value()));
    ASSERT_TRUE(r.is_error());
    ASSERT_EQ(host.failures.size(), 1u);
}

}  // namespace
