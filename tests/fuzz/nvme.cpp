// The NVMe driver core (drivers/nvme) facing a controller that lies: the device model
// (tests/models/nvme_model) behind a platform that, as the input says, returns garbage from
// registers, scribbles over the DMA memory the controller may write (completion entries,
// identify data, read buffers), loses or delays doorbells, and turns fatal, gone or silent.
//
// Input: 8 bytes of set-up (queues, entries, MDTS, stride, namespaces, block size), a length
// byte and that many times 8 bytes of platform answers (what registers read, which DMA
// allocations fail, which doorbells are lost, what the device does while the driver waits),
// then the driver's calls. When the answers run out the controller behaves again, and when the
// calls run out the run winds down: every request the driver took is completed or handed
// back, and the driver frees every DMA page it allocated.
#include "tests/fuzz/fuzz.h"

#include <set>
#include <vector>

#include "drivers/nvme/controller.h"
#include "tests/fuzz/hostile_dma.h"

using namespace lamina;
using namespace lamina::nvme;
using lamina::nvme_model::NamespaceSpec;
using lamina::nvme_model::NvmeModel;
using lamina::nvme_model::Options;

namespace {

class HostilePlatform final : public Platform {
public:
    HostilePlatform(NvmeModel& model, fuzz::Input& in) : model_(model), in_(in), dma_(model.memory(), in) {}

    uint32_t read32(uint32_t offset) override {
        uint32_t v = model_.read32(offset);
        return chance(12) ? in_.take<uint32_t>() : v;
    }
    uint64_t read64(uint32_t offset) override {
        uint64_t v = model_.read64(offset);
        return chance(12) ? in_.take<uint64_t>() : v;
    }
    void write32(uint32_t offset, uint32_t value) override {
        if (offset >= spec::reg::DOORBELL_BASE && chance(12)) return;  // a doorbell lost
        model_.write32(offset, value);
    }
    void write64(uint32_t offset, uint64_t value) override { model_.write64(offset, value); }

    Result<DmaRegion> alloc_dma(size_t bytes) override { return dma_.allocate(bytes, 4); }
    void free_dma(const DmaRegion& region) override { dma_.free(region); }

    uint64_t now_ns() override { return clock_ns_; }
    void delay_us(uint32_t us) override { clock_ns_ += uint64_t(us) * 1000; }
    void wait_interrupt(uint16_t, uint64_t deadline_ns) override {
        size_t posted = chance(16) ? 0 : model_.step();  // a slow controller does nothing this time
        mischief();
        if (posted == 0 && clock_ns_ < deadline_ns) clock_ns_ = deadline_ns;
    }

    // What a hostile device does between the driver's looks: DMA garbage into memory it may
    // write, or fail in one of the ways a real one does.
    void mischief() {
        uint8_t what = in_.take<uint8_t>();
        if (what < 160) return;
        if (what < 224) {
            scribble(what, in_);
        } else if (what < 232) {
            model_.set_fatal();
        } else if (what < 240) {
            model_.set_gone(in_.take<uint8_t>() & 1);
        } else if (what < 248) {
            model_.set_unresponsive(in_.take<uint8_t>() & 1);
        } else {
            model_.fail_io_command(1 + in_.take<uint8_t>() % 4, in_.take<uint8_t>() & 7, in_.take<uint8_t>(),
                                   in_.take<uint8_t>() & 1);
        }
    }

    // A DMA write into memory the driver gave the controller: a completion entry (16 bytes,
    // `op` odd) or one field; the queues are at most 64 entries, identify data 4 KiB.
    void scribble(uint8_t op, fuzz::Input& in) { dma_.scribble(4096, op & 1 ? 16 : 4, in); }

    // Calm: the calls are over, the device behaves from now on.
    void calm() {
        model_.set_gone(false);
        model_.set_unresponsive(false);
    }

private:
    bool chance(uint8_t n) { return dma_.chance(n); }

