// lamina:portable
#include "drivers/nic/nic_adaptor.h"

#include <new>

namespace lamina::nic {

namespace {

constexpr uint32_t ETH_HEADER = 14;
constexpr uint64_t DATA_OFFSET = offsetof(idl::NetPacket, data);

void free_packet(idl::NetPacket* p) { RRef<idl::NetPacket>::adopt(p).reset(); }

}  // namespace

Result<void> NicAdaptor::alloc_slots(Slots& s, uint32_t n, uint32_t& free_count) {
    s.packet = new (std::nothrow) idl::NetPacket*[n]();
    s.free = new (std::nothrow) uint32_t[n];
    if (!s.packet || !s.free) return Errno::NoMem;
    // Tags pop from the top, lowest first.
    for (uint32_t i = 0; i < n; i++) s.free[i] = n - 1 - i;
    free_count = n;
    return {};
}

void NicAdaptor::free_slots(Slots& s, uint32_t n) {
    if (s.packet)
        for (uint32_t i = 0; i < n; i++)
            if (s.packet[i]) free_packet(s.packet[i]);
    delete[] s.packet;
    delete[] s.free;
    s = {};
}

NicAdaptor::~NicAdaptor() {
    // The device must stop before a single buffer it may still write is freed.
    if (started_) core_.quiesce();
    free_slots(rx_, rx_ring_);
    free_slots(tx_, tx_ring_);
    for (uint32_t i = 0; i < spare_count_; i++) free_packet(spare_[i]);
    spare_count_ = 0;
}

Result<void> NicAdaptor::start() {
    if (started_) return Errno::Busy;
    info_ = core_.info();
    if (info_.rx_ring == 0 || info_.tx_ring == 0 || info_.rx_ring > MAX_RING || info_.tx_ring > MAX_RING ||
        info_.rx_headroom >= DATA_SIZE)
        return Errno::Inval;
    rx_ring_ = info_.rx_ring;
    tx_ring_ = info_.tx_ring;
    TRY(alloc_slots(rx_, rx_ring_, rx_free_count_));
    TRY(alloc_slots(tx_, tx_ring_, tx_free_count_));
    started_ = true;
    refill();
    core_.kick();
    return {};
}

Result<idl::NicInfo> NicAdaptor::info() {
    idl::NicInfo i{};
    for (int k = 0; k < 6; k++) i.mac[k] = info_.mac[k];
    i.mtu = info_.mtu;
    i.max_frame = info_.mtu + ETH_HEADER;
    i.rx_ring = info_.rx_ring;
    i.tx_ring = info_.tx_ring;
    i.features = info_.features;
    for (uint32_t k = 0; info_.name && info_.name[k] && k < sizeof(i.driver); k++) i.driver[k] = uint8_t(info_.name[k]);
    return i;
}

Result<idl::NicLink> NicAdaptor::link() {
    CoreLink l = core_.link();
    return idl::NicLink{l.up, l.full_duplex, l.up ? l.speed_mbps : 0};
}

Result<idl::NicCounters> NicAdaptor::counters() {
    CoreCounters d = core_.counters();
    idl::NicCounters c = counts_;
    c.rx_dropped += d.rx_dropped;
    c.rx_errors += d.rx_errors;
    c.tx_errors += d.tx_errors;
    return c;
}

Result<uint32_t> NicAdaptor::wait(uint64_t timeout_ns) { return core_.wait(timeout_ns); }

Result<void> NicAdaptor::post_rx(idl::NetPacket* p) {
    if (rx_free_count_ == 0) return Errno::Busy;
    uint64_t bus = TRY(host_.bus_address(p, DATA_OFFSET, DATA_SIZE));
    uint32_t tag = rx_.free[rx_free_count_ - 1];
    p->kind = idl::PacketKind::RxBuffer;
    TRY(core_.post_rx(RxPost{p->data, bus, DATA_SIZE, tag}));
    rx_free_count_--;
    rx_.packet[tag] = p;
    return {};
}

void NicAdaptor::give_back(idl::NetPacket* p) {
    if (spare_count_ < SPARE)
        spare_[spare_count_++] = p;
    else
        free_packet(p);
}

void NicAdaptor::refill() {
    while (rx_free_count_ > 0 && core_.rx_space() > 0) {
        idl::NetPacket* p;
        if (spare_count_ > 0) {
            p = spare_[--spare_count_];
        } else {
            auto fresh = RRef<idl::NetPacket>::create();
            if (fresh.is_error()) return;  // the ring stays short; the next transfer tries again
            p = fresh.value().leak();
        }
        if (post_rx(p).is_error()) {
            give_back(p);
            return;
        }
    }
}

void NicAdaptor::queue_tx(RRef<idl::NetPacket> p, Batch& out) {
    auto done = [&](uint8_t status) {
        p->kind = idl::PacketKind::TxDone;
        p->status = status;
        counts_.tx_dropped++;
        (void)out.push_back(std::move(p));  // room: every entry popped before any is pushed
    };
    if (p->len > info_.mtu + ETH_HEADER) return done(ABI_EMSGSIZE);
    if (tx_free_count_ == 0 || core_.tx_space() == 0) return done(ABI_ENOBUFS);
    auto bus = host_.bus_address(p.get(), DATA_OFFSET, DATA_SIZE);
    if (bus.is_error()) return done(ABI_EIO);
    uint32_t tag = tx_.free[tx_free_count_ - 1];
    TxPost t{p->data, bus.value(), p->offset, p->len, p->flags, p->csum_start, p->csum_offset, tag};
    if (core_.post_tx(t).is_error()) return done(ABI_ENOBUFS);
    tx_free_count_--;
    tx_.packet[tag] = p.leak();
}

void NicAdaptor::reap(Batch& out) {
    TxDone txd[BATCH];
    uint32_t n = core_.reap_tx(txd, BATCH - out.size());
    for (uint32_t i = 0; i < n; i++) {
        idl::NetPacket* p = tx_.packet[txd[i].tag];
        tx_.packet[txd[i].tag] = nullptr;
        tx_.free[tx_free_count_++] = txd[i].tag;
        p->kind = idl::PacketKind::TxDone;
        p->status = txd[i].status;
        if (txd[i].status == 0) {
            counts_.tx_frames++;
            counts_.tx_bytes += p->len;
        } else {
            counts_.tx_errors++;
        }
        (void)out.push_back(RRef<idl::NetPacket>::adopt(p));
    }
    RxDone rxd[BATCH];
    n = core_.reap_rx(rxd, BATCH - out.size());
    for (uint32_t i = 0; i < n; i++) {
        idl::NetPacket* p = rx_.packet[rxd[i].tag];
        rx_.packet[rxd[i].tag] = nullptr;
        rx_.free[rx_free_count_++] = rxd[i].tag;
        if (rxd[i].error != 0 || uint32_t(rxd[i].offset) + rxd[i].len > DATA_SIZE) {
            counts_.rx_errors++;
            give_back(p);  // straight back onto the ring by refill()
            continue;
        }
        p->kind = idl::PacketKind::RxFrame;
        p->status = 0;
        p->offset = rxd[i].offset;
        p->len = rxd[i].len;
        p->flags = rxd[i].flags;
        counts_.rx_frames++;
        counts_.rx_bytes += rxd[i].len;
        (void)out.push_back(RRef<idl::NetPacket>::adopt(p));
    }
}

Result<NicAdaptor::Batch> NicAdaptor::transfer(Batch batch) {
    if (!batch || !started_) return Errno::Inval;
    uint32_t n = batch.size();
    auto& storage = *batch.handle();
    for (uint32_t i = 0; i < n; i++) {
        const idl::NetPacket* p = storage.slots[(storage.head + i) % BATCH].get();
        if (!p) return Errno::Inval;
        if (p->kind == idl::PacketKind::RxBuffer) continue;
        if (p->kind != idl::PacketKind::TxFrame || p->len == 0 || uint32_t(p->offset) + p->len > DATA_SIZE)
            return Errno::Inval;
    }
    for (uint32_t i = 0; i < n; i++) {
        RRef<idl::NetPacket> p = batch.pop_front();
        if (p->kind == idl::PacketKind::TxFrame) {
            queue_tx(std::move(p), batch);
            continue;
        }
        idl::NetPacket* raw = p.leak();
        if (post_rx(raw).is_error()) give_back(raw);
    }
    reap(batch);
    refill();
    core_.kick();
    return batch;
}

}  // namespace lamina::nic
