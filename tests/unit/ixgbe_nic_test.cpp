// Host tests of the ixgbe driver as a NicCore (drivers/ixgbe/ixgbe_nic.h) under the shared
// NIC adaptor (drivers/nic/nic_adaptor.h), against the 82599 model in loopback: idl::Nic
// transfers with NetPackets from the host exchange heap, contents checked end to end, the
// failure hook, and a teardown that quiesces the device before the buffers are freed.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "drivers/ixgbe/ixgbe_nic.h"
#include "drivers/nic/nic_adaptor.h"
#include "tests/models/ixgbe_model.h"
#include "tests/models/ixgbe_model_platform.h"
#include "tests/unit/host_domains.h"

namespace {

using lamina::Errno;
using lamina::Result;
using lamina::RRef;
using lamina::idl::NetPacket;
using lamina::idl::PacketKind;
using lamina::ixgbe::IxgbeNic;
using lamina::ixgbe_model::IxgbeModel;
using lamina::ixgbe_model::IxgbeModelPlatform;
using lamina::ixgbe_model::ModelNicHost;
using lamina::nic::NicAdaptor;
using Batch = NicAdaptor::Batch;
namespace nic = lamina::nic;

class IxgbeNicTest : public ::testing::Test {
protected:
    IxgbeNicTest() {
        for (const auto* t = lamina::idl::nic_types; *t; t++) EXPECT_TRUE(domains.heap().register_type(**t).is_ok());
        baseline = domains.heap().live_objects();
    }
    void start() {
        lamina::ixgbe::Config c;
        c.loopback = true;
        c.rx_entries = 64;
        c.tx_entries = 64;
        c.link_wait_ns = 50'000'000;
        auto created = IxgbeNic::create(platform, c, on_failure, this);
        ASSERT_TRUE(created.is_ok());
        core = created.release_value();
        adaptor = std::make_unique<NicAdaptor>(*core, host);
        ASSERT_TRUE(adaptor->start().is_ok());
    }
    static void on_failure(void* self, const char* why) {
        auto* t = static_cast<IxgbeNicTest*>(self);
        t->failures++;
        t->failure = why;
    }
    static Batch batch() {
        auto b = Batch::create();
        EXPECT_TRUE(b.is_ok());
        return std::move(b.value());
    }
    static NetPacket& at(Batch& b, uint32_t i) {
        auto& s = *b.handle();
        return *s.slots[(s.head + i) % NicAdaptor::BATCH];
    }

    lamina::host::HostDomains domains;
    size_t baseline = 0;
    IxgbeModel model;
    IxgbeModelPlatform platform{model};
    ModelNicHost host{model};
    lamina::Own<IxgbeNic> core;
    std::unique_ptr<NicAdaptor> adaptor;
    int failures = 0;
    std::string failure;
};

TEST_F(IxgbeNicTest, InfoAndLink) {
    start();
    auto info = adaptor->info().value();
    EXPECT_EQ(0, memcmp(info.mac, model.options().mac, 6));
    EXPECT_EQ(info.max_frame, 1514u);
    EXPECT_EQ(info.rx_ring, 63u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(info.driver)), "ixgbe");
    auto link = adaptor->link().value();
    EXPECT_TRUE(link.up);
    EXPECT_EQ(link.speed_mbps, 10000u);
    EXPECT_EQ(core->rx_space(), 0u) << "start() filled the ring";
}

TEST_F(IxgbeNicTest, FramesLoopBackThroughTransfer) {
    start();
    std::mt19937 rng(11);
    std::uniform_int_distribution<uint32_t> size(60, 1514), count(1, 32);
    std::deque<std::vector<uint8_t>> sent;
    uint32_t queued = 0, received = 0, done = 0;
    const uint32_t total = 3000;
    Batch b = batch();
    for (int round = 0; received < total && round < 10000; round++) {
        uint32_t n = std::min(count(rng), total - queued);
        for (uint32_t i = 0; i < n; i++) {
            auto p = RRef<NetPacket>::create();
            ASSERT_TRUE(p.is_ok());
            NetPacket& pk = *p.value();
            pk.kind = PacketKind::TxFrame;
            pk.offset = uint16_t(rng() % 64);
            pk.len = uint16_t(size(rng));
            memcpy(pk.data + pk.offset, model.options().mac, 6);
            for (uint32_t k = 6; k < pk.len; k++) pk.data[pk.offset + k] = uint8_t(rng());
            sent.emplace_back(pk.data + pk.offset, pk.data + pk.offset + pk.len);
            ASSERT_TRUE(b.push_back(std::move(p.value())).is_ok());
        }
        queued += n;
        auto r = adaptor->transfer(std::move(b));
        ASSERT_TRUE(r.is_ok());
        b = std::move(r.value());
        for (uint32_t i = 0; i < b.size(); i++) {
            NetPacket& p = at(b, i);
            if (p.kind == PacketKind::TxDone) {
                EXPECT_EQ(p.status, 0);
                done++;
                continue;
            }
            ASSERT_EQ(p.kind, PacketKind::RxFrame);
            ASSERT_FALSE(sent.empty());
            ASSERT_EQ(p.len, sent.front().size()) << "frame " << received;
            EXPECT_EQ(0, memcmp(p.data + p.offset, sent.front().data(), p.len)) << "frame " << received;
            sent.pop_front();
            received++;
        }
        // Hand back what came back: the received buffers go to the ring again as RxBuffers,
        // finished sends are dropped (freed).
        Batch next = batch();
        while (b.size()) {
            auto p = b.pop_front();
            if (p->kind == PacketKind::RxFrame) {
                p->kind = PacketKind::RxBuffer;
                ASSERT_TRUE(next.push_back(std::move(p)).is_ok());
            }
        }
        b = std::move(next);
    }
    EXPECT_EQ(received, total);
    EXPECT_EQ(done, total);
    auto c = adaptor->counters().value();
    EXPECT_EQ(c.rx_frames, total);
    EXPECT_EQ(c.tx_frames, total);
    EXPECT_EQ(c.rx_dropped, 0u);
    b = Batch();
    adaptor.reset();  // quiesces the device (a reset), then frees every buffer
    EXPECT_EQ(model.stats().resets, 2u);
    EXPECT_EQ(domains.heap().live_objects(), baseline);
    EXPECT_EQ(model.stats().dma_violations, 0u) << model.last_violation();
    EXPECT_EQ(model.stats().driver_errors, 0u) << model.last_driver_error();
    EXPECT_EQ(failures, 0);
}

TEST_F(IxgbeNicTest, RefusesBuffersTooSmallForAFrame) {
    start();
    uint8_t mem[1024];
    EXPECT_EQ(core->post_rx(nic::RxPost{mem, 0x1000, sizeof mem, 0}).error().code(), Errno::Inval);
}

TEST_F(IxgbeNicTest, DeviceFailureCallsTheHookOnce) {
    start();
    model.set_all_ones(true);
    EXPECT_FALSE(adaptor->link().value().up);
    (void)adaptor->counters();
    EXPECT_EQ(failures, 1);
    EXPECT_EQ(failure, "registers read as all ones: the device is gone");
    EXPECT_EQ(core->post_tx(nic::TxPost{}).error().code(), Errno::IO);
}

}  // namespace
