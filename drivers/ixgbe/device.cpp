// lamina:portable
#include "drivers/ixgbe/device.h"

#include <new>

namespace lamina::ixgbe {

namespace reg = spec::reg;

namespace {

constexpr uint32_t ALL_ONES = 0xFFFFFFFF;
constexpr uint32_t POLL_US = 10;
// A transmit descriptor asks for write-back (RS) at least this often, so reclaim() frees
// buffers in batches no larger than this even while send() is handed long batches.
constexpr uint32_t RS_INTERVAL = 32;
constexpr uint32_t MAX_FRAME = 9728;  // jumbo limit (8.2.3.22.13)
constexpr uint32_t FCS_BYTES = 4;
constexpr uint32_t TX_PTHRESH = 36, TX_HTHRESH = 8;  // prefetch thresholds (4.6.8)

bool power_of_two_ring(uint32_t n) {
    return n >= spec::RING_ALIGN_DESCS && n <= spec::RING_MAX_DESCS && (n & (n - 1)) == 0;
}

uint32_t load_acquire(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

}  // namespace

Result<Own<Device>> Device::create(Platform& platform, const Config& config, Failure* why) {
    if (why) *why = Failure::None;
    if (!power_of_two_ring(config.rx_entries) || !power_of_two_ring(config.tx_entries) || config.rx_buffer_bytes == 0 ||
        config.rx_buffer_bytes % spec::srrctl::BSIZEPACKET_UNIT ||
        config.rx_buffer_bytes / spec::srrctl::BSIZEPACKET_UNIT > spec::srrctl::BSIZEPACKET_MASK)
        return Errno::Inval;
    auto d = TRY(adopt_own_or_nomem(new (std::nothrow) Device(platform, config)));
    auto r = d->bring_up();
    if (r.is_error()) {
        if (why) *why = d->failure_;
        return r.error();
    }
    return d;
}

Device::~Device() {
    // The device must not DMA into memory that is about to be reused.
    quiesce();
    if (rx_ring_mem_.valid()) platform_.free_dma(rx_ring_mem_);
    if (tx_ring_mem_.valid()) platform_.free_dma(tx_ring_mem_);
    delete[] rx_cookies_;
    delete[] tx_cookies_;
    delete[] tx_rs_;
}

void Device::quiesce() {
    if (up_ && failure_ != Failure::DeviceGone) {
        (void)master_disable();
        (void)reset();
    }
    up_ = false;
    rx_posted_ = tx_in_flight_ = tx_rs_count_ = 0;
    if (failure_ == Failure::None) failure_ = Failure::Quiesced;
}

const char* Device::failure_text(Failure failure) {
    switch (failure) {
        case Failure::None:
            return "none";
        case Failure::ResetTimeout:
            return "CTRL.RST did not clear after a device reset";
        case Failure::EepromTimeout:
            return "EEPROM auto-read (EEC.ARD) did not complete";
        case Failure::DmaInitTimeout:
            return "DMA initialisation (RDRXCTL.DMAIDONE) did not complete";
        case Failure::QueueEnableTimeout:
            return "a queue's ENABLE bit did not read back as set";
        case Failure::DeviceGone:
            return "registers read as all ones: the device is gone";
        case Failure::TxStalled:
            return "the transmit queue made no progress with the link up";
        case Failure::Quiesced:
            return "the device was quiesced";
    }
    return "?";
}

Error Device::fail(Failure why) {
    if (failure_ == Failure::None) failure_ = why;
    return failure_ == Failure::TxStalled ? Errno::TimedOut : Errno::IO;
}

Result<uint32_t> Device::read(uint32_t offset) {
    uint32_t v = platform_.read32(offset);
    // A register may hold all ones legitimately; STATUS never does (its reserved bits read 0).
    if (v == ALL_ONES && (offset == reg::STATUS || platform_.read32(reg::STATUS) == ALL_ONES))
        return fail(Failure::DeviceGone);
    return v;
}

Result<void> Device::wait_bits(uint32_t offset, uint32_t mask, uint32_t want, uint64_t timeout_ns, Failure on_timeout) {
    uint64_t deadline = platform_.now_ns() + timeout_ns;
    for (;;) {
        uint32_t v = TRY(read(offset));
        if ((v & mask) == want) return {};
        if (platform_.now_ns() >= deadline) return fail(on_timeout);
        platform_.delay_us(POLL_US);
    }
}

// 5.2.5.3.2: stop new DMA and wait for outstanding requests. The bit may stay set (link down,
// flow control); the reset that follows clears what is left, so that is not a failure.
Result<void> Device::master_disable() {
    platform_.write32(reg::CTRL, TRY(read(reg::CTRL)) | spec::ctrl::MASTER_DISABLE);
    auto r = wait_bits(reg::STATUS, spec::status::MASTER_ENABLE, 0, config_.master_disable_timeout_ns, Failure::None);
    if (r.is_error() && failure_ == Failure::DeviceGone) return r;
    return {};
}

// 4.6.3.2: global reset (device and link), its self-clearing bit, the 10 ms settling time,
// interrupts masked again (the reset re-arms nothing, but a cause may have been latched).
Result<void> Device::reset() {
    platform_.write32(reg::CTRL, TRY(read(reg::CTRL)) | spec::ctrl::RST | spec::ctrl::LRST);
    platform_.delay_us(1);
    TRY(wait_bits(reg::CTRL, spec::ctrl::RST, 0, config_.reset_timeout_ns, Failure::ResetTimeout));
    platform_.delay_us(10'000);
    platform_.write32(reg::EIMC, spec::eicr::ALL);
    return {};
}

Result<void> Device::bring_up() {
    // 4.6.3.1: no interrupts while the device is being set up.
    platform_.write32(reg::EIMC, spec::eicr::ALL);
    TRY(master_disable());
    TRY(reset());
    TRY(wait_bits(reg::EEC, spec::eec::ARD, spec::eec::ARD, config_.eeprom_timeout_ns, Failure::EepromTimeout));
    TRY(wait_bits(reg::RDRXCTL, spec::rdrxctl::DMAIDONE, spec::rdrxctl::DMAIDONE, config_.dma_init_timeout_ns,
                  Failure::DmaInitTimeout));
    up_ = true;

    // The EEPROM auto-read loaded the port's address into receive address 0.
    uint32_t ral = TRY(read(reg::ral(0))), rah = TRY(read(reg::rah(0)));
    for (int i = 0; i < 4; i++) mac_.bytes[i] = uint8_t(ral >> (8 * i));
    mac_.bytes[4] = uint8_t(rah);
    mac_.bytes[5] = uint8_t(rah >> 8);
    platform_.write32(reg::rah(0), (rah & 0xFFFF) | spec::RAH_AV);
    platform_.write32(reg::CTRL_EXT, TRY(read(reg::CTRL_EXT)) | spec::ctrl_ext::DRV_LOAD);

    setup_link();
    (void)TRY(counters());  // 4.6.5: the clear-on-read statistics start from zero
    totals_ = {};
    TRY(setup_rx());
    TRY(setup_tx());
    setup_interrupts();
    TRY(enable_queues());

    if (config_.link_wait_ns) {
        uint64_t deadline = platform_.now_ns() + config_.link_wait_ns;
        while (!TRY(link()).up && platform_.now_ns() < deadline) platform_.delay_us(1000);
    }
    // Causes latched during set-up (the link coming up) are stale: link() tells the state.
    (void)TRY(read(reg::EICR));
    return {};
}

// 4.6.4: the 82599ES's SFP+ port is a 10 GbE serial link (SFI) without auto-negotiation;
// restarting AN applies the mode. In loopback the link is forced up (4.6.12 / HLREG0.LPBK).
void Device::setup_link() {
    uint32_t autoc = platform_.read32(reg::AUTOC) & ~(spec::autoc::LMS_MASK | spec::autoc::FLU);
    autoc |= spec::autoc::LMS_10G_SERIAL;
    if (config_.loopback) autoc |= spec::autoc::FLU;
    platform_.write32(reg::AUTOC, autoc | spec::autoc::RESTART_AN);
}

// 4.6.7: receive path, with the receive unit disabled until the queue is enabled.
Result<void> Device::setup_rx() {
    platform_.write32(reg::RXCTRL, 0);
    // One traffic class: the whole receive packet buffer goes to PB 0 (4.6.11.3.1).
    platform_.write32(reg::rxpbsize(0), spec::pbsize::RX_TOTAL_KIB << spec::pbsize::SHIFT);
    for (uint32_t i = 1; i < 8; i++) platform_.write32(reg::rxpbsize(i), 0);

    // CRC: strip on receive (RDRXCTL and HLREG0 must agree), insert and pad on transmit.
    uint32_t hl = TRY(read(reg::HLREG0)) & ~(spec::hlreg0::LPBK | spec::hlreg0::JUMBOEN);
    hl |= spec::hlreg0::RXCRCSTRP | spec::hlreg0::TXCRCEN | spec::hlreg0::TXPADEN;
    if (config_.loopback) hl |= spec::hlreg0::LPBK;
    platform_.write32(reg::HLREG0, hl);
    platform_.write32(reg::RDRXCTL, TRY(read(reg::RDRXCTL)) | spec::rdrxctl::CRC_STRIP);
    // No jumbo frames: MAX_RX_WRITE bounds what one receive buffer gets.
    platform_.write32(reg::MAXFRS, 1518u << 16);  // MFS: a 1500-byte MTU, header and FCS
    // Broadcasts in; unicast only to our address, no multicast (the netstack needs none yet).
    platform_.write32(reg::FCTRL, spec::fctrl::BAM);

    uint32_t n = config_.rx_entries;
    auto ring = platform_.alloc_dma(n * sizeof(spec::RxDesc));
    if (ring.is_error()) return ring.error();
    rx_ring_mem_ = ring.value();
    rx_ring_ = static_cast<spec::RxDesc*>(rx_ring_mem_.virt);
    rx_cookies_ = new (std::nothrow) uint64_t[n];
    if (!rx_cookies_) return Errno::NoMem;
    rx_mask_ = n - 1;
    platform_.write32(reg::rdbal(0), uint32_t(rx_ring_mem_.bus));
    platform_.write32(reg::rdbah(0), uint32_t(rx_ring_mem_.bus >> 32));
    platform_.write32(reg::rdlen(0), n * sizeof(spec::RxDesc));
    platform_.write32(reg::srrctl(0), config_.rx_buffer_bytes / spec::srrctl::BSIZEPACKET_UNIT |
                                          spec::srrctl::DESCTYPE_ADV_ONEBUF | spec::srrctl::DROP_EN);
    platform_.write32(reg::rdh(0), 0);
    platform_.write32(reg::rdt(0), 0);
    return {};
}

// 4.6.8: transmit path.
Result<void> Device::setup_tx() {
    platform_.write32(reg::txpbsize(0), spec::pbsize::TX_TOTAL_KIB << spec::pbsize::SHIFT);
    for (uint32_t i = 1; i < 8; i++) platform_.write32(reg::txpbsize(i), 0);
    // MTQC may change only with the descriptor arbiter off.
    uint32_t rttdcs = TRY(read(reg::RTTDCS));
    platform_.write32(reg::RTTDCS, rttdcs | spec::rttdcs::ARBDIS);
    platform_.write32(reg::MTQC, 0);  // one pool, one traffic class
    platform_.write32(reg::RTTDCS, rttdcs & ~spec::rttdcs::ARBDIS);

    uint32_t n = config_.tx_entries;
    auto ring = platform_.alloc_dma(n * sizeof(spec::TxDesc));
    if (ring.is_error()) return ring.error();
    tx_ring_mem_ = ring.value();
    tx_ring_ = static_cast<spec::TxDesc*>(tx_ring_mem_.virt);
    tx_cookies_ = new (std::nothrow) uint64_t[n];
    tx_rs_ = new (std::nothrow) uint16_t[n];
    if (!tx_cookies_ || !tx_rs_) return Errno::NoMem;
    tx_mask_ = n - 1;
    platform_.write32(reg::tdbal(0), uint32_t(tx_ring_mem_.bus));
    platform_.write32(reg::tdbah(0), uint32_t(tx_ring_mem_.bus >> 32));
    platform_.write32(reg::tdlen(0), n * sizeof(spec::TxDesc));
    platform_.write32(reg::tdh(0), 0);
    platform_.write32(reg::tdt(0), 0);
    // WTHRESH 0: the device writes DD back as soon as an RS descriptor is done.
    platform_.write32(reg::txdctl(0),
                      TX_PTHRESH << spec::txdctl::PTHRESH_SHIFT | TX_HTHRESH << spec::txdctl::HTHRESH_SHIFT);
    platform_.write32(reg::DMATXCTL, spec::dmatxctl::TE);
    return {};
}

// 7.3: MSI-X with one vector for the queue pair and one for the other causes. The queue
// vector auto-clears its cause and auto-masks itself when it fires, so wait() re-arms it.
void Device::setup_interrupts() {
    interrupts_ = platform_.setup_interrupts(VECTORS) > VECTOR_QUEUE;
    platform_.write32(reg::GPIE, spec::gpie::MULTIPLE_MSIX | spec::gpie::PBA_SUPPORT | spec::gpie::EIAME);
    uint32_t q = (VECTOR_QUEUE | spec::ivar::VALID);
    platform_.write32(reg::ivar(0), q << spec::ivar::entry_shift(0, false) | q << spec::ivar::entry_shift(0, true));
    platform_.write32(reg::IVAR_MISC, (VECTOR_OTHER | spec::ivar::VALID) << spec::ivar::OTHER_SHIFT);
    uint32_t interval = config_.itr_interval_ns / spec::eitr::UNIT_NS;
    if (interval > 0x1FF) interval = 0x1FF;
    platform_.write32(reg::eitr(VECTOR_QUEUE), interval << spec::eitr::INTERVAL_SHIFT);
    platform_.write32(reg::EIAC, 1u << VECTOR_QUEUE);
    platform_.write32(reg::EIAM, 1u << VECTOR_QUEUE);
}

// 4.6.7 / 4.6.8: a queue's ENABLE bit reads back set only once the queue is running; the
// receive unit goes on after its queue.
Result<void> Device::enable_queues() {
    platform_.write32(reg::rxdctl(0), TRY(read(reg::rxdctl(0))) | spec::rxdctl::ENABLE);
    TRY(wait_bits(reg::rxdctl(0), spec::rxdctl::ENABLE, spec::rxdctl::ENABLE, config_.queue_enable_timeout_ns,
                  Failure::QueueEnableTimeout));
    platform_.write32(reg::RXCTRL, spec::rxctrl::RXEN);
    platform_.write32(reg::txdctl(0), TRY(read(reg::txdctl(0))) | spec::txdctl::ENABLE);
    TRY(wait_bits(reg::txdctl(0), spec::txdctl::ENABLE, spec::txdctl::ENABLE, config_.queue_enable_timeout_ns,
                  Failure::QueueEnableTimeout));
    return {};
}

Result<uint32_t> Device::post_rx(const RxBuffer* buffers, uint32_t count) {
    if (failed()) return fail(failure_);
    uint32_t room = config_.rx_entries - 1 - rx_posted_;
    uint32_t n = count < room ? count : room;
    for (uint32_t i = 0; i < n; i++) {
        spec::RxDesc& d = rx_ring_[rx_tail_];
        d.read.pkt_addr = buffers[i].phys;
        d.read.hdr_addr = 0;  // also clears the write-back status (DD)
        rx_cookies_[rx_tail_] = buffers[i].cookie;
        rx_tail_ = (rx_tail_ + 1) & rx_mask_;
    }
    if (n) {
        rx_posted_ += n;
        __atomic_thread_fence(__ATOMIC_RELEASE);  // descriptors before the tail moves
        platform_.write32(reg::rdt(0), rx_tail_);
    }
    return n;
}

Result<uint32_t> Device::receive(RxFragment* out, uint32_t max) {
    if (failed()) return fail(failure_);
    uint32_t taken = 0;
    while (rx_posted_) {
        // Find the frame's end: every descriptor up to EOP must be written back.
        uint32_t frags = 0, i = rx_next_, status = 0;
        do {
            if (frags == rx_posted_) return taken;  // cannot happen on a sane device
            status = load_acquire(&rx_ring_[i].wb.status_error);
            if (!(status & spec::rxd::STAT_DD)) return taken;
            frags++;
            i = (i + 1) & rx_mask_;
        } while (!(status & spec::rxd::STAT_EOP));
        if (taken + frags > max) {
            if (taken == 0) return Errno::Range;  // `out` cannot hold even this frame
            return taken;
        }
        uint8_t err = (status & spec::rxd::ERR_MASK) ? FRAG_ERROR : 0;
        // A length past what the buffer holds is the device's lie, not data: the caller gets
        // the frame as an error and never a length beyond its buffer.
        uint32_t holds = config_.rx_buffer_bytes < 2048 ? config_.rx_buffer_bytes : MAX_RX_WRITE;
        for (uint32_t f = 0, k = rx_next_; f < frags; f++, k = (k + 1) & rx_mask_)
            if (rx_ring_[k].wb.length > holds) err = FRAG_ERROR;
        for (uint32_t f = 0; f < frags; f++) {
            const spec::RxDesc& d = rx_ring_[rx_next_];
            uint16_t len = d.wb.length;
            out[taken++] = RxFragment{rx_cookies_[rx_next_], uint16_t(len > holds ? holds : len),
                                      uint8_t((f == 0 ? FRAG_FIRST : 0) | (f == frags - 1 ? FRAG_EOP : 0) | err)};
            rx_next_ = (rx_next_ + 1) & rx_mask_;
        }
        rx_posted_ -= frags;
    }
    return taken;
}

Result<uint32_t> Device::send(const TxFrame* frames, uint32_t count) {
    if (failed()) return fail(failure_);
    uint32_t room = tx_free();
    uint32_t n = count < room ? count : room;
    if (n && tx_in_flight_ == 0) tx_progress_ns_ = platform_.now_ns();
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = frames[i].len;
        if (len < 14 || len > MAX_FRAME) {
            n = i;
            if (i == 0) return Errno::Inval;
            break;
        }
        uint32_t cmd = len | spec::txd::DTYP_DATA | spec::txd::CMD_DEXT | spec::txd::CMD_EOP | spec::txd::CMD_IFCS;
        if (++tx_since_rs_ == RS_INTERVAL || i == n - 1) {
            cmd |= spec::txd::CMD_RS;
            tx_since_rs_ = 0;
            tx_rs_[(tx_rs_head_ + tx_rs_count_++) & tx_mask_] = uint16_t(tx_tail_);
        }
        spec::TxDesc& d = tx_ring_[tx_tail_];
        d.read.buffer_addr = frames[i].phys;
        d.read.cmd_type_len = cmd;
        d.read.olinfo_status = len << spec::txd::PAYLEN_SHIFT;
        tx_cookies_[tx_tail_] = frames[i].cookie;
        tx_tail_ = (tx_tail_ + 1) & tx_mask_;
    }
    if (n) {
        // A frame rejected mid-batch: the last accepted one still needs its RS.
        if (tx_since_rs_ != 0) {
            uint32_t last = (tx_tail_ - 1) & tx_mask_;
            tx_ring_[last].read.cmd_type_len |= spec::txd::CMD_RS;
            tx_since_rs_ = 0;
            tx_rs_[(tx_rs_head_ + tx_rs_count_++) & tx_mask_] = uint16_t(last);
        }
        tx_in_flight_ += n;
        __atomic_thread_fence(__ATOMIC_RELEASE);
        platform_.write32(reg::tdt(0), tx_tail_);
    }
    return n;
}

Result<uint32_t> Device::reclaim(uint64_t* cookies, uint32_t max) {
    if (failed()) return fail(failure_);
    uint32_t done = 0;
    while (tx_rs_count_) {
        uint32_t rs = tx_rs_[tx_rs_head_];
        uint32_t batch = ((rs - tx_clean_) & tx_mask_) + 1;
        if (done + batch > max) break;
        if (!(load_acquire(&tx_ring_[rs].wb.status) & spec::txd::STAT_DD)) break;
        for (uint32_t k = 0; k < batch; k++) {
            cookies[done++] = tx_cookies_[tx_clean_];
            tx_clean_ = (tx_clean_ + 1) & tx_mask_;
        }
        tx_in_flight_ -= batch;
        tx_rs_head_ = (tx_rs_head_ + 1) & tx_mask_;
        tx_rs_count_--;
    }
    if (done || tx_in_flight_ == 0) {
        if (done) tx_progress_ns_ = platform_.now_ns();
        return done;
    }
    if (max < ((tx_rs_[tx_rs_head_] - tx_clean_) & tx_mask_) + 1) return Errno::Range;
    // Nothing done with frames queued: a link that is down explains it; otherwise the queue
    // is stuck once the timeout has passed.
    uint64_t now = platform_.now_ns();
    if (now - tx_progress_ns_ > config_.tx_stall_timeout_ns) {
        if (!TRY(link()).up) {
            tx_progress_ns_ = now;
            return 0u;
        }
        return fail(Failure::TxStalled);
    }
    return 0u;
}

bool Device::rx_ready() const {
    return rx_posted_ && (load_acquire(&rx_ring_[rx_next_].wb.status_error) & spec::rxd::STAT_DD);
}

bool Device::tx_ready() const {
    return tx_rs_count_ && (load_acquire(&tx_ring_[tx_rs_[tx_rs_head_]].wb.status) & spec::txd::STAT_DD);
}

Result<uint32_t> Device::wait(uint64_t deadline_ns) {
    if (failed()) return fail(failure_);
    for (;;) {
        // The link cause is latched in EICR whether or not it is masked (read to clear).
        uint32_t cause = TRY(read(reg::EICR));
        uint32_t events =
            (rx_ready() ? EVENT_RX : 0) | (tx_ready() ? EVENT_TX : 0) | ((cause & spec::eicr::LSC) ? EVENT_LINK : 0);
        if (events) {
            if (events & EVENT_LINK) link_up_ = TRY(link()).up;
            return events;
        }
        if (platform_.now_ns() >= deadline_ns) return 0u;
        if (interrupts_) platform_.write32(reg::EIMS, 1u << VECTOR_QUEUE | spec::eicr::LSC);
        platform_.wait_interrupt(VECTOR_QUEUE, deadline_ns);
    }
}

Result<LinkState> Device::link() {
    if (failure_ == Failure::DeviceGone) return fail(failure_);
    uint32_t links = TRY(read(reg::LINKS));
    LinkState s;
    s.up = links & spec::links::LINK_UP;
    if (s.up) {
        switch (links & spec::links::SPEED_MASK) {
            case spec::links::SPEED_10G:
                s.speed_mbps = 10000;
                break;
            case spec::links::SPEED_1G:
                s.speed_mbps = 1000;
                break;
            case spec::links::SPEED_100M:
                s.speed_mbps = 100;
                break;
            default:
                s.speed_mbps = 0;
                break;
        }
    }
    link_up_ = s.up;
    return s;
}

Result<Counters> Device::counters() {
    if (failure_ == Failure::DeviceGone) return fail(failure_);
    // The octet counters are 36 bits: the low half first, the high half's read clears both.
    uint64_t rx_frames = TRY(read(reg::GPRC));
    uint64_t rx_octets = TRY(read(reg::GORCL));
    rx_octets |= uint64_t(TRY(read(reg::GORCH)) & 0xF) << 32;
    uint64_t tx_frames = TRY(read(reg::GPTC));
    uint64_t tx_octets = TRY(read(reg::GOTCL));
    tx_octets |= uint64_t(TRY(read(reg::GOTCH)) & 0xF) << 32;
    totals_.rx_frames += rx_frames;
    totals_.tx_frames += tx_frames;
    // The octet counts include each frame's FCS; the interface counts frame bytes.
    totals_.rx_bytes += rx_octets - FCS_BYTES * rx_frames;
    totals_.tx_bytes += tx_octets - FCS_BYTES * tx_frames;
    totals_.rx_dropped += TRY(read(reg::mpc(0)));
    totals_.rx_dropped += TRY(read(reg::qprdc(0)));
    totals_.rx_errors += TRY(read(reg::CRCERRS));
    totals_.rx_errors += TRY(read(reg::RLEC));
    return totals_;
}

}  // namespace lamina::ixgbe
