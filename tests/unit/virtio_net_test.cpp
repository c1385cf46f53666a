// Host tests of the virtio-net driver core (drivers/virtio) and the NIC adaptor over it,
// against the device model (tests/models/virtio_net_model.h): capability walk, feature
// negotiation, queue set-up, frames looped back with contents checked, ring wrap-around,
// notification and interrupt suppression, MSI-X and polled waits, link changes, and recovery
// (a new instance resets the device and carries on; nothing is DMA'd after a reset).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "drivers/nic/nic_adaptor.h"
#include "drivers/virtio/net.h"
#include "tests/models/virtio_net_model.h"
#include "tests/models/virtio_net_model_platform.h"
#include "tests/unit/host_domains.h"

namespace {

using lamina::Errno;
using lamina::RRef;
using lamina::idl::NetPacket;
using lamina::idl::PacketKind;
using lamina::nic::NicAdaptor;
using lamina::virtio::NetOptions;
using lamina::virtio::VirtioNet;
using lamina::virtio_model::Options;
using lamina::virtio_model::VirtioModelHost;
using lamina::virtio_model::VirtioModelPlatform;
using lamina::virtio_model::VirtioNetModel;
using Batch = NicAdaptor::Batch;
namespace spec = lamina::virtio::spec;
namespace nic = lamina::nic;

std::vector<uint8_t> frame_for(uint32_t seq, uint32_t len) {
    std::vector<uint8_t> f(len);
    for (uint32_t i = 0; i < len; i++) f[i] = uint8_t(seq * 31 + i * 7 + (i >> 8));
    std::memcpy(f.data(), &seq, 4);
    return f;
}

class VirtioNetTest : public ::testing::Test {
protected:
    void SetUp() override {
        for (const auto* t = lamina::idl::nic_types; *t; t++) ASSERT_TRUE(domains.heap().register_type(**t).is_ok());
    }
    void TearDown() override {
        adaptor.reset();
        driver.reset();
        if (model) {
            EXPECT_EQ(model->violations(), 0u) << model->last_violation();
            EXPECT_EQ(platform->live_dma, 0);
        }
    }

    void boot(Options o = {}, NetOptions n = {}) {
        model = std::make_unique<VirtioNetModel>(o);
        platform = std::make_unique<VirtioModelPlatform>(*model);
        host = std::make_unique<VirtioModelHost>(*model);
        start(n);
    }
    void start(NetOptions n = {}) {
        driver = std::make_unique<VirtioNet>(*platform);
        auto r = driver->init(n);
        ASSERT_TRUE(r.is_ok()) << r.error().name();
        adaptor = std::make_unique<NicAdaptor>(*driver, *host);
        ASSERT_TRUE(adaptor->start().is_ok());
    }

    static void add_tx(Batch& b, const std::vector<uint8_t>& f, uint16_t offset = 64) {
        auto p = RRef<NetPacket>::create();
        ASSERT_TRUE(p.is_ok());
        p.value()->kind = PacketKind::TxFrame;
        p.value()->offset = offset;
        p.value()->len = uint16_t(f.size());
        std::memcpy(p.value()->data + offset, f.data(), f.size());
        ASSERT_TRUE(b.push_back(std::move(p.value())).is_ok());
    }

