// lamina:portable
// VirtioNet: the virtio network device (virtio 1.1, 5.1) as a NicCore (drivers/nic/nic_core.h),
// so that the shared NicAdaptor serves idl::Nic over it.
//
// Bring-up (3.1.1): capabilities walked, features negotiated (VERSION_1 and MAC required,
// STATUS when offered; nothing else until measured to help), receiveq1 and transmitq1 set up
// with one MSI-X vector shared by both queues and configuration changes (polling when the
// platform has no MSI-X or the device refuses the vector), DRIVER_OK.
//
// Frames. Every buffer starts with a virtio_net_hdr (5.1.6). A receive buffer is one
// device-writable descriptor: the header lands at its start and the frame right after it, so
// a received frame has offset 12. A frame to send with at least 12 bytes of headroom gets the
// header written into that headroom and goes out as one descriptor; with less, as a chain of
// two (the header from a per-slot array the driver owns).
//
// Notifications. Used-buffer interrupts stay suppressed (AVAIL_F_NO_INTERRUPT) except inside
// wait(); kick() rings each queue's doorbell at most once per batch and not at all while the
// device says it needs none (USED_F_NO_NOTIFY).
//
// Recovery: init() always starts with a device reset, so a new instance takes over a device a
// dead one left running; quiesce() resets it, after which no buffer is touched again.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "drivers/nic/nic_core.h"
#include "drivers/virtio/platform.h"
#include "drivers/virtio/transport.h"
#include "drivers/virtio/virtqueue.h"

namespace lamina::virtio {

struct NetOptions {
    uint16_t queue_size = 256;  // per queue, capped by the device's maximum
    bool use_interrupts = true;
};

struct NetStats {
    uint64_t notifies = 0;          // doorbells rung
    uint64_t notifies_skipped = 0;  // batches the device asked not to hear about
    uint64_t interrupt_waits = 0;   // waits that armed the interrupt
    uint64_t bad_used = 0;          // used entries naming no buffer in flight
};

class VirtioNet final : public nic::NicCore {
public:
    explicit VirtioNet(Platform& platform) : platform_(platform), transport_(platform) {}
    ~VirtioNet();
    VirtioNet(const VirtioNet&) = delete;
    VirtioNet& operator=(const VirtioNet&) = delete;

    // NoDev (not a virtio device, or its capabilities are missing), NotSup (features), NoMem,
    // TimedOut (the reset never completed), Inval (broken capabilities or queue sizes).
    Result<void> init(const NetOptions& options = {});

    nic::CoreInfo info() const override;
    nic::CoreLink link() override;
    nic::CoreCounters counters() override;
    uint32_t rx_space() const override { return rx_.free_descriptors(); }
    uint32_t tx_space() const override { return tx_.free_descriptors(); }
    Result<void> post_rx(const nic::RxPost& buffer) override;
    Result<void> post_tx(const nic::TxPost& frame) override;
    void kick() override;
    uint32_t reap_rx(nic::RxDone* out, uint32_t max) override;
    uint32_t reap_tx(nic::TxDone* out, uint32_t max) override;
    uint32_t wait(uint64_t timeout_ns) override;
    void quiesce() override;

    uint64_t features() const { return features_; }
    bool interrupts() const { return interrupts_; }
    const NetStats& stats() const { return stats_; }
    PciTransport& transport() { return transport_; }

private:
    static constexpr uint16_t VECTOR = 0;
    static constexpr uint32_t HEADER = sizeof(spec::NetHdr);

    bool link_up();
    Result<void> setup_queue(Virtqueue& q, uint16_t index, uint16_t wanted, bool& vector_ok);
    void kick_one(Virtqueue& q, uint16_t index);

    Platform& platform_;
    PciTransport transport_;
    Virtqueue rx_, tx_;
    DmaRegion tx_headers_;  // one NetHdr per transmit slot, for frames without headroom
    uint64_t features_ = 0;
    uint8_t mac_[6] = {};
    bool interrupts_ = false;
    bool running_ = false;
    bool reported_link_ = false;
    NetStats stats_;
};

}  // namespace lamina::virtio
