// The virtio-net driver core (drivers/virtio/net) facing a hostile device: the virtio model
// (tests/models/virtio_net_model) behind a platform that, as the input says, returns garbage
// from configuration space and BAR reads (capabilities, queue sizes, status, used indexes),
// refuses DMA allocations and MSI-X, and writes garbage into the rings it was given (used
// entries naming any id with any length, flags, indexes), while frames of any size and content
// arrive from the wire and the link comes and goes.
//
// Input: a set-up byte (queue size, interrupts, model options), a length byte and that many
// times 4 bytes of platform answers (until they run out), then the calls. Checked: every tag the
// driver hands back was posted and is handed back once; a received frame lies inside the buffer
// it was posted with; rx_space/tx_space never exceed the ring; after quiesce every DMA region
// comes back when the driver goes.
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>

#include <algorithm>
#include <vector>

#include "drivers/virtio/net.h"
#include "tests/fuzz/buffer_ledger.h"
#include "tests/models/virtio_net_model.h"

using namespace lamina;
using lamina::virtio::DmaRegion;
using lamina::virtio_model::VirtioNetModel;

namespace {

class HostilePlatform final : public virtio::Platform {
public:
    HostilePlatform(VirtioNetModel& model, fuzz::Input& answers, bool msix)
        : model_(model), answers_(answers), msix_(msix) {}
    ~HostilePlatform() { FUZZ_CHECK(regions_.empty(), "the driver leaked %zu DMA regions", regions_.size()); }

    uint8_t config_read8(uint16_t o) override { return garbled(model_.config_read8(o)); }
    uint16_t config_read16(uint16_t o) override { return garbled(model_.config_read16(o)); }
    uint32_t config_read32(uint16_t o) override { return garbled(model_.config_read32(o)); }
    uint64_t bar_size(uint8_t bar) override { return model_.bar_size(bar); }
    uint32_t bar_read(uint8_t bar, uint32_t off, uint8_t width) override {
        uint32_t v = garbled(model_.bar_read(bar, off, width));
        return width == 4 ? v : v & ((1u << (8 * width)) - 1);
    }
    void bar_write(uint8_t bar, uint32_t off, uint8_t width, uint32_t v) override {
        model_.bar_write(bar, off, width, v);
    }

    Result<DmaRegion> alloc_dma(size_t bytes) override {
        if (chance(4)) return Errno::NoMem;
        size_t size = (bytes + 4095) & ~size_t(4095);
        FUZZ_CHECK(size > 0 && size <= (1u << 24), "a DMA allocation of %zu bytes", bytes);
        void* p = aligned_alloc(4096, size);
        if (!p) return Errno::NoMem;
        memset(p, 0, size);
        model_.grant(p, size);
        regions_.push_back(DmaRegion{p, reinterpret_cast<uint64_t>(p), size});
        return regions_.back();
    }
    void free_dma(const DmaRegion& r) override {
        auto it = std::find_if(regions_.begin(), regions_.end(), [&](const DmaRegion& x) { return x.virt == r.virt; });
        FUZZ_CHECK(it != regions_.end(), "free_dma of a region never allocated (or freed twice): %p", r.virt);
        FUZZ_CHECK(it->size == r.size, "free_dma with another size");
        regions_.erase(it);
        model_.revoke(r.virt);
        free(r.virt);
    }
    uint64_t now_ns() override { return clock_ns_; }
    void delay_us(uint32_t us) override { clock_ns_ += uint64_t(us) * 1000; }
    uint32_t setup_interrupts(uint32_t wanted) override { return msix_ && !chance(16) ? wanted : 0; }
    void wait_interrupt(uint16_t vector, uint64_t deadline_ns) override {
        if (!model_.take_interrupt(vector) && clock_ns_ < deadline_ns) clock_ns_ = deadline_ns;
    }

    // The device DMAs garbage into a region the driver gave it: one 4-byte field, or a whole
    // 16-byte descriptor, in the first 4 KiB (rings of up to 256 entries start there).
    void scribble(uint8_t op, fuzz::Input& in) {
        if (regions_.empty()) return;
        const DmaRegion& r = regions_[in.take<uint8_t>() % regions_.size()];
        fuzz::scribble(r.virt, r.size, 4096, op & 0x80 ? 16 : 4, in);
    }

private:
    bool chance(uint8_t n) { return !answers_.empty() && answers_.take<uint8_t>() < n; }
    template <typename T>
    T garbled(T v) {
        return chance(6) ? answers_.take<T>() : v;
    }

