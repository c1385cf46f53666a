// lamina:portable
#include "drivers/ixgbe/ixgbe_nic.h"

#include <new>

namespace lamina::ixgbe {

namespace {
constexpr uint32_t MTU = 1500;
constexpr uint32_t RX_BUFFER_BYTES = 2048;
}  // namespace

Result<Own<IxgbeNic>> IxgbeNic::create(Platform& platform, Config config, FailureHook hook, void* context,
                                       Failure* why) {
    config.rx_buffer_bytes = RX_BUFFER_BYTES;
    auto dev = Device::create(platform, config, why);
    if (dev.is_error()) return dev.error();
    auto nic = TRY(adopt_own_or_nomem(new (std::nothrow) IxgbeNic(dev.release_value(), hook, context)));
    TRY(nic->stage_memory());
    return nic;
}

Result<void> IxgbeNic::stage_memory() {
    rx_stage_ = new (std::nothrow) RxBuffer[dev_->config().rx_entries];
    tx_stage_ = new (std::nothrow) TxFrame[dev_->config().tx_entries];
    if (!rx_stage_ || !tx_stage_) return Errno::NoMem;
    return {};
}

IxgbeNic::~IxgbeNic() {
    delete[] rx_stage_;
    delete[] tx_stage_;
}

void IxgbeNic::report_failure() {
    if (reported_ || !dev_->failed() || dev_->failure() == Failure::Quiesced) return;
    reported_ = true;
    if (hook_) hook_(context_, dev_->failure_message());
}

nic::CoreInfo IxgbeNic::info() const {
    nic::CoreInfo i{};
    for (int k = 0; k < 6; k++) i.mac[k] = dev_->mac().bytes[k];
    i.mtu = MTU;
    i.rx_ring = dev_->config().rx_entries - 1u;
    i.tx_ring = dev_->config().tx_entries - 1u;
    i.features = 0;
    i.rx_headroom = 0;
    i.tx_headroom = 0;
    i.name = "ixgbe";
    return i;
}

nic::CoreLink IxgbeNic::link() {
    auto l = dev_->link();
    if (l.is_error()) {
        report_failure();
        return {false, false, 0};
    }
    return {l.value().up, true, l.value().speed_mbps};  // 10 GbE is full duplex only
}

nic::CoreCounters IxgbeNic::counters() {
    auto c = dev_->counters();
    if (c.is_error()) {
        report_failure();
        return {};
    }
    nic::CoreCounters out;
    out.rx_dropped = c.value().rx_dropped;
    out.rx_errors = c.value().rx_errors;
    return out;
}

uint32_t IxgbeNic::rx_space() const { return dev_->config().rx_entries - 1 - dev_->rx_posted() - rx_staged_; }

uint32_t IxgbeNic::tx_space() const { return dev_->tx_free() - tx_staged_; }

Result<void> IxgbeNic::post_rx(const nic::RxPost& buffer) {
    if (dev_->failed()) return Errno::IO;
    if (buffer.capacity < MAX_RX_WRITE) return Errno::Inval;
    if (rx_space() == 0) return Errno::Busy;
    rx_stage_[rx_staged_++] = RxBuffer{buffer.bus, buffer.tag};
    return {};
}

Result<void> IxgbeNic::post_tx(const nic::TxPost& frame) {
    if (dev_->failed()) return Errno::IO;
    if (frame.len < 14 || frame.len > MTU + 14) return Errno::Inval;
    if (tx_space() == 0) return Errno::Busy;
    tx_stage_[tx_staged_++] = TxFrame{frame.bus + frame.offset, frame.len, frame.tag};
    return {};
}

void IxgbeNic::kick() {
    // The space was reserved when each entry was staged: every one is taken.
    if (rx_staged_) {
        auto r = dev_->post_rx(rx_stage_, rx_staged_);
        if (r.is_error()) report_failure();
        rx_staged_ = 0;
    }
    if (tx_staged_) {
        auto r = dev_->send(tx_stage_, tx_staged_);
        if (r.is_error()) report_failure();
        tx_staged_ = 0;
    }
}

uint32_t IxgbeNic::reap_rx(nic::RxDone* out, uint32_t max) {
    if (max > REAP_BATCH) max = REAP_BATCH;
    auto r = dev_->receive(frags_, max);
    if (r.is_error()) {
        if (r.error().code() != Errno::Range) report_failure();
        return 0;
    }
    for (uint32_t i = 0; i < r.value(); i++) {
        const RxFragment& f = frags_[i];
        // A frame over several buffers cannot happen with jumbo frames off; were it to, its
        // pieces come back as errors rather than as separate frames.
        bool whole = (f.flags & FRAG_FIRST) && (f.flags & FRAG_EOP) && !(f.flags & FRAG_ERROR);
        out[i] = nic::RxDone{uint32_t(f.cookie), 0, f.len, 0, uint16_t(whole ? 0 : 1)};
    }
    return r.value();
}

uint32_t IxgbeNic::reap_tx(nic::TxDone* out, uint32_t max) {
    if (max > REAP_BATCH) max = REAP_BATCH;
    auto r = dev_->reclaim(cookies_, max);
    if (r.is_error()) {
        if (r.error().code() != Errno::Range) report_failure();
        return 0;
    }
    for (uint32_t i = 0; i < r.value(); i++) out[i] = nic::TxDone{uint32_t(cookies_[i]), 0};
    return r.value();
}

uint32_t IxgbeNic::wait(uint64_t timeout_ns) {
    auto r = dev_->wait(dev_->now_ns() + timeout_ns);
    if (r.is_error()) {
        report_failure();
        return 0;
    }
    return r.value();
}

void IxgbeNic::quiesce() {
    dev_->quiesce();
    rx_staged_ = tx_staged_ = 0;
}

}  // namespace lamina::ixgbe