    // Sends `count` frames of varied sizes in batches of `batch` and checks that every one
    // comes back (loopback) intact and in order.
    void loop_frames(uint32_t count, uint32_t batch, uint16_t offset = 64) {
        uint32_t sent = 0, received = 0, done = 0;
        for (int rounds = 0; received < count || done < count; rounds++) {
            ASSERT_LT(rounds, 100000) << "stuck at sent " << sent << " received " << received;
            auto b = Batch::create();
            ASSERT_TRUE(b.is_ok());
            for (uint32_t i = 0; i < batch && sent < count; i++, sent++)
                add_tx(b.value(), frame_for(sent, 60 + (sent * 97) % 1455), offset);
            auto out = adaptor->transfer(std::move(b.value()));
            ASSERT_TRUE(out.is_ok());
            model->step();  // for devices that process only when told
            while (!out.value().empty()) {
                RRef<NetPacket> p = out.value().pop_front();
                if (p->kind == PacketKind::TxDone) {
                    ASSERT_EQ(p->status, 0);
                    done++;
                    continue;
                }
                ASSERT_EQ(p->kind, PacketKind::RxFrame);
                auto want = frame_for(received, 60 + (received * 97) % 1455);
                ASSERT_EQ(p->len, want.size()) << "frame " << received;
                ASSERT_EQ(0, std::memcmp(p->data + p->offset, want.data(), want.size())) << "frame " << received;
                received++;
            }
        }
        EXPECT_EQ(sent, count);
    }

