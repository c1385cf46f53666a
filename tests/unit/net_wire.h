// A model Ethernet wire for the netstack's host tests: two NIC ends (interfaces/nic.idl) joined
// back to back, each behaving like a driver as nic.idl describes it. A transfer takes the
// caller's receive buffers onto the end's ring and its frames onto the wire (completing them at
// once as TxDone); frames that arrived from the other end fill ring buffers (or, when the
// caller posted too few, buffers the end allocates itself) and come back as RxFrame.
//
// Frames wait on the wire (up to a ring's worth; more are dropped and counted) until the other
// end's next transfer. The test can cut the wire, inspect what crossed it, and inject frames.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "interfaces/nic.h"

namespace lamina::net_test {

using idl::NetPacket;
using idl::PacketKind;

class WireEnd final : public idl::Nic {
public:
    static constexpr size_t RING = 256;
    static constexpr uint16_t RX_OFFSET = 32;  // where a received frame starts in the buffer

    explicit WireEnd(uint8_t last_mac_byte) { mac_[5] = last_mac_byte; }
    void connect(WireEnd& peer) { peer_ = &peer; }

    std::deque<std::vector<uint8_t>> arriving;  // frames on the wire towards this end
    std::vector<std::vector<uint8_t>> log;      // every frame this end sent, when logging
    bool logging = false;
    bool cut = false;  // frames sent now are lost
    uint64_t sent = 0, dropped = 0, transfers = 0;
    size_t ring_held() const { return ring_.size(); }

    Result<idl::NicInfo> info() override {
        idl::NicInfo i{};
        memcpy(i.mac, mac_, 6);
        i.mtu = 1500;
        i.max_frame = 1514;
        i.rx_ring = RING;
        i.tx_ring = RING;
        memcpy(i.driver, "wire", 4);
        return i;
    }
    Result<idl::NicLink> link() override { return idl::NicLink{true, true, 10000}; }
    Result<idl::NicCounters> counters() override { return idl::NicCounters{}; }
    Result<uint32_t> wait(uint64_t) override { return arriving.empty() ? 0u : 1u; }

    Result<RRefDeque<NetPacket, 64>> transfer(RRefDeque<NetPacket, 64> batch) override {
        transfers++;
        std::vector<RRef<NetPacket>> done;
        while (!batch.empty()) {
            RRef<NetPacket> p = batch.pop_front();
            if (p->kind == PacketKind::RxBuffer) {
                ring_.push_back(std::move(p));
            } else if (p->kind == PacketKind::TxFrame) {
                EXPECT_LE(size_t(p->offset) + p->len, sizeof(p->data));
                std::vector<uint8_t> frame(p->data + p->offset, p->data + p->offset + p->len);
                if (logging) log.push_back(frame);
                sent++;
                if (cut || peer_ == nullptr || peer_->arriving.size() >= RING)
                    dropped++;
                else
                    peer_->arriving.push_back(std::move(frame));
                p->kind = PacketKind::TxDone;
                p->status = 0;
                done.push_back(std::move(p));
            } else {
                ADD_FAILURE() << "transfer got a packet of kind " << int(p->kind);
                return Errno::Inval;
            }
        }
        for (auto& p : done) EXPECT_TRUE(batch.push_back(std::move(p)).is_ok());
        while (!batch.full() && !arriving.empty()) {
            RRef<NetPacket> p;
            if (!ring_.empty()) {
                p = std::move(ring_.front());
                ring_.pop_front();
            } else {
                auto fresh = RRef<NetPacket>::create();
                if (fresh.is_error()) break;
                p = fresh.release_value();
            }
            std::vector<uint8_t>& frame = arriving.front();
            p->kind = PacketKind::RxFrame;
            p->status = 0;
            p->flags = 0;
            p->offset = RX_OFFSET;
            p->len = uint16_t(frame.size());
            memcpy(p->data + RX_OFFSET, frame.data(), frame.size());
            arriving.pop_front();
            EXPECT_TRUE(batch.push_back(std::move(p)).is_ok());
        }
        return batch;
    }

    // Drops the receive buffers the end holds (a driver restart would).
    void drop_ring() { ring_.clear(); }

private:
    uint8_t mac_[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x00};
    WireEnd* peer_ = nullptr;
    std::deque<RRef<NetPacket>> ring_;
};

}  // namespace lamina::net_test
