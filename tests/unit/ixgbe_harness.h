// Shared by the ixgbe host tests (and the benchmark): a driver core over the 82599 model,
// a pool of packet buffers in the model's granted memory, and a loopback traffic engine that
// checks every byte of every frame.
#pragma once

#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

#include "drivers/ixgbe/device.h"
#include "tests/models/ixgbe_model.h"
#include "tests/models/ixgbe_model_platform.h"

namespace lamina::ixgbe_test {

using ixgbe::Config;
using ixgbe::Device;
using ixgbe::RxBuffer;
using ixgbe::RxFragment;
using ixgbe::TxFrame;
using ixgbe_model::IxgbeModel;
using ixgbe_model::IxgbeModelPlatform;
using ixgbe_model::Options;
using lamina::Own;

constexpr size_t BUFFER_BYTES = 2048;
constexpr uint16_t ETHERTYPE_TEST = 0x88b5;  // IEEE local experimental

// Packet buffers in one granted allocation; a buffer's cookie is its index.
class PacketPool {
public:
    PacketPool(IxgbeModel& model, size_t count) : model_(model), count_(count) { renew(); }
    ~PacketPool() { revoke(); }
    // Fresh memory for every buffer (a new driver instance's pool).
    void renew() {
        revoke();
        auto a = model_.memory().allocate(count_ * BUFFER_BYTES);
        base_ = static_cast<uint8_t*>(a.virt);
        phys_ = a.phys;
        for (size_t i = count_; i-- > 0;) free_.push_back(uint32_t(i));
    }
    // Frees the memory (the device may no longer reach it).
    void revoke() {
        if (base_) model_.memory().free(phys_);
        base_ = nullptr;
        free_.clear();
    }
    uint8_t* data(uint64_t cookie) { return base_ + cookie * BUFFER_BYTES; }
    uint64_t phys(uint64_t cookie) const { return phys_ + cookie * BUFFER_BYTES; }
    bool empty() const { return free_.empty(); }
    size_t available() const { return free_.size(); }
    uint32_t take() {
        uint32_t c = free_.back();
        free_.pop_back();
        return c;
    }
    void put(uint64_t cookie) { free_.push_back(uint32_t(cookie)); }

private:
    IxgbeModel& model_;
    size_t count_;
    uint8_t* base_ = nullptr;
    uint64_t phys_ = 0;
    std::vector<uint32_t> free_;
};

// The bytes of test frame `seq` of length `len`: to `dst`, a fixed source, the test
// ethertype, the sequence number, then a pattern that depends on the sequence number.
inline void fill_frame(uint8_t* out, uint64_t seq, size_t len, const uint8_t* dst) {
    static const std::vector<uint8_t> pattern = [] {
        std::vector<uint8_t> p(8192);
        std::mt19937 rng(12345);
        for (auto& b : p) b = uint8_t(rng());
        return p;
    }();
    static const uint8_t src[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x99};
    memcpy(out, dst, 6);
    memcpy(out + 6, src, 6);
    out[12] = ETHERTYPE_TEST >> 8;
    out[13] = ETHERTYPE_TEST & 0xff;
    memcpy(out + 14, &seq, 8);
    memcpy(out + 22, pattern.data() + (seq * 61) % 4096, len - 22);
}

class Rig {
public:
    explicit Rig(Options o = {}, size_t buffers = 4096) : model(o), platform(model), pool(model, buffers) {}

    lamina::Result<void> start(Config c = loopback_config()) {
        auto d = Device::create(platform, c);
        if (d.is_error()) return d.error();
        dev = d.release_value();
        return {};
    }
    static Config loopback_config() {
        Config c;
        c.loopback = true;
        c.rx_buffer_bytes = BUFFER_BYTES;
        c.link_wait_ns = 50'000'000;
        return c;
    }
    // Keeps the receive ring full from the pool.
    void refill() {
        RxBuffer b[64];
        for (;;) {
            uint32_t room = dev->config().rx_entries - 1 - dev->rx_posted();
            uint32_t n = std::min<uint32_t>({room, 64, uint32_t(pool.available())});
            if (n == 0) return;
            for (uint32_t i = 0; i < n; i++) {
                uint32_t c = pool.take();
                b[i] = RxBuffer{pool.phys(c), c};
            }
            auto r = dev->post_rx(b, n);
            if (r.is_error() || r.value() != n) {
                ADD_FAILURE() << "post_rx took " << (r.is_ok() ? r.value() : 0) << " of " << n;
                return;
            }
        }
    }
    const uint8_t* mac() const { return dev->mac().bytes; }
    // A test frame in a buffer from the pool, to `dst` (default: the device itself).
    TxFrame frame(uint64_t seq, size_t len, const uint8_t* dst = nullptr) {
        uint32_t k = pool.take();
        fill_frame(pool.data(k), seq, len, dst ? dst : mac());
        return TxFrame{pool.phys(k), uint16_t(len), k};
    }
    // Test frames arriving from the link partner, to `dst` (default: the device's address).
    void from_wire(uint64_t first_seq, uint32_t count, size_t len, const uint8_t* dst = nullptr) {
        std::vector<uint8_t> f(len);
        for (uint32_t i = 0; i < count; i++) {
            fill_frame(f.data(), first_seq + i, len, dst ? dst : model.options().mac);
            model.receive_from_wire(f.data(), len);
        }
    }

