// Loading and lifecycle: the table of live domains (one image slot each), create (package
// validated, image loaded into its slot), start (the entry through a domain call), destroy
// (teardown: docs/domains.md, "Teardown"), and the lookups by name and address.
#include <new>
#include <utility>

#include <lamina/own.h>
#include <lamina/scope_guard.h>

#include "kernel/boot/boot_info.h"
#include "kernel/domain/internal.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/mm/page_table.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::domain {

Spinlock g_domains_lock;
Domain* g_slots[IMAGE_SLOTS];

namespace {

const boot::BootInfo* g_boot_info;
uint32_t g_next_id = 1;  // g_domains_lock

uint64_t page_flags(uint32_t prot) {
    uint64_t f = 0;
    if (prot & kProtWrite) f |= mm::PageFlag::Writable;
    if (!(prot & kProtExec)) f |= mm::PageFlag::NoExecute;
    return f;
}

// One TLB shoot-down per batch of pages, not per page: most of a small domain's teardown.
void unmap_and_free(uintptr_t start, size_t pages) {
    constexpr size_t BATCH = 64;
    uint64_t frames[BATCH];
    for (size_t done = 0; done < pages; done += BATCH) {
        size_t n = pages - done < BATCH ? pages - done : BATCH;
        mm::unmap_kernel_range(start + done * mm::PAGE_SIZE, n, frames);
        for (size_t i = 0; i < n; i++)
            if (frames[i]) (void)mm::free_frames(frames[i], 0);
    }
}

// The loader's memory: the domain's image slot, backed by frames owned by the domain.
class ImageMemory final : public MemoryProvider {
public:
    ImageMemory(uint32_t id, uintptr_t base) : id_(id), base_(base) {}

    Result<Region> allocate(size_t pages) override {
        if (pages * mm::PAGE_SIZE > DOMAIN_MAX_IMAGE) return Errno::TooBig;
        for (size_t i = 0; i < pages; i++) {
            auto frame = mm::alloc_frames(0, mm::Owner::domain(id_));
            Result<void> mapped = frame.is_ok() ? mm::map_kernel_page(base_ + i * mm::PAGE_SIZE, frame.value(),
                                                                      mm::PageFlag::Writable | mm::PageFlag::NoExecute)
                                                : Result<void>(frame.error());
            if (mapped.is_error()) {
                if (frame.is_ok()) (void)mm::free_frames(frame.value(), 0);
                unmap_and_free(base_, i);
                return mapped.error();
            }
        }
        return Region{base_, reinterpret_cast<uint8_t*>(base_)};
    }

    Result<void> protect(uintptr_t addr, size_t pages, uint32_t prot) override {
        if (prot == 0) {
            unmap_and_free(addr, pages);  // gaps: nothing may touch them
            return {};
        }
        return mm::protect_kernel_range(addr, pages, page_flags(prot));
    }

