#include "tests/models/ixgbe_model.h"

#include <string.h>

#include <utility>

#include <algorithm>
#include <cstdio>

#include "domains/fs/crc32.h"

namespace lamina::ixgbe_model {

namespace spec = lamina::ixgbe::spec;
namespace reg = spec::reg;

namespace {
constexpr uint64_t NEVER = ~uint64_t(0);
constexpr size_t FCS = 4;
constexpr size_t MIN_FRAME = 60;  // without FCS
}  // namespace

IxgbeModel::IxgbeModel(Options options) : options_(options), regs_(spec::BAR0_SIZE / 4, 0) {
    // Power-on: as after a reset that finished long ago.
    reset_registers();
    r(reg::ral(0)) = uint32_t(options_.mac[0]) | uint32_t(options_.mac[1]) << 8 | uint32_t(options_.mac[2]) << 16 |
                     uint32_t(options_.mac[3]) << 24;
    r(reg::rah(0)) = uint32_t(options_.mac[4]) | uint32_t(options_.mac[5]) << 8 | spec::RAH_AV;
}

// Register defaults after a reset, where the driver must change them (8.2.3).
void IxgbeModel::reset_registers() {
    std::fill(regs_.begin(), regs_.end(), 0);
    r(reg::HLREG0) = spec::hlreg0::TXCRCEN | spec::hlreg0::RXCRCSTRP | spec::hlreg0::TXPADEN;
    r(reg::rxpbsize(0)) = spec::pbsize::RX_TOTAL_KIB << spec::pbsize::SHIFT;
    r(reg::txpbsize(0)) = spec::pbsize::TX_TOTAL_KIB << spec::pbsize::SHIFT;
    r(reg::MAXFRS) = 1518u << 16;
    r(reg::srrctl(0)) = 2;  // 2 KiB buffers, legacy descriptors
    r(reg::AUTOC) = spec::autoc::LMS_KX4_KX_KR;
    gorc_ = gotc_ = 0;
    rx_fifo_.clear();
    rx_fifo_bytes_ = 0;
    link_up_ = false;
    link_up_at_ = NEVER;
    rx_enable_at_ = tx_enable_at_ = NEVER;
    pending_fire_at_ = NEVER;
    std::fill(std::begin(last_fire_), std::end(last_fire_), 0);
}

void IxgbeModel::start_reset() {
    stats_.resets++;
    reset_registers();  // every queue stops here: no DMA from the old configuration
    reset_done_at_ = now_ + options_.reset_ns;
    ard_at_ = now_ + options_.eeprom_ns;
    dmaidone_at_ = now_ + options_.dma_init_ns;
    mac_loaded_ = false;
}

void IxgbeModel::driver_error(const std::string& what) {
    stats_.driver_errors++;
    last_driver_error_ = what;
}

bool IxgbeModel::dma_allowed() const {
    return bus_master_ && !(r(reg::CTRL) & spec::ctrl::MASTER_DISABLE) && !resetting();
}

uint8_t* IxgbeModel::dma(uint64_t phys, size_t len, const char* what) {
    uint8_t* p = memory_.translate(phys, len);
    if (!p) {
        stats_.dma_violations++;
        char buf[160];
        snprintf(buf, sizeof buf, "%s: DMA to %#llx (+%zu) outside granted memory", what,
                 static_cast<unsigned long long>(phys), len);
        last_violation_ = buf;
    }
    return p;
}

bool IxgbeModel::rx_queue_running() const {
    return (r(reg::rxdctl(0)) & spec::rxdctl::ENABLE) && now_ >= rx_enable_at_;
}
bool IxgbeModel::tx_queue_running() const {
    return (r(reg::txdctl(0)) & spec::txdctl::ENABLE) && now_ >= tx_enable_at_;
}
uint32_t IxgbeModel::rx_head() const { return r(reg::rdh(0)); }
uint32_t IxgbeModel::tx_head() const { return r(reg::tdh(0)); }

uint32_t IxgbeModel::clear_on_read(uint32_t offset) {
    uint32_t v = r(offset);
    r(offset) = 0;
    return v;
}

uint32_t IxgbeModel::read32(uint32_t offset) {
    if (all_ones_ || offset >= spec::BAR0_SIZE || offset % 4) return 0xFFFFFFFF;
    switch (offset) {
        case reg::CTRL:
            return r(reg::CTRL) | (resetting() ? spec::ctrl::RST : 0);
        case reg::STATUS:
            return dma_allowed() ? spec::status::MASTER_ENABLE : 0;
        case reg::EEC:
            return spec::eec::PRES | (now_ >= ard_at_ ? spec::eec::ARD : 0);
        case reg::RDRXCTL:
            return r(reg::RDRXCTL) | (now_ >= dmaidone_at_ ? spec::rdrxctl::DMAIDONE : 0);
        case reg::LINKS:
            return link_up_ ? spec::links::LINK_UP | spec::links::SPEED_10G : 0;
        case reg::EICR:
            return clear_on_read(reg::EICR);
        case reg::GPRC:
        case reg::GPTC:
        case reg::CRCERRS:
        case reg::RLEC:
            return clear_on_read(offset);
        case reg::GORCL:
            return uint32_t(gorc_);
        case reg::GORCH: {
            uint32_t v = uint32_t(gorc_ >> 32) & 0xF;
            gorc_ = 0;
            return v;
        }
        case reg::GOTCL:
            return uint32_t(gotc_);
        case reg::GOTCH: {
            uint32_t v = uint32_t(gotc_ >> 32) & 0xF;
            gotc_ = 0;
            return v;
        }
    }
    if (offset == reg::rxdctl(0))
        return (r(offset) & ~spec::rxdctl::ENABLE) | (rx_queue_running() ? spec::rxdctl::ENABLE : 0);
    if (offset == reg::txdctl(0))
        return (r(offset) & ~spec::txdctl::ENABLE) | (tx_queue_running() ? spec::txdctl::ENABLE : 0);
    if (offset == reg::qprdc(0) || (offset >= reg::mpc(0) && offset <= reg::mpc(7))) return clear_on_read(offset);
    return r(offset);
}

void IxgbeModel::write32(uint32_t offset, uint32_t value) {
    if (all_ones_) return;
    if (offset >= spec::BAR0_SIZE || offset % 4) {
        driver_error("write outside BAR0");
        return;
    }
    if (resetting()) {
        driver_error("register write while CTRL.RST is still set");
        return;
    }
    switch (offset) {
        case reg::CTRL:
            if (value & spec::ctrl::RST) {
                start_reset();
                return;
            }
            if (value & spec::ctrl::LRST) set_link(false);
            r(reg::CTRL) = value & ~spec::ctrl::LRST;
            if (dma_allowed()) process_tx();
            return;
        case reg::STATUS:
        case reg::LINKS:
        case reg::EEC:
            return;  // read-only
        case reg::EICR:
            r(reg::EICR) &= ~value;
            return;
        case reg::EICS:
            raise(value);
            return;
        case reg::EIMS:
            r(reg::EIMS) |= value;
            deliver();
            return;
        case reg::EIMC:
            r(reg::EIMS) &= ~value;
            return;
        case reg::RDRXCTL:
            r(reg::RDRXCTL) = value & ~spec::rdrxctl::DMAIDONE;
            return;
        case reg::AUTOC:
            r(reg::AUTOC) = value & ~spec::autoc::RESTART_AN;
            if (value & spec::autoc::RESTART_AN) {
                set_link(false);
                link_up_at_ = now_ + options_.link_up_ns;
            }
            return;
    }
    uint32_t n_old = r(offset);
    if (offset == reg::rdh(0) || offset == reg::tdh(0)) {
        bool running = offset == reg::rdh(0) ? rx_queue_running() : tx_queue_running();
        if (running) driver_error("head register written while its queue is enabled");
        r(offset) = value & 0xFFFF;
        return;
    }
    r(offset) = value;
    if (offset == reg::rxdctl(0)) {
        bool was = n_old & spec::rxdctl::ENABLE, is = value & spec::rxdctl::ENABLE;
        if (is && !was) rx_enable_at_ = now_ + options_.queue_enable_ns;
        if (!is) rx_enable_at_ = NEVER;
    } else if (offset == reg::txdctl(0)) {
        bool was = n_old & spec::txdctl::ENABLE, is = value & spec::txdctl::ENABLE;
        if (is && !was) tx_enable_at_ = now_ + options_.queue_enable_ns;
        if (!is) tx_enable_at_ = NEVER;
    } else if (offset == reg::rdt(0)) {
        r(offset) = value & 0xFFFF;
        drain_rx_fifo();
    } else if (offset == reg::tdt(0)) {
        r(offset) = value & 0xFFFF;
        process_tx();
    }
}

void IxgbeModel::advance(uint64_t now_ns) {
    if (now_ns <= now_) return;
    now_ = now_ns;
    if (!mac_loaded_ && now_ >= ard_at_) {
        // The EEPROM auto-read loads the port's address (and would load more defaults).
        r(reg::ral(0)) = uint32_t(options_.mac[0]) | uint32_t(options_.mac[1]) << 8 | uint32_t(options_.mac[2]) << 16 |
                         uint32_t(options_.mac[3]) << 24;
        r(reg::rah(0)) = uint32_t(options_.mac[4]) | uint32_t(options_.mac[5]) << 8 | spec::RAH_AV;
        mac_loaded_ = true;
    }
    if (now_ >= link_up_at_) {
        link_up_at_ = NEVER;
        bool serial = (r(reg::AUTOC) & spec::autoc::LMS_MASK) == spec::autoc::LMS_10G_SERIAL;
        bool loop = (r(reg::AUTOC) & spec::autoc::FLU) && (r(reg::HLREG0) & spec::hlreg0::LPBK);
        if (serial && (options_.cable || loop)) set_link(true);
    }
    if (now_ >= pending_fire_at_) deliver();
    if (tx_queue_running()) process_tx();
    if (rx_queue_running()) drain_rx_fifo();
}

uint64_t IxgbeModel::next_event_ns() const {
    uint64_t t = NEVER;
    for (uint64_t e :
         {reset_done_at_, ard_at_, dmaidone_at_, link_up_at_, rx_enable_at_, tx_enable_at_, pending_fire_at_})
        if (e > now_ && e < t) t = e;
    return t;
}

void IxgbeModel::set_bus_master(bool on) {
    bus_master_ = on;
    if (on) process_tx();
}

void IxgbeModel::set_queue_stalled(bool on) {
    stalled_ = on;
    if (!on) {
        drain_rx_fifo();
        process_tx();
    }
}

void IxgbeModel::flap_link(uint64_t down_ns) {
    set_link(false);
    link_up_at_ = now_ + down_ns;
}

void IxgbeModel::set_link(bool up) {
    if (up == link_up_) return;
    link_up_ = up;
    raise(spec::eicr::LSC);
    if (up) process_tx();
}

// --- interrupts (7.3) --------------------------------------------------------------------

int IxgbeModel::queue_vector(bool tx) const {
    uint32_t e = r(reg::ivar(0)) >> spec::ivar::entry_shift(0, tx);
    return (e & spec::ivar::VALID) ? int(e & 0x3F) : -1;
}

void IxgbeModel::raise(uint32_t causes) {
    r(reg::EICR) |= causes;
    deliver();
}

// Fires every vector with an unmasked cause, unless its EITR interval since the last
// interrupt has not passed (then advance() fires it later). Auto-clear (EIAC) and, with
// GPIE.EIAME, auto-mask (EIAM) apply to the causes a vector fired for.
void IxgbeModel::deliver() {
    if (!(r(reg::GPIE) & spec::gpie::MULTIPLE_MSIX)) return;
    uint32_t pending = r(reg::EICR) & r(reg::EIMS);
    if (!pending) return;
    pending_fire_at_ = NEVER;
    uint32_t misc = r(reg::IVAR_MISC) >> spec::ivar::OTHER_SHIFT;
    uint32_t by_vector[64] = {};
    for (uint32_t b = 0; b < 31; b++) {
        if (!(pending & (1u << b))) continue;
        if (b < 16)
            by_vector[b] |= 1u << b;
        else if (misc & spec::ivar::VALID)
            by_vector[misc & 0x3F] |= 1u << b;
    }
    for (uint32_t v = 0; v < 64; v++) {
        uint32_t m = by_vector[v];
        if (!m) continue;
        uint64_t interval =
            uint64_t((r(reg::eitr(v)) & spec::eitr::INTERVAL_MASK) >> spec::eitr::INTERVAL_SHIFT) * spec::eitr::UNIT_NS;
        if (last_fire_[v] && now_ < last_fire_[v] + interval) {
            stats_.throttled++;
            pending_fire_at_ = std::min(pending_fire_at_, last_fire_[v] + interval);
            continue;
        }
        last_fire_[v] = now_ ? now_ : 1;
        if (r(reg::GPIE) & spec::gpie::EIAME) r(reg::EIMS) &= ~(r(reg::EIAM) & m);
        r(reg::EICR) &= ~(r(reg::EIAC) & m);
        stats_.interrupts[v]++;
        if (msix_) msix_(uint16_t(v));
    }
}

// --- receive (7.1) -----------------------------------------------------------------------

void IxgbeModel::receive_from_wire(const uint8_t* frame, size_t len, bool bad_fcs) { rx_frame(frame, len, !bad_fcs); }

std::vector<std::vector<uint8_t>> IxgbeModel::take_wire_frames() { return std::exchange(wire_out_, {}); }

bool IxgbeModel::accepts(const uint8_t* dst) const {
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint32_t fctrl = r(reg::FCTRL);
    if (!memcmp(dst, broadcast, 6)) return fctrl & spec::fctrl::BAM;
    if (dst[0] & 1) return fctrl & spec::fctrl::MPE;
    if (fctrl & spec::fctrl::UPE) return true;
    uint32_t ral = r(reg::ral(0)), rah = r(reg::rah(0));
    uint8_t mine[6] = {uint8_t(ral),       uint8_t(ral >> 8), uint8_t(ral >> 16),
                       uint8_t(ral >> 24), uint8_t(rah),      uint8_t(rah >> 8)};
    return (rah & spec::RAH_AV) && !memcmp(dst, mine, 6);
}

void IxgbeModel::rx_frame(const uint8_t* data, size_t len, bool fcs_ok) {
    if (!link_up_ || !(r(reg::RXCTRL) & spec::rxctrl::RXEN)) return;  // never reaches the MAC
    if (len < 14 || !accepts(data)) {
        stats_.rx_filtered++;
        return;
    }
    if (!fcs_ok) {
        r(reg::CRCERRS)++;
        return;
    }
    bool jumbo = r(reg::HLREG0) & spec::hlreg0::JUMBOEN;
    if (len < MIN_FRAME || (!jumbo && len + FCS > (r(reg::MAXFRS) >> 16))) {
        r(reg::RLEC)++;
        return;
    }
    size_t pb = size_t(spec::pbsize::kib(r(reg::rxpbsize(0)))) * 1024;
    auto hold = [&] {
        if (rx_fifo_bytes_ + len + FCS > pb) {
            r(reg::mpc(0))++;
            stats_.rx_missed++;
            return;
        }
        rx_fifo_.emplace_back(data, data + len);
        rx_fifo_bytes_ += len + FCS;
    };
    if (!dma_allowed() || !rx_fifo_.empty()) {  // the packet buffer cannot drain
        hold();
        return;
    }
    if (write_rx(data, len)) return;
    if (r(reg::srrctl(0)) & spec::srrctl::DROP_EN) {
        r(reg::qprdc(0))++;
        stats_.rx_no_descriptor++;
    } else {
        hold();
    }
}

void IxgbeModel::drain_rx_fifo() {
    while (!rx_fifo_.empty() && dma_allowed()) {
        auto& f = rx_fifo_.front();
        if (!write_rx(f.data(), f.size())) return;
        rx_fifo_bytes_ -= f.size() + FCS;
        rx_fifo_.pop_front();
    }
}

bool IxgbeModel::write_rx(const uint8_t* data, size_t len) {
    if (!rx_queue_running() || stalled_ || !dma_allowed()) return false;
    uint32_t srrctl = r(reg::srrctl(0));
    if ((srrctl & spec::srrctl::DESCTYPE_MASK) != spec::srrctl::DESCTYPE_ADV_ONEBUF) {
        driver_error("SRRCTL.DESCTYPE is not advanced one-buffer");
        return false;
    }
    size_t bsize = size_t(srrctl & spec::srrctl::BSIZEPACKET_MASK) * spec::srrctl::BSIZEPACKET_UNIT;
    uint32_t rdlen = r(reg::rdlen(0)), n = rdlen / sizeof(spec::RxDesc);
    uint32_t head = r(reg::rdh(0)), tail = r(reg::rdt(0));
    if (bsize == 0 || rdlen == 0 || rdlen % 128 || tail >= n) {
        driver_error("receive queue misprogrammed (SRRCTL size, RDLEN or RDT)");
        return false;
    }
    bool strip_dma = r(reg::RDRXCTL) & spec::rdrxctl::CRC_STRIP;
    bool strip_mac = r(reg::HLREG0) & spec::hlreg0::RXCRCSTRP;
    if (strip_dma != strip_mac) driver_error("RDRXCTL.CRCStrip and HLREG0.RXCRCSTRP disagree");
    bool strip = strip_dma && strip_mac;
    uint8_t fcs[FCS];
    if (!strip) {
        uint32_t crc = lamina::fs::crc32(data, len);
        memcpy(fcs, &crc, FCS);
    }
    size_t total = len + (strip ? 0 : FCS);
    uint32_t need = uint32_t((total + bsize - 1) / bsize);
    uint32_t avail = (tail + n - head) % n;
    if (need > avail) return false;
    uint64_t base = uint64_t(r(reg::rdbah(0))) << 32 | r(reg::rdbal(0));
    auto* ring = reinterpret_cast<spec::RxDesc*>(dma(base, rdlen, "receive ring"));
    if (!ring) return true;  // the frame is lost: the device logs a completion error
    size_t off = 0;
    for (uint32_t k = 0; k < need; k++) {
        spec::RxDesc& d = ring[head];
        size_t chunk = std::min(bsize, total - off);
        uint8_t* buf = dma(d.read.pkt_addr, chunk, "receive buffer");
        if (!buf) return true;
        size_t from_data = off < len ? std::min(chunk, len - off) : 0;
        memcpy(buf, data + off, from_data);
        if (from_data < chunk) memcpy(buf + from_data, fcs + (off + from_data - len), chunk - from_data);
        spec::RxDescWb wb{};
        wb.status_error = spec::rxd::STAT_DD | (k == need - 1 ? spec::rxd::STAT_EOP : 0);
        wb.length = uint16_t(chunk);
        d.wb = wb;
        off += chunk;
        if (++head == n) {
            head = 0;
            stats_.rx_ring_wraps++;
        }
    }
    r(reg::rdh(0)) = head;
    stats_.rx_frames++;
    stats_.rx_descriptors += need;
    if (need > 1) stats_.rx_multi_descriptor++;
    r(reg::GPRC)++;
    gorc_ += len + FCS;
    int v = queue_vector(false);
    if (v >= 0 && v < 16) raise(1u << v);
    return true;
}

// --- transmit (7.2) ----------------------------------------------------------------------

void IxgbeModel::process_tx() {
    if (in_tx_ || !tx_queue_running() || !(r(reg::DMATXCTL) & spec::dmatxctl::TE) || !dma_allowed() || stalled_ ||
        !link_up_)
        return;
    uint32_t tdlen = r(reg::tdlen(0)), n = tdlen / sizeof(spec::TxDesc);
    uint32_t head = r(reg::tdh(0)), tail = r(reg::tdt(0));
    if (head == tail) return;
    if (tdlen == 0 || tdlen % 128 || tail >= n) {
        driver_error("transmit queue misprogrammed (TDLEN or TDT)");
        return;
    }
    uint64_t base = uint64_t(r(reg::tdbah(0))) << 32 | r(reg::tdbal(0));
    auto* ring = reinterpret_cast<spec::TxDesc*>(dma(base, tdlen, "transmit ring"));
    if (!ring) return;
    in_tx_ = true;
    while (head != tail) {
        tx_frame_.clear();
        uint32_t i = head, paylen = 0, descs = 0;
        bool eop = false, ifcs = false, rs_any = false, bad = false;
        while (i != tail && !eop) {
            const spec::TxDescRead& d = ring[i].read;
            uint32_t cmd = d.cmd_type_len;
            if ((cmd & (0xFu << 20)) != spec::txd::DTYP_DATA || !(cmd & spec::txd::CMD_DEXT)) {
                driver_error("transmit descriptor is not an advanced data descriptor");
                bad = true;
            }
            if (descs++ == 0) {
                paylen = d.olinfo_status >> spec::txd::PAYLEN_SHIFT;
                ifcs = cmd & spec::txd::CMD_IFCS;
            }
            uint32_t len = cmd & spec::txd::DTALEN_MASK;
            const uint8_t* buf = dma(d.buffer_addr, len, "transmit buffer");
            if (!buf) {
                in_tx_ = false;
                return;  // the queue stops, as on a completion error
            }
            tx_frame_.insert(tx_frame_.end(), buf, buf + len);
            eop = cmd & spec::txd::CMD_EOP;
            i = (i + 1) % n;
        }
        if (!eop) break;  // the rest of the frame is not there yet
        for (uint32_t j = head; j != i; j = (j + 1) % n) {
            if (ring[j].read.cmd_type_len & spec::txd::CMD_RS) {
                ring[j].wb.status = spec::txd::STAT_DD;
                stats_.tx_writebacks++;
                rs_any = true;
            }
        }
        if (i < head) stats_.tx_ring_wraps++;
        head = i;
        r(reg::tdh(0)) = head;
        stats_.tx_descriptors += descs;
        if (paylen != tx_frame_.size()) driver_error("PAYLEN differs from the frame's length");
        if ((r(reg::HLREG0) & spec::hlreg0::TXPADEN) && tx_frame_.size() < MIN_FRAME) tx_frame_.resize(MIN_FRAME, 0);
        bool fcs_ok = ifcs && (r(reg::HLREG0) & spec::hlreg0::TXCRCEN);
        if (!bad) {
            stats_.tx_frames++;
            r(reg::GPTC)++;
            gotc_ += tx_frame_.size() + FCS;
            if (r(reg::HLREG0) & spec::hlreg0::LPBK) {
                stats_.looped_back++;
                rx_frame(tx_frame_.data(), tx_frame_.size(), fcs_ok);
            } else if (options_.keep_wire_frames) {
                wire_out_.push_back(tx_frame_);
            }
        }
        int v = queue_vector(true);
        if (rs_any && v >= 0 && v < 16) raise(1u << v);
    }
    in_tx_ = false;
}

}  // namespace lamina::ixgbe_model
