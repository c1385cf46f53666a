// The lwIP interface over an imported NIC (see nic_netif.h).
#include "domains/net/nic_netif.h"

#include <string.h>

extern "C" {
#include "lwip/etharp.h"
#include "netif/ethernet.h"
}

namespace lamina::net {

using idl::NetPacket;
using idl::PacketKind;

Result<void> NicInterface::attach(idl::Nic& nic, uint8_t number) {
    nic_ = &nic;
    info_ = TRY(nic.info());
    if (info_.mtu < 576 || info_.max_frame < info_.mtu + 14 || info_.max_frame + TX_HEADROOM > sizeof(NetPacket::data))
        return Errno::Inval;
    for (uint32_t i = 0; i < HELD_MAX; i++) {
        slots_[i].owner = this;
        slots_[i].custom.custom_free_function = free_rx;
        slots_[i].next_free = free_slots_;
        free_slots_ = &slots_[i];
    }
    batch_ = TRY((RRefDeque<NetPacket, BATCH>::create()));
    if (netif_add(&netif_, nullptr, nullptr, nullptr, this, init_netif, ethernet_input) == nullptr) return Errno::NoMem;
    netif_.num = number;
    update_link();
    return {};
}

err_t NicInterface::init_netif(struct netif* netif) {
    auto* self = static_cast<NicInterface*>(netif->state);
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif_set_hostname(netif, "lamina");
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, self->info_.mac, ETH_HWADDR_LEN);
    netif->mtu = static_cast<u16_t>(self->info_.mtu);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    netif->output = etharp_output;
    netif->linkoutput = linkoutput;
    return ERR_OK;
}

void NicInterface::update_link() {
    auto link = nic_->link();
    bool up = link.is_ok() && link.value().up;
    if (up && !netif_is_link_up(&netif_))
        netif_set_link_up(&netif_);
    else if (!up && netif_is_link_up(&netif_))
        netif_set_link_down(&netif_);
}

void NicInterface::recycle(RRef<NetPacket>&& packet) {
    if (spare_count_ < SPARE_MAX)
        spare_[spare_count_++] = static_cast<RRef<NetPacket>&&>(packet);
    else
        packet.reset();
}

Result<RRef<NetPacket>> NicInterface::take_buffer() {
    if (spare_count_ > 0) return static_cast<RRef<NetPacket>&&>(spare_[--spare_count_]);
    return RRef<NetPacket>::create();
}

err_t NicInterface::linkoutput(struct netif* netif, struct pbuf* p) {
    auto* self = static_cast<NicInterface*>(netif->state);
    if (p->tot_len > self->info_.max_frame) {
        self->counters_.tx_dropped++;
        return ERR_BUF;
    }
    if (self->tx_count_ == BATCH) {
        // The queue is a full batch already: hand it over now (received frames it brings back
        // wait in rx_ for the loop).
        (void)self->exchange();
        if (self->tx_count_ == BATCH) {
            self->counters_.tx_dropped++;
            return ERR_MEM;
        }
    }
    auto buffer = self->take_buffer();
    if (buffer.is_error()) {
        self->counters_.tx_dropped++;
        return ERR_MEM;
    }
    RRef<NetPacket> packet = buffer.release_value();
    packet->kind = PacketKind::TxFrame;
    packet->status = 0;
    packet->flags = 0;
    packet->offset = TX_HEADROOM;
    packet->len = p->tot_len;
    pbuf_copy_partial(p, packet->data + TX_HEADROOM, p->tot_len, 0);
    self->tx_[self->tx_count_++] = static_cast<RRef<NetPacket>&&>(packet);
    self->counters_.tx_frames++;
    self->counters_.tx_bytes += p->tot_len;
    return ERR_OK;
}

