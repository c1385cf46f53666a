// Host tests of the NIC adaptor (drivers/nic/nic_adaptor.h) over a scripted fake core: ring
// filling with posted buffers before its own, TxDone/RxFrame hand-back, ENOBUFS on a full
// ring, EMSGSIZE, malformed batches, the 64-entry return limit, counters, and quiesce before
// free.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <set>
#include <vector>

#include "drivers/nic/nic_adaptor.h"
#include "tests/unit/host_domains.h"

namespace {

using lamina::Errno;
using lamina::Result;
using lamina::RRef;
using lamina::idl::NetPacket;
using lamina::idl::PacketKind;
using lamina::nic::NicAdaptor;
using Batch = NicAdaptor::Batch;
namespace nic = lamina::nic;

// A core with rings of fixed size whose "device" is the test: it completes what the test says.
class FakeCore final : public nic::NicCore {
public:
    FakeCore(uint32_t rx, uint32_t tx) : rx_ring(rx), tx_ring(tx) {}

    nic::CoreInfo info() const override {
        return nic::CoreInfo{{2, 0, 0, 0, 0, 1}, 1500, rx_ring, tx_ring, nic::FEATURE_RX_CSUM, 12, 12, "fake"};
    }
    nic::CoreLink link() override { return {link_up, true, 1000}; }
    nic::CoreCounters counters() override { return device_counters; }
    uint32_t rx_space() const override { return rx_ring - uint32_t(rx.size()); }
    uint32_t tx_space() const override { return tx_ring - uint32_t(tx.size()); }
    Result<void> post_rx(const nic::RxPost& b) override {
        EXPECT_FALSE(quiesced);
        if (rx_space() == 0) return Errno::Busy;
        EXPECT_EQ(b.bus, reinterpret_cast<uint64_t>(b.data)) << "identity-mapped in this test";
        EXPECT_EQ(b.capacity, NicAdaptor::DATA_SIZE);
        rx.push_back(b);
        return {};
    }
    Result<void> post_tx(const nic::TxPost& f) override {
        EXPECT_FALSE(quiesced);
        if (tx_space() == 0) return Errno::Busy;
        tx.push_back(f);
        return {};
    }
    void kick() override { kicks++; }
    uint32_t reap_rx(nic::RxDone* out, uint32_t max) override {
        uint32_t n = 0;
        while (n < max && !rx_done.empty()) {
            out[n++] = rx_done.front();
            rx_done.pop_front();
        }
        return n;
    }
    uint32_t reap_tx(nic::TxDone* out, uint32_t max) override {
        uint32_t n = 0;
        while (n < max && !tx_done.empty()) {
            out[n++] = tx_done.front();
            tx_done.pop_front();
        }
        return n;
    }
    uint32_t wait(uint64_t) override {
        return (rx_done.empty() ? 0 : nic::EVENT_RX) | (tx_done.empty() ? 0 : nic::EVENT_TX);
    }
    void quiesce() override {
        quiesced = true;
        rx.clear();
        tx.clear();
    }

    // The device side: the oldest receive buffer gets `frame` after a 12-byte header.
    void receive(const std::vector<uint8_t>& frame, uint16_t error = 0) {
        ASSERT_FALSE(rx.empty());
        nic::RxPost b = rx.front();
        rx.erase(rx.begin());
        std::memcpy(b.data + 12, frame.data(), frame.size());
        rx_done.push_back(nic::RxDone{b.tag, 12, uint16_t(frame.size()), nic::PACKET_RX_CSUM_OK, error});
    }
    // The oldest frame in flight is sent.
    nic::TxPost send(uint8_t status = 0) {
        nic::TxPost f = tx.front();
        tx.erase(tx.begin());
        tx_done.push_back(nic::TxDone{f.tag, status});
        return f;
    }

