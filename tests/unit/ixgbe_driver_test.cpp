// Host tests for the ixgbe driver core (drivers/ixgbe/device.h) against the 82599 model
// (tests/models/ixgbe_model.h): bring-up, link, loopback traffic with every byte checked,
// ring wrap-around, multi-descriptor frames, drops, statistics and interrupts.
#include <gtest/gtest.h>

#include "tests/unit/ixgbe_harness.h"

namespace {

using namespace lamina::ixgbe_test;
using lamina::Errno;
using lamina::ixgbe::Counters;
using lamina::ixgbe::Failure;
namespace spec = lamina::ixgbe::spec;
namespace reg = spec::reg;

// Every test ends with the model having seen no DMA outside granted memory and no
// programming the datasheet forbids.
void expect_clean(const IxgbeModel& m) {
    EXPECT_EQ(m.stats().dma_violations, 0u) << m.last_violation();
    EXPECT_EQ(m.stats().driver_errors, 0u) << m.last_driver_error();
}

TEST(IxgbeBringUp, FollowsTheDatasheetOrder) {
    Rig rig;
    uint64_t t0 = rig.platform.clock_ns;
    Config c = Rig::loopback_config();
    c.loopback = false;
    c.link_wait_ns = 0;
    ASSERT_TRUE(rig.start(c).is_ok()) << rig.dev->failure_message();
    IxgbeModel& m = rig.model;
    EXPECT_EQ(m.stats().resets, 1u);
    // It waited for the EEPROM auto-read and DMA init, which came 2 and 3 ms after the reset.
    EXPECT_GE(rig.platform.clock_ns - t0, m.options().dma_init_ns);
    EXPECT_EQ(0, memcmp(rig.dev->mac().bytes, m.options().mac, 6));
    EXPECT_TRUE(m.read32(reg::rah(0)) & spec::RAH_AV);
    uint32_t hl = m.read32(reg::HLREG0);
    EXPECT_TRUE(hl & spec::hlreg0::RXCRCSTRP);
    EXPECT_TRUE(hl & spec::hlreg0::TXCRCEN);
    EXPECT_FALSE(hl & spec::hlreg0::LPBK);
    EXPECT_TRUE(m.read32(reg::RDRXCTL) & spec::rdrxctl::CRC_STRIP);
    EXPECT_EQ(m.read32(reg::FCTRL), spec::fctrl::BAM);
    EXPECT_EQ(m.read32(reg::srrctl(0)) & spec::srrctl::DESCTYPE_MASK, spec::srrctl::DESCTYPE_ADV_ONEBUF);
    EXPECT_EQ(spec::pbsize::kib(m.read32(reg::rxpbsize(0))), 512u);
    EXPECT_EQ(spec::pbsize::kib(m.read32(reg::txpbsize(0))), 160u);
    EXPECT_EQ(m.read32(reg::AUTOC) & spec::autoc::LMS_MASK, spec::autoc::LMS_10G_SERIAL);
    EXPECT_TRUE(m.read32(reg::GPIE) & spec::gpie::MULTIPLE_MSIX);
    EXPECT_EQ(m.read32(reg::ivar(0)) & 0xFFFF, 0x8080u);  // rx 0 and tx 0 on vector 0, valid
    EXPECT_EQ((m.read32(reg::IVAR_MISC) >> 8) & 0xFF, 0x81u);
    EXPECT_EQ(m.read32(reg::eitr(0)) & spec::eitr::INTERVAL_MASK, 4u << 3);  // 8192 ns
    EXPECT_TRUE(m.rx_queue_running());
    EXPECT_TRUE(m.tx_queue_running());
    EXPECT_EQ(m.read32(reg::EIMS), 0u);  // masked until someone waits
    expect_clean(m);
}

TEST(IxgbeBringUp, RejectsBadConfig) {
    Rig rig;
    Config c;
    c.rx_entries = 100;
    EXPECT_EQ(rig.start(c).error().code(), Errno::Inval);
    c = Config{};
    c.rx_buffer_bytes = 1500;
    EXPECT_EQ(rig.start(c).error().code(), Errno::Inval);
    EXPECT_EQ(rig.model.stats().resets, 0u);
}

struct StepTimeout {
    uint64_t Options::*field;
    Failure failure;
    const char* words;
};

TEST(IxgbeBringUp, EachWaitTimesOutWithItsOwnError) {
    const StepTimeout steps[] = {
        {&Options::reset_ns, Failure::ResetTimeout, "CTRL.RST"},
        {&Options::eeprom_ns, Failure::EepromTimeout, "EEC.ARD"},
        {&Options::dma_init_ns, Failure::DmaInitTimeout, "DMAIDONE"},
        {&Options::queue_enable_ns, Failure::QueueEnableTimeout, "ENABLE"},
    };
    for (auto& s : steps) {
        Options o;
        o.*s.field = 10'000'000'000;  // longer than any bring-up timeout
        Rig rig(o);
        Failure why;
        auto d = Device::create(rig.platform, Rig::loopback_config(), &why);
        ASSERT_TRUE(d.is_error()) << s.words;
        EXPECT_EQ(d.error().code(), Errno::IO);
        EXPECT_EQ(why, s.failure);
        EXPECT_NE(std::string(Device::failure_text(why)).find(s.words), std::string::npos) << Device::failure_text(why);
        EXPECT_EQ(rig.platform.regions(), 0u);  // what it allocated is freed again
    }
}

TEST(IxgbeLink, ComesUpAfterSetupAndFollowsTheCable) {
    Options o;
    o.cable = false;
    Rig nocable(o);
    Config c = Rig::loopback_config();
    c.loopback = false;
    ASSERT_TRUE(nocable.start(c).is_ok());
    EXPECT_FALSE(nocable.dev->link().value().up);

    Rig rig;
    c.link_wait_ns = 0;
    ASSERT_TRUE(rig.start(c).is_ok());
    EXPECT_FALSE(rig.dev->link().value().up);  // link-up takes 4 ms after AUTOC
    uint64_t deadline = rig.platform.clock_ns + 100'000'000;
    auto ev = rig.dev->wait(deadline);
    ASSERT_TRUE(ev.is_ok());
    EXPECT_EQ(ev.value(), lamina::ixgbe::EVENT_LINK);
    auto l = rig.dev->link().value();
    EXPECT_TRUE(l.up);
    EXPECT_EQ(l.speed_mbps, 10000u);
    EXPECT_LT(rig.platform.clock_ns, deadline);
    EXPECT_GE(rig.model.stats().interrupts[1], 1u);  // the link change came on vector 1
    expect_clean(rig.model);
}

TEST(IxgbeLink, FlapIsReportedAndTrafficResumes) {
    Rig rig;
    ASSERT_TRUE(rig.start().is_ok());
    std::mt19937_64 rng(1);
    EXPECT_EQ(loop_frames(rig, 100, 8, rng), 100u);

    rig.model.flap_link(5'000'000);
    auto ev = rig.dev->wait(rig.platform.clock_ns + 1'000'000);
    ASSERT_TRUE(ev.is_ok());
    EXPECT_TRUE(ev.value() & lamina::ixgbe::EVENT_LINK);
    EXPECT_FALSE(rig.dev->link().value().up);

    // Frames sent while the link is down wait in the ring; the stall timer does not fire.
    rig.refill();
    TxFrame f = rig.frame(0, 100);
    ASSERT_EQ(rig.dev->send(&f, 1).value(), 1u);
    uint64_t done[4];
    EXPECT_EQ(rig.dev->reclaim(done, 4).value(), 0u);
    rig.platform.set_clock(rig.platform.clock_ns + 200'000'000);  // past the stall timeout...
    // ... but the link came back meanwhile, and the frame went out.
    EXPECT_TRUE(rig.dev->link().value().up);
    EXPECT_EQ(rig.dev->reclaim(done, 4).value(), 1u);
    EXPECT_FALSE(rig.dev->failed());
    expect_clean(rig.model);
}

TEST(IxgbeTraffic, LoopbackFramesOfRandomSizes) {
    Rig rig;
    ASSERT_TRUE(rig.start().is_ok());
    std::mt19937_64 rng(2);
    for (uint32_t batch : {1u, 8u, 32u, 64u}) EXPECT_EQ(loop_frames(rig, 5000, batch, rng), 5000u);
    EXPECT_EQ(rig.model.stats().rx_frames, 20000u);
    EXPECT_EQ(rig.model.stats().rx_no_descriptor, 0u);
    expect_clean(rig.model);
}

// The figure: a million frames of random sizes, looped back, every byte checked.
TEST(IxgbeTraffic, MillionFramesLoopedBack) {
    Rig rig;
    ASSERT_TRUE(rig.start().is_ok());
    std::mt19937_64 rng(3);
    EXPECT_EQ(loop_frames(rig, 1'000'000, 32, rng), 1'000'000u);
    auto c = rig.dev->counters().value();
    EXPECT_EQ(c.rx_frames, 1'000'000u);
    EXPECT_EQ(c.tx_frames, 1'000'000u);
    EXPECT_EQ(c.rx_dropped, 0u);
    EXPECT_GT(rig.model.stats().rx_ring_wraps, 1000u);
    expect_clean(rig.model);
}

TEST(IxgbeTraffic, SmallRingsWrapAround) {
    Rig rig;
    Config c = Rig::loopback_config();
    c.rx_entries = 8;
    c.tx_entries = 8;
    ASSERT_TRUE(rig.start(c).is_ok());
    std::mt19937_64 rng(4);
    // Batches larger than the rings: send takes what fits, the rest goes next round.
    EXPECT_EQ(loop_frames(rig, 3000, 13, rng), 3000u);
    EXPECT_GT(rig.model.stats().rx_ring_wraps, 300u);
    EXPECT_GT(rig.model.stats().tx_ring_wraps, 300u);
    expect_clean(rig.model);
}

TEST(IxgbeTraffic, FramesSpanningSeveralDescriptors) {
    Rig rig;
    Config c = Rig::loopback_config();
    c.rx_buffer_bytes = 1024;
    ASSERT_TRUE(rig.start(c).is_ok());
    std::mt19937_64 rng(5);
    EXPECT_EQ(loop_frames(rig, 2000, 16, rng, 900, 1514), 2000u);
    EXPECT_GT(rig.model.stats().rx_multi_descriptor, 1000u);
    expect_clean(rig.model);
}

TEST(IxgbeTraffic, ReceiveHoldsBackAFrameWithoutItsLastDescriptor) {
    Rig rig;
    Config c = Rig::loopback_config();
    c.rx_buffer_bytes = 1024;
    ASSERT_TRUE(rig.start(c).is_ok());
    rig.refill();
    RxFragment frags[4];
    // Only room for one fragment in `out`: the two-fragment frame is not split.
    TxFrame f = rig.frame(7, 1500);
    ASSERT_EQ(rig.dev->send(&f, 1).value(), 1u);
    EXPECT_EQ(rig.dev->receive(frags, 1).error().code(), Errno::Range);
    ASSERT_EQ(rig.dev->receive(frags, 4).value(), 2u);
    EXPECT_EQ(frags[0].flags, lamina::ixgbe::FRAG_FIRST);
    EXPECT_EQ(frags[1].flags, lamina::ixgbe::FRAG_EOP);
    EXPECT_EQ(frags[0].len + frags[1].len, 1500);
}

TEST(IxgbeTraffic, DropsWhenTheReceiveRingIsFullAndCountsThem) {
    Rig rig;
    Config c = Rig::loopback_config();
    c.loopback = false;
    ASSERT_TRUE(rig.start(c).is_ok());
    lamina::ixgbe::RxBuffer b[4];
    for (auto& x : b) {
        uint32_t k = rig.pool.take();
        x = {rig.pool.phys(k), k};
    }
    ASSERT_EQ(rig.dev->post_rx(b, 4).value(), 4u);
    rig.from_wire(0, 20, 200);
    RxFragment frags[32];
    EXPECT_EQ(rig.dev->receive(frags, 32).value(), 4u);
    EXPECT_EQ(rig.model.stats().rx_no_descriptor, 16u);
    Counters ct = rig.dev->counters().value();
    EXPECT_EQ(ct.rx_frames, 4u);
    EXPECT_EQ(ct.rx_bytes, 4u * 200);
    EXPECT_EQ(ct.rx_dropped, 16u);
    // Clear on read: the device's registers are zero again, the totals stay.
    EXPECT_EQ(rig.model.read32(reg::qprdc(0)), 0u);
    EXPECT_EQ(rig.dev->counters().value().rx_dropped, 16u);
    expect_clean(rig.model);
}

TEST(IxgbeTraffic, FiltersAndErrorsFromTheWire) {
    Rig rig;
    Config c = Rig::loopback_config();
    c.loopback = false;
    ASSERT_TRUE(rig.start(c).is_ok());
    rig.refill();
    uint8_t frame[100];
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t other[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
    fill_frame(frame, 1, sizeof frame, bcast);
    rig.model.receive_from_wire(frame, sizeof frame);  // accepted (FCTRL.BAM)
    fill_frame(frame, 2, sizeof frame, other);
    rig.model.receive_from_wire(frame, sizeof frame);  // not ours: filtered
    fill_frame(frame, 3, sizeof frame, rig.mac());
    rig.model.receive_from_wire(frame, sizeof frame, true);  // bad FCS
    rig.model.receive_from_wire(frame, 40);                  // runt
    RxFragment frags[8];
    ASSERT_EQ(rig.dev->receive(frags, 8).value(), 1u);
    EXPECT_EQ(frags[0].len, sizeof frame);
    EXPECT_EQ(0, memcmp(rig.pool.data(frags[0].cookie), bcast, 6));
    EXPECT_EQ(rig.model.stats().rx_filtered, 1u);
    EXPECT_EQ(rig.dev->counters().value().rx_errors, 2u);

    // A frame sent to the wire leaves with the device's FCS (the model keeps no bad frames).
    TxFrame f = rig.frame(9, 64, other);
    ASSERT_EQ(rig.dev->send(&f, 1).value(), 1u);
    auto wire = rig.model.take_wire_frames();
    ASSERT_EQ(wire.size(), 1u);
    EXPECT_EQ(0, memcmp(wire[0].data(), rig.pool.data(f.cookie), 64));
    expect_clean(rig.model);
}

TEST(IxgbeTraffic, TransmitWriteBackOnlyWhereAsked) {
    Rig rig;
    ASSERT_TRUE(rig.start().is_ok());
    rig.refill();
    TxFrame tx[100];
    for (uint32_t i = 0; i < 100; i++) tx[i] = rig.frame(i, 60);
    ASSERT_EQ(rig.dev->send(tx, 64).value(), 64u);
    ASSERT_EQ(rig.dev->send(tx + 64, 36).value(), 36u);
    // RS on every 32nd descriptor and on each batch's last: 32, 64, 96, 100.
    EXPECT_EQ(rig.model.stats().tx_writebacks, 4u);
    uint64_t done[100];
    EXPECT_EQ(rig.dev->reclaim(done, 100).value(), 100u);
    for (uint32_t i = 0; i < 100; i++) EXPECT_EQ(done[i], tx[i].cookie);
    EXPECT_EQ(rig.dev->tx_in_flight(), 0u);
}

TEST(IxgbeInterrupts, WaitSleepsUntilTheQueueVectorFires) {
    Rig rig;
    ASSERT_TRUE(rig.start().is_ok());
    rig.refill();
    // Nothing pending: wait() runs to its deadline and says so.
    uint64_t deadline = rig.platform.clock_ns + 1'000'000;
    EXPECT_EQ(rig.dev->wait(deadline).value(), 0u);
    EXPECT_GE(rig.platform.clock_ns, deadline);
    EXPECT_TRUE(rig.model.read32(reg::EIMS) & 1u);  // it unmasked the queue vector

    TxFrame f = rig.frame(1, 60);
    ASSERT_EQ(rig.dev->send(&f, 1).value(), 1u);
    EXPECT_GE(rig.model.stats().interrupts[0], 1u);
    EXPECT_FALSE(rig.model.read32(reg::EIMS) & 1u);  // auto-masked when it fired (EIAM)
    auto ev = rig.dev->wait(rig.platform.clock_ns + 1'000'000).value();
    EXPECT_EQ(ev, lamina::ixgbe::EVENT_RX | lamina::ixgbe::EVENT_TX);
}

TEST(IxgbeInterrupts, ThrottledByEitr) {
    Rig rig;
    Config c = Rig::loopback_config();
    c.itr_interval_ns = 100'000;
    ASSERT_TRUE(rig.start(c).is_ok());
    rig.refill();
    uint64_t fired = rig.model.stats().interrupts[0];
    TxFrame f = rig.frame(1, 60);
    rig.model.write32(reg::EIMS, 1);
    ASSERT_EQ(rig.dev->send(&f, 1).value(), 1u);
    EXPECT_EQ(rig.model.stats().interrupts[0], fired + 1);
    uint64_t done[2];
    RxFragment fr[2];
    ASSERT_EQ(rig.dev->reclaim(done, 2).value(), 1u);
    ASSERT_EQ(rig.dev->receive(fr, 2).value(), 1u);
    rig.model.write32(reg::EIMS, 1);
    ASSERT_EQ(rig.dev->send(&f, 1).value(), 1u);
    // Within the interval: held back, fired once the interval has passed.
    EXPECT_EQ(rig.model.stats().interrupts[0], fired + 1);
    EXPECT_GE(rig.model.stats().throttled, 1u);
    rig.platform.set_clock(rig.platform.clock_ns + 100'000);
    EXPECT_EQ(rig.model.stats().interrupts[0], fired + 2);
}

}  // namespace
