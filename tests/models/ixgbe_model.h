// IxgbeModel: an Intel 82599 10 GbE controller for host tests, at register level, over the
// made-up physical memory of tests/models/nvme_model.h (ModelMemory).
//
// It behaves like the chip where a driver can go wrong:
//   - CTRL.RST clears every register and stops all DMA at once; the bit reads set until the
//     reset is over, and EEC.ARD (EEPROM auto-read, which also loads the MAC into RAL/RAH 0),
//     RDRXCTL.DMAIDONE and the link appear only after their own delays. Writes before the
//     reset is over are ignored and counted as driver errors.
//   - RXDCTL/TXDCTL.ENABLE read back set only some time after they were written, and the
//     queue runs only from then on.
//   - The device owns the receive descriptors from RDH up to RDT and the transmit descriptors
//     from TDH up to TDT; it writes advanced descriptors back (DD, EOP, length), spreads a
//     frame over as many receive buffers as it needs (SRRCTL.BSIZEPACKET), and writes DD back
//     on transmit descriptors only when they ask for it (RS).
//   - A frame that finds too few free receive descriptors is dropped and counted (QPRDC with
//     SRRCTL.DROP_EN; otherwise it waits in the packet buffer, and MPC counts overflows).
//   - Statistics registers clear on read; CRC is stripped or kept (RDRXCTL and HLREG0 must
//     agree) and inserted on transmit only with IFCS and HLREG0.TXCRCEN (a frame sent without
//     one arrives as a CRC error); broadcasts need FCTRL.BAM, unicast a valid RAL/RAH match.
//   - EICR/EIMS/EIMC/EIAC/EIAM with GPIE's MSI-X mode, IVAR and IVAR_MISC routing and EITR
//     throttling drive an MSI-X callback.
//   - HLREG0.LPBK loops transmitted frames back into the receive path; other frames go to
//     the "wire" (take_wire_frames), and receive_from_wire() delivers frames from it.
//   - DMA happens only with bus mastering on (PCI command register, set_bus_master) and
//     CTRL.MASTER_DISABLE off, and only into memory the driver was granted (allocated from
//     memory() and not freed): anything else is a DMA violation, counted and described, which
//     the tests treat as a failure (a DMA after reset, after revocation or after the driver's
//     death).
// Faults: a stalled queue (nothing is received or sent until released), a link flap, and
// registers that read as all ones (a device that fell off the bus).
//
// Time is the model's own clock, moved by advance(); the platform moves it with its fake
// clock. Frames are processed synchronously: a TDT write sends (and loops back) at once.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "drivers/ixgbe/ixgbe_spec.h"
#include "tests/models/nvme_model.h"

namespace lamina::ixgbe_model {

using nvme_model::ModelMemory;

struct Options {
    uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x82, 0x59, 0x01};
    uint64_t reset_ns = 20'000;         // CTRL.RST reads set this long
    uint64_t eeprom_ns = 2'000'000;     // EEC.ARD after the reset started
    uint64_t dma_init_ns = 3'000'000;   // RDRXCTL.DMAIDONE after the reset started
    uint64_t link_up_ns = 4'000'000;    // link-up after AUTOC.RESTART_AN (or a flap's end)
    uint64_t queue_enable_ns = 30'000;  // RXDCTL/TXDCTL.ENABLE read-back latency
    bool cable = true;                  // a link partner: without it only loopback links
    bool keep_wire_frames = true;       // false: frames sent to the wire are only counted
};

class IxgbeModel {
public:
    explicit IxgbeModel(Options options = {});

    ModelMemory& memory() { return memory_; }
    const Options& options() const { return options_; }

    // BAR0.
    uint32_t read32(uint32_t offset);
    void write32(uint32_t offset, uint32_t value);

    // The model's clock: advance() runs what became due (reset steps, link changes,
    // throttled interrupts). next_event_ns() is when something will next happen (~0: never).
    void advance(uint64_t now_ns);
    uint64_t now_ns() const { return now_; }
    uint64_t next_event_ns() const;

    // PCI command register's bus master enable (the kernel's claim sets it, its quiesce of a
    // dead driver clears it). A device reset does not touch it.
    void set_bus_master(bool on);
    void set_msix_handler(std::function<void(uint16_t vector)> handler) { msix_ = std::move(handler); }