    VirtioNetModel& model_;
    fuzz::Input& answers_;
    bool msix_;
    std::vector<DmaRegion> regions_;
    uint64_t clock_ns_ = 1'000'000'000;
};

// The caller's buffers (2 KiB each, granted to the device) and which ring each one is on.
class Pool : public fuzz::BufferLedger<96> {
public:
    static constexpr uint32_t COUNT = 96, BYTES = 2048;
    explicit Pool(VirtioNetModel& model) : mem_(static_cast<uint8_t*>(aligned_alloc(4096, COUNT * BYTES))) {
        model.grant(mem_, COUNT * BYTES);
    }
    ~Pool() { free(mem_); }
    uint8_t* data(uint32_t t) { return mem_ + size_t(t) * BYTES; }
    uint64_t bus(uint32_t t) { return reinterpret_cast<uint64_t>(data(t)); }

private:
    uint8_t* mem_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in(data, size);
    uint8_t setup = in.take<uint8_t>();
    lamina::virtio_model::Options o;
    o.queue_max = uint16_t(8u << (setup & 3));
    o.loopback = setup & 0x04;
    o.suppress_notify = setup & 0x08;
    o.msix = !(setup & 0x10);
    o.keep_sent = false;
    virtio::NetOptions n;
    n.queue_size = uint16_t(4u << ((setup >> 5) & 3));
    n.use_interrupts = !(setup & 0x80);
    fuzz::Input answers = in.split(size_t{in.take<uint8_t>()} * 4);
    VirtioNetModel model(o);
    HostilePlatform platform(model, answers, o.msix);
    Pool pool(model);
    {
        virtio::VirtioNet dev(platform);
        Result<void> r = dev.init(n);
        if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "init: %s\n", r.is_ok() ? "ok" : r.error().name());
        if (r.is_ok()) {
            nic::CoreInfo info = dev.info();
            nic::RxDone rx[64];
            nic::TxDone tx[64];
            while (!in.empty()) {
                uint8_t op = in.take<uint8_t>();
                switch (op % 8) {
                    case 0: {  // post receive buffers
                        for (uint32_t k = 0, want = 1 + (op >> 3) % 16, t; k < want && pool.take(t, Pool::Where::Rx);
                             k++)
                            if (dev.post_rx({pool.data(t), pool.bus(t), Pool::BYTES, t}).is_error()) pool.refused(t);
                        dev.kick();
                        break;
                    }
                    case 1: {
                        uint32_t got = dev.reap_rx(rx, 1 + (op >> 3) % 64);
                        FUZZ_CHECK(got <= 64, "reap_rx returned %u", got);
                        for (uint32_t i = 0; i < got; i++) {
                            FUZZ_CHECK(uint32_t(rx[i].offset) + rx[i].len <= Pool::BYTES,
                                       "a frame at %u of %u bytes in a buffer of %u", rx[i].offset, rx[i].len,
                                       Pool::BYTES);
                            pool.give_back(rx[i].tag, Pool::Where::Rx);
                        }
                        break;
                    }
                    case 2: {  // send, with or without headroom for the header
                        for (uint32_t k = 0, want = 1 + (op >> 3) % 8, t; k < want && pool.take(t, Pool::Where::Tx);
                             k++) {
                            uint16_t headroom = op & 0x80 ? 0 : uint16_t(info.tx_headroom);
                            uint16_t len = uint16_t(in.take<uint16_t>() % (Pool::BYTES - headroom));
                            memset(pool.data(t) + headroom, 0xff, len < 6 ? len : 6);
                            nic::TxPost p{pool.data(t), pool.bus(t), headroom, len, 0, 0, 0, t};
                            if (op & 0x40) {
                                p.flags = nic::PACKET_TX_CSUM;
                                p.csum_start = in.take<uint16_t>();
                                p.csum_offset = in.take<uint16_t>();
                            }
                            if (dev.post_tx(p).is_error()) pool.refused(t);
                        }
                        dev.kick();
                        break;
                    }
                    case 3: {
                        uint32_t got = dev.reap_tx(tx, 1 + (op >> 3) % 64);
                        FUZZ_CHECK(got <= 64, "reap_tx returned %u", got);
                        for (uint32_t i = 0; i < got; i++) pool.give_back(tx[i].tag, Pool::Where::Tx);
                        break;
                    }
                    case 4:
                        (void)dev.wait(in.take<uint16_t>() * 1000ull);
                        break;
                    case 5: {  // a frame from the wire, of any size and content (the model
                               // takes no empty ones: there is no such thing on a wire)
                        size_t got;
                        const uint8_t* b = in.bytes(1 + in.take<uint16_t>() % 1600, &got);
                        if (got) model.inject(std::vector<uint8_t>(b, b + got));
                        if (op & 0x80) model.step();
                        break;
                    }
                    case 6:
                        if (op & 0x80)
                            model.set_link(op & 0x40);
                        else if (op & 0x40)
                            (void)dev.link();
                        else
                            (void)dev.counters();
                        break;
                    case 7:
                        platform.scribble(op, in);
                        break;
                }
                FUZZ_CHECK(dev.rx_space() <= info.rx_ring && dev.tx_space() <= info.tx_ring,
                           "space %u/%u beyond rings of %u/%u", dev.rx_space(), dev.tx_space(), info.rx_ring,
                           info.tx_ring);
            }
            dev.quiesce();
        }
    }
    return 0;  // ~HostilePlatform checks that every DMA region came back
}
