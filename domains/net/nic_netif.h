// An lwIP network interface over an imported NIC (interfaces/nic.idl): Ethernet with ARP.
//
// Receive is zero copy: a received NetPacket becomes a custom pbuf over its own data, and when
// lwIP frees that pbuf (after the kernel has read the data, for TCP) the buffer goes back to
// the pool this interface posts to the driver. The stack may hold at most HELD_MAX of them; past
// that, under pressure (unread receive windows, out-of-order queues), frames are copied into
// lwIP's pbuf pool and their buffers go straight back to the driver, so the driver's ring never
// starves because lwIP hoards its buffers.
//
// Transmit copies: lwIP's pbuf chains (headers in one pbuf, data in others) are gathered into
// one NetPacket per frame, queued, and handed to the driver in batches.
//
// Calls to the driver happen only from exchange(), which the stack's loop calls (and linkoutput
// when the transmit queue is full); received frames wait in a queue until input() hands them to
// lwIP, so lwIP is never entered again from inside its own output path.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>
#include <lamina/rref.h>

#include "interfaces/nic.h"

extern "C" {
#include "lwip/netif.h"
#include "lwip/pbuf.h"
}

namespace lamina::net {

struct NicCounters {
    uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
    uint64_t rx_dropped;  // malformed, or no buffer for the copy fallback
    uint64_t tx_dropped;  // no packet buffer, too long, or the driver refused it
    uint64_t rx_copied;   // frames that took the copy fallback
};

class NicInterface {
public:
    static constexpr uint32_t BATCH = 64;        // NetPacket entries per transfer (nic.idl)
    static constexpr uint32_t HELD_MAX = 384;    // zero-copy frames lwIP may hold at once
    static constexpr uint32_t SPARE_MAX = 256;   // idle buffers kept for posting and sending
    static constexpr uint32_t TX_RESERVE = 16;   // spares never posted: the next frames to send
    static constexpr uint16_t TX_HEADROOM = 64;  // room before a frame for a driver's header

    NicInterface() = default;
    NicInterface(const NicInterface&) = delete;

    // Reads the NIC's identity and adds the lwIP interface ("en" + number), down and
    // unconfigured.
    Result<void> attach(idl::Nic& nic, uint8_t number);
    struct netif& lwip() {
        return netif_;
    }
    const idl::NicInfo& info() const { return info_; }
    const NicCounters& counters() const { return counters_; }
    uint32_t held() const { return held_; }

    // One transfer: queued frames and spare buffers out, received frames and finished sends
    // back. Returns whether the driver's answer was full (more may be ready).
    Result<bool> exchange();
    // Hands the received frames to lwIP.
    void input();
    bool has_output() const { return tx_count_ > 0; }
    bool has_input() const { return rx_count_ > 0; }
    // Polls the driver's link state into lwIP's.
    void update_link();

private:
    struct RxSlot {
        pbuf_custom custom;  // first: lwIP hands back a pointer to it
        NicInterface* owner;
        RRef<idl::NetPacket> packet;
        RxSlot* next_free;
    };

    static err_t init_netif(struct netif* netif);
    static err_t linkoutput(struct netif* netif, struct pbuf* p);
    static void free_rx(struct pbuf* p);
    void recycle(RRef<idl::NetPacket>&& packet);
    Result<RRef<idl::NetPacket>> take_buffer();
    void input_one(RRef<idl::NetPacket>&& packet);

    idl::Nic* nic_ = nullptr;
    idl::NicInfo info_{};
    struct netif netif_ {};
    NicCounters counters_{};
    RRefDeque<idl::NetPacket, BATCH> batch_;

    RxSlot slots_[HELD_MAX];
    RxSlot* free_slots_ = nullptr;
    uint32_t held_ = 0;
    RRef<idl::NetPacket> spare_[SPARE_MAX];
    uint32_t spare_count_ = 0;
    uint32_t posted_ = 0;             // receive buffers the driver holds of ours
    RRef<idl::NetPacket> tx_[BATCH];  // frames to send, in order
    uint32_t tx_count_ = 0;
    RRef<idl::NetPacket> rx_[2 * BATCH];  // received, not yet given to lwIP
    uint32_t rx_count_ = 0;
};

}  // namespace lamina::net
