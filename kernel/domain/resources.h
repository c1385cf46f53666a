// What a domain holds in the kernel, in one place (Domain::resources): its private-heap pages,
// the devices it claimed with their MSI-X vectors, its DMA regions, its own threads and the
// objects it published. The capabilities add to these tables; teardown (destroy) empties them
// in a fixed order: threads joined, devices quiesced and released, DMA regions and heap pages
// freed (docs/domains.md, "Teardown").
//
// Locking: Resources::lock guards every table below. It is taken after g_domains_lock and
// never held while sleeping or calling into a domain. `devices` entries are also read without
// it (atomically) by mark_failed, which turns bus mastering off from the fault path.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/domain/loader/manifest.h"
#include "kernel/sync/spinlock.h"

namespace lamina::pci {
class PciDevice;
}
namespace lamina::sched {
class Thread;
}

namespace lamina::domain {

struct Domain;

inline constexpr size_t MAX_PAGE_RUNS = 256;        // alloc_pages runs per domain
inline constexpr size_t MAX_PAGE_RUN_PAGES = 1024;  // pages in one run (order 10)
inline constexpr size_t MAX_DMA_REGIONS = 64;       // per domain
inline constexpr size_t MAX_DMA_BYTES = 4u << 20;   // per region (order 10)
inline constexpr size_t MAX_IRQS = 16;              // MSI-X entries per claimed device
inline constexpr size_t MAX_OWN_THREADS = 16;
inline constexpr size_t MAX_EXPORTS = Manifest::MAX_INTERFACES + 1;  // + libdomain's LAMINA_INJECT_EXPORT

// A thread a domain started (thread_create): it runs fn(arg) through a domain call into domain
// and ends when fn returns or the domain is unwound; teardown joins it.
struct OwnThread {
    sched::Thread* thread;  // set once created (the thread itself never reads it)
    void (*fn)(void*);
    void* arg;
    Domain* domain;
    bool used;
};

// The table of a domain's own threads. A slot belongs to whoever took it until that one gives
// it back: a failed thread creation releases its own slot, never another thread's.
class OwnThreads {
public:
    // A free slot, filled in and marked used; nullptr when all are taken.
    OwnThread* take(void (*fn)(void*), void* arg, Domain* domain);
    void give_back(OwnThread* slot);
    size_t count() const { return count_; }
    template <typename Fn>
    void for_each(Fn&& fn) {
        for (OwnThread& t : slots_)
            if (t.used) fn(t);
    }

private:
    OwnThread slots_[MAX_OWN_THREADS] = {};
    size_t count_ = 0;
};

// Physically contiguous, zeroed runs of frames a domain owns: its private-heap pages or its DMA
// regions. A run is given back only by its exact (base, size). The storage is its owner's.
class FrameRuns {
public:
    struct Run {
        uint64_t phys;
        size_t bytes;    // as asked for
        unsigned order;  // of the frames behind it
    };
    FrameRuns(Run* runs, size_t max) : runs_(runs), max_(max) {}
    FrameRuns(const FrameRuns&) = delete;
    FrameRuns& operator=(const FrameRuns&) = delete;
    // Whoever calls these holds the domain's Resources::lock.
    bool full() const { return count_ == max_; }
    bool add(const Run& r);
    bool remove(const void* base, size_t bytes, Run& out);
    bool pop(Run& out);
    uint64_t pages() const { return pages_; }

private:
    Run* runs_;
    size_t max_;
    size_t count_ = 0;
    uint64_t pages_ = 0;
};

struct Resources {
    struct IrqEntry {
        uint8_t vector;     // 0: not set up
        uint64_t consumed;  // atomic: the vector's interrupt count the last successful wait saw
    };
    struct Export {
        char name[Manifest::MAX_INTERFACE_NAME + 1];
        void* object;
        uint32_t type_id;  // the interface's (idlc's TYPE_ID); 0 when published untyped
    };

    mutable Spinlock lock;
    FrameRuns::Run heap_runs[MAX_PAGE_RUNS] = {};
    FrameRuns::Run dma_runs[MAX_DMA_REGIONS] = {};
    FrameRuns heap{heap_runs, MAX_PAGE_RUNS};
    FrameRuns dma{dma_runs, MAX_DMA_REGIONS};
    pci::PciDevice* devices[Manifest::MAX_DEVICES] = {};  // claim handle = index + 1
    IrqEntry irqs[Manifest::MAX_DEVICES][MAX_IRQS] = {};
    uint32_t irq_granted[Manifest::MAX_DEVICES] = {};
    OwnThreads threads;
    Export exports[MAX_EXPORTS] = {};
    size_t export_count = 0;
};

// A zeroed run of at least `bytes` owned by d, recorded in runs (one of d.resources'):
// its physical address. NoMem when the table or memory is exhausted. free_run: Inval unless
// [base, bytes) is one of its runs. free_runs frees them all (teardown).
Result<uint64_t> alloc_run(Domain& d, FrameRuns& runs, size_t bytes);
Result<void> free_run(Domain& d, FrameRuns& runs, void* base, size_t bytes);
void free_runs(Domain& d, FrameRuns& runs);

// The private heap (capabilities alloc_pages / free_pages), in runs of pages. Inval for a
// count of 0 or above MAX_PAGE_RUN_PAGES; see alloc_run.
Result<void*> alloc_pages(Domain& d, size_t count);
Result<void> free_pages(Domain& d, void* base, size_t count);

// Published objects (interface_publish / find_export). Exist for a name already published,
// NoSpc when the table is full. type_id: the interface's, 0 when the domain did not say.
Result<void> publish(Domain& d, const char* name, size_t len, void* object, uint32_t type_id = 0);
void* find_published(Domain& d, const char* name);
// Live update: every name `running` published with a type id, `fresh` published with the same
// one. Inval (and the kernel log says which name and ids) otherwise.
Result<void> same_interface_types(Domain& running, Domain& fresh);

// The device behind a claim handle, or nullptr.
pci::PciDevice* device_of(Domain& d, uint64_t handle);

// Teardown, in this order: every device quiesced and released, then the DMA regions (nothing
// DMAs into them anymore), then the heap pages. The domain's threads must have ended.
void release_all(Domain& d);

}  // namespace lamina::domain
