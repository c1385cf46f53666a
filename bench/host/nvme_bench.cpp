// Host benchmark for the NVMe driver core (drivers/nvme/controller.h): cycles per 4 KiB read
// through the driver against the controller model (tests/models/nvme_model.h), at queue depth
// 1 and 32, with the model's own share measured separately as the baseline.
//
// The platform times every call into the model (register accesses, which include processing a
// doorbell, and step(), which executes commands and posts completions) with rdtsc, so
//   total  = cycles per I/O for the whole loop (submit, wait, reap),
//   model  = cycles per I/O spent inside the model (minus the timer's own cost),
//   driver = total - model: what the driver core costs per I/O.
// The model executes commands in step(), which the platform calls when the driver waits, so at
// depth 32 the driver really has 32 commands outstanding. "cycles" are TSC ticks. Best of 5.
// A second table runs the same reads through the block interface (BlockAdaptor), in batches.
//
// Build: `ninja build/bench/nvme_bench` (it links the portable files and the device models).
#include <x86intrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <unordered_map>

#include "bench/host/measure.h"
#include "drivers/nvme/block_adaptor.h"
#include "drivers/nvme/controller.h"
#include "tests/models/nvme_model.h"
#include "tests/unit/host_domains.cpp"  // the host exchange heap, for the adaptor's RRefBytes

namespace {

using lamina::drivers::DmaRegion;
using lamina::nvme::BlockCompletion;
using lamina::nvme::BlockOp;
using lamina::nvme::BlockRequest;
using lamina::nvme::Config;
using lamina::nvme::Controller;
using lamina::nvme::DmaSegment;
using lamina::nvme_model::NvmeModel;
using lamina::nvme_model::Options;

class TimedPlatform final : public lamina::nvme::Platform {
public:
    explicit TimedPlatform(NvmeModel& m) : model_(m) {}

    uint32_t read32(uint32_t off) override {
        uint64_t t = __rdtsc();
        uint32_t v = model_.read32(off);
        charge(t);
        return v;
    }
    void write32(uint32_t off, uint32_t v) override {
        uint64_t t = __rdtsc();
        model_.write32(off, v);
        charge(t);
    }
    uint64_t read64(uint32_t off) override { return model_.read64(off); }
    void write64(uint32_t off, uint64_t v) override { model_.write64(off, v); }
    lamina::Result<DmaRegion> alloc_dma(size_t bytes) override {
        auto a = model_.memory().allocate(bytes);
        if (!a.virt) return lamina::Errno::NoMem;
        return DmaRegion{a.virt, a.phys, a.size};
    }
    void free_dma(const DmaRegion& r) override { model_.memory().free(r.bus); }
    uint64_t now_ns() override { return clock_; }
    void delay_us(uint32_t us) override { clock_ += us * 1000ull; }
    void wait_interrupt(uint16_t, uint64_t deadline) override {
        uint64_t t = __rdtsc();
        size_t n = model_.step();
        charge(t);
        if (n == 0 && clock_ < deadline) clock_ = deadline;
    }

