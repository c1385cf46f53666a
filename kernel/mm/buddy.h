// lamina:portable
// BuddyAllocator: the physical frame allocator.
//
// Guarantees
//   - Hands out naturally aligned blocks of 2^order frames (PAGE_SIZE each), order 0..MAX_ORDER.
//   - Never reads or writes frame contents: every piece of state (free-list links, block order,
//     owner) lives in a PageMeta array that the caller provides, one entry per frame below
//     phys_end. That is what lets the host tests drive it with made-up physical addresses.
//   - Never allocates memory itself.
//   - Every allocated block records its owner; owner_of() answers for any frame, and per-kind
//     page counters are kept up to date on every alloc/free/set_owner.
//   - free() checks its argument (managed address, block head, allocated, matching order) and
//     returns Inval rather than corrupting the free lists. A double free is caught as long as the
//     block has not been handed out again in between.
//
// Complexity
//   alloc, free, set_owner, owner_of: O(MAX_ORDER).
//   add_range: O(pages in the range). create: O(phys_end / PAGE_SIZE) (zeroes the metadata).
//   count_owned, verify: O(phys span between the lowest and highest managed frame); diagnostics
//   and tests only, never on a hot path.
//
// Locking
//   None inside. The kernel owns one instance behind a spinlock and every call, including the
//   read-only counters, must hold it. Nothing here blocks or calls out, so it is safe to call
//   with interrupts disabled.
//
// Metadata layout
//   Entry i describes the frame at physical address i * PAGE_SIZE, so phys <-> entry is a shift.
//   Frames that no add_range() covered stay zeroed ("unmanaged") and are never handed out; the
//   cost of covering holes is 16 bytes per 4 KiB frame (0.4%). Indices are 32-bit, which bounds
//   phys_end at 16 TiB.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>
#include <lamina/page.h>

namespace lamina::mm {

using ::lamina::PAGE_SHIFT;  // include/lamina/page.h
using ::lamina::PAGE_SIZE;

// Largest block is 2^MAX_ORDER frames = 4 MiB: big enough for any DMA ring or 2 MiB huge page,
// small enough that a few pinned frames do not make most of memory unusable for big orders.
inline constexpr unsigned MAX_ORDER = 10;

enum class OwnerKind : uint8_t {
    Free = 0,      // on a free list; never passed to alloc()
    Kernel,        // kernel heap, stacks, boot structures
    Domain,        // private memory of an isolated domain (id = domain id)
    Process,       // user process memory (id = pid)
    ExchangeHeap,  // shared exchange-heap frames (id = owning domain, if any)
    PageTable,     // paging structures
    Reserved,      // firmware, MMIO windows handed over as RAM, etc.
};
inline constexpr size_t OWNER_KIND_COUNT = 7;

struct Owner {
    OwnerKind kind;
    uint32_t id;

    constexpr bool operator==(const Owner&) const = default;
    static constexpr Owner free() { return {OwnerKind::Free, 0}; }
    static constexpr Owner kernel() { return {OwnerKind::Kernel, 0}; }
    static constexpr Owner page_table() { return {OwnerKind::PageTable, 0}; }
    static constexpr Owner domain(uint32_t id) { return {OwnerKind::Domain, id}; }
    static constexpr Owner process(uint32_t id) { return {OwnerKind::Process, id}; }
    static constexpr Owner exchange_heap(uint32_t id) { return {OwnerKind::ExchangeHeap, id}; }
};

// One per frame. Only the head frame of a block carries meaningful order/owner; the other frames
// of a block are found through their head (see BuddyAllocator::find_head).
struct PageMeta {
    uint32_t next;  // free-list link (frame index), NO_PAGE at the end
    uint32_t prev;
    uint32_t owner_id;
    uint8_t owner_kind;  // OwnerKind
    uint8_t order;
    uint8_t flags;  // PageMeta::Managed | Head | FreeBlock
    uint8_t unused;

    static constexpr uint8_t Managed = 1;    // some add_range() covered this frame
    static constexpr uint8_t Head = 2;       // first frame of a current block (free or allocated)
    static constexpr uint8_t FreeBlock = 4;  // the block headed here is on free_lists_[order]
};
static_assert(sizeof(PageMeta) == 16);

class BuddyAllocator {
public:
    // An allocator managing nothing; every alloc fails with NoMem. Lets the kernel keep a
    // global that create() later replaces.
    constexpr BuddyAllocator() = default;

    // Moving swaps state, so a moved-from allocator never aliases the live metadata.
    BuddyAllocator(BuddyAllocator&& other) { swap(other); }
    BuddyAllocator& operator=(BuddyAllocator&& other) {
        swap(other);
        return *this;
    }
    BuddyAllocator(const BuddyAllocator&) = delete;
    BuddyAllocator& operator=(const BuddyAllocator&) = delete;

