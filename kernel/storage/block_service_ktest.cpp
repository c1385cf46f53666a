// In-kernel tests and figures of the block service: the nvme driver domain on QEMU's NVMe disk
// (the test image), through its shadow, the way the fs domain reaches it.
//
// Writes go only to the gap between the GPT's partition entries and partition 1 (LBAs 64..2047
// of the image: sgdisk starts partition 1 at 2048), so the ESP and the ext2 root stay intact;
// the system tests also run QEMU with -snapshot.
//
// Each test starts the service if it is not running and stops it again afterwards, since other
// tests (pci, the claim domain) claim the NVMe controller themselves.
#include "kernel/domain/device.h"
#include "kernel/domain/domain.h"
#include "kernel/ktest/kbench.h"
#include "kernel/ktest/ktest.h"
#include "kernel/ktest/on_thread.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/sched/thread.h"
#include "kernel/storage/block_service.h"
#include "kernel/time/time.h"

namespace lamina::storage {

namespace {

using idl::BlockOp;
using idl::BlockRequest;
using Batch = RRefDeque<BlockRequest, 32>;

constexpr uint64_t SCRATCH_FIRST = 64, SCRATCH_END = 2048;
constexpr uint32_t BLOCK = 512;

// nvme.control operations (domains/nvme/nvme_domain.cpp).
constexpr uint64_t CRASH_IN_FLIGHT = 1, USE_POLLING = 2, USE_INTERRUPTS = 3, INTERRUPT_WAKEUPS = 4, POLLED_WAITS = 5,
                   USES_INTERRUPTS = 6, STALL_CONTROLLER = 7;

struct ScopedService {
    bool started = false;
    bool ok = false;
    ScopedService() {
        if (block_service_running()) {
            ok = true;
            return;
        }
        auto r = start_block_service();
        ok = started = r.is_ok();
        if (r.is_error()) kprintf("block ktest: cannot start the block service: %s\n", r.error().name());
    }
    ~ScopedService() {
        if (started) stop_block_service();
    }
};

uint64_t control(uint64_t op) {
    domain::Domain* d = nvme_instance();
    if (!d) return ~0ull;
    auto fn = reinterpret_cast<domain::CallFn>(domain::find_export(d, "nvme.control"));
    uint64_t result = ~0ull;
    if (!fn || domain::call(d, fn, op, &result) != DomainError::None) return ~0ull;
    return result;
}

bool add(Batch& b, BlockOp op, uint64_t lba, uint32_t blocks, uint32_t capacity = 0) {
    auto r = RRef<BlockRequest>::create();
    if (r.is_error()) return false;
    r.value()->op = op;
    r.value()->lba = lba;
    r.value()->blocks = blocks;
    r.value()->status = -1;
    uint32_t cap = capacity ? capacity : blocks * BLOCK;
    if (cap) {
        auto buf = RRefBytes::create(cap);
        if (buf.is_error()) return false;
        r.value()->buf = std::move(buf.value());
    }
    return b.push_back(std::move(r.value())).is_ok();
}

BlockRequest& at(Batch& b, uint32_t i) {
    auto& s = *b.handle();
    return *s.slots[(s.head + i) % 32];
}

uint8_t pattern(uint64_t lba, uint32_t offset, uint32_t seed) {
    return uint8_t((lba * 131 + offset * 7 + seed * 29 + (offset >> 9)) & 0xff);
}

void fill(Batch& b, uint32_t i, uint32_t seed) {
    BlockRequest& r = at(b, i);
    for (uint32_t k = 0; k < r.blocks * BLOCK; k++) r.buf.data()[k] = pattern(r.lba + k / BLOCK, k % BLOCK, seed);
}

bool matches(Batch& b, uint32_t i, uint32_t seed) {
    BlockRequest& r = at(b, i);
    if (r.status != 0 || r.buf.length() != r.blocks * BLOCK) return false;
    for (uint32_t k = 0; k < r.blocks * BLOCK; k++)
        if (r.buf.data()[k] != pattern(r.lba + k / BLOCK, k % BLOCK, seed)) return false;
    return true;
}

Result<Batch> run(Batch b) { return block_device()->submit(std::move(b)); }

// A batch of `count` requests of `blocks` each, at consecutive places from lba.
Result<Batch> rw(BlockOp op, uint64_t lba, uint32_t count, uint32_t blocks, uint32_t seed) {
    Batch b = TRY(Batch::create());
    for (uint32_t i = 0; i < count; i++) {
        if (!add(b, op, lba + uint64_t(i) * blocks, blocks)) return Errno::NoMem;
        if (op == BlockOp::Write) fill(b, i, seed);
    }
    return run(std::move(b));
}

bool all_ok(Batch& b) {
    for (uint32_t i = 0; i < b.size(); i++)
        if (at(b, i).status != 0) return false;
    return true;
}

bool reads_back(uint64_t lba, uint32_t count, uint32_t blocks, uint32_t seed) {
    auto r = rw(BlockOp::Read, lba, count, blocks, seed);
    if (r.is_error()) return false;
    for (uint32_t i = 0; i < count; i++)
        if (!matches(r.value(), i, seed)) return false;
    return true;
}

}  // namespace

KTEST(block, reads_the_gpt_header) {
    ScopedService svc;
    KASSERT_TRUE(svc.ok);
    auto info = block_device()->info();
    KASSERT_TRUE(info.is_ok());
    KEXPECT_EQ(info.value().block_size, BLOCK);
    KEXPECT(info.value().block_count >= 128u * 1024 * 1024 / BLOCK);
    KEXPECT(info.value().max_blocks >= 8u);
    auto r = rw(BlockOp::Read, 1, 2, 1, 0);  // the GPT header and the first entries
    KASSERT_TRUE(r.is_ok());
    KASSERT_TRUE(all_ok(r.value()));
    const uint8_t* header = at(r.value(), 0).buf.data();
    KEXPECT(__builtin_memcmp(header, "EFI PART", 8) == 0);
    uint64_t entries_lba;
    __builtin_memcpy(&entries_lba, header + 72, 8);
    KEXPECT_EQ(entries_lba, 2u);
    uint64_t first_lba;
    __builtin_memcpy(&first_lba, at(r.value(), 1).buf.data() + 32, 8);  // entry 1's first LBA
    KEXPECT_EQ(first_lba, SCRATCH_END);
    KEXPECT_EQ(nvme_instance()->counters.restarts, 0u);
}

KTEST(block, write_and_read_back_at_qd1) {
    ScopedService svc;
    KASSERT_TRUE(svc.ok);
    for (uint32_t i = 0; i < 16; i++) {
        auto w = rw(BlockOp::Write, SCRATCH_FIRST + i * 8, 1, 8, 1);
        KASSERT_TRUE(w.is_ok());
        KEXPECT(all_ok(w.value()));
        KEXPECT_EQ(at(w.value(), 0).buf.length(), 8 * BLOCK);
    }
    for (uint32_t i = 0; i < 16; i++) KEXPECT(reads_back(SCRATCH_FIRST + i * 8, 1, 8, 1));
}

KTEST(block, write_and_read_back_at_qd32_with_flush_ordering) {
    ScopedService svc;
    KASSERT_TRUE(svc.ok);
    auto w = rw(BlockOp::Write, SCRATCH_FIRST, 32, 8, 2);
    KASSERT_TRUE(w.is_ok());
    KEXPECT(all_ok(w.value()));
    KEXPECT(reads_back(SCRATCH_FIRST, 32, 8, 2));
    // Writes, a flush, then reads of what they wrote, in one batch: the flush waits for the
    // writes and the reads come after it.
    auto b = Batch::create();
    KASSERT_TRUE(b.is_ok());
    for (uint32_t i = 0; i < 15; i++) KASSERT_TRUE(add(b.value(), BlockOp::Write, SCRATCH_FIRST + 512 + i * 8, 8));
    for (uint32_t i = 0; i < 15; i++) fill(b.value(), i, 3);
    KASSERT_TRUE(add(b.value(), BlockOp::Flush, 0, 0));
    for (uint32_t i = 0; i < 15; i++) KASSERT_TRUE(add(b.value(), BlockOp::Read, SCRATCH_FIRST + 512 + i * 8, 8));
    auto done = run(std::move(b.value()));
    KASSERT_TRUE(done.is_ok());
    KEXPECT_EQ(done.value().size(), 31u);
    KEXPECT(all_ok(done.value()));
    for (uint32_t i = 16; i < 31; i++) KEXPECT(matches(done.value(), i, 3));
}

KTEST(block, malformed_batches_are_inval_and_bad_ranges_fail_alone) {
    ScopedService svc;
    KASSERT_TRUE(svc.ok);
    uint64_t count = block_device()->info().value().block_count;
    struct Case {
        BlockOp op;
        uint32_t blocks, capacity;
    } bad[] = {{BlockOp::Read, 0, 512}, {BlockOp::Read, 8, 512}, {BlockOp(7), 1, 512}, {BlockOp::Write, 1000000, 512}};
    for (const Case& c : bad) {
        auto b = Batch::create();
        KASSERT_TRUE(b.is_ok());
        KASSERT_TRUE(add(b.value(), BlockOp::Read, SCRATCH_FIRST, 1));
        KASSERT_TRUE(add(b.value(), c.op, SCRATCH_FIRST, c.blocks, c.capacity));
        auto r = run(std::move(b.value()));
        KEXPECT(r.is_error() && !r.error().is_domain_error() && r.error().code() == Errno::Inval);
    }
    auto none = run(Batch());
    KEXPECT(none.is_error() && none.error().code() == Errno::Inval);
    // Past the end: that request fails with EINVAL, the others run.
    auto b = Batch::create();
    KASSERT_TRUE(b.is_ok());
    KASSERT_TRUE(add(b.value(), BlockOp::Read, SCRATCH_FIRST, 1));
    KASSERT_TRUE(add(b.value(), BlockOp::Read, count - 1, 2));
    KASSERT_TRUE(add(b.value(), BlockOp::Read, count, 1));
    KASSERT_TRUE(add(b.value(), BlockOp::Read, count - 1, 1));
    auto r = run(std::move(b.value()));
    KASSERT_TRUE(r.is_ok());
    KEXPECT_EQ(at(r.value(), 0).status, 0);
    KEXPECT_EQ(at(r.value(), 1).status, 22);
    KEXPECT_EQ(at(r.value(), 2).status, 22);
    KEXPECT_EQ(at(r.value(), 3).status, 0);
    KEXPECT_EQ(nvme_instance()->counters.restarts, 0u);
}

KTEST(block, msix_and_polled_modes) {
    ScopedService svc;
    KASSERT_TRUE(svc.ok);
    KEXPECT_EQ(control(USES_INTERRUPTS), 1u);
    // MSI-X entries 1 and 2 serve the I/O queues (0 the admin queue).
    auto interrupts = [] {
        return domain::device::irq_count(*nvme_instance(), 1, 1) + domain::device::irq_count(*nvme_instance(), 1, 2);
    };
    uint64_t delivered = interrupts();
    auto w = rw(BlockOp::Write, SCRATCH_FIRST, 32, 8, 4);
    KASSERT_TRUE(w.is_ok());
    KEXPECT(all_ok(w.value()));
    KEXPECT(interrupts() > delivered);
    ktest_ctx.note("MSI-X: %lu interrupts for a batch of 32, %lu waits ended by one so far",
                   (unsigned long)(interrupts() - delivered), (unsigned long)control(INTERRUPT_WAKEUPS));
    KEXPECT_EQ(control(USE_POLLING), 0u);
    KEXPECT_EQ(control(USES_INTERRUPTS), 0u);
    // Polled: the I/O completion queues raise no interrupts at all.
    uint64_t polls = control(POLLED_WAITS);
    delivered = interrupts();
    KEXPECT(reads_back(SCRATCH_FIRST, 32, 8, 4));
    auto w2 = rw(BlockOp::Write, SCRATCH_FIRST, 32, 8, 5);
    KASSERT_TRUE(w2.is_ok());
    KEXPECT(all_ok(w2.value()));
    KEXPECT(reads_back(SCRATCH_FIRST, 32, 8, 5));
    KEXPECT_EQ(interrupts(), delivered);
    ktest_ctx.note("polled: %lu polls for 3 batches (TCG often completes a batch before the first poll)",
                   (unsigned long)(control(POLLED_WAITS) - polls));
    KEXPECT_EQ(control(USE_INTERRUPTS), 0u);
    KEXPECT_EQ(control(USES_INTERRUPTS), 1u);
    KEXPECT(reads_back(SCRATCH_FIRST, 32, 8, 5));
}

// A fault with a batch of 32 commands in flight: the shadow restarts the driver and resubmits;
// the caller gets its data and no error.
KTEST(block, a_crash_in_flight_is_invisible) {
    ScopedService svc;
    KASSERT_TRUE(svc.ok);
    auto w = rw(BlockOp::Write, SCRATCH_FIRST, 32, 8, 6);
    KASSERT_TRUE(w.is_ok() && all_ok(w.value()));
    domain::Domain* before = nvme_instance();
    KEXPECT_EQ(control(CRASH_IN_FLIGHT), 0u);
    domain::set_verbose_faults(false);
    KEXPECT(reads_back(SCRATCH_FIRST, 32, 8, 6));
    domain::set_verbose_faults(true);
    KEXPECT(nvme_instance() != before);
    KEXPECT_EQ(nvme_instance()->counters.restarts, 1u);
    KEXPECT_EQ(block_recovery()->restarts(), 1u);
    // Writes in flight are resubmitted too.
    KEXPECT_EQ(control(CRASH_IN_FLIGHT), 0u);
    domain::set_verbose_faults(false);
    auto w2 = rw(BlockOp::Write, SCRATCH_FIRST, 32, 8, 7);
    domain::set_verbose_faults(true);
    KASSERT_TRUE(w2.is_ok());
    KEXPECT(all_ok(w2.value()));
    KEXPECT(reads_back(SCRATCH_FIRST, 32, 8, 7));
    KEXPECT_EQ(block_recovery()->restarts(), 2u);
}

// A controller that stops answering: the driver's command timeout (1 s) makes it panic, and the
// shadow's fresh instance resets the controller and runs the batch.
KTEST(block, a_command_timeout_is_a_fault_the_shadow_recovers) {
    ScopedService svc;
    KASSERT_TRUE(svc.ok);
    auto w = rw(BlockOp::Write, SCRATCH_FIRST, 32, 8, 10);
    KASSERT_TRUE(w.is_ok() && all_ok(w.value()));
    KEXPECT_EQ(control(STALL_CONTROLLER), 0u);
    uint64_t faults = nvme_instance()->counters.faults;
    domain::Domain* before = nvme_instance();
    uint64_t t0 = time::now_ns();
    KEXPECT(reads_back(SCRATCH_FIRST, 32, 8, 10));
    uint64_t took = time::now_ns() - t0;
    KEXPECT(nvme_instance() != before);
    KEXPECT_EQ(block_recovery()->restarts(), 1u);
    KEXPECT_EQ(faults, 0u);
    KEXPECT(took >= 900'000'000ull);  // the timeout, not something quicker, ended the first try
    ktest_ctx.note("stalled controller: the batch came back after %lu ms", (unsigned long)(took / 1'000'000));
}

// Every 10th of 300 batches crashes the driver with its commands in flight (and one crash comes
// from outside, injected by another thread): all data reads back, and after the service is gone
// the free page count is where it was.
KTEST(block, repeated_crashes_lose_nothing_and_leak_nothing) {
    constexpr uint32_t BATCHES = 300, EVERY = 10, SPAN = 32 * 8;
    {  // warm-up: heap classes, page tables and exchange-heap slabs the loop will use
        ScopedService svc;
        KASSERT_TRUE(svc.ok);
        (void)control(CRASH_IN_FLIGHT);
        domain::set_verbose_faults(false);
        KEXPECT(rw(BlockOp::Write, SCRATCH_FIRST, 32, 8, 8).is_ok());
        domain::set_verbose_faults(true);
    }
    KASSERT_TRUE(!block_service_running());
    uint64_t free_before = mm::free_pages();
    uint32_t bad = 0, crashes = 0;
    ktest::on_thread(ktest_ctx, "block-test", [&] {
        ScopedService svc;
        KASSERT_TRUE(svc.ok);
        domain::set_verbose_faults(false);
        for (uint32_t i = 0; i < BATCHES; i++) {
            bool crash = i % EVERY == EVERY - 1;
            if (crash && control(CRASH_IN_FLIGHT) == 0) crashes++;
            uint64_t lba = SCRATCH_FIRST + ((i / 2) % 4) * SPAN;  // a write, then its read
            if (i % 2 == 0) {
                auto w = rw(BlockOp::Write, lba, 32, 8, 100 + i);
                if (w.is_error() || !all_ok(w.value())) bad++;
            } else if (!reads_back(lba, 32, 8, 100 + i - 1)) {
                bad++;
            }
        }
        // A fault from outside the driver while batches run.
        KEXPECT(domain::inject_fault("nvme").is_ok());
        constexpr uint32_t LAST_WRITE = BATCHES - 2;
        if (!reads_back(SCRATCH_FIRST + ((LAST_WRITE / 2) % 4) * SPAN, 32, 8, 100 + LAST_WRITE)) bad++;
        domain::set_verbose_faults(true);
        KEXPECT_EQ(block_recovery()->restarts(), uint64_t(crashes) + 1);
        ktest_ctx.note("%u batches of 32, %u crashes in flight, last recovery %lu us", BATCHES, crashes,
                       (unsigned long)(block_recovery()->last_recovery_ns() / 1000));
    });
    KEXPECT_EQ(bad, 0u);
    KEXPECT_EQ(crashes, BATCHES / EVERY);
    KEXPECT_EQ(mm::free_pages(), free_before);
}

// Faults injected from another thread (domain::inject_fault, what /proc/domctl does) at a
// random moment while a batch of 32 large reads runs: the submitting thread may be in the
// driver's code, waiting in the kernel for an interrupt, or already done. Whichever it is, the
// caller sees its data and no error.
KTEST(block, faults_injected_from_another_thread_during_batches) {
    constexpr uint32_t ROUNDS = 20, BLOCKS = 64;  // 32 x 32 KiB per batch
    ScopedService svc;
    KASSERT_TRUE(svc.ok);
    auto w = rw(BlockOp::Write, SCRATCH_FIRST, 30, BLOCKS, 9);  // 64..1984
    KASSERT_TRUE(w.is_ok() && all_ok(w.value()));
    // On a heavily loaded host a batch can outlast the driver's 1 s command timeout (TCG): that
    // restart is transparent too, and is counted apart from the injected ones.
    uint64_t restarts_before = block_recovery()->restarts();
    struct Shared {
        uint32_t go = 0, done = 0, injected = 0;  // atomics
    } shared;
    auto injector = [](void* p) {
        auto* sh = static_cast<Shared*>(p);
        uint64_t seed = 0x9e3779b97f4a7c15ull;
        for (uint32_t round = 1; round <= ROUNDS; round++) {
            while (__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE) != round) sched::sleep_ns(100'000);
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            sched::sleep_ns((seed >> 33) % 3'000'000);
            if (domain::inject_fault("nvme").is_ok()) __atomic_fetch_add(&sh->injected, 1, __ATOMIC_RELAXED);
            __atomic_store_n(&sh->done, round, __ATOMIC_RELEASE);
        }
    };
    auto t = sched::Thread::create("block-injector", injector, &shared);
    KASSERT_TRUE(t.is_ok());
    domain::set_verbose_faults(false);
    uint32_t bad = 0, during = 0;
    for (uint32_t round = 1; round <= ROUNDS; round++) {
        __atomic_store_n(&shared.go, round, __ATOMIC_RELEASE);
        uint64_t restarts = block_recovery()->restarts();
        auto r = rw(BlockOp::Read, SCRATCH_FIRST, 30, BLOCKS, 9);
        if (r.is_error()) {
            ktest_ctx.note("round %u: the batch failed (%s)", round, r.error().name());
            bad++;
        } else {
            for (uint32_t i = 0; i < 30; i++)
                if (!matches(r.value(), i, 9)) {
                    ktest_ctx.note("round %u: request %u: status %d", round, i, at(r.value(), i).status);
                    bad++;
                    break;
                }
        }
        during += block_recovery()->restarts() != restarts;
        while (__atomic_load_n(&shared.done, __ATOMIC_ACQUIRE) != round) sched::sleep_ns(100'000);
        // A fault that landed after the batch came back is recovered here, before the next
        // round's injection can arrive.
        if (auto info = block_device()->info(); info.is_error()) {
            ktest_ctx.note("round %u: info() failed (%s)", round, info.error().name());
            bad++;
        }
    }
    domain::set_verbose_faults(true);
    KEXPECT(t.value()->join() == sched::ExitReason::Returned);
    KEXPECT_EQ(bad, 0u);
    KEXPECT_EQ(shared.injected, ROUNDS);
    uint64_t restarts = block_recovery()->restarts() - restarts_before;
    KEXPECT(restarts >= uint64_t(ROUNDS));
    ktest_ctx.note("%u of %u faults hit a batch being served (the rest came between batches); %lu restarts", during,
                   ROUNDS, (unsigned long)restarts);
}

// Flush ordering across a driver restart (docs/fs.md): a write batch is in flight in a driver
// that fails under it, and another thread submits a Flush meanwhile. The Flush must not be
// acknowledged before the write batch has been resubmitted to the fresh instance and completed:
// read right after the Flush returns, the disk holds the batch's data. Rounds alternate a stalled
// controller (the write cannot reach the disk before the driver's command timeout, so only the
// resubmission puts it there) and a crash right after the write's doorbell.
KTEST(block, a_flush_waits_for_the_writes_replayed_after_a_crash) {
    constexpr uint32_t ROUNDS = 6, SPAN = 32 * 8;
    ScopedService svc;
    KASSERT_TRUE(svc.ok);
    struct Writer {
        uint64_t lba;
        uint32_t seed;
        bool ok = false;
    };
    auto write = [](void* p) {
        auto* w = static_cast<Writer*>(p);
        auto r = rw(BlockOp::Write, w->lba, 32, 8, w->seed);
        w->ok = r.is_ok() && all_ok(r.value());
    };
    uint64_t restarts_before = block_recovery()->restarts();
    uint32_t bad = 0;
    domain::set_verbose_faults(false);
    for (uint32_t round = 0; round < ROUNDS; round++) {
        bool stall = round % 2 == 0;
        Writer w{SCRATCH_FIRST + (round % 4) * SPAN, 300 + round};
        auto f = Batch::create();
        KASSERT_TRUE(f.is_ok() && add(f.value(), BlockOp::Flush, 0, 0));
        if (control(stall ? STALL_CONTROLLER : CRASH_IN_FLIGHT) != 0) {
            ktest_ctx.note("round %u: the fault could not be armed", round);
            bad++;
            continue;
        }
        auto t = sched::Thread::create("block-writer", write, &w);
        KASSERT_TRUE(t.is_ok());
        // The write batch has entered the block device before the Flush is submitted.
        uint64_t deadline = time::now_ns() + 10'000'000'000ull;
        while (block_write_batches_inside() == 0 && time::now_ns() < deadline) sched::sleep_ns(20'000);
        bool entered = block_write_batches_inside() != 0;
        auto flushed = run(std::move(f.value()));
        bool flush_ok = flushed.is_ok() && all_ok(flushed.value());
        bool on_disk = reads_back(w.lba, 32, 8, w.seed);  // before the writer is joined
        KEXPECT(t.value()->join() == sched::ExitReason::Returned);
        if (!entered || !flush_ok || !on_disk || !w.ok) {
            ktest_ctx.note("round %u (%s): write entered %d, flush ok %d, write on disk at the flush %d, write ok %d",
                           round, stall ? "stall" : "crash", entered, flush_ok, on_disk, w.ok);
            bad++;
        }
    }
    domain::set_verbose_faults(true);
    KEXPECT_EQ(bad, 0u);
    // Every round restarted the driver at least once (a loaded host may add a timeout's restart).
    KEXPECT(block_recovery()->restarts() - restarts_before >= ROUNDS);
}

// ---- figures ----

namespace {

uint64_t g_rng = 88172645463325252ull;
uint64_t next_random() {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

// 4 KiB random reads over the whole disk, `depth` per batch; returns ns per I/O.
uint64_t random_reads(uint32_t depth, uint32_t ios) {
    uint64_t blocks = block_device()->info().value().block_count;
    auto b = Batch::create();
    if (b.is_error()) return 0;
    Batch batch = std::move(b.value());
    for (uint32_t i = 0; i < depth; i++)
        if (!add(batch, BlockOp::Read, 0, 8)) return 0;
    uint64_t t0 = time::now_ns();
    for (uint32_t done = 0; done < ios; done += depth) {
        for (uint32_t i = 0; i < depth; i++) at(batch, i).lba = (next_random() % (blocks / 8)) * 8;
        auto r = block_device()->submit(std::move(batch));
        if (r.is_error()) return 0;
        batch = std::move(r.value());
    }
    return (time::now_ns() - t0) / ios;
}

}  // namespace

// Supervised::start refuses a package that runs but publishes no "block" (hello publishes
// only its probe): the instance is destroyed again, nothing of it is left, and the error says
// what was missing.
KTEST(block, supervised_start_refuses_a_package_without_the_export) {
    auto warm = domain::Supervised<idl::Block>::start({"hello"});  // heap classes the next one uses
    KEXPECT(warm.is_error() && warm.error().code() == Errno::NoEnt);
    uint64_t free_before = mm::free_pages();
    auto s = domain::Supervised<idl::Block>::start({"hello"});
    KEXPECT(s.is_error() && s.error().code() == Errno::NoEnt);
    KEXPECT(domain::find("hello") == nullptr);
    KEXPECT_EQ(mm::free_pages(), free_before);
    auto missing = domain::Supervised<idl::Block>::start({"no_such_package"});
    KEXPECT(missing.is_error() && missing.error().code() == Errno::NoEnt);
}

KBENCH(nvme_block) {
    ScopedService svc;
    if (!svc.ok) return;
    (void)random_reads(32, 256);  // warm-up
    uint64_t qd1 = random_reads(1, 2000);
    uint64_t qd32 = random_reads(32, 8192);
    kbench_ctx.report("random_read_4k_qd1", qd1, "ns/io");
    kbench_ctx.report("random_read_4k_qd1_iops", qd1 ? 1'000'000'000ull / qd1 : 0, "iops");
    kbench_ctx.report("random_read_4k_qd32", qd32, "ns/io");
    kbench_ctx.report("random_read_4k_qd32_iops", qd32 ? 1'000'000'000ull / qd32 : 0, "iops");
    (void)control(USE_POLLING);
    uint64_t qd1p = random_reads(1, 2000);
    uint64_t qd32p = random_reads(32, 8192);
    (void)control(USE_INTERRUPTS);
    kbench_ctx.report("random_read_4k_qd1_polled", qd1p, "ns/io");
    kbench_ctx.report("random_read_4k_qd32_polled", qd32p, "ns/io");
    // Recovery: a crash with 32 reads in flight, the restart, and the resubmitted batch.
    constexpr unsigned ROUNDS = 20;
    uint64_t recovery_ns = 0, call_ns = 0;
    domain::set_verbose_faults(false);
    for (unsigned i = 0; i < ROUNDS; i++) {
        (void)control(CRASH_IN_FLIGHT);
        uint64_t t0 = time::now_ns();
        auto r = rw(BlockOp::Read, SCRATCH_FIRST, 32, 8, 0);
        call_ns += time::now_ns() - t0;
        recovery_ns += block_recovery()->last_recovery_ns();
        if (r.is_error()) break;
    }
    domain::set_verbose_faults(true);
    kbench_ctx.report("nvme_recovery", recovery_ns / ROUNDS / 1000, "us");
    kbench_ctx.report("crash_to_resubmitted_batch", call_ns / ROUNDS / 1000, "us");
}

}  // namespace lamina::storage
