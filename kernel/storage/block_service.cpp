#include "kernel/storage/block_service.h"

#include "kernel/domain/provided.h"
#include "kernel/lib/log.h"
#include "kernel/sched/wait_queue.h"

namespace lamina::storage {

namespace {

// The disk the driver served when the service started: a restarted driver must serve the same.
idl::BlockInfo g_geometry;
domain::Provided<idl::Block> g_service;

// Write barriers across driver restarts (docs/fs.md, "Flush ordering across a driver restart").
// The driver orders a Flush only behind the writes it has itself completed, and the shadow
// resubmits a batch that was in flight when the driver crashed: alone, they would let a Flush
// submitted from another thread reach the fresh instance before the resubmitted writes, or be
// acknowledged by the failed instance while those writes were still to be replayed. So batches
// with writes share a gate and a batch with a Flush holds it alone: it waits until every write
// batch submitted before it has come back (resubmissions and all) and keeps later ones out until
// it is acknowledged. Reads pass (a flush says nothing about them).
class OrderedBlock final : public idl::Block {
public:
    Result<idl::BlockInfo> info() override { return shadow().info(); }

    Result<RRefDeque<idl::BlockRequest, 32>> submit(RRefDeque<idl::BlockRequest, 32> batch) override {
        Kind kind = kind_of(batch);
        if (kind == Kind::Reads) return shadow().submit(std::move(batch));
        enter(kind);
        auto r = shadow().submit(std::move(batch));
        leave(kind);
        return r;
    }

    uint32_t write_batches_inside() const { return __atomic_load_n(&writers_, __ATOMIC_ACQUIRE); }

private:
    enum class Kind { Reads, Writes, Flush };

    static idl::Block& shadow() { return g_service.get()->shadow(); }

    // A malformed batch (Inval from the driver) counts as a flush: the strictest kind is safe.
    static Kind kind_of(RRefDeque<idl::BlockRequest, 32>& batch) {
        if (!batch) return Kind::Reads;  // the driver refuses it; nothing to order
        auto& s = *batch.handle();
        Kind kind = Kind::Reads;
        for (uint32_t i = 0; i < batch.size(); i++) {
            idl::BlockRequest* r = s.slots[(s.head + i) % 32].get();
            if (!r || r->op == idl::BlockOp::Flush) return Kind::Flush;
            if (r->op != idl::BlockOp::Read) kind = Kind::Writes;
        }
        return kind;
    }

    // A waiting flush stops new write batches, so a steady stream of writes cannot starve it.
    void enter(Kind kind) {
        if (kind == Kind::Writes) {
            gate_.wait([&] {
                if (flushing_ || flushes_waiting_) return false;
                __atomic_add_fetch(&writers_, 1, __ATOMIC_RELEASE);  // also read outside the lock
                return true;
            });
            return;
        }
        gate_.update_and_wake_all([&] { flushes_waiting_++; });
        gate_.wait([&] {
            if (flushing_ || writers_) return false;
            flushes_waiting_--;
            flushing_ = true;
            return true;
        });
    }

    void leave(Kind kind) {
        gate_.update_and_wake_all([&] {
            if (kind == Kind::Writes)
                __atomic_sub_fetch(&writers_, 1, __ATOMIC_RELEASE);
            else
                flushing_ = false;
        });
    }

    sched::WaitQueue gate_;
    uint32_t writers_ = 0;          // gate_'s lock: write batches inside
    uint32_t flushes_waiting_ = 0;  // gate_'s lock
    bool flushing_ = false;         // gate_'s lock: a flush batch is inside
};

OrderedBlock g_ordered;

// The fresh instance has already reset the controller and built its queues in its entry; what
// remains is to make sure it drives the same disk.
Result<void> replay(void*, idl::BlockProxy& fresh) {
    const idl::BlockInfo& was = g_geometry;
    idl::BlockInfo info = TRY(fresh.info());
    if (info.block_size != was.block_size || info.block_count != was.block_count) {
        kprintf("block: the restarted driver sees another disk (%u x %lu, was %u x %lu)\n", info.block_size,
                (unsigned long)info.block_count, was.block_size, (unsigned long)was.block_count);
        return Errno::NoDev;
    }
    return {};
}

}  // namespace

Result<void> start_block_service() {
    TRY(g_service.start(
        {"nvme", replay},
        [](domain::Supervised<idl::Block>& nvme) -> Result<void> {
            g_geometry = TRY(nvme.proxy().info());
            return {};
        },
        &g_ordered));
    const idl::BlockInfo& info = g_geometry;
    if (g_service.provided())
        kprintf("block: 'block' is the nvme driver (domain %u): %lu blocks of %u bytes\n", g_service.instance()->id,
                (unsigned long)info.block_count, info.block_size);
    else  // a stand-in (the fs tests' RAM disk) holds the name: serve block_device() only
        kprintf("block: 'block' is provided by something else; the nvme driver (domain %u) serves only the kernel\n",
                g_service.instance()->id);
    return {};
}

void stop_block_service() { g_service.stop(); }
bool block_service_running() { return g_service.running(); }
idl::Block* block_device() { return g_service.running() ? &g_ordered : nullptr; }
uint32_t block_write_batches_inside() { return g_ordered.write_batches_inside(); }
domain::Domain* nvme_instance() { return g_service.instance(); }
domain::Recovery* block_recovery() { return g_service.recovery(); }

}  // namespace lamina::storage