    lamina::host::HostDomains domains;
    std::unique_ptr<VirtioNetModel> model;
    std::unique_ptr<VirtioModelPlatform> platform;
    std::unique_ptr<VirtioModelHost> host;
    std::unique_ptr<VirtioNet> driver;
    std::unique_ptr<NicAdaptor> adaptor;
};

TEST_F(VirtioNetTest, RegionsComeFromTheCapabilitiesWhereverTheyAre) {
    for (uint32_t common : {0x2000u, 0x0u}) {
        Options o;
        o.common_offset = common;
        o.isr_offset = common == 0 ? 0x1000 : 0;
        o.notify_offset = 0x3000 - common / 2;
        o.notify_multiplier = common == 0 ? 4 : 0x100;
        boot(o);
        const auto& t = driver->transport();
        EXPECT_EQ(t.common().bar, 4);
        EXPECT_EQ(t.common().offset, o.common_offset);
        EXPECT_EQ(t.notify_region().offset, o.notify_offset);
        EXPECT_EQ(t.isr_region().offset, o.isr_offset);
        EXPECT_EQ(t.device_region().offset, o.device_offset);
        EXPECT_EQ(t.notify_multiplier(), o.notify_multiplier);
        loop_frames(4, 4);  // the doorbells land where the model expects them
        TearDown();
    }
}

TEST_F(VirtioNetTest, NegotiatesOnlyWhatItUses) {
    boot();
    uint64_t want = spec::feature::VERSION_1 | spec::feature::NET_MAC | spec::feature::NET_STATUS;
    EXPECT_EQ(driver->features(), want);
    EXPECT_EQ(model->driver_features(), want) << "CSUM and EVENT_IDX are offered but not taken";
    EXPECT_TRUE(model->status() & spec::status::DRIVER_OK);
    auto info = adaptor->info().value();
    EXPECT_EQ(0, std::memcmp(info.mac, Options{}.mac, 6));
    EXPECT_EQ(info.rx_ring, 256u);
    EXPECT_EQ(info.max_frame, 1514u);
    EXPECT_STREQ(reinterpret_cast<const char*>(info.driver), "virtio_net");
}

TEST_F(VirtioNetTest, ALegacyOnlyOrMaclessDeviceIsRefusedAndMarkedFailed) {
    for (uint64_t missing : {spec::feature::VERSION_1, spec::feature::NET_MAC}) {
        Options o;
        o.features &= ~missing;
        model = std::make_unique<VirtioNetModel>(o);
        platform = std::make_unique<VirtioModelPlatform>(*model);
        VirtioNet d(*platform);
        EXPECT_EQ(d.init().error(), lamina::Error(Errno::NotSup));
        EXPECT_TRUE(model->status() & spec::status::FAILED);
        EXPECT_FALSE(model->status() & spec::status::DRIVER_OK);
    }
    model.reset();
}

TEST_F(VirtioNetTest, BrokenCapabilitiesAreRefused) {
    Options o;
    o.bar4_size = 0x3000;  // the device region (0x3000) lies past the BAR's end
    model = std::make_unique<VirtioNetModel>(o);
    platform = std::make_unique<VirtioModelPlatform>(*model);
    VirtioNet d(*platform);
    EXPECT_EQ(d.init().error(), lamina::Error(Errno::Inval));
    EXPECT_EQ(model->status(), 0) << "nothing was written to a device it could not trust";
    model.reset();
}

TEST_F(VirtioNetTest, BrokenCapabilityListsAreRefusedBeforeTheDeviceIsTouched) {
    struct Case {
        const char* what;
        void (*poke)(VirtioNetModel&);
        Errno expected;
    };
    const Case cases[] = {
        {"a list that loops back on itself",
         [](VirtioNetModel& m) { m.config_poke(m.capability_at(spec::cfg_type::COMMON) + 1, 0x40); }, Errno::Inval},
        {"a pointer into the header", [](VirtioNetModel& m) { m.config_poke(spec::pci::CAPABILITIES_POINTER, 0x10); },
         Errno::Inval},
        {"no common configuration",
         [](VirtioNetModel& m) { m.config_poke(m.capability_at(spec::cfg_type::COMMON) + 3, 0x7f); }, Errno::NoDev},
        {"no capability list at all", [](VirtioNetModel& m) { m.config_poke(spec::pci::STATUS, 0); }, Errno::NoDev},
        {"a region in a BAR the device lacks",
         [](VirtioNetModel& m) { m.config_poke(m.capability_at(spec::cfg_type::NOTIFY) + 4, 2); }, Errno::Inval},
        {"another vendor's device", [](VirtioNetModel& m) { m.config_poke(spec::pci::VENDOR_ID, 0x86); }, Errno::NoDev},
    };
    for (const Case& c : cases) {
        model = std::make_unique<VirtioNetModel>();
        c.poke(*model);
        platform = std::make_unique<VirtioModelPlatform>(*model);
        VirtioNet d(*platform);
        EXPECT_EQ(d.init().error(), lamina::Error(c.expected)) << c.what;
        EXPECT_EQ(model->status(), 0) << c.what;
        EXPECT_EQ(model->stats().resets, 0u) << c.what << ": nothing was written to the device";
    }
    model.reset();
}

TEST_F(VirtioNetTest, QueueSizesAreThePowerOfTwoBothSidesCanDo) {
    Options o;
    o.queue_max = 128;
    NetOptions n;
    n.queue_size = 100;
    boot(o, n);
    EXPECT_EQ(adaptor->info().value().rx_ring, 64u);
    EXPECT_EQ(adaptor->info().value().tx_ring, 64u);
    EXPECT_EQ(adaptor->rx_posted(), 64u);
}

TEST_F(VirtioNetTest, FramesLoopBackIntact) {
    boot();
    loop_frames(200, 32);
    EXPECT_EQ(model->stats().tx_frames, 200u);
    EXPECT_EQ(model->stats().rx_frames, 200u);
    EXPECT_EQ(model->stats().chained_tx, 0u) << "headroom carries the header: one descriptor per frame";
    auto c = adaptor->counters().value();
    EXPECT_EQ(c.tx_frames, 200u);
    EXPECT_EQ(c.rx_frames, 200u);
    EXPECT_EQ(c.rx_bytes, c.tx_bytes);
}

TEST_F(VirtioNetTest, FramesWithoutHeadroomGoOutAsTwoDescriptors) {
    boot();
    loop_frames(50, 8, 0);
    EXPECT_EQ(model->stats().chained_tx, 50u);
}

TEST_F(VirtioNetTest, RingsWrapAroundManyTimes) {
    Options o;
    o.queue_max = 16;
    boot(o);
    loop_frames(1000, 8);
    EXPECT_GE(model->stats().tx_ring_wraps, 60u);
    EXPECT_GE(model->stats().rx_ring_wraps, 60u);
}

TEST_F(VirtioNetTest, AFullRingAnswersEnobufsAndNothingIsLost) {
    Options o;
    o.queue_max = 16;
    o.process_on_notify = false;  // the device is slow: nothing completes until step()
    boot(o);
    auto b = Batch::create();
    for (uint32_t i = 0; i < 20; i++) add_tx(b.value(), frame_for(i, 100));
    auto out = adaptor->transfer(std::move(b.value()));
    ASSERT_TRUE(out.is_ok());
    ASSERT_EQ(out.value().size(), 4u);
    for (uint32_t i = 0; i < 4; i++) {
        RRef<NetPacket> p = out.value().pop_front();
        EXPECT_EQ(p->status, nic::ABI_ENOBUFS);
    }
    model->step();
    EXPECT_EQ(model->sent().size(), 16u);
    EXPECT_EQ(adaptor->counters().value().tx_dropped, 4u);
}

TEST_F(VirtioNetTest, DoorbellsAreOnePerBatchAndNoneWhenTheDeviceSaysSo) {
    boot();
    uint64_t before = model->stats().notifies[spec::NET_TX_QUEUE];
    loop_frames(32, 32);
    // One tx doorbell for the batch of 32, and the transfer that reaps them rings none.
    EXPECT_EQ(model->stats().notifies[spec::NET_TX_QUEUE] - before, 1u);
    EXPECT_EQ(model->interrupts(0), 0u) << "no interrupts while nobody waits";
    EXPECT_GT(model->stats().interrupts_suppressed, 0u);

    Options o;
    o.suppress_notify = true;
    o.process_on_notify = false;
    TearDown();
    boot(o);
    auto b = Batch::create();
    for (uint32_t i = 0; i < 8; i++) add_tx(b.value(), frame_for(i, 100));
    ASSERT_TRUE(adaptor->transfer(std::move(b.value())).is_ok());
    model->step();
    EXPECT_EQ(model->sent().size(), 8u);
    EXPECT_EQ(model->stats().notifies_while_suppressed, 0u);
    EXPECT_GT(driver->stats().notifies_skipped, 0u);
}

TEST_F(VirtioNetTest, WaitSleepsOnMsixAndWakesOnAFrame) {
    Options o;
    o.loopback = false;
    boot(o);
    ASSERT_TRUE(driver->interrupts());
    uint64_t t0 = platform->clock_ns;
    EXPECT_EQ(adaptor->wait(1'000'000).value(), 0u);
    EXPECT_EQ(platform->clock_ns - t0, 1'000'000u);
    platform->on_wait = [&] {
        model->inject(frame_for(7, 64));
        platform->on_wait = nullptr;
    };
    EXPECT_EQ(adaptor->wait(1'000'000).value(), nic::EVENT_RX);
    EXPECT_EQ(model->interrupts(0), 1u);
    EXPECT_GE(driver->stats().interrupt_waits, 1u);
    auto out = adaptor->transfer(Batch::create().release_value());
    ASSERT_EQ(out.value().size(), 1u);
    EXPECT_EQ(out.value().pop_front()->len, 64);
    // Interrupts are suppressed again once the wait is over.
    model->inject(frame_for(8, 64));
    EXPECT_EQ(model->interrupts(0), 1u);
}

TEST_F(VirtioNetTest, WithoutMsixItPolls) {
    // The platform has no MSI-X, or the device refuses the vector: either way the driver polls.
    for (bool platform_msix : {false, true}) {
        Options o;
        o.loopback = false;
        o.msix = false;
        model = std::make_unique<VirtioNetModel>(o);
        platform = std::make_unique<VirtioModelPlatform>(*model);
        platform->msix = platform_msix;
        host = std::make_unique<VirtioModelHost>(*model);
        start();
        EXPECT_FALSE(driver->interrupts());
        int polls = 0;
        platform->on_wait = [&] {
            if (++polls == 3) model->inject(frame_for(1, 80));
        };
        uint64_t t0 = platform->clock_ns;
        EXPECT_EQ(adaptor->wait(10'000'000).value(), nic::EVENT_RX);
        EXPECT_EQ(polls, 3);
        EXPECT_EQ(platform->clock_ns - t0, 3 * 20'000u);
        platform->on_wait = nullptr;
        EXPECT_EQ(adaptor->wait(1'000'000).value(), nic::EVENT_RX) << "still pending: transfer consumes";
        TearDown();
    }
}

TEST_F(VirtioNetTest, LinkChangesAreEvents) {
    Options o;
    o.loopback = false;
    boot(o);
    EXPECT_TRUE(adaptor->link().value().up);
    model->set_link(false);
    EXPECT_EQ(adaptor->wait(1'000'000).value(), nic::EVENT_LINK);
    EXPECT_FALSE(adaptor->link().value().up);
    EXPECT_EQ(adaptor->wait(1'000).value(), 0u) << "reading the link consumed the event";
}

TEST_F(VirtioNetTest, ANewInstanceResetsTheDeviceAndCarriesOn) {
    Options o;
    o.process_on_notify = false;
    boot(o);
    auto b = Batch::create();
    for (uint32_t i = 0; i < 8; i++) add_tx(b.value(), frame_for(i, 200));
    ASSERT_TRUE(adaptor->transfer(std::move(b.value())).is_ok());
    // The instance dies with frames queued and its receive ring full. Its memory stays
    // allocated (a dead domain's is reclaimed later) but no longer granted to the device.
    auto dead_adaptor = std::move(adaptor);
    auto dead_driver = std::move(driver);
    model->revoke_all();
    uint64_t resets = model->stats().resets;
    start();
    EXPECT_GT(model->stats().resets, resets);
    model->step();
    EXPECT_EQ(model->sent().size(), 0u) << "frames of the dead instance are gone with it";
    model->step();
    loop_frames(100, 16);  // only grants of the new instance: any DMA to the old is a violation
    // Teardown of the dead one (as the kernel would after quiescing): its reset comes first,
    // so the model must see nothing of its buffers, and then nothing of the new one's either.
    adaptor.reset();
    driver.reset();
    dead_adaptor.reset();
    dead_driver.reset();
    EXPECT_FALSE(model->running());
}

TEST_F(VirtioNetTest, NothingIsDmaedAfterTheDriverIsGone) {
    boot();
    loop_frames(10, 5);
    adaptor.reset();
    driver.reset();
    EXPECT_FALSE(model->running());
    model->inject(frame_for(1, 100));  // the peer keeps talking
    model->step();
    EXPECT_EQ(model->stats().rx_frames, 10u);
}

// A host that hands out bus addresses without granting them: the model must refuse the DMA.
class UngrantedHost final : public nic::NicHost {
public:
    lamina::Result<uint64_t> bus_address(const void* object, uint64_t offset, uint32_t) override {
        return reinterpret_cast<uint64_t>(object) + offset;
    }
};

TEST_F(VirtioNetTest, TheDmaWindowCatchesUngrantedMemory) {
    model = std::make_unique<VirtioNetModel>();
    platform = std::make_unique<VirtioModelPlatform>(*model);
    UngrantedHost bad;
    driver = std::make_unique<VirtioNet>(*platform);
    ASSERT_TRUE(driver->init().is_ok());
    adaptor = std::make_unique<NicAdaptor>(*driver, bad);
    ASSERT_TRUE(adaptor->start().is_ok());
    auto b = Batch::create();
    add_tx(b.value(), frame_for(0, 100));
    ASSERT_TRUE(adaptor->transfer(std::move(b.value())).is_ok());
    EXPECT_GT(model->violations(), 0u);
    EXPECT_EQ(model->sent().size(), 0u);
    adaptor.reset();
    driver.reset();
    model.reset();  // the violation was the point
}

}  // namespace
