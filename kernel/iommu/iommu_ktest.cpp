// The IOMMU confining a driver domain's device (docs/iommu.md): the nvme domain tells its
// controller to DMA into a kernel page it was never given. The write must not land, the fault
// must be recorded against the nvme domain, which is failed for it, and the block service's
// shadow must bring a fresh instance up on the next request. Runs only when the machine has an
// IOMMU (tests/system/iommu_test.cpp boots one); without, it says so and checks nothing.
#include "kernel/domain/domain.h"
#include "kernel/domain/recovery.h"
#include "kernel/iommu/iommu.h"
#include "kernel/ktest/ktest.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/sched/thread.h"
#include "kernel/storage/block_service.h"
#include "kernel/time/time.h"

namespace lamina::iommu {

namespace {

using idl::BlockOp;
using idl::BlockRequest;
using Batch = RRefDeque<BlockRequest, 32>;

constexpr uint64_t STRAY_DMA = 8;  // nvme.control (domains/nvme/nvme_domain.cpp)
constexpr uint8_t POISON = 0xA5;

uint64_t nvme_control(domain::Domain* d, uint64_t op) {
    auto fn = reinterpret_cast<domain::CallFn>(domain::find_export(d, "nvme.control"));
    uint64_t result = ~0ull;
    if (!fn || domain::call(d, fn, op, &result) != DomainError::None) return ~0ull;
    return result;
}

template <typename Cond>
bool wait_until(Cond&& cond, uint64_t timeout_ns) {
    uint64_t deadline = time::now_ns() + timeout_ns;
    while (!cond()) {
        if (time::now_ns() > deadline) return false;
        sched::sleep_ns(1'000'000);
    }
    return true;
}

// LBA 0 through the block service (its shadow recovers a failed driver first).
bool read_first_block() {
    auto b = Batch::create();
    if (b.is_error()) return false;
    auto r = RRef<BlockRequest>::create();
    auto buf = RRefBytes::create(512);
    if (r.is_error() || buf.is_error()) return false;
    r.value()->op = BlockOp::Read;
    r.value()->lba = 0;
    r.value()->blocks = 1;
    r.value()->status = -1;
    r.value()->buf = std::move(buf.value());
    if (b.value().push_back(std::move(r.value())).is_error()) return false;
    auto done = storage::block_device()->submit(std::move(b.value()));
    if (done.is_error()) return false;
    auto& s = *done.value().handle();
    return s.slots[s.head]->status == 0;
}

}  // namespace

KTEST(iommu, a_stray_nvme_dma_is_blocked_and_charged_to_the_driver) {
    if (!enabled()) {
        ktest_ctx.note("no IOMMU on this machine: nothing to check");
        return;
    }
    bool started = false;
    if (!storage::block_service_running()) {
        KASSERT_TRUE(storage::start_block_service().is_ok());
        started = true;
    }
    auto frame = mm::alloc_frames(0, mm::Owner::kernel());
    KASSERT_TRUE(frame.is_ok());
    auto* page = static_cast<uint8_t*>(mm::phys_to_virt(frame.value()));
    __builtin_memset(page, POISON, mm::PAGE_SIZE);

    domain::Domain* before = storage::nvme_instance();
    KASSERT_TRUE(before);
    uint32_t before_id = before->id;
    KEXPECT(!is_mapped(before_id, frame.value()));
    uint64_t faults = fault_count();
    uint64_t restarts = storage::block_recovery()->restarts();
    uint64_t status = nvme_control(before, frame.value() | STRAY_DMA);
    // QEMU's controller completes the command successfully even though its write was refused:
    // what counts is the page below, the fault and the domain's state.
    KEXPECT(wait_until([&] { return fault_count() > faults; }, 5'000'000'000ull));
    KEXPECT(wait_until([&] { return before->get_state() == domain::State::Failed; }, 5'000'000'000ull));
    bool intact = true;
    for (size_t i = 0; i < mm::PAGE_SIZE; i++) intact &= page[i] == POISON;
    KEXPECT(intact);
    // The rest of the system goes on: the next request finds a fresh driver instance.
    KEXPECT(read_first_block());
    KEXPECT(storage::nvme_instance() != before);
    KEXPECT_EQ(storage::block_recovery()->restarts(), restarts + 1);
    ktest_ctx.note("stray DMA: nvme status %#lx, %lu IOMMU faults", (unsigned long)status,
                   (unsigned long)(fault_count() - faults));
    (void)mm::free_frames(frame.value(), 0);
    if (started) storage::stop_block_service();
}

}  // namespace lamina::iommu
