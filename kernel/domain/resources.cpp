#include "kernel/domain/resources.h"

#include "kernel/dev/pci/pci.h"
#include "kernel/domain/device.h"
#include "kernel/iommu/iommu.h"
#include "kernel/domain/domain.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"

namespace lamina::domain {

OwnThread* OwnThreads::take(void (*fn)(void*), void* arg, Domain* domain) {
    for (OwnThread& t : slots_) {
        if (t.used) continue;
        t = {nullptr, fn, arg, domain, true};
        count_++;
        return &t;
    }
    return nullptr;
}

void OwnThreads::give_back(OwnThread* slot) {
    if (!slot || !slot->used) return;
    *slot = {};
    count_--;
}

bool FrameRuns::add(const Run& r) {
    if (full()) return false;
    runs_[count_++] = r;
    pages_ += size_t(1) << r.order;
    return true;
}

bool FrameRuns::remove(const void* base, size_t bytes, Run& out) {
    for (size_t i = 0; i < count_; i++) {
        if (mm::phys_to_virt(runs_[i].phys) != base || runs_[i].bytes != bytes) continue;
        out = runs_[i];
        runs_[i] = runs_[--count_];
        pages_ -= size_t(1) << out.order;
        return true;
    }
    return false;
}

bool FrameRuns::pop(Run& out) {
    if (count_ == 0) return false;
    out = runs_[--count_];
    pages_ -= size_t(1) << out.order;
    return true;
}

namespace {

// The heap's runs show in the domain's counters.
void count_heap(Domain& d) { d.counters.heap_pages = d.resources.heap.pages(); }

}  // namespace

Result<uint64_t> alloc_run(Domain& d, FrameRuns& runs, size_t bytes) {
    Resources& r = d.resources;
    {
        SpinlockGuard g(r.lock);
        if (runs.full()) return Errno::NoMem;
    }
    size_t pages = (bytes + mm::PAGE_SIZE - 1) / mm::PAGE_SIZE;
    unsigned order = 0;
    while ((size_t(1) << order) < pages) order++;
    uint64_t phys = TRY(mm::alloc_frames(order, mm::Owner::domain(d.id)));
    __builtin_memset(mm::phys_to_virt(phys), 0, mm::PAGE_SIZE << order);
    bool recorded;
    {
        SpinlockGuard g(r.lock);
        recorded = runs.add({phys, bytes, order});
        count_heap(d);
    }
    if (!recorded) {
        (void)mm::free_frames(phys, order);
        return Errno::NoMem;
    }
    return phys;
}

Result<void> free_run(Domain& d, FrameRuns& runs, void* base, size_t bytes) {
    FrameRuns::Run run;
    {
        SpinlockGuard g(d.resources.lock);
        if (!runs.remove(base, bytes, run)) return Errno::Inval;
        count_heap(d);
    }
    (void)mm::free_frames(run.phys, run.order);
    return {};
}

void free_runs(Domain& d, FrameRuns& runs) {
    for (;;) {
        FrameRuns::Run run;
        {
            SpinlockGuard g(d.resources.lock);
            if (!runs.pop(run)) break;
            count_heap(d);
        }
        (void)mm::free_frames(run.phys, run.order);
    }
}

Result<void*> alloc_pages(Domain& d, size_t count) {
    if (count == 0 || count > MAX_PAGE_RUN_PAGES) return Errno::Inval;
    uint64_t phys = TRY(alloc_run(d, d.resources.heap, count * mm::PAGE_SIZE));
    return mm::phys_to_virt(phys);
}

Result<void> free_pages(Domain& d, void* base, size_t count) {
    return free_run(d, d.resources.heap, base, count * mm::PAGE_SIZE);
}

Result<void> publish(Domain& d, const char* name, size_t len, void* object, uint32_t type_id) {
    if (len == 0 || len > Manifest::MAX_INTERFACE_NAME) return Errno::Inval;
    Resources& r = d.resources;
    SpinlockGuard g(r.lock);
    for (size_t i = 0; i < r.export_count; i++)
        if (__builtin_strlen(r.exports[i].name) == len && __builtin_memcmp(r.exports[i].name, name, len) == 0)
            return Errno::Exist;
    if (r.export_count == MAX_EXPORTS) return Errno::NoSpc;
    Resources::Export& e = r.exports[r.export_count++];
    __builtin_memcpy(e.name, name, len);
    e.name[len] = 0;
    e.object = object;
    e.type_id = type_id;
    return {};
}

void* find_published(Domain& d, const char* name) {
    Resources& r = d.resources;
    SpinlockGuard g(r.lock);
    for (size_t i = 0; i < r.export_count; i++)
        if (__builtin_strcmp(r.exports[i].name, name) == 0) return r.exports[i].object;
    return nullptr;
}

namespace {

// The type id `d` published `name` with; NoEnt when it did not publish it.
Result<uint32_t> published_type(Domain& d, const char* name) {
    Resources& r = d.resources;
    SpinlockGuard g(r.lock);
    for (size_t i = 0; i < r.export_count; i++)
        if (__builtin_strcmp(r.exports[i].name, name) == 0) return r.exports[i].type_id;
    return Errno::NoEnt;
}

}  // namespace

Result<void> same_interface_types(Domain& running, Domain& fresh) {
    for (size_t i = 0;; i++) {
        Resources::Export e;
        {
            SpinlockGuard g(running.resources.lock);
            if (i == running.resources.export_count) return {};
            e = running.resources.exports[i];
        }
        if (e.type_id == 0) continue;
        auto t = published_type(fresh, e.name);
        if (t.is_error() || t.value() != e.type_id) {
            kprintf("domain %s: the new instance publishes '%s' as interface type %#x, the running one as %#x\n",
                    running.name, e.name, t.is_error() ? 0u : t.value(), e.type_id);
            return Errno::Inval;
        }
    }
}

pci::PciDevice* device_of(Domain& d, uint64_t handle) {
    if (handle == 0 || handle > Manifest::MAX_DEVICES) return nullptr;
    SpinlockGuard g(d.resources.lock);
    return d.resources.devices[handle - 1];
}

void release_all(Domain& d) {
    Resources& r = d.resources;
    for (size_t i = 0; i < Manifest::MAX_DEVICES; i++) {
        pci::PciDevice* dev;
        {
            SpinlockGuard g(r.lock);
            dev = r.devices[i];
            __atomic_store_n(&r.devices[i], nullptr, __ATOMIC_RELEASE);
        }
        if (dev) device::release_device(d, i + 1, *dev);
    }
    iommu::destroy_space(d.id);  // no device translates through it any more
    free_runs(d, r.dma);         // after the devices: nothing DMAs into it anymore
    free_runs(d, r.heap);
}

}  // namespace lamina::domain
