// lamina:portable
// Device: the Intel 82599 driver core. Brings the controller up in the datasheet's order
// (4.6.3), runs one receive and one transmit queue with advanced descriptors, reports link
// state and statistics, and detects a device that stopped working; the host it runs on is
// hidden behind Platform.
//
// Buffers. The core never owns packet memory: the caller posts receive buffers (a DMA address
// and a cookie) and hands in frames to send (address, length, cookie); the cookies come back
// with received fragments and completed sends. A received frame longer than one buffer
// (Config::rx_buffer_bytes) spans several descriptors: receive() hands frames out whole, as
// consecutive fragments, the first flagged FRAG_FIRST and the last FRAG_EOP.
//
// Failures. A bring-up wait that times out, registers that read as all ones (the device is
// gone), or a transmit queue that makes no progress for Config::tx_stall_timeout_ns make the
// device *failed*: every call then returns IO (TimedOut for the stall) and failure_message()
// says which. Recovery is a fresh Device (create() starts with a master disable and a reset,
// so whatever an earlier instance left in the rings is dropped, never DMAed).
//
// Locking: none inside; the caller serialises every call.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/own.h>
#include <lamina/result.h>

#include "drivers/ixgbe/ixgbe_spec.h"
#include "drivers/ixgbe/platform.h"

namespace lamina::ixgbe {

// MSI-X vectors the core programs: the queue pair's causes, and the "other" causes (link).
constexpr uint16_t VECTOR_QUEUE = 0;
constexpr uint16_t VECTOR_OTHER = 1;
constexpr uint16_t VECTORS = 2;

struct Config {
    uint16_t rx_entries = 512;  // descriptors, a power of two from 8 to 8192
    uint16_t tx_entries = 512;
    uint32_t rx_buffer_bytes = 1024;  // per receive buffer: a multiple of 1 KiB, <= 15 KiB
    uint32_t itr_interval_ns = 8192;  // interrupt throttling per vector; 0 = none
    bool loopback = false;            // MAC loopback (HLREG0.LPBK), link forced up
    uint64_t reset_timeout_ns = 50'000'000;
    uint64_t eeprom_timeout_ns = 50'000'000;
    uint64_t dma_init_timeout_ns = 50'000'000;
    uint64_t queue_enable_timeout_ns = 10'000'000;
    uint64_t master_disable_timeout_ns = 10'000'000;
    uint64_t link_wait_ns = 0;  // bring-up waits this long for link-up (not fatal)
    uint64_t tx_stall_timeout_ns = 100'000'000;
};

// The most a receive descriptor's buffer gets written without jumbo frames: a maximal frame
// (MAXFRS.MFS = 1518 with FCS, 8.2.3.22.13) plus a VLAN tag, less the stripped FCS.
constexpr uint32_t MAX_RX_WRITE = 1522;

struct RxBuffer {
    // At least Config::rx_buffer_bytes of DMA memory, or, when that is 2 KiB or more, at
    // least MAX_RX_WRITE (the device writes no more: jumbo frames stay off).
    uint64_t phys;
    uint64_t cookie;
};

constexpr uint8_t FRAG_FIRST = 1, FRAG_EOP = 2, FRAG_ERROR = 4;

struct RxFragment {
    uint64_t cookie;  // of the buffer the fragment is in (at its start)
    uint16_t len;     // never more than the buffer holds (a device claiming more: FRAG_ERROR)
    uint8_t flags;    // FRAG_*; FRAG_ERROR on every fragment of a frame the device flagged bad
};

struct TxFrame {
    uint64_t phys;
    uint16_t len;  // 14 .. 9728 bytes, without the FCS (the device appends it)
    uint64_t cookie;
};

struct LinkState {
    bool up = false;
    uint32_t speed_mbps = 0;
};

struct Counters {
    uint64_t rx_frames = 0, rx_bytes = 0;
    uint64_t tx_frames = 0, tx_bytes = 0;
    uint64_t rx_dropped = 0;  // missed (packet buffer full) + queue drops (no descriptor)
    uint64_t rx_errors = 0;   // CRC and length errors
};

constexpr uint32_t EVENT_RX = 1, EVENT_TX = 2, EVENT_LINK = 4;

enum class Failure : uint8_t {
    None,
    ResetTimeout,
    EepromTimeout,
    DmaInitTimeout,
    QueueEnableTimeout,
    DeviceGone,
    TxStalled,
    Quiesced,
};

struct MacAddress {
    uint8_t bytes[6] = {};
};

class Device {
public:
    // Brings the device at `platform` up. IO (with failure()) when a wait times out or the
    // device reads as all ones; NoMem when DMA memory runs out; Inval for a bad Config.
    // `why`, when given, receives the failure that ended a bring-up (Failure::None otherwise).
    static Result<Own<Device>> create(Platform& platform, const Config& config, Failure* why = nullptr);
    ~Device();  // quiesces the device before freeing the rings

