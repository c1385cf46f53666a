// The 82599 driver core (drivers/ixgbe/device) facing hostile descriptors: the register-level
// model (tests/models/ixgbe_model) behind a platform that, as the input says, writes garbage
// into the descriptor rings (write-back status, lengths, DD and EOP bits), returns garbage
// register values, and fails the ways a real one does (link flaps, a stalled queue, a device
// that reads as all ones), while frames of any size and content arrive from the wire.
//
// Input: 2 bytes of set-up (ring sizes, buffer size, loopback, interrupt throttling), a length
// byte and that many times 4 bytes of platform answers (garbage register values, failed DMA
// allocations, both until they run out), then the calls, among them the device's DMA writes. Checked: every cookie the
// driver hands back was given to it and is handed back once; a received fragment never claims
// more bytes than its buffer holds; the driver frees every DMA region it allocated.
#include "tests/fuzz/fuzz.h"

#include <algorithm>
#include <vector>

#include "drivers/ixgbe/device.h"
#include "tests/fuzz/buffer_ledger.h"
#include "tests/fuzz/hostile_dma.h"
#include "tests/models/ixgbe_model.h"

using namespace lamina;
using namespace lamina::ixgbe;
using lamina::ixgbe_model::IxgbeModel;

namespace {

class HostilePlatform final : public Platform {
public:
    HostilePlatform(IxgbeModel& model, fuzz::Input& in) : model_(model), in_(in), dma_(model.memory(), in) {
        model_.advance(clock_ns_);
        model_.set_msix_handler([this](uint16_t) { fired_ = true; });
        model_.set_bus_master(true);
    }
    uint32_t read32(uint32_t offset) override {
        uint32_t v = model_.read32(offset);
        return chance(6) ? in_.take<uint32_t>() : v;
    }
    void write32(uint32_t offset, uint32_t value) override { model_.write32(offset, value); }
    Result<DmaRegion> alloc_dma(size_t bytes) override { return dma_.allocate(bytes, 3); }
    void free_dma(const DmaRegion& region) override { dma_.free(region); }
    uint64_t now_ns() override { return clock_ns_; }
    void delay_us(uint32_t us) override { set_clock(clock_ns_ + uint64_t(us) * 1000); }
    uint32_t setup_interrupts(uint32_t wanted) override { return wanted; }
    void wait_interrupt(uint16_t, uint64_t deadline_ns) override {
        if (fired_) {
            fired_ = false;
            return;
        }
        set_clock(std::min(deadline_ns, std::max(model_.next_event_ns(), clock_ns_ + 1000)));
        fired_ = false;
    }

    // The device DMAs garbage into the memory the driver gave it (the rings): `op` picks one
    // field or a whole 16-byte descriptor; the rings are at most 64 descriptors (1 KiB) long.
    void scribble(uint8_t op, fuzz::Input& in) { dma_.scribble(1024, op & 0x80 ? 16 : 4, in); }
    void set_clock(uint64_t ns) {
        clock_ns_ = ns;
        model_.advance(ns);
    }

private:
    bool chance(uint8_t n) { return dma_.chance(n); }

