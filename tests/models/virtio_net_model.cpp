#include "tests/models/virtio_net_model.h"

#include <cstring>

namespace lamina::virtio_model {

namespace spec = lamina::virtio::spec;

namespace {
constexpr uint8_t CAP_BASE = 0x40;
constexpr uint8_t HEADER = sizeof(spec::NetHdr);
constexpr uint16_t RX = spec::NET_RX_QUEUE, TX = spec::NET_TX_QUEUE;

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
}  // namespace

VirtioNetModel::VirtioNetModel(Options options) : options_(options) {
    put16(config_ + spec::pci::VENDOR_ID, spec::PCI_VENDOR);
    put16(config_ + spec::pci::DEVICE_ID, spec::PCI_DEVICE_NET);
    put16(config_ + spec::pci::STATUS, spec::pci::STATUS_CAPABILITIES);
    config_[spec::pci::CAPABILITIES_POINTER] = CAP_BASE;
    // The list: MSI-X, a decoy vendor capability (PCI cfg access, type 5), then the four
    // regions in an order unlike QEMU's.
    uint8_t at = CAP_BASE;
    auto vendor_cap = [&](uint8_t type, uint32_t offset, uint32_t length, uint8_t len) {
        uint8_t* c = config_ + at;
        c[0] = spec::pci::CAP_ID_VENDOR;
        c[2] = len;
        c[3] = type;
        c[4] = 4;
        put32(c + 8, offset);
        put32(c + 12, length);
        if (type == spec::cfg_type::NOTIFY) put32(c + 16, options_.notify_multiplier);
        uint8_t next = uint8_t(at + ((len + 3) & ~3));
        c[1] = next;
        at = next;
    };
    config_[at] = spec::pci::CAP_ID_MSIX;
    config_[at + 1] = uint8_t(at + 12);
    at = uint8_t(at + 12);
    vendor_cap(spec::cfg_type::PCI, 0, 4, 20);
    vendor_cap(spec::cfg_type::DEVICE, options_.device_offset, sizeof(spec::NetConfig), 16);
    vendor_cap(spec::cfg_type::ISR, options_.isr_offset, 1, 16);
    vendor_cap(spec::cfg_type::NOTIFY, options_.notify_offset, 3 * options_.notify_multiplier + 2, 20);
    vendor_cap(spec::cfg_type::COMMON, options_.common_offset, sizeof(spec::CommonCfg), 16);
    config_[at - 16 + 1] = 0;  // the last one ends the list
}

uint8_t VirtioNetModel::capability_at(uint8_t cfg_type) const {
    for (uint8_t at = config_[spec::pci::CAPABILITIES_POINTER]; at; at = config_[at + 1])
        if (config_[at] == spec::pci::CAP_ID_VENDOR && config_[at + 3] == cfg_type) return at;
    return 0;
}

uint8_t VirtioNetModel::config_read8(uint16_t offset) const { return offset < 256 ? config_[offset] : 0xff; }
uint16_t VirtioNetModel::config_read16(uint16_t offset) const {
    return uint16_t(config_read8(offset) | config_read8(uint16_t(offset + 1)) << 8);
}
uint32_t VirtioNetModel::config_read32(uint16_t offset) const {
    return uint32_t(config_read16(offset)) | uint32_t(config_read16(uint16_t(offset + 2))) << 16;
}

// ---- DMA window -------------------------------------------------------------------------------

void VirtioNetModel::grant(const void* mem, size_t size) { grants_[reinterpret_cast<uintptr_t>(mem)] = size; }
void VirtioNetModel::revoke(const void* mem) { grants_.erase(reinterpret_cast<uintptr_t>(mem)); }
void VirtioNetModel::revoke_all() { grants_.clear(); }

bool VirtioNetModel::running() const {
    return (status_ & spec::status::DRIVER_OK) && !(status_ & spec::status::FAILED);
}

uint8_t* VirtioNetModel::dma(uint64_t bus, size_t len, const char* what) {
    auto fail = [&](const char* why) -> uint8_t* {
        violations_++;
        last_violation_ = std::string(what) + ": " + why;
        return nullptr;
    };
    if (!running()) return fail("DMA while the device is not running");
    auto it = grants_.upper_bound(uintptr_t(bus));
    if (it == grants_.begin()) return fail("outside granted memory");
    --it;
    if (bus < it->first || bus + len > it->first + it->second || bus + len < bus) return fail("outside granted memory");
    return reinterpret_cast<uint8_t*>(bus);
}

// ---- registers ------------------------------------------------------------------------------

void VirtioNetModel::reset() {
    status_ = 0;
    driver_features_ = 0;
    device_feature_select_ = driver_feature_select_ = 0;
    msix_config_ = spec::NO_VECTOR;
    queue_select_ = 0;
    for (Queue& q : queues_) q = Queue{};
    pending_.clear();
    stats_.resets++;
    reset_reads_left_ = options_.reset_delay_reads;
}

void VirtioNetModel::write_status(uint8_t v) {
    if (v == 0) return reset();
    if ((v & spec::status::FEATURES_OK) && !(status_ & spec::status::FEATURES_OK)) {
        // 2.2.2: refuse features not offered; this model, like every modern device, needs VERSION_1.
        bool ok = (driver_features_ & ~options_.features) == 0 && (driver_features_ & spec::feature::VERSION_1);
        if (!ok) v &= uint8_t(~spec::status::FEATURES_OK);
    }
    bool starting = !running();
    status_ = v;
    if (!running()) return;
    if (starting && options_.suppress_notify) {
        // The device polls: it says so in both used rings from the start (2.6.10).
        for (uint16_t i : {RX, TX}) {
            Queue& q = queues_[i];
            uint16_t flags = spec::USED_F_NO_NOTIFY;
            if (uint8_t* used = q.enabled ? dma(q.device, 2, "used flags") : nullptr) std::memcpy(used, &flags, 2);
        }
    }
    deliver_rx();
}

uint32_t VirtioNetModel::common_read(uint32_t off, uint8_t width) {
    Queue* q = queue_select_ < options_.num_queues && queue_select_ < 3 ? &queues_[queue_select_] : nullptr;
    switch (off) {
        case spec::common::DEVICE_FEATURE:
            return device_feature_select_ < 2 ? uint32_t(options_.features >> (32 * device_feature_select_)) : 0;
        case spec::common::DEVICE_FEATURE_SELECT:
            return device_feature_select_;
        case spec::common::DRIVER_FEATURE_SELECT:
            return driver_feature_select_;
        case spec::common::DRIVER_FEATURE:
            return driver_feature_select_ < 2 ? uint32_t(driver_features_ >> (32 * driver_feature_select_)) : 0;
        case spec::common::MSIX_CONFIG:
            return msix_config_;
        case spec::common::NUM_QUEUES:
            return options_.num_queues;
        case spec::common::DEVICE_STATUS:
            // A reset completes after a few reads (4.1.4.3.2: the driver must wait for the 0).
            if (reset_reads_left_ > 0) {
                reset_reads_left_--;
                return spec::status::ACKNOWLEDGE;
            }
            return status_;
        case spec::common::CONFIG_GENERATION:
            return generation_;
        case spec::common::QUEUE_SELECT:
            return queue_select_;
        case spec::common::QUEUE_SIZE:
            return q ? (q->size ? q->size : options_.queue_max) : 0;
        case spec::common::QUEUE_MSIX_VECTOR:
            return q ? q->msix : spec::NO_VECTOR;
        case spec::common::QUEUE_ENABLE:
            return q ? q->enabled : 0;
        case spec::common::QUEUE_NOTIFY_OFF:
            return queue_select_;
        default:
            break;
    }
    (void)width;
    return 0;
}

void VirtioNetModel::common_write(uint32_t off, uint8_t width, uint32_t v) {
    Queue* q = queue_select_ < options_.num_queues && queue_select_ < 3 ? &queues_[queue_select_] : nullptr;
    auto set64 = [&](uint64_t& field, uint32_t base) {
        if (off == base)
            field = (field & ~0xffffffffull) | v;
        else
            field = (field & 0xffffffffull) | uint64_t(v) << 32;
    };
    (void)width;
    switch (off) {
        case spec::common::DEVICE_FEATURE_SELECT:
            device_feature_select_ = v;
            return;
        case spec::common::DRIVER_FEATURE_SELECT:
            driver_feature_select_ = v;
            return;
        case spec::common::DRIVER_FEATURE:
            if (status_ & spec::status::FEATURES_OK) return;  // too late (3.1.1)
            if (driver_feature_select_ < 2) {
                uint64_t mask = 0xffffffffull << (32 * driver_feature_select_);
                driver_features_ = (driver_features_ & ~mask) | (uint64_t(v) << (32 * driver_feature_select_));
            }
            return;
        case spec::common::MSIX_CONFIG:
            msix_config_ = options_.msix ? uint16_t(v) : spec::NO_VECTOR;
            return;
        case spec::common::DEVICE_STATUS:
            write_status(uint8_t(v));
            return;
        case spec::common::QUEUE_SELECT:
            queue_select_ = uint16_t(v);
            return;
        default:
            break;
    }
    if (!q || q->enabled) return;  // 4.1.4.3.2: queue fields are fixed once enabled
    switch (off) {
        case spec::common::QUEUE_SIZE:
            if (v != 0 && v <= options_.queue_max && (v & (v - 1)) == 0) q->size = uint16_t(v);
            return;
        case spec::common::QUEUE_MSIX_VECTOR:
            q->msix = options_.msix ? uint16_t(v) : spec::NO_VECTOR;
            return;
        case spec::common::QUEUE_ENABLE:
            if (v == 1) {
                if (q->size == 0) q->size = options_.queue_max;
                q->enabled = true;
            }
            return;
        case spec::common::QUEUE_DESC:
        case spec::common::QUEUE_DESC + 4:
            set64(q->desc, spec::common::QUEUE_DESC);
            return;
        case spec::common::QUEUE_DRIVER:
        case spec::common::QUEUE_DRIVER + 4:
            set64(q->driver, spec::common::QUEUE_DRIVER);
            return;
        case spec::common::QUEUE_DEVICE:
        case spec::common::QUEUE_DEVICE + 4:
            set64(q->device, spec::common::QUEUE_DEVICE);
            return;
        default:
            return;
    }
}

uint32_t VirtioNetModel::bar_read(uint8_t bar, uint32_t offset, uint8_t width) {
    if (bar != 4) return ~0u;
    if (offset >= options_.common_offset && offset < options_.common_offset + sizeof(spec::CommonCfg))
        return common_read(offset - options_.common_offset, width);
    if (offset == options_.isr_offset) {
        uint32_t v = 0;  // no INTx in this model: nothing ever pending there
        return v;
    }
    if (offset >= options_.device_offset && offset < options_.device_offset + sizeof(spec::NetConfig)) {
        spec::NetConfig cfg{};
        std::memcpy(cfg.mac, options_.mac, 6);
        cfg.status = net_status_;
        cfg.max_virtqueue_pairs = 1;
        cfg.mtu = 1500;
        uint32_t v = 0;
        uint32_t rel = offset - options_.device_offset;
        std::memcpy(&v, reinterpret_cast<uint8_t*>(&cfg) + rel, width <= sizeof(cfg) - rel ? width : sizeof(cfg) - rel);
        return v;
    }
    return 0;
}

void VirtioNetModel::bar_write(uint8_t bar, uint32_t offset, uint8_t width, uint32_t value) {
    if (bar != 4) return;
    if (offset >= options_.common_offset && offset < options_.common_offset + sizeof(spec::CommonCfg))
        return common_write(offset - options_.common_offset, width, value);
    if (offset >= options_.notify_offset && offset < options_.notify_offset + 3 * options_.notify_multiplier + 2) {
        uint32_t rel = offset - options_.notify_offset;
        // 4.1.5.2: the doorbell of queue q is at queue_notify_off(q) * multiplier; the value
        // written is the queue index.
        if (options_.notify_multiplier && rel % options_.notify_multiplier == 0 &&
            rel / options_.notify_multiplier == value && value < 3)
            notify(uint16_t(value));
        else
            violations_++, last_violation_ = "doorbell written at the wrong place";
    }
}

// ---- queues ---------------------------------------------------------------------------------

void VirtioNetModel::notify(uint16_t queue) {
    stats_.notifies[queue]++;
    if (options_.suppress_notify) stats_.notifies_while_suppressed++;
    if (!options_.process_on_notify || !running()) return;
    if (queue == TX) process_tx();
    if (queue == RX) deliver_rx();
}

void VirtioNetModel::step() {
    if (!running()) return;
    process_tx();
    deliver_rx();
}

bool VirtioNetModel::pop_avail(Queue& q, uint16_t& head) {
    if (!q.enabled) return false;
    uint8_t* avail = dma(q.driver, spec::avail_bytes(q.size), "avail ring");
    if (!avail) return false;
    spec::AvailHeader h;
    std::memcpy(&h, avail, sizeof(h));
    if (h.idx == q.last_avail) return false;
    std::memcpy(&head, avail + sizeof(h) + 2 * (q.last_avail % q.size), 2);
    q.last_avail++;
    return true;
}

bool VirtioNetModel::walk(Queue& q, uint16_t head, std::vector<Seg>& out) {
    out.clear();
    uint8_t* table = dma(q.desc, spec::desc_bytes(q.size), "descriptor table");
    if (!table) return false;
    uint16_t d = head;
    bool seen_writable = false;
    for (uint16_t n = 0; n <= q.size; n++) {
        if (d >= q.size) return false;
        spec::Desc e;
        std::memcpy(&e, table + d * sizeof(e), sizeof(e));
        bool w = e.flags & spec::DESC_F_WRITE;
        if (seen_writable && !w) return false;              // 2.6.4.2: readable before writable
        if (e.flags & spec::DESC_F_INDIRECT) return false;  // not negotiated
        seen_writable = seen_writable || w;
        out.push_back(Seg{e.addr, e.len, w});
        if (!(e.flags & spec::DESC_F_NEXT)) return true;
        d = e.next;
    }
    return false;  // a loop
}

void VirtioNetModel::push_used(Queue& q, uint16_t head, uint32_t len, uint64_t& wraps) {
    uint8_t* used = dma(q.device, spec::used_bytes(q.size), "used ring");
    if (!used) return;
    spec::UsedElem e{head, len};
    std::memcpy(used + sizeof(spec::UsedHeader) + sizeof(e) * (q.used_idx % q.size), &e, sizeof(e));
    q.used_idx++;
    if (q.used_idx % q.size == 0) wraps++;
    uint16_t flags = options_.suppress_notify ? spec::USED_F_NO_NOTIFY : 0;
    // The entry before the index (the driver reads them in that order).
    __atomic_thread_fence(__ATOMIC_RELEASE);
    std::memcpy(used, &flags, 2);
    std::memcpy(used + 2, &q.used_idx, 2);
    uint8_t* avail = dma(q.driver, sizeof(spec::AvailHeader), "avail flags");
    uint16_t aflags = 0;
    if (avail) std::memcpy(&aflags, avail, 2);
    if (aflags & spec::AVAIL_F_NO_INTERRUPT)
        stats_.interrupts_suppressed++;
    else
        interrupt(q.msix);
}

void VirtioNetModel::interrupt(uint16_t vector) {
    if (vector == spec::NO_VECTOR) return;
    interrupts_[vector]++;
    pending_[vector]++;
}

uint64_t VirtioNetModel::interrupts(uint16_t vector) const {
    auto it = interrupts_.find(vector);
    return it == interrupts_.end() ? 0 : it->second;
}

bool VirtioNetModel::take_interrupt(uint16_t vector) {
    auto it = pending_.find(vector);
    if (it == pending_.end() || it->second == 0) return false;
    it->second = 0;
    return true;
}

void VirtioNetModel::process_tx() {
    Queue& q = queues_[TX];
    uint16_t head;
    std::vector<Seg> segs;
    while (running() && pop_avail(q, head)) {
        std::vector<uint8_t> bytes;
        bool ok = walk(q, head, segs);
        for (const Seg& s : segs) {
            if (!ok) break;
            if (s.writable) {
                ok = false;
                break;
            }  // a transmit buffer is read-only (5.1.6.2)
            uint8_t* p = dma(s.bus, s.len, "transmit buffer");
            if (!p) {
                ok = false;
                break;
            }
            bytes.insert(bytes.end(), p, p + s.len);
        }
        if (segs.size() > 1) stats_.chained_tx++;
        spec::NetHdr h{};
        if (ok && bytes.size() >= HEADER) std::memcpy(&h, bytes.data(), HEADER);
        // 5.1.6.2: without CSUM negotiated, flags must be 0; without GSO, GSO_NONE.
        if (!ok || bytes.size() < HEADER + 14 || h.gso_type != spec::NET_HDR_GSO_NONE ||
            ((h.flags & spec::NET_HDR_F_NEEDS_CSUM) && !(driver_features_ & spec::feature::NET_CSUM))) {
            stats_.bad_chains++;
        } else {
            std::vector<uint8_t> frame(bytes.begin() + HEADER, bytes.end());
            stats_.tx_frames++;
            if (options_.loopback) backlog_.push_back(frame);
            if (options_.keep_sent) sent_.push_back(std::move(frame));
        }
        push_used(q, head, 0, stats_.tx_ring_wraps);
    }
    if (options_.loopback) deliver_rx();
}

void VirtioNetModel::inject(const std::vector<uint8_t>& frame) {
    backlog_.push_back(frame);
    deliver_rx();
}

void VirtioNetModel::deliver_rx() {
    Queue& q = queues_[RX];
    std::vector<Seg> segs;
    while (running() && !backlog_.empty()) {
        uint16_t head;
        if (!pop_avail(q, head)) break;
        const std::vector<uint8_t>& frame = backlog_.front();
        std::vector<uint8_t> bytes(HEADER + frame.size());
        spec::NetHdr h{};
        h.num_buffers = 1;
        std::memcpy(bytes.data(), &h, HEADER);
        std::memcpy(bytes.data() + HEADER, frame.data(), frame.size());
        size_t done = 0;
        bool ok = walk(q, head, segs);
        for (const Seg& s : segs) {
            if (!ok || done == bytes.size()) break;
            if (!s.writable) {
                ok = false;
                break;
            }
            size_t n = std::min<size_t>(s.len, bytes.size() - done);
            uint8_t* p = dma(s.bus, n, "receive buffer");
            if (!p) {
                ok = false;
                break;
            }
            std::memcpy(p, bytes.data() + done, n);
            done += n;
        }
        if (!ok || done < bytes.size()) {
            stats_.bad_chains++;
            stats_.rx_dropped++;
            push_used(q, head, 0, stats_.rx_ring_wraps);
        } else {
            stats_.rx_frames++;
            push_used(q, head, uint32_t(bytes.size()), stats_.rx_ring_wraps);
        }
        backlog_.pop_front();
    }
    while (backlog_.size() > options_.rx_backlog) {
        backlog_.pop_front();
        stats_.rx_dropped++;
    }
}

void VirtioNetModel::set_link(bool up) {
    net_status_ = up ? spec::NET_S_LINK_UP : 0;
    generation_++;
    if (running()) interrupt(msix_config_);
}

}  // namespace lamina::virtio_model