    // Stops all DMA (master disable, then reset: 5.2.5.3.2) and forgets every buffer on the
    // rings, which the caller may free once this returns. The device is unusable afterwards
    // (Failure::Quiesced, unless it had failed before).
    void quiesce();
    uint64_t now_ns() { return platform_.now_ns(); }
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const Config& config() const { return config_; }
    const MacAddress& mac() const { return mac_; }

    // Puts receive buffers on the ring; returns how many it took (fewer when the ring is full).
    Result<uint32_t> post_rx(const RxBuffer* buffers, uint32_t count);
    // Buffers on the receive ring, waiting for frames.
    uint32_t rx_posted() const { return rx_posted_; }
    // Received frames, whole, as fragments in order (see the file comment); at most `max`
    // fragments. A frame whose last descriptor the device has not written yet stays.
    Result<uint32_t> receive(RxFragment* out, uint32_t max);

    // Queues frames for sending; returns how many it took (fewer when the ring is full).
    Result<uint32_t> send(const TxFrame* frames, uint32_t count);
    // Cookies of frames the device has finished sending; TimedOut (TxStalled) when frames
    // are queued but none completed for Config::tx_stall_timeout_ns.
    Result<uint32_t> reclaim(uint64_t* cookies, uint32_t max);
    uint32_t tx_in_flight() const { return tx_in_flight_; }
    uint32_t tx_free() const { return config_.tx_entries - 1 - tx_in_flight_; }

    // Waits until a frame arrived, a send completed or the link changed, or until
    // `deadline_ns`; returns EVENT_* bits (0 at the deadline).
    Result<uint32_t> wait(uint64_t deadline_ns);

    Result<LinkState> link();
    // Adds the clear-on-read statistics registers to the running totals and returns them.
    Result<Counters> counters();

    bool failed() const { return failure_ != Failure::None; }
    Failure failure() const { return failure_; }
    const char* failure_message() const { return failure_text(failure_); }
    static const char* failure_text(Failure failure);
    // Whether waits sleep on the queue pair's MSI-X vector (else they poll).
    bool interrupts() const { return interrupts_; }

private:
    Device(Platform& platform, const Config& config) : platform_(platform), config_(config) {}

    Result<void> bring_up();
    Result<void> reset();
    Result<void> master_disable();
    Result<void> wait_bits(uint32_t offset, uint32_t mask, uint32_t want, uint64_t timeout_ns, Failure on_timeout);
    void setup_link();
    void setup_interrupts();
    Result<void> setup_rx();
    Result<void> setup_tx();
    Result<void> enable_queues();
    Result<uint32_t> read(uint32_t offset);  // IO (DeviceGone) on all ones
    Error fail(Failure why);
    bool rx_ready() const;
    bool tx_ready() const;

    Platform& platform_;
    Config config_;
    MacAddress mac_;
    Failure failure_ = Failure::None;
    bool up_ = false;
    bool interrupts_ = false;  // the platform granted the queue pair's vector

    DmaRegion rx_ring_mem_, tx_ring_mem_;
    spec::RxDesc* rx_ring_ = nullptr;
    spec::TxDesc* tx_ring_ = nullptr;
    uint64_t* rx_cookies_ = nullptr;  // per receive descriptor
    uint64_t* tx_cookies_ = nullptr;  // per transmit descriptor
    // Descriptors sent with RS, oldest first: the only ones the device writes DD back to.
    uint16_t* tx_rs_ = nullptr;
    uint32_t tx_rs_head_ = 0, tx_rs_count_ = 0;
    uint32_t rx_next_ = 0;  // next descriptor the device writes back
    uint32_t rx_tail_ = 0;  // next descriptor the driver fills (RDT)
    uint32_t rx_posted_ = 0;
    uint32_t tx_clean_ = 0;  // oldest descriptor not yet reclaimed
    uint32_t tx_tail_ = 0;   // next descriptor to fill (TDT)
    uint32_t tx_in_flight_ = 0;
    uint32_t tx_since_rs_ = 0;     // descriptors queued since the last RS
    uint64_t tx_progress_ns_ = 0;  // when reclaim last saw progress (or the queue was idle)
    uint32_t rx_mask_ = 0, tx_mask_ = 0;
    bool link_up_ = false;
    Counters totals_;
};

}  // namespace lamina::ixgbe