    IxgbeModel& model_;
    fuzz::Input& in_;
    fuzz::HostileDma<DmaRegion> dma_;
    uint64_t clock_ns_ = 1'000'000'000;
    bool fired_ = false;
};

// The caller's buffers (2 KiB each, in the model's memory) and where each one is.
class Pool : public fuzz::BufferLedger<96> {
public:
    static constexpr uint32_t COUNT = 96, BYTES = 2048;
    explicit Pool(IxgbeModel& model) : alloc_(model.memory().allocate(COUNT * BYTES)) {}
    uint8_t* data(uint64_t c) { return static_cast<uint8_t*>(alloc_.virt) + c * BYTES; }
    uint64_t phys(uint64_t c) const { return alloc_.phys + c * BYTES; }

private:
    lamina::nvme_model::ModelMemory::Allocation alloc_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in(data, size);
    Config c;
    uint8_t setup = in.take<uint8_t>();
    c.rx_entries = uint16_t(8u << (setup & 3));
    c.tx_entries = uint16_t(8u << ((setup >> 2) & 3));
    c.rx_buffer_bytes = setup & 0x10 ? 2048 : 1024;
    c.loopback = setup & 0x20;
    c.link_wait_ns = setup & 0x40 ? 5'000'000 : 0;
    c.itr_interval_ns = in.take<uint8_t>() * 100u;
    lamina::ixgbe_model::Options o;
    o.cable = !(setup & 0x80);
    fuzz::Input answers = in.split(size_t{in.take<uint8_t>()} * 4);
    IxgbeModel model(o);
    HostilePlatform platform(model, answers);
    Pool pool(model);
    // The most a fragment can fill of a buffer (device.h, RxBuffer).
    uint32_t buffer_holds = c.rx_buffer_bytes < 2048 ? c.rx_buffer_bytes : std::min(c.rx_buffer_bytes, MAX_RX_WRITE);
    {
        Result<Own<Device>> created = Device::create(platform, c);
        if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "create: %s\n", created.is_ok() ? "ok" : created.error().name());
        if (created.is_ok()) {
            Own<Device> dev = created.release_value();
            RxFragment frags[64];
            uint64_t cookies[64];
            while (!in.empty()) {
                uint8_t op = in.take<uint8_t>();
                switch (op % 9) {
                    case 0: {  // post receive buffers
                        RxBuffer b[16];
                        uint32_t n = 0, want = 1 + (op >> 3) % 16;
                        for (uint32_t k; n < want && pool.take(k, Pool::Where::Rx); n++)
                            b[n] = RxBuffer{pool.phys(k), k};
                        Result<uint32_t> r = dev->post_rx(b, n);
                        uint32_t took = r.is_ok() ? r.value() : 0;
                        FUZZ_CHECK(took <= n, "took %u of %u buffers", took, n);
                        for (uint32_t i = took; i < n; i++) pool.refused(b[i].cookie);
                        break;
                    }
                    case 1: {
                        Result<uint32_t> r = dev->receive(frags, 1 + (op >> 3) % 64);
                        if (!r.is_ok()) break;
                        for (uint32_t i = 0; i < r.value(); i++) {
                            FUZZ_CHECK(frags[i].len <= buffer_holds, "a fragment of %u bytes in a buffer of %u",
                                       frags[i].len, buffer_holds);
                            pool.give_back(frags[i].cookie, Pool::Where::Rx);
                        }
                        break;
                    }
                    case 2: {  // send
                        TxFrame f[8];
                        uint32_t n = 0, want = 1 + (op >> 3) % 8;
                        for (uint32_t k; n < want && pool.take(k, Pool::Where::Tx); n++) {
                            uint16_t len = uint16_t(in.take<uint16_t>() % 1600);
                            memset(pool.data(k), 0xff, 6);  // broadcast, so a loopback receives it
                            f[n] = TxFrame{pool.phys(k), len, k};
                        }
                        Result<uint32_t> r = dev->send(f, n);
                        uint32_t took = r.is_ok() ? r.value() : 0;
                        FUZZ_CHECK(took <= n, "took %u of %u frames", took, n);
                        for (uint32_t i = took; i < n; i++) pool.refused(f[i].cookie);
                        break;
                    }
                    case 3: {
                        Result<uint32_t> r = dev->reclaim(cookies, 1 + (op >> 3) % 64);
                        if (!r.is_ok()) break;
                        for (uint32_t i = 0; i < r.value(); i++) pool.give_back(cookies[i], Pool::Where::Tx);
                        break;
                    }
                    case 4:
                        (void)dev->wait(dev->now_ns() + in.take<uint16_t>() * 1000ull);
                        break;
                    case 5: {  // a frame from the wire, of any size and content
                        uint8_t frame[1600];
                        size_t n;
                        const uint8_t* b = in.bytes(in.take<uint16_t>() % sizeof frame, &n);
                        memcpy(frame, b, n);
                        if (op & 0x80) memcpy(frame, dev->mac().bytes, n < 6 ? n : 6);
                        model.receive_from_wire(frame, n, op & 0x40);
                        break;
                    }
                    case 6:
                        if (op & 0x80)
                            model.flap_link(in.take<uint16_t>() * 1000ull);
                        else if (op & 0x40)
                            model.set_queue_stalled(op & 0x20);
                        else if (op & 0x20)
                            model.set_all_ones(op & 0x10);
                        else
                            (void)dev->counters();
                        break;
                    case 8:
                        platform.scribble(op, in);
                        break;
                    case 7:
                        (void)dev->link();
                        if (!dev->failed()) {
                            FUZZ_CHECK(dev->rx_posted() == pool.count(Pool::Where::Rx), "rx_posted %u, %u given",
                                       dev->rx_posted(), pool.count(Pool::Where::Rx));
                            FUZZ_CHECK(dev->tx_in_flight() == pool.count(Pool::Where::Tx), "tx_in_flight %u, %u given",
                                       dev->tx_in_flight(), pool.count(Pool::Where::Tx));
                        }
                        break;
                }
            }
            model.set_all_ones(false);
            dev->quiesce();
        }
    }
    return 0;  // ~HostilePlatform checks that every DMA region came back
}
