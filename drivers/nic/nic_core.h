// lamina:portable
// NicCore: what a ring-based NIC driver (virtio-net, ixgbe) implements so that one adaptor
// (drivers/nic/nic_adaptor.h) can serve idl::Nic over it. The core knows descriptors, doorbells
// and the device; it knows nothing of the exchange heap, RRefs or NetPacket bookkeeping. The
// adaptor hands it buffers as (host pointer, bus address, tag) and gets the tags back when the
// device is done, so a core never owns or frees a buffer.
//
// Calls come from one thread at a time (the adaptor's caller serialises them), except wait(),
// which may block while nothing else runs on the core.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::nic {

// errno values a TxDone status carries (Linux numbering; not in lamina::Errno).
inline constexpr uint8_t ABI_ENOBUFS = 105;
inline constexpr uint8_t ABI_EMSGSIZE = 90;
inline constexpr uint8_t ABI_EIO = 5;

// NetPacket.flags and NicInfo.features bits, as interfaces/nic.idl defines them.
inline constexpr uint16_t PACKET_TX_CSUM = 1;
inline constexpr uint16_t PACKET_RX_CSUM_OK = 2;
inline constexpr uint32_t FEATURE_TX_CSUM = 1;
inline constexpr uint32_t FEATURE_RX_CSUM = 2;

// wait() event bits.
inline constexpr uint32_t EVENT_RX = 1;
inline constexpr uint32_t EVENT_TX = 2;
inline constexpr uint32_t EVENT_LINK = 4;

// An empty buffer for the receive ring: the device may write `capacity` bytes at `bus`
// (`data` is the same memory as the driver sees it).
struct RxPost {
    uint8_t* data;
    uint64_t bus;
    uint32_t capacity;
    uint32_t tag;
};

// A frame to send: data[offset, offset + len), the bytes before `offset` being headroom the
// core may use for a device header (virtio_net_hdr) so that the frame goes out as one
// descriptor.
struct TxPost {
    uint8_t* data;
    uint64_t bus;
    uint16_t offset;
    uint16_t len;
    uint16_t flags;  // PACKET_TX_CSUM
    uint16_t csum_start;
    uint16_t csum_offset;
    uint32_t tag;
};

// A receive buffer back from the device: the frame is at data[offset, offset + len) of the
// buffer posted with `tag`. error != 0: the device reported a bad frame (counted, dropped).
struct RxDone {
    uint32_t tag;
    uint16_t offset;
    uint16_t len;
    uint16_t flags;  // PACKET_RX_CSUM_OK
    uint16_t error;
};

struct TxDone {
    uint32_t tag;
    uint8_t status;  // 0 sent, else an errno
};

struct CoreInfo {
    uint8_t mac[6];
    uint32_t mtu;
    uint32_t rx_ring;      // receive buffers the core holds at most
    uint32_t tx_ring;      // frames in flight at most
    uint32_t features;     // FEATURE_*
    uint32_t rx_headroom;  // bytes of a receive buffer before the frame (device header)
    uint32_t tx_headroom;  // headroom a TxPost needs for one-descriptor sends (else the core
                           // may still send it, at a cost it decides)
    const char* name;      // "virtio_net", "ixgbe"
};

struct CoreLink {
    bool up;
    bool full_duplex;
    uint32_t speed_mbps;
};

// What only the device counts (drops for lack of descriptors, CRC errors); the adaptor adds
// its own frame and byte counts.
struct CoreCounters {
    uint64_t rx_dropped = 0;
    uint64_t rx_errors = 0;
    uint64_t tx_errors = 0;
};

class NicCore {
public:
    virtual CoreInfo info() const = 0;
    virtual CoreLink link() = 0;
    virtual CoreCounters counters() = 0;

    // Free receive slots and free transmit slots right now.
    virtual uint32_t rx_space() const = 0;
    virtual uint32_t tx_space() const = 0;
    // Queue one buffer; Busy when the ring is full (nothing queued). The device sees them no
    // later than the next kick().
    virtual Result<void> post_rx(const RxPost& buffer) = 0;
    virtual Result<void> post_tx(const TxPost& frame) = 0;
    // Tells the device about everything posted since the last kick (one doorbell per ring at
    // most, and none where the device asked not to be notified).
    virtual void kick() = 0;
    // Buffers the device is done with, without waiting: at most `max`, oldest first.
    virtual uint32_t reap_rx(RxDone* out, uint32_t max) = 0;
    virtual uint32_t reap_tx(TxDone* out, uint32_t max) = 0;

    // Blocks until an event is pending (EVENT_* bits, without consuming completions: the next
    // reap does) or `timeout_ns` passes (0). Returns at once when completions are waiting.
    virtual uint32_t wait(uint64_t timeout_ns) = 0;

    // Stops every DMA (device reset or bus-master disable) and forgets every posted buffer:
    // after it returns the caller may free them. The core is unusable afterwards.
    virtual void quiesce() = 0;

protected:
    ~NicCore() = default;  // never owned through this interface
};

}  // namespace lamina::nic