    void release(const Region& region, size_t pages) override { unmap_and_free(region.base, pages); }

private:
    uint32_t id_;
    uintptr_t base_;
};

// The package name a boot module carries: the last word of its string ("path name"), or the
// path's file name without ".dom".
bool module_is(const boot::Module& m, const char* name) {
    size_t n = __builtin_strlen(name);
    const char* s = m.name;
    size_t len = 0;
    while (len < sizeof(m.name) && s[len]) len++;
    while (len && s[len - 1] == ' ') len--;
    size_t start = len;
    while (start && s[start - 1] != ' ' && s[start - 1] != '/') start--;
    size_t wlen = len - start;
    if (wlen >= 4 && __builtin_memcmp(s + len - 4, ".dom", 4) == 0) wlen -= 4;
    return wlen == n && __builtin_memcmp(s + start, name, n) == 0;
}

struct EntryFrame {
    lamina_domain_entry_fn entry;
    const lamina_domain_caps* caps;
    int64_t result;
};

void entry_thunk(void* p) {
    auto* f = static_cast<EntryFrame*>(p);
    f->result = f->entry(f->caps);
}

void release_slot(Domain* d) {
    SpinlockGuard g(g_domains_lock);
    g_slots[d->slot] = nullptr;
}

// Gives d (its package validated) an image slot, an id, its image and its capability table.
Result<Domain*> instantiate(Own<Domain> d) {
    ScopeGuard drop_file([&] {
        if (d->package_file) release(d->package_file);
    });
    {
        SpinlockGuard g(g_domains_lock);
        size_t slot = IMAGE_SLOTS;
        for (size_t i = 0; i < IMAGE_SLOTS && slot == IMAGE_SLOTS; i++)
            if (!g_slots[i]) slot = i;
        if (slot == IMAGE_SLOTS) return Errno::NoSpc;
        d->slot = unsigned(slot);
        d->id = g_next_id++;
        // Reserved so no other create takes it; published for the fault paths once loaded.
        g_slots[slot] = RESERVED_SLOT;
    }
    __builtin_memcpy(d->name, d->package.manifest.name, sizeof(d->name));
    ImageMemory memory(d->id, IMAGE_BASE + d->slot * DOMAIN_MAX_IMAGE);
    LoadError err;
    auto loaded = load_image(d->package.elf, memory, err);
    if (loaded.is_error()) {
        kprintf("domain: package '%s' could not be loaded: %s\n", d->name, err.message);
        release_slot(d.get());
        return loaded.error();
    }
    d->image = loaded.release_value();
    d->counters.image_pages = d->image.size / mm::PAGE_SIZE;
    d->caps = CAPS_TEMPLATE;
    d->caps.domain_id = d->id;
    d->record = {d->id, uint32_t(proxy_rt::DomainState::Restarting)};
    __atomic_store_n(&g_slots[d->slot], d.get(), __ATOMIC_RELEASE);
    drop_file.dismiss();
    return d.release();  // the table's until destroy()
}

// A boot module's or a file's package: validated, then loaded. The domain holds file.
Result<Domain*> create_validated(const char* what, const uint8_t* data, size_t size, PackageFile* file) {
    Own<Domain> d = TRY(make_own<Domain>());
    LoadError err;
    if (auto r = validate_package(data, size, d->package, err); r.is_error()) {
        kprintf("domain: package '%s' refused: %s\n", what, err.message);
        return r.error();
    }
    if (file) hold(file);
    d->package_file = file;
    return instantiate(std::move(d));
}

}  // namespace

Domain* domain_at(uintptr_t addr) {
    if (addr < IMAGE_BASE || addr - IMAGE_BASE >= IMAGE_SLOTS * DOMAIN_MAX_IMAGE) return nullptr;
    Domain* d = __atomic_load_n(&g_slots[(addr - IMAGE_BASE) / DOMAIN_MAX_IMAGE], __ATOMIC_ACQUIRE);
    return is_live(d) && d->contains(addr) ? d : nullptr;
}

bool locate(uintptr_t addr, unsigned* slot, uintptr_t* elf_address, const char** name) {
    Domain* d = domain_at(addr);
    if (!d) return false;
    *slot = d->slot;
    *elf_address = addr - d->image.bias;
    *name = d->name;
    return true;
}

const char* state_name(State s) {
    switch (s) {
        case State::Created:
            return "created";
        case State::Running:
            return "running";
        case State::Failed:
            return "failed";
        case State::Dead:
            return "dead";
    }
    return "?";
}

void init(const boot::BootInfo& info) {
    g_boot_info = &info;
    init_exchange_heap();
    install_fault_hooks();
}

Result<Domain*> create(const char* package_name) {
    const boot::Module* module = nullptr;
    for (size_t i = 0; g_boot_info && i < g_boot_info->module_count; i++)
        if (module_is(g_boot_info->modules[i], package_name)) module = &g_boot_info->modules[i];
    if (!module) {
        kprintf("domain: no boot module holds package '%s'\n", package_name);
        return Errno::NoEnt;
    }
    const auto* data = static_cast<const uint8_t*>(mm::phys_to_virt(module->start));
    return create_validated(package_name, data, size_t(module->end - module->start), nullptr);
}

Result<Domain*> create_from_file(PackageFile* file) { return create_validated("(file)", file->data, file->size, file); }

Result<Domain*> create_like(const Domain* original) {
    Own<Domain> d = TRY(make_own<Domain>());
    // The package lies in a boot module, reserved and never written, or in a PackageFile the
    // instances share and nobody writes: what was validated still is.
    d->package = original->package;
    d->package_file = original->package_file;
    if (d->package_file) hold(d->package_file);
    return instantiate(std::move(d));
}

void hold(PackageFile* f) { __atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED); }

void release(PackageFile* f) {
    if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    mm::kfree(f->data);
    delete f;
}