    uint32_t rx_ring, tx_ring;
    std::vector<nic::RxPost> rx;
    std::vector<nic::TxPost> tx;
    std::deque<nic::RxDone> rx_done;
    std::deque<nic::TxDone> tx_done;
    nic::CoreCounters device_counters;
    bool link_up = true;
    bool quiesced = false;
    int kicks = 0;
};

class IdentityHost final : public nic::NicHost {
public:
    Result<uint64_t> bus_address(const void* object, uint64_t offset, uint32_t) override {
        if (fail) return Errno::Inval;
        return reinterpret_cast<uint64_t>(object) + offset;
    }
    bool fail = false;
};

class NicAdaptorTest : public ::testing::Test {
protected:
    NicAdaptorTest() {
        for (const auto* t = lamina::idl::nic_types; *t; t++) EXPECT_TRUE(domains.heap().register_type(**t).is_ok());
        baseline = domains.heap().live_objects();
    }

    std::unique_ptr<NicAdaptor> make(uint32_t rx = 8, uint32_t tx = 4) {
        core = std::make_unique<FakeCore>(rx, tx);
        auto a = std::make_unique<NicAdaptor>(*core, host);
        EXPECT_TRUE(a->start().is_ok());
        return a;
    }
    static Batch batch() {
        auto b = Batch::create();
        EXPECT_TRUE(b.is_ok());
        return std::move(b.value());
    }
    static void add_tx(Batch& b, uint32_t len, uint8_t fill, uint16_t offset = 64) {
        auto p = RRef<NetPacket>::create();
        ASSERT_TRUE(p.is_ok());
        p.value()->kind = PacketKind::TxFrame;
        p.value()->offset = offset;
        p.value()->len = uint16_t(len);
        for (uint32_t i = 0; i < len && offset + i < sizeof(NetPacket::data); i++)
            p.value()->data[offset + i] = uint8_t(fill + i);
        ASSERT_TRUE(b.push_back(std::move(p.value())).is_ok());
    }
    static NetPacket* add_rx(Batch& b) {
        auto p = RRef<NetPacket>::create();
        EXPECT_TRUE(p.is_ok());
        p.value()->kind = PacketKind::RxBuffer;
        NetPacket* raw = p.value().get();
        EXPECT_TRUE(b.push_back(std::move(p.value())).is_ok());
        return raw;
    }
    static NetPacket& at(Batch& b, uint32_t i) {
        auto& s = *b.handle();
        return *s.slots[(s.head + i) % NicAdaptor::BATCH];
    }
    Batch transfer(NicAdaptor& a, Batch b) {
        auto r = a.transfer(std::move(b));
        EXPECT_TRUE(r.is_ok());
        return r.is_ok() ? std::move(r.value()) : Batch();
    }

    lamina::host::HostDomains domains;
    size_t baseline = 0;
    IdentityHost host;
    std::unique_ptr<FakeCore> core;
};

TEST_F(NicAdaptorTest, StartFillsTheReceiveRingWithItsOwnBuffers) {
    auto a = make(8, 4);
    EXPECT_EQ(core->rx.size(), 8u);
    EXPECT_EQ(a->rx_posted(), 8u);
    EXPECT_EQ(domains.heap().live_objects(), baseline + 8);
    EXPECT_EQ(core->kicks, 1);
    auto info = a->info();
    ASSERT_TRUE(info.is_ok());
    EXPECT_EQ(info.value().mac[5], 1);
    EXPECT_EQ(info.value().max_frame, 1514u);
    EXPECT_EQ(info.value().rx_ring, 8u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(info.value().driver)), "fake");
}

TEST_F(NicAdaptorTest, SendsComeBackAsTxDoneWhenTheDeviceIsDone) {
    auto a = make();
    Batch b = batch();
    add_tx(b, 60, 1);
    add_tx(b, 1514, 2);
    b = transfer(*a, std::move(b));
    EXPECT_EQ(b.size(), 0u);
    ASSERT_EQ(core->tx.size(), 2u);
    EXPECT_EQ(core->tx[0].len, 60);
    EXPECT_EQ(core->tx[0].offset, 64);
    EXPECT_EQ(core->tx[0].data[64], 1);
    EXPECT_EQ(core->tx[1].data[64 + 100], uint8_t(2 + 100));
    EXPECT_EQ(a->tx_in_flight(), 2u);
    core->send();
    core->send(5);
    b = transfer(*a, std::move(b));
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(at(b, 0).kind, PacketKind::TxDone);
    EXPECT_EQ(at(b, 0).status, 0);
    EXPECT_EQ(at(b, 0).len, 60);
    EXPECT_EQ(at(b, 1).status, 5);
    auto c = a->counters();
    ASSERT_TRUE(c.is_ok());
    EXPECT_EQ(c.value().tx_frames, 1u);
    EXPECT_EQ(c.value().tx_bytes, 60u);
    EXPECT_EQ(c.value().tx_errors, 1u);
    EXPECT_EQ(a->tx_in_flight(), 0u);
}

