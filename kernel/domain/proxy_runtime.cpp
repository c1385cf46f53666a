// The kernel as the proxy runtime's environment (include/lamina/proxy_runtime.h) and the home of
// the exchange heap (exchange_heap.h): one heap for the whole kernel, behind one lock, its
// pages owned by Owner::exchange_heap(0). exchange:: (rref.h) allocates from it for the kernel
// and for domains (whose calls reach it through the capability table).
#include <new>
#include <type_traits>

#include "kernel/domain/device.h"
#include "kernel/domain/internal.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"

namespace lamina::domain {

namespace {

// Lock order: after a Domain's lock (never the other way round); the page provider it calls
// with the lock held only takes the frame allocator's.
class ExchangePages final : public mm::PageProvider {
public:
    void* alloc_pages(unsigned order) override {
        auto frames = mm::alloc_frames(order, mm::Owner::exchange_heap(0));
        return frames.is_ok() ? mm::phys_to_virt(frames.value()) : nullptr;
    }
    void free_pages(void* pages, unsigned order) override { (void)mm::free_frames(mm::virt_to_phys(pages), order); }
};
ExchangePages g_exchange_pages;
alignas(ExchangeHeap) unsigned char g_exchange_storage[sizeof(ExchangeHeap)];

}  // namespace

Spinlock g_exchange_lock;
ExchangeHeap* g_exchange;

void init_exchange_heap() { g_exchange = new (g_exchange_storage) ExchangeHeap(g_exchange_pages); }

static_assert(std::is_standard_layout_v<Domain>, "the proxy runtime finds a Domain from its record");

size_t exchange_objects_owned_by(DomainId id) {
    return with_exchange_heap([&](ExchangeHeap& x) { return x.objects_owned_by(id); });
}

size_t exchange_live_objects() {
    return with_exchange_heap([](ExchangeHeap& x) { return x.live_objects(); });
}

Result<void> exchange_register_types(const TypeInfo* const* types, size_t count) {
    return with_exchange_heap([&](ExchangeHeap& x) -> Result<void> {
        for (size_t i = 0; i < count; i++) TRY(x.register_type(*types[i]));
        return {};
    });
}

Result<void> exchange_register_types(const TypeInfo* const* types) {
    size_t n = 0;
    while (types[n]) n++;
    return exchange_register_types(types, n);
}

}  // namespace lamina::domain

namespace lamina {

using domain::Domain;
using domain::ExchangeHeap;
using domain::with_exchange_heap;

DomainId proxy_rt::current_domain() {
    Domain* d = domain::calling_domain();
    return d ? d->id : KERNEL_DOMAIN;
}

DomainError proxy_rt::call_into(DomainRecord& callee, Thunk thunk, void* frame) {
    // The record is a Domain's first member (static_assert above).
    auto* d = reinterpret_cast<Domain*>(&callee);
    if (!is_alive(callee)) return DomainError::Dead;
    return domain::call_thunk(d, thunk, frame);
}

// A driver domain's device may hold exchange-heap pages of objects that just left the domain
// (moved on, freed, loan ended): their IOMMU mappings go now.
Result<void> proxy_rt::move_rref(void* object, TypeId type, DomainId from, DomainId to) {
    Result<void> r = with_exchange_heap([&](ExchangeHeap& x) { return x.transfer_typed(object, type, from, to); });
    domain::device::revoke_exchange(from);
    return r;
}

Result<DomainId> proxy_rt::lend_rref(const void* object, DomainId lender, DomainId borrower) {
    return with_exchange_heap([&](ExchangeHeap& x) { return x.lend(object, lender, borrower); });
}

void proxy_rt::end_loan(const void* object, DomainId borrower, DomainId previous) {
    with_exchange_heap([&](ExchangeHeap& x) { (void)x.end_loan(object, borrower, previous); });
    domain::device::revoke_exchange(borrower);
}

bool proxy_rt::rescue_rref(void* object, TypeId type, DomainId from, DomainId to) {
    bool ok = with_exchange_heap([&](ExchangeHeap& x) {
        auto h = x.header_of(object);
        if (h.is_error() || h.value()->type != type) return false;
        return x.transfer(object, from, to).is_ok();
    });
    domain::device::revoke_exchange(from);
    return ok;
}

void proxy_rt::ownership_violation(DomainId culprit, Error error) {
    Domain* current = domain::calling_domain();
    if (current && current->id == culprit) domain::fail_calling_domain(current, "ownership violation in a proxy call");
    kprintf("domain: ownership violation by domain %u (%s)\n", culprit, error.name());
    SpinlockGuard g(domain::g_domains_lock);
    for (Domain* d : domain::g_slots)
        if (domain::is_live(d) && d->id == culprit) domain::mark_failed(d);
}

Result<void*> exchange::allocate(TypeId type, size_t size) {
    DomainId owner = proxy_rt::current_domain();
    return with_exchange_heap([&](ExchangeHeap& x) { return x.allocate(owner, type, size); });
}

Result<void> exchange::free(void* object) {
    DomainId caller = proxy_rt::current_domain();
    Result<void> r = with_exchange_heap([&](ExchangeHeap& x) { return x.free(caller, object); });
    domain::device::revoke_exchange(caller);
    if (r.is_error()) proxy_rt::ownership_violation(caller, r.error());
    return r;
}

}  // namespace lamina