Result<int64_t> start(Domain* d) {
    if (d->get_state() != State::Created) return Errno::Inval;
    EntryFrame f{reinterpret_cast<lamina_domain_entry_fn>(d->image.entry), &d->caps, 0};
    DomainError e = call_thunk(d, entry_thunk, &f);
    if (e != DomainError::None) {
        kprintf("domain %s: failed to start (%s)\n", d->name, e == DomainError::TimedOut ? "timed out" : "faulted");
        return Errno::IO;
    }
    uint32_t created = uint32_t(State::Created);
    if (f.result >= 0 && __atomic_compare_exchange_n(&d->state, &created, uint32_t(State::Running), false,
                                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        __atomic_store_n(&d->record.state, uint32_t(proxy_rt::DomainState::Running), __ATOMIC_RELEASE);
    return f.result;
}

void destroy(Domain* d) {
    __atomic_store_n(&d->state, uint32_t(State::Dead), __ATOMIC_SEQ_CST);
    __atomic_store_n(&d->record.state, uint32_t(proxy_rt::DomainState::Dead), __ATOMIC_RELEASE);
    // Threads still running its code leave at their next interrupt; ones in a capability when
    // they come back from it.
    uint64_t deadline = time::now_ns() + 5'000'000'000ull;
    while (__atomic_load_n(&d->threads_inside, __ATOMIC_ACQUIRE) != 0 ||
           __atomic_load_n(&d->pins, __ATOMIC_ACQUIRE) != 0) {
        if (time::now_ns() > deadline) {
            kprintf("domain %s: %u threads still inside (%u pins) after 5 s; its memory is kept\n", d->name,
                    d->threads_inside, d->pins);
            return;
        }
        sched::yield();
    }
    // Its own threads have left it: they end now.
    d->resources.threads.for_each([](OwnThread& t) {
        if (t.thread) (void)t.thread->join();
    });
    release_slot(d);
    release_all(*d);
    ReclaimStats stats = with_exchange_heap([&](ExchangeHeap& x) { return x.reclaim_domain(d->id); });
    if (stats.freed || stats.orphaned || stats.loans_returned || stats.corrupt)
        kprintf(
            "domain %s: exchange heap: %zu objects freed (%zu nested), %zu orphaned while lent, %zu loans "
            "returned, %zu corrupt handles\n",
            d->name, stats.freed, stats.nested, stats.orphaned, stats.loans_returned, stats.corrupt);
    unmap_and_free(d->image.base, d->image.size / mm::PAGE_SIZE);
    if (d->package_file) release(d->package_file);
    delete d;
}

void* find_export(Domain* d, const char* name) { return find_published(*d, name); }

Domain* find(const char* name) {
    SpinlockGuard g(g_domains_lock);
    for (Domain* d : g_slots)
        if (is_live(d) && __builtin_strcmp(d->name, name) == 0) return d;
    return nullptr;
}

Domain* pin(const char* name) {
    SpinlockGuard g(g_domains_lock);
    for (Domain* d : g_slots) {
        if (!is_live(d) || __builtin_strcmp(d->name, name) != 0) continue;
        // As call_thunk counts threads: pinned first, then the state checked. destroy() marks
        // the domain Dead and then waits for the pins, so either it waits for this one or this
        // sees Dead; and it frees d only after taking this lock to empty the slot.
        __atomic_fetch_add(&d->pins, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&d->state, __ATOMIC_SEQ_CST) == uint32_t(State::Dead)) {
            __atomic_fetch_sub(&d->pins, 1, __ATOMIC_RELEASE);
            return nullptr;
        }
        return d;
    }
    return nullptr;
}

void unpin(Domain* d) { __atomic_fetch_sub(&d->pins, 1, __ATOMIC_RELEASE); }

size_t list(Status* out, size_t max) {
    size_t n = 0;
    SpinlockGuard g(g_domains_lock);
    for (Domain* d : g_slots) {
        if (!is_live(d) || n == max) continue;
        Status& s = out[n++];
        s.id = d->id;
        __builtin_memcpy(s.name, d->name, sizeof(s.name));
        s.state = d->get_state();
        s.version_major = d->package.manifest.version_major;
        s.version_minor = d->package.manifest.version_minor;
        s.restarting = __atomic_load_n(&d->restarting, __ATOMIC_ACQUIRE);
        s.counters = d->counters;
        s.exchange_objects = with_exchange_heap([&](ExchangeHeap& x) { return x.objects_owned_by(d->id); });
        s.threads = d->resources.threads.count();
        s.threads_inside = __atomic_load_n(&d->threads_inside, __ATOMIC_RELAXED);
    }
    return n;
}

}  // namespace lamina::domain