    // Bytes of PageMeta needed to describe every frame below phys_end (rounded up to a page).
    static constexpr size_t metadata_bytes(uint64_t phys_end) {
        return static_cast<size_t>(page_count_for(phys_end) * sizeof(PageMeta));
    }
    static constexpr size_t metadata_alignment() { return alignof(PageMeta); }
    static constexpr uint64_t page_index(uint64_t phys) { return phys >> PAGE_SHIFT; }
    static constexpr uint64_t phys_of(uint64_t index) { return index << PAGE_SHIFT; }

    // Takes over `metadata` (at least metadata_bytes(phys_end) bytes, suitably aligned; it is
    // zeroed here) and manages no frames yet. Inval on a short/misaligned buffer or a phys_end
    // beyond what 32-bit frame indices can describe.
    static Result<BuddyAllocator> create(void* metadata, size_t metadata_size, uint64_t phys_end);

    // Hands [phys_base, phys_base + page_count * PAGE_SIZE) to the allocator as free memory.
    // phys_base must be page aligned; the range need not be aligned to any order and may touch
    // earlier ranges (touching blocks coalesce). Inval if misaligned, beyond phys_end, or
    // overlapping a frame already managed (nothing is changed in that case).
    Result<void> add_range(uint64_t phys_base, uint64_t page_count);

    // add_range for a byte range as a memory map reports it: trimmed inward to whole pages
    // (a region holding no whole page adds nothing). Same errors as add_range.
    Result<void> add_region(uint64_t base, uint64_t length);

    // Takes specific free frames out of the pool as order-0 blocks owned by `owner`: boot-time
    // reservations inside usable regions (kernel image, modules, this allocator's own metadata).
    // Each frame can later be returned with free(phys, 0). Inval, with nothing changed, unless
    // every frame in the range is managed and free. O(page_count * MAX_ORDER).
    Result<void> claim_range(uint64_t phys_base, uint64_t page_count, Owner owner);

    // A block of 2^order frames, naturally aligned, recorded as owned by `owner`.
    // NoMem if no block that large is free; Inval for order > MAX_ORDER or owner kind Free.
    Result<uint64_t> alloc(unsigned order, Owner owner);

    // Returns a block obtained from alloc(phys's block, same order). Inval, with no state
    // changed, if phys is not the head of an allocated block of exactly this order.
    Result<void> free(uint64_t phys, unsigned order);

    // Moves an allocated block to a new owner (e.g. exchange-heap frames handed to a domain).
    // Same argument checks as free().
    Result<void> set_owner(uint64_t phys, unsigned order, Owner owner);

    // Owner of the block containing phys (Owner::free() for free frames). Inval for frames
    // outside every added range.
    Result<Owner> owner_of(uint64_t phys) const;

    uint64_t total_pages() const { return total_pages_; }
    uint64_t free_pages() const { return pages_by_kind_[0]; }
    uint64_t pages_of(OwnerKind kind) const { return pages_by_kind_[static_cast<size_t>(kind)]; }
    uint64_t free_blocks(unsigned order) const { return order <= MAX_ORDER ? free_count_[order] : 0; }
    uint64_t phys_end() const { return phys_of(page_limit_); }

    // Pages whose owner is exactly `owner` (kind and id). Scans the metadata: for diagnostics
    // and teardown checks, not for hot paths.
    uint64_t count_owned(Owner owner) const;

    // Cross-checks free lists, block structure and counters. Inval on any inconsistency.
    Result<void> verify() const;

private:
    static constexpr uint32_t NO_PAGE = 0xFFFF'FFFFu;

    static constexpr uint64_t page_count_for(uint64_t phys_end) {
        return (phys_end >> PAGE_SHIFT) + ((phys_end & (PAGE_SIZE - 1)) != 0);
    }

    void swap(BuddyAllocator& other);
    void push_free(uint32_t index, unsigned order);
    void remove_free(uint32_t index, unsigned order);
    void set_free_head(uint32_t index, unsigned order);
    // Frees a block, merging with free buddies; does not touch counters.
    void insert_coalescing(uint32_t index, unsigned order);
    Result<uint32_t> check_allocated_block(uint64_t phys, unsigned order) const;
    uint32_t find_head(uint32_t index) const;  // NO_PAGE if index is unmanaged

    PageMeta* meta_ = nullptr;
    uint32_t page_limit_ = 0;    // entries in meta_
    uint32_t lowest_ = NO_PAGE;  // lowest and highest managed frame indices, for scans
    uint32_t highest_ = 0;
    uint32_t free_heads_[MAX_ORDER + 1] = {NO_PAGE, NO_PAGE, NO_PAGE, NO_PAGE, NO_PAGE, NO_PAGE,
                                           NO_PAGE, NO_PAGE, NO_PAGE, NO_PAGE, NO_PAGE};
    uint64_t free_count_[MAX_ORDER + 1] = {};
    uint64_t total_pages_ = 0;
    uint64_t pages_by_kind_[OWNER_KIND_COUNT] = {};
};
static_assert(MAX_ORDER + 1 == 11, "update free_heads_ initialiser");

}  // namespace lamina::mm