    uint64_t model_cycles = 0;
    uint64_t model_calls = 0;

private:
    void charge(uint64_t start) {
        model_cycles += __rdtsc() - start;
        model_calls++;
    }
    NvmeModel& model_;
    uint64_t clock_ = 1;
};

struct Figure {
    double total, model;
};

Figure run(uint32_t depth, uint32_t ios, double overhead) {
    Options o;
    o.process_on_doorbell = false;
    o.namespaces = {lamina::nvme_model::NamespaceSpec{1, 262144, 9, true}};  // 128 MiB
    NvmeModel model(o);
    TimedPlatform platform(model);
    Config c;
    c.io_queues = 1;
    c.io_queue_entries = 64;
    auto created = Controller::create(platform, c);
    if (created.is_error()) {
        std::printf("nvme_bench: bring-up failed: %s\n", created.error().name());
        return {0, 0};
    }
    auto ctl = created.release_value();
    std::vector<DmaSegment> segs(depth);
    std::vector<BlockRequest> reqs(depth);
    for (uint32_t i = 0; i < depth; i++) {
        auto a = model.memory().allocate(4096);
        segs[i] = DmaSegment{a.phys, 4096};
        reqs[i].op = BlockOp::Read;
        reqs[i].blocks = 8;
        reqs[i].segments = &segs[i];
        reqs[i].segment_count = 1;
        reqs[i].tag = i;
    }
    Figure best{1e30, 0};
    for (int rep = 0; rep < 5; rep++) {
        platform.model_cycles = platform.model_calls = 0;
        uint64_t lba = 0;
        auto next_lba = [&] { return (lba += 8) % 262144; };
        for (auto& r : reqs) r.lba = next_lba();
        uint64_t start = __rdtsc();
        uint32_t issued = ctl->submit(0, reqs.data(), depth).value();
        uint32_t done = 0;
        BlockCompletion out[64];
        while (done < ios) {
            uint32_t n = ctl->wait(0, out, 64).value();
            done += n;
            // Refill with the requests that came back (their tags name them).
            for (uint32_t i = 0; i < n && issued < ios; i++) {
                BlockRequest& r = reqs[out[i].tag];
                r.lba = next_lba();
                issued += ctl->submit(0, &r, 1).value();
            }
        }
        uint64_t cycles = __rdtsc() - start;
        double total = double(cycles) / ios;
        double model_share = (double(platform.model_cycles) - overhead * double(platform.model_calls)) / ios;
        if (total < best.total) best = {total, model_share};
    }
    return best;
}

// The same reads through the block interface (drivers/nvme/block_adaptor.h) as the nvme domain
// runs it: batches of `depth` requests with RRefBytes buffers in the exchange heap, the
// controller DMAing into them in place. The host maps a buffer into the model once (the
// domain's exchange_dma_segments capability, a page-table walk, is not modelled).
class BenchHost final : public lamina::nvme::BlockHost {
public:
    explicit BenchHost(NvmeModel& m) : model_(m) {}
    lamina::Result<uint32_t> map_buffer(const void* object, uint64_t offset, uint64_t length, DmaSegment* out,
                                        uint32_t) override {
        auto* p = const_cast<uint8_t*>(static_cast<const uint8_t*>(object)) + offset;
        auto [it, fresh] = mapped_.try_emplace(p, 0);
        if (fresh) it->second = model_.memory().map_external(p, length);
        out[0] = DmaSegment{it->second, uint32_t(length)};
        return 1u;
    }
    void controller_failed(const char* why) override { std::printf("nvme_bench: controller failed: %s\n", why); }
    void yield() override {}

private:
    NvmeModel& model_;
    std::unordered_map<const void*, uint64_t> mapped_;
};

Figure run_adaptor(uint32_t depth, uint32_t ios, double overhead) {
    using Batch = lamina::RRefDeque<lamina::idl::BlockRequest, 32>;
    lamina::host::HostDomains domains;
    for (const auto* t = lamina::idl::block_types; *t; t++) (void)domains.heap().register_type(**t);
    Options o;
    o.process_on_doorbell = false;
    o.namespaces = {lamina::nvme_model::NamespaceSpec{1, 262144, 9, true}};
    NvmeModel model(o);
    TimedPlatform platform(model);
    BenchHost host(model);
    Config c;
    c.io_queues = 1;
    c.io_queue_entries = 64;
    auto ctl = Controller::create(platform, c).release_value();
    auto adaptor = lamina::nvme::BlockAdaptor::create(*ctl, host).release_value();
    Batch batch = Batch::create().release_value();
    for (uint32_t i = 0; i < depth; i++) {
        auto r = lamina::RRef<lamina::idl::BlockRequest>::create().release_value();
        r->op = lamina::idl::BlockOp::Read;
        r->blocks = 8;
        r->buf = lamina::RRefBytes::create(4096).release_value();
        (void)batch.push_back(std::move(r));
    }
    Figure best{1e30, 0};
    for (int rep = 0; rep < 5; rep++) {
        platform.model_cycles = platform.model_calls = 0;
        uint64_t lba = 0;
        uint64_t start = __rdtsc();
        for (uint32_t done = 0; done < ios; done += depth) {
            auto& s = *batch.handle();
            for (uint32_t i = 0; i < depth; i++) s.slots[(s.head + i) % 32]->lba = (lba += 8) % 262144;
            batch = adaptor->submit(std::move(batch)).release_value();
        }
        double total = double(__rdtsc() - start) / ios;
        double model_share = (double(platform.model_cycles) - overhead * double(platform.model_calls)) / ios;
        if (total < best.total) best = {total, model_share};
    }
    return best;
}

}  // namespace

int main() {
    double overhead = lamina::bench::timer_overhead();
    std::printf(
        "nvme driver core vs controller model, 4 KiB reads "
        "(TSC cycles per I/O, best of 5)\n");
    std::printf("  timer overhead per model call taken out: %.1f cycles\n", overhead);
    for (uint32_t depth : {1u, 32u}) {
        Figure f = run(depth, 200000, overhead);
        std::printf(
            "  QD%-2u  total %7.0f   model (baseline) %7.0f   driver %7.0f   "
            "driver/model %.2f\n",
            depth, f.total, f.model, f.total - f.model, f.model > 0 ? (f.total - f.model) / f.model : 0.0);
    }
    std::printf("through the block interface (BlockAdaptor: batches of QD requests, RRefBytes buffers)\n");
    for (uint32_t depth : {1u, 32u}) {
        Figure f = run_adaptor(depth, depth == 1 ? 100000 : 200000, overhead);
        std::printf("  QD%-2u  total %7.0f   model (baseline) %7.0f   adaptor+driver %7.0f\n", depth, f.total, f.model,
                    f.total - f.model);
    }
    return 0;
}
