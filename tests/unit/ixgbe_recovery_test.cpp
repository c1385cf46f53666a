// Host tests for the ixgbe driver core's recovery and fault handling against the 82599
// model: a driver killed mid-traffic and replaced, the model's DMA window, and the injected
// faults (stalled queue, all-ones registers).
#include <gtest/gtest.h>

#include "tests/unit/ixgbe_harness.h"

namespace {

using namespace lamina::ixgbe_test;
using lamina::Errno;
using lamina::ixgbe::Failure;

// Leaves frames in flight both ways: sent but not reclaimed, received but not taken.
void traffic_in_flight(Rig& rig) {
    rig.refill();
    TxFrame tx[32];
    for (uint32_t i = 0; i < 32; i++) tx[i] = rig.frame(i, 300);
    ASSERT_EQ(rig.dev->send(tx, 32).value(), 32u);
    ASSERT_GT(rig.dev->tx_in_flight(), 0u);
}

// The kernel's side of a driver domain's death: bus mastering off (the quiesce), then the
// dead instance's memory freed; the fresh instance's claim turns bus mastering back on.
void kill_driver(Rig& rig, bool quiesce) {
    if (quiesce) rig.model.set_bus_master(false);
    // The instance is gone: no destructor runs. It stays reachable so that the leak checker
    // does not count it.
    static auto* graveyard = new std::vector<lamina::ixgbe::Device*>;
    graveyard->push_back(rig.dev.release());
    rig.platform.revoke_all();
    rig.pool.revoke();
}

TEST(IxgbeRecovery, FreshInstanceResetsAndCarriesOn) {
    Rig rig;
    ASSERT_TRUE(rig.start().is_ok());
    std::mt19937_64 rng(6);
    ASSERT_EQ(loop_frames(rig, 2000, 32, rng), 2000u);
    traffic_in_flight(rig);
    kill_driver(rig, true);

    // Frames keep arriving from the wire: with bus mastering off the device cannot DMA.
    rig.from_wire(0, 10, 200);
    EXPECT_EQ(rig.model.stats().dma_violations, 0u) << rig.model.last_violation();

    rig.model.set_bus_master(true);
    rig.pool.renew();
    ASSERT_TRUE(rig.start().is_ok()) << rig.dev->failure_message();
    EXPECT_EQ(rig.model.stats().resets, 2u);
    EXPECT_EQ(loop_frames(rig, 5000, 32, rng), 5000u);
    EXPECT_EQ(rig.model.stats().dma_violations, 0u) << rig.model.last_violation();
    EXPECT_EQ(rig.model.stats().driver_errors, 0u) << rig.model.last_driver_error();
}

TEST(IxgbeRecovery, OrderlyTeardownQuiescesBeforeFreeing) {
    Rig rig;
    ASSERT_TRUE(rig.start().is_ok());
    traffic_in_flight(rig);
    rig.dev = nullptr;  // the destructor: master disable, reset, then the rings are freed
    EXPECT_EQ(rig.platform.regions(), 0u);
    EXPECT_EQ(rig.model.stats().resets, 2u);
    rig.pool.revoke();
    rig.from_wire(0, 1, 200);
    EXPECT_EQ(rig.model.stats().dma_violations, 0u) << rig.model.last_violation();
}

// The model's DMA window is what the recovery tests rely on: it must catch a device that was
// not quiesced before the driver's memory went away.
TEST(IxgbeModelWindow, CatchesDmaIntoRevokedMemory) {
    Rig rig;
    Config c = Rig::loopback_config();
    c.loopback = false;
    ASSERT_TRUE(rig.start(c).is_ok());
    rig.refill();
    kill_driver(rig, false);
    rig.from_wire(0, 1, 200);
    EXPECT_GE(rig.model.stats().dma_violations, 1u);
    EXPECT_NE(rig.model.last_violation().find("receive ring"), std::string::npos);
}

TEST(IxgbeFaults, StalledTransmitQueueFailsWithTimedOut) {
    Rig rig;
    ASSERT_TRUE(rig.start().is_ok());
    std::mt19937_64 rng(7);
    ASSERT_EQ(loop_frames(rig, 100, 8, rng), 100u);
    rig.model.set_queue_stalled(true);
    traffic_in_flight(rig);
    uint64_t done[64];
    EXPECT_EQ(rig.dev->reclaim(done, 64).value(), 0u);  // not yet: within the timeout
    rig.platform.set_clock(rig.platform.clock_ns + rig.dev->config().tx_stall_timeout_ns + 1);
    auto r = rig.dev->reclaim(done, 64);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().code(), Errno::TimedOut);
    EXPECT_EQ(rig.dev->failure(), Failure::TxStalled);
    EXPECT_STREQ(rig.dev->failure_message(), "the transmit queue made no progress with the link up");
    // Every later call reports the failure too.
    EXPECT_TRUE(rig.dev->send(nullptr, 0).is_error());
    EXPECT_TRUE(rig.dev->receive(nullptr, 0).is_error());
}

TEST(IxgbeFaults, StalledReceiveQueueDropsAndCounts) {
    Rig rig;
    ASSERT_TRUE(rig.start().is_ok());
    rig.refill();
    rig.model.set_queue_stalled(true);
    rig.from_wire(0, 5, 200);
    RxFragment fr[8];
    EXPECT_EQ(rig.dev->receive(fr, 8).value(), 0u);
    EXPECT_EQ(rig.dev->counters().value().rx_dropped, 5u);
}

TEST(IxgbeFaults, AllOnesRegistersMeanTheDeviceIsGone) {
    Rig rig;
    ASSERT_TRUE(rig.start().is_ok());
    rig.model.set_all_ones(true);
    auto l = rig.dev->link();
    ASSERT_TRUE(l.is_error());
    EXPECT_EQ(l.error().code(), Errno::IO);
    EXPECT_EQ(rig.dev->failure(), Failure::DeviceGone);
    EXPECT_STREQ(rig.dev->failure_message(), "registers read as all ones: the device is gone");
    EXPECT_TRUE(rig.dev->counters().is_error());
    EXPECT_TRUE(rig.dev->wait(rig.platform.clock_ns + 1000).is_error());
    rig.dev = nullptr;  // a gone device is not touched on the way out

    Rig gone;
    gone.model.set_all_ones(true);
    auto d = Device::create(gone.platform, Rig::loopback_config());
    ASSERT_TRUE(d.is_error());
    EXPECT_EQ(d.error().code(), Errno::IO);
}

}  // namespace
