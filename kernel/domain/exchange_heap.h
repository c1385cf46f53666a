// lamina:portable
// The exchange heap: the one heap whose objects cross domain boundaries, with an owner recorded
// for each object.
//
// Guarantees
//   - A pointer a domain hands in is only read through if it lies in one of the heap's pages.
//   - Every object has an ObjectHeader in front of it: magic, owner domain, type (resolved
//     through the heap's own TypeRegistry, never through a pointer a domain supplied), size, and
//     loan state. Objects are 16-byte aligned and zero-filled.
//   - Ownership is checked on every operation. A domain that frees, moves or lends an object it
//     neither owns nor (for lending) currently borrows gets Errno::Perm — the ownership error,
//     which the kernel turns into a fault of that domain. Other refusals: Errno::Inval for a
//     pointer that is not a live heap object (bad alignment, bad magic, double free) or an
//     unknown type / wrong size, Errno::Busy for freeing or moving an object that is lent out.
//   - transfer() moves an object and, through the type tables, every nested object it reaches
//     that the old owner owns (so containers and their contents always have one owner).
//   - reclaim_domain(d) leaves nothing owned by d: objects d owns are freed, nested ones
//     included; objects d owns that are lent to a live domain right now are orphaned (kept,
//     together with what they contain) and freed when the loan ends; objects lent to d go back
//     to their owners.
//
// Costs
//   transfer/lend/end_loan of an object without nested handles: a page-set lookup and a few loads
//   and stores (inline).
//   allocate/free: the slab heap's cost plus list linking. reclaim_domain and the counting
//   queries walk every live object.
//
// Locking
//   None inside (the class is portable and runs in host tests). The kernel wraps its
//   ExchangeHeap in one spinlock; every member function needs it. The PageProvider is called
//   with the lock held and must not call back.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>
#include <lamina/rref.h>

#include <lamina/intrusive_list.h>
#include "kernel/mm/slab.h"

namespace lamina::domain {

// Type tables known to the heap, by id. Fixed capacity: no hidden allocation.
class TypeRegistry {
public:
    static constexpr size_t CAPACITY = 1024;  // a power of two (open addressing)

    TypeRegistry();
    // Registering the same table again is a no-op; another table with the same id is Exist
    // (two layouts hashed to one id); NoSpc when full; Inval for a malformed table (zero
    // alignment or not a power of two, an RRef offset outside the object or misaligned).
    Result<void> add(const TypeInfo& info);
    const TypeInfo* find(TypeId id) const;
    size_t size() const { return count_; }

private:
    const TypeInfo* slots_[CAPACITY];
    size_t count_ = 0;
};

// The pages the heap holds, so that a pointer from a domain is checked to lie in the heap before
// anything is read through it. An open-addressing set of page addresses (linear probing,
// backward-shift deletion) whose table itself comes from the provider and doubles when half full.
class PageSet {
public:
    explicit PageSet(mm::PageProvider& pages) : pages_(pages) {}
    ~PageSet();
    PageSet(const PageSet&) = delete;
    PageSet& operator=(const PageSet&) = delete;

    // False when the table could not grow.
    bool insert(uintptr_t page);
    void erase(uintptr_t page);
    bool contains(uintptr_t page) const {
        if (count_ == 0) return false;
        for (size_t i = slot_of(page);; i = (i + 1) & (capacity_ - 1)) {
            if (slots_[i] == page) return true;
            if (slots_[i] == 0) return false;
        }
    }

private:
    size_t slot_of(uintptr_t page) const {
        return static_cast<size_t>(((page >> 12) * 0x9e3779b97f4a7c15ull) >> (64 - shift_));
    }
    bool grow();

    mm::PageProvider& pages_;
    uintptr_t* slots_ = nullptr;
    size_t capacity_ = 0;  // a power of two
    unsigned shift_ = 0;   // log2(capacity_)
    unsigned order_ = 0;   // of the table's pages
    size_t count_ = 0;
};

// Passes pages through to the real provider, recording the first page of each block (where the
// slab or large-allocation header, and so every object header, lives).
class TrackedPages final : public mm::PageProvider {
public:
    explicit TrackedPages(mm::PageProvider& inner) : inner_(inner), set_(inner) {}
    void* alloc_pages(unsigned order) override;
    void free_pages(void* pages, unsigned order) override;
    bool holds(uintptr_t page) const { return set_.contains(page); }

private:
    mm::PageProvider& inner_;
    PageSet set_;
};

struct ObjectHeader {
    static constexpr uint32_t LIVE = 0x52526566;  // "RRef"
    static constexpr uint32_t FREED = 0x44656164;
    static constexpr uint32_t ORPHANED = 1;  // flags: owner died while it was lent out
    static constexpr uint32_t NESTED = 2;    // flags: its type has handle fields (saves a load)

    uint32_t magic;
    DomainId owner;
    TypeId type;
    uint32_t flags;
    DomainId borrower;    // innermost domain it is lent to, NO_DOMAIN when not lent
    uint32_t lend_count;  // nested loans (a borrower may lend on)
    uint64_t size;
    ListNode link;       // on the heap's list of live objects
    ObjectHeader* work;  // scratch link for the heap's graph walks
};
static_assert(sizeof(ObjectHeader) <= 64);

struct ReclaimStats {
    size_t freed = 0;           // objects freed, nested ones included
    size_t nested = 0;          // of those, reached through another freed object's handles
    size_t orphaned = 0;        // kept because they (or their container) are lent out
    size_t loans_returned = 0;  // objects lent to the dead domain, returned to their owners
    size_t corrupt = 0;         // handles inside dead objects that pointed to no live object
};

class ExchangeHeap {
public:
    static constexpr size_t HEADER_SIZE = 64;