TEST_F(NicAdaptorTest, ReceivedFramesComeBackAndTheRingIsRefilledFromPostedBuffersFirst) {
    auto a = make(8, 4);
    std::vector<uint8_t> frame(100);
    for (size_t i = 0; i < frame.size(); i++) frame[i] = uint8_t(i * 7);
    core->receive(frame);
    core->receive(frame);
    Batch b = batch();
    NetPacket* mine1 = add_rx(b);
    NetPacket* mine2 = add_rx(b);
    size_t before = domains.heap().live_objects();
    b = transfer(*a, std::move(b));
    ASSERT_EQ(b.size(), 2u);
    for (uint32_t i = 0; i < 2; i++) {
        NetPacket& p = at(b, i);
        EXPECT_EQ(p.kind, PacketKind::RxFrame);
        EXPECT_EQ(p.offset, 12);
        ASSERT_EQ(p.len, 100);
        EXPECT_EQ(p.flags, nic::PACKET_RX_CSUM_OK);
        EXPECT_EQ(0, std::memcmp(p.data + 12, frame.data(), frame.size()));
    }
    // The two posted buffers filled the two free slots: no allocation of the adaptor's own.
    EXPECT_EQ(domains.heap().live_objects(), before);
    EXPECT_EQ(core->rx.size(), 8u);
    std::set<uint8_t*> newest{core->rx[6].data, core->rx[7].data};
    EXPECT_EQ(newest, (std::set<uint8_t*>{mine1->data, mine2->data}));
    auto c = a->counters();
    EXPECT_EQ(c.value().rx_frames, 2u);
    EXPECT_EQ(c.value().rx_bytes, 200u);
    // Without posted buffers the adaptor allocates its own.
    core->receive(frame);
    b = Batch();
    size_t live = domains.heap().live_objects();
    b = transfer(*a, batch());
    EXPECT_EQ(b.size(), 1u);
    EXPECT_EQ(domains.heap().live_objects(), live + 2) << "a new deque and a new buffer";
    EXPECT_EQ(core->rx.size(), 8u);
}

TEST_F(NicAdaptorTest, AFullTransmitRingAnswersEnobufsAtOnce) {
    auto a = make(8, 2);
    Batch b = batch();
    for (int i = 0; i < 4; i++) add_tx(b, 60, uint8_t(i));
    b = transfer(*a, std::move(b));
    ASSERT_EQ(b.size(), 2u);
    for (uint32_t i = 0; i < 2; i++) {
        EXPECT_EQ(at(b, i).kind, PacketKind::TxDone);
        EXPECT_EQ(at(b, i).status, nic::ABI_ENOBUFS);
        EXPECT_EQ(at(b, i).data[64], uint8_t(2 + i)) << "the last two frames are the refused ones";
    }
    EXPECT_EQ(core->tx.size(), 2u);
    EXPECT_EQ(a->counters().value().tx_dropped, 2u);
}

TEST_F(NicAdaptorTest, OversizedFramesAndUnmappableBuffersFailAlone) {
    auto a = make();
    Batch b = batch();
    add_tx(b, 1515, 0);
    add_tx(b, 60, 0);
    b = transfer(*a, std::move(b));
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(at(b, 0).status, nic::ABI_EMSGSIZE);
    EXPECT_EQ(core->tx.size(), 1u);
    host.fail = true;
    b = batch();
    add_tx(b, 60, 0);
    b = transfer(*a, std::move(b));
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(at(b, 0).status, nic::ABI_EIO);
}

