// VirtioNetModel: a virtio 1.x network device behind the modern PCI transport, for host tests
// and benchmarks.
//
// What it models: a PCI configuration space whose capability list holds the common, notify,
// ISR and device regions (in BAR 4, at offsets chosen by Options so a driver that assumes
// QEMU's layout fails), an MSI-X capability and a decoy vendor capability of another type;
// the status handshake with FEATURES_OK refused for features it does not offer or without
// VERSION_1; reset clearing every queue; split virtqueues processed when their doorbell is
// written (or on step()), with chains walked and descriptor flags checked; the receive path
// writing virtio_net_hdr + frame into device-writable buffers; transmit handing frames
// (header stripped and checked) to a peer: a loopback into its own receive queue or a
// recording sink the test reads; USED_F_NO_NOTIFY (Options::suppress_notify) and
// AVAIL_F_NO_INTERRUPT honoured; MSI-X "interrupts" counted per vector; link status changes
// with a configuration interrupt.
//
// DMA. Bus addresses are host addresses, but the model touches only memory the driver
// granted: DMA allocations and buffers the test host maps (grant). Any other access, and any
// access while the device is not running (before DRIVER_OK, after a reset), is a violation:
// counted, remembered, and never performed. Tests check violations() == 0.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "drivers/virtio/virtio_spec.h"

namespace lamina::virtio_model {

struct Options {
    uint64_t features = lamina::virtio::spec::feature::VERSION_1 | lamina::virtio::spec::feature::NET_MAC |
                        lamina::virtio::spec::feature::NET_STATUS | lamina::virtio::spec::feature::NET_CSUM |
                        lamina::virtio::spec::feature::RING_EVENT_IDX;
    uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    uint16_t queue_max = 256;
    uint16_t num_queues = 3;  // rx, tx and a control queue the driver leaves alone
    // Region offsets in BAR 4 (QEMU puts common at 0; the defaults differ on purpose).
    uint32_t common_offset = 0x2000;
    uint32_t isr_offset = 0x0000;
    uint32_t device_offset = 0x3000;
    uint32_t notify_offset = 0x1000;
    uint32_t notify_multiplier = 4;
    uint64_t bar4_size = 0x4000;
    bool msix = true;       // accepts MSI-X vectors (else reads back NO_VECTOR)
    bool loopback = true;   // sent frames come back on the receive queue
    bool keep_sent = true;  // sent() records every frame (off: a sink, for benchmarks)
    bool process_on_notify = true;
    bool suppress_notify = false;    // sets USED_F_NO_NOTIFY: "I poll, don't ring"
    uint32_t reset_delay_reads = 1;  // status reads before a reset reads back 0
    size_t rx_backlog = 256;         // frames queued for want of receive buffers before drops
};

class VirtioNetModel {
public:
    explicit VirtioNetModel(Options options = {});

    // PCI configuration space and BARs.
    uint8_t config_read8(uint16_t offset) const;
    uint16_t config_read16(uint16_t offset) const;
    uint32_t config_read32(uint16_t offset) const;
    uint64_t bar_size(uint8_t bar) const { return bar == 4 ? options_.bar4_size : 0; }
    // Overwrites one byte of configuration space (tests of broken capability lists).
    void config_poke(uint16_t offset, uint8_t value) { config_[offset & 0xff] = value; }
    // Where the capability of `cfg_type` starts (0 if none), for config_poke.
    uint8_t capability_at(uint8_t cfg_type) const;
    uint32_t bar_read(uint8_t bar, uint32_t offset, uint8_t width);
    void bar_write(uint8_t bar, uint32_t offset, uint8_t width, uint32_t value);

    // DMA window.
    void grant(const void* mem, size_t size);
    void revoke(const void* mem);
    void revoke_all();
    size_t granted() const { return grants_.size(); }
    uint64_t violations() const { return violations_; }
    const std::string& last_violation() const { return last_violation_; }

    // The peer. inject() queues a frame for the receive queue (delivered when there is a
    // buffer); sent() is every frame the driver transmitted (in loopback mode too).
    void inject(const std::vector<uint8_t>& frame);
    std::deque<std::vector<uint8_t>>& sent() { return sent_; }
    void set_link(bool up);
    // Processes both queues (for Options::process_on_notify = false).
    void step();

    // Interrupts: per MSI-X vector; take_interrupt consumes one pending on `vector`.
    uint64_t interrupts(uint16_t vector) const;
    bool take_interrupt(uint16_t vector);

    bool running() const;
    uint8_t status() const { return status_; }
    uint64_t driver_features() const { return driver_features_; }
    struct Stats {
        uint64_t resets = 0;
        uint64_t notifies[3] = {};
        uint64_t notifies_while_suppressed = 0;
        uint64_t tx_frames = 0, rx_frames = 0;
        uint64_t rx_dropped = 0;
        uint64_t rx_ring_wraps = 0, tx_ring_wraps = 0;  // used index passing a multiple of the size
        uint64_t interrupts_suppressed = 0;
        uint64_t chained_tx = 0;  // frames sent from a 2+ descriptor chain
        uint64_t bad_chains = 0;  // malformed descriptor chains
    };
    const Stats& stats() const { return stats_; }

private:
    struct Queue {
        uint16_t size = 0;
        uint16_t msix = lamina::virtio::spec::NO_VECTOR;
        bool enabled = false;
        uint64_t desc = 0, driver = 0, device = 0;
        uint16_t last_avail = 0;
        uint16_t used_idx = 0;
    };
    uint8_t* dma(uint64_t bus, size_t len, const char* what);
    void reset();
    void write_status(uint8_t v);
    uint32_t common_read(uint32_t off, uint8_t width);
    void common_write(uint32_t off, uint8_t width, uint32_t v);
    void notify(uint16_t queue);
    void process_tx();
    void deliver_rx();
    // Walks the chain at `head` into (bus, len, writable) segments; false when malformed.
    struct Seg {
        uint64_t bus;
        uint32_t len;
        bool writable;
    };
    bool walk(Queue& q, uint16_t head, std::vector<Seg>& out);
    bool pop_avail(Queue& q, uint16_t& head);
    void push_used(Queue& q, uint16_t head, uint32_t len, uint64_t& wraps);
    void interrupt(uint16_t vector);

    Options options_;
    uint8_t config_[256] = {};
    uint8_t status_ = 0;
    uint8_t generation_ = 0;
    uint32_t reset_reads_left_ = 0;
    uint32_t device_feature_select_ = 0, driver_feature_select_ = 0;
    uint64_t driver_features_ = 0;
    uint16_t msix_config_ = lamina::virtio::spec::NO_VECTOR;
    uint16_t queue_select_ = 0;
    Queue queues_[3];
    uint16_t net_status_ = lamina::virtio::spec::NET_S_LINK_UP;
    std::map<uintptr_t, size_t> grants_;
    uint64_t violations_ = 0;
    std::string last_violation_;
    std::deque<std::vector<uint8_t>> backlog_;
    std::deque<std::vector<uint8_t>> sent_;
    std::map<uint16_t, uint64_t> interrupts_;
    std::map<uint16_t, uint64_t> pending_;
    Stats stats_;
};

}  // namespace lamina::virtio_model