    // The wire: a frame arriving from the link partner (without FCS; the model adds a good
    // one unless `bad_fcs`), and the frames the device sent that were not looped back.
    void receive_from_wire(const uint8_t* frame, size_t len, bool bad_fcs = false);
    std::vector<std::vector<uint8_t>> take_wire_frames();

    // --- fault injection
    void set_queue_stalled(bool on);
    void flap_link(uint64_t down_ns);  // link down now, up again down_ns later
    void set_all_ones(bool on) { all_ones_ = on; }

    // --- inspection
    struct Stats {
        uint64_t resets = 0;
        uint64_t rx_frames = 0;  // written to host memory
        uint64_t rx_descriptors = 0;
        uint64_t rx_multi_descriptor = 0;  // frames that spanned several descriptors
        uint64_t rx_no_descriptor = 0;     // dropped for want of descriptors (QPRDC)
        uint64_t rx_missed = 0;            // packet buffer overflow or no DMA (MPC)
        uint64_t rx_filtered = 0;
        uint64_t rx_ring_wraps = 0;
        uint64_t tx_frames = 0;
        uint64_t tx_descriptors = 0;
        uint64_t tx_writebacks = 0;  // DD written (RS descriptors only)
        uint64_t tx_ring_wraps = 0;
        uint64_t looped_back = 0;
        uint64_t interrupts[64] = {};
        uint64_t throttled = 0;  // interrupts delayed by EITR
        uint64_t dma_violations = 0;
        uint64_t driver_errors = 0;  // programming the datasheet forbids
    };
    const Stats& stats() const { return stats_; }
    const std::string& last_violation() const { return last_violation_; }
    const std::string& last_driver_error() const { return last_driver_error_; }
    bool link_up() const { return link_up_; }
    bool rx_queue_running() const;
    bool tx_queue_running() const;
    uint32_t rx_head() const;
    uint32_t tx_head() const;

private:
    uint32_t& r(uint32_t offset) { return regs_[offset / 4]; }
    uint32_t r(uint32_t offset) const { return regs_[offset / 4]; }
    void reset_registers();
    void start_reset();
    bool resetting() const { return now_ < reset_done_at_; }
    bool dma_allowed() const;
    uint8_t* dma(uint64_t phys, size_t len, const char* what);
    void driver_error(const std::string& what);
    uint32_t clear_on_read(uint32_t offset);

    void set_link(bool up);
    void raise(uint32_t causes);
    void deliver();
    uint16_t vector_of_cause(uint32_t bit) const;
    int queue_vector(bool tx) const;  // -1 when IVAR has no valid entry

    void rx_frame(const uint8_t* data, size_t len, bool fcs_ok);
    bool accepts(const uint8_t* dst) const;
    bool write_rx(const uint8_t* data, size_t len);  // false: not enough descriptors
    void drain_rx_fifo();
    void process_tx();

    Options options_;
    ModelMemory memory_;
    std::vector<uint32_t> regs_;
    uint64_t now_ = 0;
    uint64_t reset_done_at_ = 0, ard_at_ = 0, dmaidone_at_ = 0;
    bool mac_loaded_ = true;
    uint64_t link_up_at_ = ~uint64_t(0);
    bool link_up_ = false;
    uint64_t rx_enable_at_ = ~uint64_t(0), tx_enable_at_ = ~uint64_t(0);
    uint64_t last_fire_[64] = {};
    uint64_t pending_fire_at_ = ~uint64_t(0);
    bool bus_master_ = true;
    bool stalled_ = false;
    bool all_ones_ = false;
    bool in_tx_ = false;
    std::function<void(uint16_t)> msix_;
    std::deque<std::vector<uint8_t>> rx_fifo_;  // frames (with FCS state) held in PB 0
    size_t rx_fifo_bytes_ = 0;
    std::vector<std::vector<uint8_t>> wire_out_;
    std::vector<uint8_t> tx_frame_;
    Stats stats_;
    std::string last_violation_, last_driver_error_;
    // Statistics registers keep 64-bit counts; the octet counters show 36 bits.
    uint64_t gorc_ = 0, gotc_ = 0;
};

}  // namespace lamina::ixgbe_model
