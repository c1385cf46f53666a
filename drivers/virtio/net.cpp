// lamina:portable
#include "drivers/virtio/net.h"

namespace lamina::virtio {

namespace {
constexpr uint32_t MTU = 1500;
constexpr uint32_t MAX_FRAME = MTU + 14;
constexpr uint64_t REQUIRED = spec::feature::VERSION_1 | spec::feature::NET_MAC;
constexpr uint64_t WANTED = spec::feature::NET_STATUS;
}  // namespace

VirtioNet::~VirtioNet() {
    quiesce();
    rx_.release();
    tx_.release();
    if (tx_headers_.virt) platform_.free_dma(tx_headers_);
}

Result<void> VirtioNet::setup_queue(Virtqueue& q, uint16_t index, uint16_t wanted, bool& vector_ok) {
    uint16_t max = transport_.queue_max_size(index);
    if (max == 0) return Errno::NoDev;
    uint16_t size = wanted < max ? wanted : max;
    if (size > Virtqueue::MAX_SIZE) size = Virtqueue::MAX_SIZE;
    while (size & (size - 1)) size &= uint16_t(size - 1);  // split queues are powers of two (2.6)
    TRY(q.init(platform_, size));
    bool ok = true;
    TRY(transport_.enable_queue(index, size, q.desc_bus(), q.avail_bus(), q.used_bus(),
                                interrupts_ ? VECTOR : spec::NO_VECTOR, ok));
    vector_ok = vector_ok && ok;
    return {};
}

Result<void> VirtioNet::init(const NetOptions& options) {
    if (running_) return Errno::Busy;
    TRY(transport_.probe());
    features_ = TRY(transport_.negotiate(WANTED, REQUIRED));
    auto fail = [&](Error e) -> Result<void> {
        transport_.fail();
        return e;
    };
    if (transport_.read_device_bytes(spec::net_cfg::MAC, mac_, sizeof(mac_)).is_error()) return fail(Errno::IO);
    if (transport_.num_queues() < 2) return fail(Errno::NoDev);
    interrupts_ = options.use_interrupts && platform_.setup_interrupts(1) >= 1;
    bool vectors_ok = !interrupts_ || transport_.set_config_vector(VECTOR);
    if (auto r = setup_queue(rx_, spec::NET_RX_QUEUE, options.queue_size, vectors_ok); r.is_error())
        return fail(r.error());
    if (auto r = setup_queue(tx_, spec::NET_TX_QUEUE, options.queue_size, vectors_ok); r.is_error())
        return fail(r.error());
    if (!vectors_ok) interrupts_ = false;  // the device could not use the vector: poll
    auto headers = platform_.alloc_dma(size_t(tx_.size()) * HEADER);
    if (headers.is_error()) return fail(headers.error());
    tx_headers_ = headers.value();
    transport_.set_status(spec::status::DRIVER_OK);
    running_ = true;
    reported_link_ = link_up();
    return {};
}

nic::CoreInfo VirtioNet::info() const {
    nic::CoreInfo i{};
    __builtin_memcpy(i.mac, mac_, sizeof(mac_));
    i.mtu = MTU;
    i.rx_ring = rx_.size();
    i.tx_ring = tx_.size();
    i.features = 0;
    i.rx_headroom = HEADER;
    i.tx_headroom = HEADER;
    i.name = "virtio_net";
    return i;
}

bool VirtioNet::link_up() {
    // 5.1.4: without VIRTIO_NET_F_STATUS the link is assumed active.
    if (!(features_ & spec::feature::NET_STATUS)) return true;
    auto s = transport_.read_device16(spec::net_cfg::STATUS);
    return s.is_ok() && (s.value() & spec::NET_S_LINK_UP);
}

nic::CoreLink VirtioNet::link() {
    reported_link_ = running_ && link_up();
    // Virtio reports no speed without VIRTIO_NET_F_SPEED_DUPLEX; QEMU's backend is "as fast as
    // the host", so say nothing rather than make a figure up.
    return nic::CoreLink{reported_link_, true, 0};
}

nic::CoreCounters VirtioNet::counters() {
    nic::CoreCounters c;
    c.rx_errors = stats_.bad_used;
    return c;
}

Result<void> VirtioNet::post_rx(const nic::RxPost& b) {
    if (!running_) return Errno::NetDown;
    if (b.capacity < HEADER + MAX_FRAME) return Errno::Inval;
    Segment s{b.bus, b.capacity, true};
    return rx_.add(&s, 1, b.tag);
}

Result<void> VirtioNet::post_tx(const nic::TxPost& f) {
    if (!running_) return Errno::NetDown;
    if (f.tag >= tx_.size()) return Errno::Inval;
    spec::NetHdr hdr{};  // no checksum offload negotiated: flags 0, GSO_NONE
    Segment segs[2];
    uint16_t n;
    if (f.offset >= HEADER) {
        __builtin_memcpy(f.data + f.offset - HEADER, &hdr, HEADER);
        segs[0] = Segment{f.bus + f.offset - HEADER, uint32_t(f.len) + HEADER, false};
        n = 1;
    } else {
        auto* slot = static_cast<uint8_t*>(tx_headers_.virt) + size_t(f.tag) * HEADER;
        __builtin_memcpy(slot, &hdr, HEADER);
        segs[0] = Segment{tx_headers_.bus + uint64_t(f.tag) * HEADER, HEADER, false};
        segs[1] = Segment{f.bus + f.offset, f.len, false};
        n = 2;
    }
    return tx_.add(segs, n, f.tag);
}

void VirtioNet::kick_one(Virtqueue& q, uint16_t index) {
    if (!q.publish()) return;
    if (q.notify_needed()) {
        transport_.notify(index);
        stats_.notifies++;
    } else {
        stats_.notifies_skipped++;
    }
}

void VirtioNet::kick() {
    if (!running_) return;
    kick_one(tx_, spec::NET_TX_QUEUE);
    kick_one(rx_, spec::NET_RX_QUEUE);
}

uint32_t VirtioNet::reap_rx(nic::RxDone* out, uint32_t max) {
    uint32_t n = 0, token, len;
    while (running_ && n < max && rx_.pop_used(token, len)) {
        if (token == UINT32_MAX) {
            stats_.bad_used++;
            continue;
        }
        nic::RxDone& d = out[n++];
        d = nic::RxDone{token, uint16_t(HEADER), 0, 0, 0};
        if (len < HEADER + 14 || len > HEADER + MAX_FRAME) {
            d.error = 1;
            continue;
        }
        d.len = uint16_t(len - HEADER);
    }
    return n;
}

uint32_t VirtioNet::reap_tx(nic::TxDone* out, uint32_t max) {
    uint32_t n = 0, token, len;
    while (running_ && n < max && tx_.pop_used(token, len)) {
        if (token == UINT32_MAX) {
            stats_.bad_used++;
            continue;
        }
        out[n++] = nic::TxDone{token, 0};
    }
    return n;
}

uint32_t VirtioNet::wait(uint64_t timeout_ns) {
    if (!running_) return 0;
    uint64_t now = platform_.now_ns();
    uint64_t deadline = timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
    for (;;) {
        uint32_t events = (rx_.has_used() ? nic::EVENT_RX : 0) | (tx_.has_used() ? nic::EVENT_TX : 0);
        if (link_up() != reported_link_) events |= nic::EVENT_LINK;
        if (events || platform_.now_ns() >= deadline) return events;
        if (interrupts_) {
            // Armed only while sleeping, so a busy transfer loop takes no interrupts at all.
            bool armed = rx_.arm_interrupt() && tx_.arm_interrupt();
            if (armed) {
                stats_.interrupt_waits++;
                platform_.wait_interrupt(VECTOR, deadline);
            }
            rx_.suppress_interrupt();
            tx_.suppress_interrupt();
        } else {
            uint64_t left_us = (deadline - platform_.now_ns()) / 1000;
            uint32_t step = platform_.poll_interval_us();
            platform_.delay_us(left_us < step ? uint32_t(left_us) + 1 : step);
        }
    }
}

void VirtioNet::quiesce() {
    if (!running_) return;
    running_ = false;
    // A reset that times out leaves a device we cannot trust to have stopped: mark it FAILED
    // too; the kernel still turns bus mastering off before reclaiming the buffers.
    if (transport_.reset().is_error()) transport_.fail();
}

}  // namespace lamina::virtio