    IxgbeModel model;
    IxgbeModelPlatform platform;
    PacketPool pool;
    Own<Device> dev;
};

// Loopback traffic: `total` frames of random sizes in [min_len, max_len], sent to the
// device's own address in batches of `batch` and received back in order; every byte is
// checked. Returns the frames received and checked.
inline uint64_t loop_frames(Rig& rig, uint64_t total, uint32_t batch, std::mt19937_64& rng, size_t min_len = 60,
                            size_t max_len = 1514) {
    std::uniform_int_distribution<size_t> size(min_len, max_len);
    std::deque<std::pair<uint64_t, size_t>> expected;
    std::vector<uint8_t> want(16384), got_frame;
    uint64_t next = 0, got = 0;
    uint32_t idle = 0;
    TxFrame tx[64];
    uint64_t done[64];
    RxFragment frags[64];
    while (got < total) {
        rig.refill();
        bool progress = false;
        uint32_t n = uint32_t(std::min<uint64_t>({batch, total - next, rig.dev->tx_free()}));
        n = std::min<uint32_t>(n, uint32_t(rig.pool.available()));
        for (uint32_t i = 0; i < n; i++) {
            uint32_t c = rig.pool.take();
            size_t len = size(rng);
            fill_frame(rig.pool.data(c), next + i, len, rig.mac());
            tx[i] = TxFrame{rig.pool.phys(c), uint16_t(len), c};
            expected.emplace_back(next + i, len);
        }
        if (n) {
            auto s = rig.dev->send(tx, n);
            if (s.is_error() || s.value() != n) {
                ADD_FAILURE() << "send took " << (s.is_ok() ? s.value() : 0) << " of " << n;
                return got;
            }
            next += n;
            progress = true;
        }
        for (;;) {
            auto r = rig.dev->reclaim(done, 64);
            if (r.is_error()) {
                ADD_FAILURE() << "reclaim: " << rig.dev->failure_message();
                return got;
            }
            for (uint32_t i = 0; i < r.value(); i++) rig.pool.put(done[i]);
            if (r.value() == 0) break;
            progress = true;
        }
        for (;;) {
            auto r = rig.dev->receive(frags, 64);
            if (r.is_error()) {
                ADD_FAILURE() << "receive failed";
                return got;
            }
            uint32_t k = r.value();
            for (uint32_t i = 0; i < k;) {
                got_frame.clear();
                uint32_t j = i;
                do {
                    const uint8_t* p = rig.pool.data(frags[j].cookie);
                    got_frame.insert(got_frame.end(), p, p + frags[j].len);
                } while (!(frags[j++].flags & ixgbe::FRAG_EOP));
                if (expected.empty()) {
                    ADD_FAILURE() << "a frame arrived that was never sent";
                    return got;
                }
                auto [seq, len] = expected.front();
                expected.pop_front();
                fill_frame(want.data(), seq, len, rig.mac());
                if (!(frags[i].flags & ixgbe::FRAG_FIRST) || (frags[i].flags & ixgbe::FRAG_ERROR) ||
                    got_frame.size() != len || memcmp(got_frame.data(), want.data(), len)) {
                    ADD_FAILURE() << "frame " << seq << " (" << len << " bytes) arrived as " << got_frame.size()
                                  << " bytes, flags " << int(frags[i].flags)
                                  << (got_frame.size() == len ? ", contents differ" : "");
                    return got;
                }
                for (; i < j; i++) rig.pool.put(frags[i].cookie);
                got++;
            }
            if (k == 0) break;
            progress = true;
        }
        idle = progress ? 0 : idle + 1;
        if (idle > 100) {
            ADD_FAILURE() << "no progress: sent " << next << ", received " << got;
            return got;
        }
    }
    return got;
}

}  // namespace lamina::ixgbe_test