TEST_F(NicAdaptorTest, MalformedBatchesAreRefusedWhole) {
    auto a = make();
    auto refuse = [&](auto fill) {
        Batch b = batch();
        add_tx(b, 60, 0);
        fill(b);
        EXPECT_EQ(a->transfer(std::move(b)).error(), lamina::Error(Errno::Inval));
        EXPECT_EQ(core->tx.size(), 0u) << "nothing of a refused batch is sent";
    };
    refuse([](Batch& b) { add_tx(b, 0, 0); });
    refuse([](Batch& b) { add_tx(b, 100, 0, 1900); });  // past the end of data
    refuse([&](Batch& b) {
        add_tx(b, 60, 0);
        at(b, 1).kind = PacketKind::RxFrame;
    });
    EXPECT_EQ(a->transfer(Batch()).error(), lamina::Error(Errno::Inval));
    EXPECT_EQ(domains.heap().live_objects(), baseline + 8) << "refused batches are freed";
}

TEST_F(NicAdaptorTest, AtMostOneDequeIsReturnedAndTheRestWaits) {
    auto a = make(128, 4);
    std::vector<uint8_t> frame(60, 0xab);
    for (int i = 0; i < 100; i++) core->receive(frame);
    Batch b = transfer(*a, batch());
    EXPECT_EQ(b.size(), NicAdaptor::BATCH);
    EXPECT_TRUE(b.full());
    Batch c = transfer(*a, batch());
    EXPECT_EQ(c.size(), 100u - NicAdaptor::BATCH);
    EXPECT_EQ(core->rx.size(), 128u);
}

TEST_F(NicAdaptorTest, BadFramesAreCountedAndTheirBuffersReused) {
    auto a = make(8, 4);
    core->receive(std::vector<uint8_t>(60, 1), 1);
    size_t before = domains.heap().live_objects();
    Batch b = transfer(*a, batch());
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(domains.heap().live_objects(), before + 1) << "only the empty deque is new";
    EXPECT_EQ(core->rx.size(), 8u);
    core->device_counters.rx_dropped = 3;
    auto c = a->counters().value();
    EXPECT_EQ(c.rx_errors, 1u);
    EXPECT_EQ(c.rx_dropped, 3u);
    EXPECT_EQ(c.rx_frames, 0u);
}

TEST_F(NicAdaptorTest, SurplusPostedBuffersAreKeptThenFreed) {
    auto a = make(4, 4);
    for (uint32_t posted : {NicAdaptor::SPARE, 10u}) {
        Batch b = batch();
        for (uint32_t i = 0; i < posted; i++) add_rx(b);
        b = transfer(*a, std::move(b));
        EXPECT_EQ(b.size(), 0u);
    }
    EXPECT_EQ(a->spares(), NicAdaptor::SPARE);
    EXPECT_EQ(domains.heap().live_objects(), baseline + 4 + NicAdaptor::SPARE) << "the ten beyond were freed";
}

TEST_F(NicAdaptorTest, DestructionQuiescesTheDeviceBeforeFreeingItsBuffers) {
    {
        auto a = make(8, 4);
        Batch b = batch();
        add_tx(b, 60, 0);
        b = transfer(*a, std::move(b));
        EXPECT_FALSE(core->quiesced);
    }
    EXPECT_TRUE(core->quiesced);
    EXPECT_EQ(domains.heap().live_objects(), baseline);
}

TEST_F(NicAdaptorTest, LinkAndWaitComeFromTheCore) {
    auto a = make();
    core->link_up = false;
    auto l = a->link();
    ASSERT_TRUE(l.is_ok());
    EXPECT_FALSE(l.value().up);
    EXPECT_EQ(l.value().speed_mbps, 0u);
    EXPECT_EQ(a->wait(0).value(), 0u);
    core->receive(std::vector<uint8_t>(60, 1));
    EXPECT_EQ(a->wait(0).value(), nic::EVENT_RX);
}

}  // namespace