Result<bool> NicInterface::exchange() {
    if (!batch_) batch_ = TRY((RRefDeque<NetPacket, BATCH>::create()));
    uint32_t sent = 0;
    while (sent < tx_count_ && !batch_.full()) (void)batch_.push_back(static_cast<RRef<NetPacket>&&>(tx_[sent++]));
    for (uint32_t i = sent; i < tx_count_; i++) tx_[i - sent] = static_cast<RRef<NetPacket>&&>(tx_[i]);
    tx_count_ -= sent;
    // Receive buffers up to what the driver's ring holds: a sender's finished frames would
    // otherwise all end up posted, and a driver has nowhere to put more than a ring.
    while (spare_count_ > TX_RESERVE && posted_ < info_.rx_ring && !batch_.full()) {
        RRef<NetPacket> buffer = static_cast<RRef<NetPacket>&&>(spare_[--spare_count_]);
        buffer->kind = PacketKind::RxBuffer;
        (void)batch_.push_back(static_cast<RRef<NetPacket>&&>(buffer));
        posted_++;
    }
    // On an error the batch is gone with what was in it (a dead driver's frames are lost like
    // frames on a wire); the next exchange starts a new one.
    batch_ = TRY(nic_->transfer(static_cast<RRefDeque<NetPacket, BATCH>&&>(batch_)));
    bool full = batch_.full();
    while (!batch_.empty()) {
        RRef<NetPacket> packet = batch_.pop_front();
        if (!packet) continue;
        // A frame may come in a buffer the driver allocated itself (after a restart, when we
        // had posted too few): the count only estimates how many of ours it holds.
        if (packet->kind == PacketKind::RxFrame && posted_ > 0) posted_--;
        if (packet->kind == PacketKind::RxFrame && rx_count_ < 2 * BATCH) {
            rx_[rx_count_++] = static_cast<RRef<NetPacket>&&>(packet);
            continue;
        }
        if (packet->kind == PacketKind::RxFrame)
            counters_.rx_dropped++;
        else if (packet->kind == PacketKind::TxDone && packet->status != 0)
            counters_.tx_dropped++;
        recycle(static_cast<RRef<NetPacket>&&>(packet));
    }
    return full;
}

void NicInterface::input() {
    for (uint32_t i = 0; i < rx_count_; i++) input_one(static_cast<RRef<NetPacket>&&>(rx_[i]));
    rx_count_ = 0;
}

void NicInterface::input_one(RRef<NetPacket>&& packet) {
    uint32_t offset = packet->offset, len = packet->len;
    if (len < SIZEOF_ETH_HDR || offset + len > sizeof(NetPacket::data) || len > info_.max_frame) {
        counters_.rx_dropped++;
        recycle(static_cast<RRef<NetPacket>&&>(packet));
        return;
    }
    counters_.rx_frames++;
    counters_.rx_bytes += len;
    struct pbuf* p;
    if (free_slots_ != nullptr) {
        RxSlot* slot = free_slots_;
        free_slots_ = slot->next_free;
        held_++;
        uint8_t* frame = packet->data + offset;
        slot->packet = static_cast<RRef<NetPacket>&&>(packet);
        p = pbuf_alloced_custom(PBUF_RAW, static_cast<u16_t>(len), PBUF_REF, &slot->custom, frame,
                                static_cast<u16_t>(len));
    } else {
        // Pressure: lwIP holds HELD_MAX of the driver's buffers already.
        p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(len), PBUF_POOL);
        if (p != nullptr) {
            pbuf_take(p, packet->data + offset, static_cast<u16_t>(len));
            counters_.rx_copied++;
        }
        recycle(static_cast<RRef<NetPacket>&&>(packet));
        if (p == nullptr) {
            counters_.rx_dropped++;
            return;
        }
    }
    if (netif_.input(p, &netif_) != ERR_OK) pbuf_free(p);
}

void NicInterface::free_rx(struct pbuf* p) {
    auto* slot = reinterpret_cast<RxSlot*>(p);
    NicInterface* self = slot->owner;
    self->recycle(static_cast<RRef<NetPacket>&&>(slot->packet));
    slot->next_free = self->free_slots_;
    self->free_slots_ = slot;
    self->held_--;
}

}  // namespace lamina::net