    // Registers the built-in types (scalars, bytes).
    explicit ExchangeHeap(mm::PageProvider& pages);
    // Gives every page back, live objects or not.
    ~ExchangeHeap() = default;
    ExchangeHeap(ExchangeHeap&&) = delete;
    ExchangeHeap(const ExchangeHeap&) = delete;
    ExchangeHeap& operator=(const ExchangeHeap&) = delete;

    Result<void> register_type(const TypeInfo& info) { return types_.add(info); }
    template <Exchangeable T>
    Result<void> register_type() {
        return types_.add(ExchangeTraits<T>::info());
    }
    const TypeInfo* find_type(TypeId id) const { return types_.find(id); }

    // See rref.h (exchange::allocate) for the contract.
    Result<void*> allocate(DomainId owner, TypeId type, size_t size);
    // Frees one object (not its nested objects: the handles' destructors free those).
    Result<void> free(DomainId caller, void* object);

    // Moves object (and what it contains) from `from` to `to`; `from` must own it.
    Result<void> transfer(void* object, DomainId from, DomainId to) {
        ObjectHeader* h = TRY(header_of(object));
        if (h->owner != from) return Errno::Perm;
        if (h->lend_count != 0) return Errno::Busy;
        if (!(h->flags & ObjectHeader::NESTED)) {
            h->owner = to;
            return {};
        }
        transfer_nested(h, from, to);
        return {};
    }

    // transfer() as a proxy moves a handle of type `type`: the object must also be of that type
    // (Inval otherwise). The common case (live, owned by `from`, not lent, of that type, no
    // handles inside) is one straight-line check of the header and a store.
    Result<void> transfer_typed(void* object, TypeId type, DomainId from, DomainId to) {
        ObjectHeader* h = TRY(header_of(object));
        if (((h->owner ^ from) | (h->type ^ type) | h->lend_count | (h->flags & ObjectHeader::NESTED)) == 0)
            [[likely]] {
            h->owner = to;
            return {};
        }
        if (h->type != type) return Errno::Inval;
        return transfer(object, from, to);
    }

    // Lends object to borrower; lender must own it or be its current borrower. Returns the
    // previous borrower, to hand back to end_loan.
    Result<DomainId> lend(const void* object, DomainId lender, DomainId borrower) {
        ObjectHeader* h = TRY(header_of(object));
        if (h->lend_count == 0 ? h->owner != lender : h->borrower != lender) return Errno::Perm;
        DomainId previous = h->borrower;
        h->borrower = borrower;
        h->lend_count++;
        return previous;
    }
    // Ends the innermost loan of object to borrower. Inval if there is no such loan (e.g. the
    // borrower died and reclaim_domain already returned it). Frees an orphaned object whose
    // last loan this was.
    Result<void> end_loan(const void* object, DomainId borrower, DomainId previous) {
        ObjectHeader* h = TRY(header_of(object));
        if (h->lend_count == 0 || h->borrower != borrower) return Errno::Inval;
        h->borrower = previous;
        if (--h->lend_count == 0) {
            h->borrower = NO_DOMAIN;
            if (h->flags & ObjectHeader::ORPHANED) free_tree(h);
        }
        return {};
    }

    ReclaimStats reclaim_domain(DomainId dead);

    // Queries (walk all objects).
    Result<DomainId> owner_of(const void* object) const;
    Result<DomainId> borrower_of(const void* object) const;
    size_t objects_owned_by(DomainId owner) const;
    size_t objects_lent_to(DomainId borrower) const;
    size_t live_objects() const { return live_objects_; }
    size_t live_bytes() const { return live_bytes_; }

    // The header of a live object; Inval for anything else. Nothing is read through a pointer
    // outside the heap's pages.
    Result<ObjectHeader*> header_of(const void* object) const {
        uintptr_t p = reinterpret_cast<uintptr_t>(object);
        if ((p & 15) != 0 || p < HEADER_SIZE || !pages_.holds((p - HEADER_SIZE) & ~(mm::PAGE_SIZE - 1)))
            return Errno::Inval;
        auto* h = reinterpret_cast<ObjectHeader*>(p - HEADER_SIZE);
        if (h->magic != ObjectHeader::LIVE) return Errno::Inval;
        return h;
    }

private:
    void transfer_nested(ObjectHeader* root, DomainId from, DomainId to);
    // Frees h and every object reachable through its handles that is orphaned or owned by
    // h's owner.
    void free_tree(ObjectHeader* h);
    void release(ObjectHeader* h);
    // Pushes the live objects h's handles point to onto *stack (through ObjectHeader::work) if
    // accept(child) says so; counts handles to nothing live in *corrupt.
    template <typename Accept>
    void push_children(ObjectHeader* h, ObjectHeader** stack, size_t* corrupt, Accept&& accept);

    TrackedPages pages_;  // before heap_, which takes pages from it
    mm::Heap heap_;
    TypeRegistry types_;
    IntrusiveList<ObjectHeader, &ObjectHeader::link> objects_;
    size_t live_objects_ = 0;
    size_t live_bytes_ = 0;
};

}  // namespace lamina::domain
