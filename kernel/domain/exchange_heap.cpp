// lamina:portable
#include "kernel/domain/exchange_heap.h"

#include <new>

namespace lamina::domain {

namespace {

bool is_power_of_two(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

bool same_layout(const TypeInfo& a, const TypeInfo& b) {
    if (a.size != b.size || a.align != b.align || a.rref_count != b.rref_count || a.flags != b.flags) return false;
    for (uint32_t i = 0; i < a.rref_count; i++)
        if (a.rref_offsets[i] != b.rref_offsets[i]) return false;
    return true;
}

void zero(void* p, size_t n) { __builtin_memset(p, 0, n); }

}  // namespace

PageSet::~PageSet() {
    if (slots_ != nullptr) pages_.free_pages(slots_, order_);
}

bool PageSet::grow() {
    unsigned order = slots_ == nullptr ? 0 : order_ + 1;
    if (order > mm::MAX_ORDER) return false;
    auto* fresh = static_cast<uintptr_t*>(pages_.alloc_pages(order));
    if (fresh == nullptr) return false;
    size_t capacity = (mm::PAGE_SIZE << order) / sizeof(uintptr_t);
    for (size_t i = 0; i < capacity; i++) fresh[i] = 0;
    uintptr_t* old = slots_;
    size_t old_capacity = capacity_;
    unsigned old_order = order_;
    slots_ = fresh;
    capacity_ = capacity;
    order_ = order;
    shift_ = 0;
    while ((size_t{1} << shift_) < capacity) shift_++;
    for (size_t i = 0; i < old_capacity; i++) {
        if (old[i] == 0) continue;
        size_t j = slot_of(old[i]);
        while (slots_[j] != 0) j = (j + 1) & (capacity_ - 1);
        slots_[j] = old[i];
    }
    if (old != nullptr) pages_.free_pages(old, old_order);
    return true;
}

bool PageSet::insert(uintptr_t page) {
    if ((count_ + 1) * 2 > capacity_ && !grow()) return false;
    size_t i = slot_of(page);
    while (slots_[i] != 0 && slots_[i] != page) i = (i + 1) & (capacity_ - 1);
    if (slots_[i] == 0) count_++;
    slots_[i] = page;
    return true;
}

void PageSet::erase(uintptr_t page) {
    if (count_ == 0) return;
    size_t i = slot_of(page);
    while (slots_[i] != page) {
        if (slots_[i] == 0) return;
        i = (i + 1) & (capacity_ - 1);
    }
    // Backward shift: pull later entries of the probe run into the hole so lookups still work.
    size_t mask = capacity_ - 1;
    for (size_t j = (i + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
        size_t home = slot_of(slots_[j]);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            slots_[i] = slots_[j];
            i = j;
        }
    }
    slots_[i] = 0;
    count_--;
}

void* TrackedPages::alloc_pages(unsigned order) {
    void* p = inner_.alloc_pages(order);
    if (p != nullptr && !set_.insert(reinterpret_cast<uintptr_t>(p))) {
        inner_.free_pages(p, order);
        return nullptr;
    }
    return p;
}

void TrackedPages::free_pages(void* pages, unsigned order) {
    set_.erase(reinterpret_cast<uintptr_t>(pages));
    inner_.free_pages(pages, order);
}

TypeRegistry::TypeRegistry() {
    for (auto& s : slots_) s = nullptr;
}

Result<void> TypeRegistry::add(const TypeInfo& info) {
    if (!is_power_of_two(info.align) || info.align > 16 || info.size % info.align != 0) return Errno::Inval;
    if (info.rref_count != 0 && info.rref_offsets == nullptr) return Errno::Inval;
    for (uint32_t i = 0; i < info.rref_count; i++) {
        uint32_t off = info.rref_offsets[i];
        if (off % sizeof(void*) != 0 || off + sizeof(void*) > info.size) return Errno::Inval;
    }
    size_t mask = CAPACITY - 1;
    for (size_t i = info.id & mask, n = 0; n < CAPACITY; i = (i + 1) & mask, n++) {
        const TypeInfo* t = slots_[i];
        if (t == nullptr) {
            if (count_ + 1 >= CAPACITY) return Errno::NoSpc;
            slots_[i] = &info;
            count_++;
            return {};
        }
        if (t->id == info.id) return t == &info || same_layout(*t, info) ? Result<void>() : Result<void>(Errno::Exist);
    }
    return Errno::NoSpc;
}

const TypeInfo* TypeRegistry::find(TypeId id) const {
    size_t mask = CAPACITY - 1;
    for (size_t i = id & mask, n = 0; n < CAPACITY; i = (i + 1) & mask, n++) {
        const TypeInfo* t = slots_[i];
        if (t == nullptr) return nullptr;
        if (t->id == id) return t;
    }
    return nullptr;
}

ExchangeHeap::ExchangeHeap(mm::PageProvider& pages) : pages_(pages), heap_(pages_) {
    (void)register_type<uint8_t>();
    (void)register_type<uint16_t>();
    (void)register_type<uint32_t>();
    (void)register_type<uint64_t>();
    (void)register_type<int8_t>();
    (void)register_type<int16_t>();
    (void)register_type<int32_t>();
    (void)register_type<int64_t>();
    (void)register_type<bool>();
    (void)register_type<ExchangeBytes>();
}

Result<void*> ExchangeHeap::allocate(DomainId owner, TypeId type, size_t size) {
    const TypeInfo* info = types_.find(type);
    if (info == nullptr) return Errno::Inval;
    if ((info->flags & TYPE_VARIABLE_SIZE) ? size < info->size : size != info->size) return Errno::Inval;
    if (size > mm::Heap::MAX_LARGE_SIZE - HEADER_SIZE) return Errno::NoMem;
    void* block = heap_.allocate(HEADER_SIZE + size);
    if (block == nullptr) return Errno::NoMem;
    auto* h = static_cast<ObjectHeader*>(block);
    h->magic = ObjectHeader::LIVE;
    h->owner = owner;
    h->type = type;
    h->flags = info->rref_count != 0 ? ObjectHeader::NESTED : 0;
    h->borrower = NO_DOMAIN;
    h->lend_count = 0;
    h->size = size;
    new (&h->link) ListNode();
    h->work = nullptr;
    objects_.push_front(h);
    live_objects_++;
    live_bytes_ += size;
    void* object = static_cast<uint8_t*>(block) + HEADER_SIZE;
    zero(object, size);
    return object;
}

Result<void> ExchangeHeap::free(DomainId caller, void* object) {
    ObjectHeader* h = TRY(header_of(object));
    if (h->owner != caller) return Errno::Perm;
    if (h->lend_count != 0) return Errno::Busy;
    release(h);
    return {};
}

void ExchangeHeap::release(ObjectHeader* h) {
    objects_.remove(h);
    h->magic = ObjectHeader::FREED;
    live_objects_--;
    live_bytes_ -= h->size;
    (void)heap_.deallocate(h);
}

template <typename Accept>
void ExchangeHeap::push_children(ObjectHeader* h, ObjectHeader** stack, size_t* corrupt, Accept&& accept) {
    const uint8_t* base = reinterpret_cast<const uint8_t*>(h) + HEADER_SIZE;
    const TypeInfo* info = types_.find(h->type);  // registered when h was allocated
    for (uint32_t i = 0; i < info->rref_count; i++) {
        void* child = *reinterpret_cast<void* const*>(base + info->rref_offsets[i]);
        if (child == nullptr) continue;
        auto c = header_of(child);
        if (c.is_error()) {
            if (corrupt != nullptr) (*corrupt)++;
            continue;
        }
        ObjectHeader* ch = c.value();
        if (accept(ch)) {
            ch->work = *stack;
            *stack = ch;
        }
    }
}

void ExchangeHeap::transfer_nested(ObjectHeader* root, DomainId from, DomainId to) {
    // Owners change before children are pushed, so a cycle of handles ends the walk.
    root->owner = to;
    ObjectHeader* stack = nullptr;
    auto take = [&](ObjectHeader* c) {
        if (c->owner != from) return false;
        c->owner = to;
        return true;
    };
    push_children(root, &stack, nullptr, take);
    while (stack != nullptr) {
        ObjectHeader* h = stack;
        stack = h->work;
        h->work = nullptr;
        push_children(h, &stack, nullptr, take);
    }
}

void ExchangeHeap::free_tree(ObjectHeader* root) {
    // Mark first (FREED cannot be used: children are read after their parent goes), then free.
    DomainId owner = root->owner;
    constexpr uint32_t MARK = 0x80000000;
    root->flags |= MARK;
    ObjectHeader* stack = root;
    root->work = nullptr;
    ObjectHeader* doomed = nullptr;
    auto take = [&](ObjectHeader* c) {
        if ((c->flags & MARK) || c->lend_count != 0) return false;
        if (!(c->flags & ObjectHeader::ORPHANED) && c->owner != owner) return false;
        c->flags |= MARK;
        return true;
    };
    while (stack != nullptr) {
        ObjectHeader* h = stack;
        stack = h->work;
        push_children(h, &stack, nullptr, take);
        h->work = doomed;
        doomed = h;
    }
    while (doomed != nullptr) {
        ObjectHeader* h = doomed;
        doomed = h->work;
        release(h);
    }
}

ReclaimStats ExchangeHeap::reclaim_domain(DomainId dead) {
    ReclaimStats stats;
    constexpr uint32_t KEEP = 0x40000000;    // orphaned with a lent-out container
    constexpr uint32_t DOOM = 0x20000000;    // to be freed
    constexpr uint32_t NESTED = 0x10000000;  // reached through another dead object's handle
    constexpr uint32_t UNLENT_ORPHAN = 0x08000000;

    // 1. Loans to the dead domain end; an orphan whose last loan that was is freed below.
    ObjectHeader* stack = nullptr;
    for (ObjectHeader* h : objects_) {
        if (h->lend_count != 0 && h->borrower == dead) {
            h->lend_count = 0;
            h->borrower = NO_DOMAIN;
            stats.loans_returned++;
            if (h->flags & ObjectHeader::ORPHANED) h->flags |= UNLENT_ORPHAN;
        }
    }
    // free_tree may free other flagged objects (contents of the first), so look again each time.
    for (;;) {
        ObjectHeader* h = nullptr;
        for (ObjectHeader* o : objects_) {
            if (o->flags & UNLENT_ORPHAN) {
                h = o;
                break;
            }
        }
        if (h == nullptr) break;
        h->flags &= ~UNLENT_ORPHAN;
        size_t before = live_objects_;
        free_tree(h);
        stats.freed += before - live_objects_;
    }

    // 2. The dead domain's objects that are lent out right now stay, with everything they
    //    contain, until the loan ends.
    for (ObjectHeader* h : objects_) {
        if (h->owner == dead && h->lend_count != 0 && !(h->flags & KEEP)) {
            h->flags |= KEEP;
            h->work = stack;
            stack = h;
        }
    }
    auto keep = [&](ObjectHeader* c) {
        if (c->owner != dead || (c->flags & KEEP)) return false;
        c->flags |= KEEP;
        return true;
    };
    while (stack != nullptr) {
        ObjectHeader* h = stack;
        stack = h->work;
        h->work = nullptr;
        push_children(h, &stack, nullptr, keep);
    }

    // 3. Everything else it owns goes; the type tables tell which of those were nested in
    //    another (and find handles that point nowhere).
    for (ObjectHeader* h : objects_) {
        if (h->owner != dead) continue;
        if (h->flags & KEEP) {
            h->flags = (h->flags & ~KEEP) | ObjectHeader::ORPHANED;
            h->owner = NO_DOMAIN;
            stats.orphaned++;
        } else {
            h->flags |= DOOM;
        }
    }
    for (ObjectHeader* h : objects_) {
        if (!(h->flags & DOOM)) continue;
        ObjectHeader* children = nullptr;
        push_children(h, &children, &stats.corrupt, [&](ObjectHeader* c) {
            if ((c->flags & DOOM) && !(c->flags & NESTED)) {
                c->flags |= NESTED;
                stats.nested++;
            }
            return false;
        });
    }
    for (ObjectHeader* h = objects_.front(); h != nullptr;) {
        ObjectHeader* next = ListLink<ObjectHeader, &ObjectHeader::link>::owner(h->link.next);
        if (h->flags & DOOM) {
            stats.freed++;
            release(h);
        }
        h = next;
    }
    return stats;
}

Result<DomainId> ExchangeHeap::owner_of(const void* object) const {
    ObjectHeader* h = TRY(header_of(object));
    return h->owner;
}

Result<DomainId> ExchangeHeap::borrower_of(const void* object) const {
    ObjectHeader* h = TRY(header_of(object));
    return h->borrower;
}

size_t ExchangeHeap::objects_owned_by(DomainId owner) const {
    size_t n = 0;
    for (const ObjectHeader* h : objects_) n += h->owner == owner;
    return n;
}

size_t ExchangeHeap::objects_lent_to(DomainId borrower) const {
    size_t n = 0;
    for (const ObjectHeader* h : objects_) n += h->lend_count != 0 && h->borrower == borrower;
    return n;
}

}  // namespace lamina::domain