    NvmeModel& model_;
    fuzz::Input& in_;
    fuzz::HostileDma<DmaRegion> dma_;
    uint64_t clock_ns_ = 1'000'000'000;
};

// The caller's side: which tags are in flight, each completed once.
struct Tags {
    std::set<uint64_t> in_flight;
    uint64_t next = 1;
    void completed(const BlockCompletion* c, uint32_t n) {
        for (uint32_t i = 0; i < n; i++)
            FUZZ_CHECK(in_flight.erase(c[i].tag) == 1, "completion of tag %lu, which is not in flight", c[i].tag);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in(data, size);
    Options o;
    o.mdts = uint8_t(in.take<uint8_t>() % 8);
    o.mqes = uint16_t(1 + in.take<uint8_t>() % 64);
    o.dstrd = uint8_t(in.take<uint8_t>() % 3);
    uint8_t ns = in.take<uint8_t>();
    o.namespaces = {NamespaceSpec{1, 64 + (ns & 0x3f) * 8u, uint8_t(ns & 0x40 ? 12 : 9), true}};
    if (ns & 0x80) o.namespaces.push_back(NamespaceSpec{2, 16, 9, (ns & 1) != 0});
    o.process_on_doorbell = in.take<uint8_t>() & 1;
    Config c;
    c.io_queues = uint16_t(1 + in.take<uint8_t>() % MAX_IO_QUEUES);
    c.io_queue_entries = uint16_t(2 + in.take<uint8_t>() % 63);
    c.admin_queue_entries = uint16_t(2 + in.take<uint8_t>() % 15);
    c.command_timeout_ns = 1'000'000;

    fuzz::Input answers = in.split(size_t{in.take<uint8_t>()} * 8);
    NvmeModel model(o);
    HostilePlatform platform(model, answers);
    auto buffer = model.memory().allocate(64 * 1024);
    auto* bytes = static_cast<uint8_t*>(buffer.virt);
    Tags tags;
    {
        Result<Own<Controller>> created = Controller::create(platform, c);
        if (created.is_ok()) {
            Own<Controller> ctl = created.release_value();
            BlockCompletion out[64];
            BlockRequest handed_back[64 * MAX_IO_QUEUES];
            DmaSegment segs[4][4];
            while (!in.empty()) {
                uint8_t op = in.take<uint8_t>();
                uint16_t queue = uint16_t(op >> 5);  // sometimes past the queues there are
                switch (op % 6) {
                    case 0:
                    case 1: {
                        BlockRequest req[4];
                        uint32_t n = 1 + in.take<uint8_t>() % 4;
                        for (uint32_t i = 0; i < n; i++) {
                            uint8_t k = in.take<uint8_t>();
                            req[i].tag = tags.next++;
                            req[i].op = BlockOp(k % 3);
                            req[i].nsid = 1 + (k >> 7);
                            req[i].lba = in.take<uint8_t>();
                            req[i].blocks = req[i].op == BlockOp::Flush ? 0 : 1 + (k >> 2) % 16;
                            req[i].segment_count = req[i].op == BlockOp::Flush ? 0 : 1 + (k >> 5) % 3;
                            for (uint32_t s = 0; s < req[i].segment_count; s++) {
                                // Offsets and lengths mostly sector-sized, sometimes not.
                                uint16_t off = in.take<uint16_t>(), len = in.take<uint16_t>();
                                uint32_t start = (off & 1 ? off : off & ~511u) % (60 * 1024);
                                uint32_t length = 1 + (len & 1 ? len : len & ~511u) % (64 * 1024 - start);
                                segs[i][s] = DmaSegment{buffer.phys + start, length};
                            }
                            req[i].segments = segs[i];
                        }
                        Result<uint32_t> taken = ctl->submit(queue, req, n);
                        if (taken.is_ok()) {
                            FUZZ_CHECK(taken.value() <= n, "took %u of %u", taken.value(), n);
                            for (uint32_t i = 0; i < taken.value(); i++) tags.in_flight.insert(req[i].tag);
                        }
                        break;
                    }
                    case 2: {
                        Result<uint32_t> r = ctl->reap(queue, out, 1 + in.take<uint8_t>() % 64);
                        if (r.is_ok()) tags.completed(out, r.value());
                        break;
                    }
                    case 3: {
                        Result<uint32_t> r = ctl->wait(queue, out, 64);
                        if (r.is_ok()) tags.completed(out, r.value());
                        break;
                    }
                    case 5:
                        platform.scribble(op, in);
                        break;
                    case 4: {
                        uint32_t before = ctl->in_flight();
                        FUZZ_CHECK(before == tags.in_flight.size(), "in_flight() %u, %zu taken", before,
                                   tags.in_flight.size());
                        Result<uint32_t> r = ctl->reinitialize(handed_back, sizeof handed_back / sizeof handed_back[0]);
                        // Whether or not the bring-up worked, the requests in flight come back.
                        uint32_t back = r.is_ok() ? r.value() : before;
                        for (uint32_t i = 0; i < back; i++)
                            FUZZ_CHECK(tags.in_flight.erase(handed_back[i].tag) == 1,
                                       "handed back tag %lu, not in flight", handed_back[i].tag);
                        break;
                    }
                }
                memset(bytes, 0xa5, 16);  // the caller reuses its buffers
            }
            // The stream is over: a working controller finishes what it has.
            platform.calm();
            if (!ctl->failed()) {
                for (uint16_t q = 0; q < ctl->io_queue_count(); q++) {
                    while (ctl->in_flight(q) > 0) {
                        Result<uint32_t> r = ctl->wait(q, out, 64);
                        if (!r.is_ok()) break;
                        tags.completed(out, r.value());
                    }
                }
            }
            (void)ctl->shutdown();
        }
    }
    return 0;  // ~HostilePlatform checks that every DMA region came back
}
