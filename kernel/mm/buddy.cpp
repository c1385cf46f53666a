// lamina:portable
// Buddy frame allocator; the contract is at the top of buddy.h.
#include "kernel/mm/buddy.h"

#include <utility>

namespace lamina::mm {

namespace {

constexpr uint64_t block_pages(unsigned order) { return uint64_t{1} << order; }

// Who owns the block whose head is `m`.
Owner block_owner(const PageMeta& m) {
    if (m.flags & PageMeta::FreeBlock) return Owner::free();
    return Owner{static_cast<OwnerKind>(m.owner_kind), m.owner_id};
}

}  // namespace

Result<BuddyAllocator> BuddyAllocator::create(void* metadata, size_t metadata_size, uint64_t phys_end) {
    uint64_t pages = page_count_for(phys_end);
    // NO_PAGE must stay distinguishable from every real index.
    if (phys_end == 0 || pages >= NO_PAGE) return Errno::Inval;
    if (metadata == nullptr || metadata_size < metadata_bytes(phys_end)) return Errno::Inval;
    if (reinterpret_cast<uintptr_t>(metadata) % alignof(PageMeta) != 0) return Errno::Inval;

    // All-zero means "unmanaged", so frames in holes between ranges need no further set-up.
    __builtin_memset(metadata, 0, static_cast<size_t>(pages * sizeof(PageMeta)));

    BuddyAllocator allocator;
    allocator.meta_ = static_cast<PageMeta*>(metadata);
    allocator.page_limit_ = static_cast<uint32_t>(pages);
    return allocator;
}

void BuddyAllocator::swap(BuddyAllocator& other) {
    std::swap(meta_, other.meta_);
    std::swap(page_limit_, other.page_limit_);
    std::swap(lowest_, other.lowest_);
    std::swap(highest_, other.highest_);
    std::swap(free_heads_, other.free_heads_);
    std::swap(free_count_, other.free_count_);
    std::swap(total_pages_, other.total_pages_);
    std::swap(pages_by_kind_, other.pages_by_kind_);
}

void BuddyAllocator::push_free(uint32_t index, unsigned order) {
    PageMeta& m = meta_[index];
    m.prev = NO_PAGE;
    m.next = free_heads_[order];
    if (m.next != NO_PAGE) meta_[m.next].prev = index;
    free_heads_[order] = index;
    free_count_[order]++;
}

void BuddyAllocator::remove_free(uint32_t index, unsigned order) {
    PageMeta& m = meta_[index];
    if (m.prev != NO_PAGE)
        meta_[m.prev].next = m.next;
    else
        free_heads_[order] = m.next;
    if (m.next != NO_PAGE) meta_[m.next].prev = m.prev;
    m.next = m.prev = NO_PAGE;
    free_count_[order]--;
}

void BuddyAllocator::insert_coalescing(uint32_t index, unsigned order) {
    meta_[index].flags &= static_cast<uint8_t>(~(PageMeta::Head | PageMeta::FreeBlock));
    while (order < MAX_ORDER) {
        uint32_t buddy = index ^ static_cast<uint32_t>(block_pages(order));
        if (buddy >= page_limit_) break;
        PageMeta& b = meta_[buddy];
        constexpr uint8_t free_head = PageMeta::Head | PageMeta::FreeBlock;
        if ((b.flags & free_head) != free_head || b.order != order) break;
        remove_free(buddy, order);
        b.flags &= static_cast<uint8_t>(~free_head);
        if (buddy < index) index = buddy;
        order++;
    }
    set_free_head(index, order);
}

Result<void> BuddyAllocator::add_range(uint64_t phys_base, uint64_t page_count) {
    if (phys_base % PAGE_SIZE != 0) return Errno::Inval;
    if (page_count == 0) return {};
    uint64_t first = page_index(phys_base);
    if (first >= page_limit_ || page_count > page_limit_ - first) return Errno::Inval;
    uint64_t end = first + page_count;

    // Check before touching anything so a bad range leaves the allocator as it was.
    for (uint64_t i = first; i < end; i++) {
        if (meta_[i].flags & PageMeta::Managed) return Errno::Inval;
    }
    for (uint64_t i = first; i < end; i++) {
        meta_[i] = PageMeta{NO_PAGE, NO_PAGE, 0, 0, 0, PageMeta::Managed, 0};
    }

    // Largest aligned block that fits at each step; insert_coalescing also merges with blocks
    // from earlier, adjacent ranges.
    uint64_t i = first;
    while (i < end) {
        unsigned order = 0;
        while (order < MAX_ORDER && (i & (block_pages(order + 1) - 1)) == 0 && i + block_pages(order + 1) <= end)
            order++;
        insert_coalescing(static_cast<uint32_t>(i), order);
        i += block_pages(order);
    }

    total_pages_ += page_count;
    pages_by_kind_[static_cast<size_t>(OwnerKind::Free)] += page_count;
    if (first < lowest_ || lowest_ == NO_PAGE) lowest_ = static_cast<uint32_t>(first);
    if (end - 1 > highest_) highest_ = static_cast<uint32_t>(end - 1);
    return {};
}

Result<void> BuddyAllocator::add_region(uint64_t base, uint64_t length) {
    uint64_t end = base + length;
    if (end < base) return Errno::Inval;
    uint64_t first = (base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    uint64_t last = end & ~(PAGE_SIZE - 1);
    if (first < base || last <= first)  // rounding overflowed, or no whole page inside
        return {};
    return add_range(first, (last - first) >> PAGE_SHIFT);
}

Result<void> BuddyAllocator::claim_range(uint64_t phys_base, uint64_t page_count, Owner owner) {
    if (phys_base % PAGE_SIZE != 0 || owner.kind == OwnerKind::Free ||
        static_cast<size_t>(owner.kind) >= OWNER_KIND_COUNT)
        return Errno::Inval;
    uint64_t first = page_index(phys_base);
    if (first >= page_limit_ || page_count > page_limit_ - first) return Errno::Inval;
    uint64_t end = first + page_count;
    for (uint64_t i = first; i < end; i++) {
        uint32_t head = find_head(static_cast<uint32_t>(i));
        if (head == NO_PAGE || !(meta_[head].flags & PageMeta::FreeBlock)) return Errno::Inval;
    }
    for (uint64_t i = first; i < end; i++) {
        uint32_t page = static_cast<uint32_t>(i);
        uint32_t head = find_head(page);
        unsigned order = meta_[head].order;
        remove_free(head, order);
        meta_[head].flags &= static_cast<uint8_t>(~(PageMeta::Head | PageMeta::FreeBlock));
        // Halve around the frame, returning the half without it each time.
        while (order > 0) {
            order--;
            uint32_t upper = head + static_cast<uint32_t>(block_pages(order));
            if (page >= upper) {
                set_free_head(head, order);
                head = upper;
            } else {
                set_free_head(upper, order);
            }
        }
        PageMeta& m = meta_[page];
        m.flags = PageMeta::Managed | PageMeta::Head;
        m.order = 0;
        m.owner_kind = static_cast<uint8_t>(owner.kind);
        m.owner_id = owner.id;
    }
    pages_by_kind_[static_cast<size_t>(OwnerKind::Free)] -= page_count;
    pages_by_kind_[static_cast<size_t>(owner.kind)] += page_count;
    return {};
}

void BuddyAllocator::set_free_head(uint32_t index, unsigned order) {
    PageMeta& m = meta_[index];
    m.flags |= PageMeta::Head | PageMeta::FreeBlock;
    m.order = static_cast<uint8_t>(order);
    m.owner_kind = static_cast<uint8_t>(OwnerKind::Free);
    m.owner_id = 0;
    push_free(index, order);
}

Result<uint64_t> BuddyAllocator::alloc(unsigned order, Owner owner) {
    if (order > MAX_ORDER || owner.kind == OwnerKind::Free || static_cast<size_t>(owner.kind) >= OWNER_KIND_COUNT)
        return Errno::Inval;

    unsigned found = order;
    while (found <= MAX_ORDER && free_heads_[found] == NO_PAGE) found++;
    if (found > MAX_ORDER) return Errno::NoMem;

    uint32_t index = free_heads_[found];
    remove_free(index, found);
    // Split, returning the upper halves to the free lists.
    while (found > order) {
        found--;
        set_free_head(index + static_cast<uint32_t>(block_pages(found)), found);
    }

    PageMeta& head = meta_[index];
    head.flags = PageMeta::Managed | PageMeta::Head;
    head.order = static_cast<uint8_t>(order);
    head.owner_kind = static_cast<uint8_t>(owner.kind);
    head.owner_id = owner.id;

    uint64_t n = block_pages(order);
    pages_by_kind_[static_cast<size_t>(OwnerKind::Free)] -= n;
    pages_by_kind_[static_cast<size_t>(owner.kind)] += n;
    return phys_of(index);
}

Result<uint32_t> BuddyAllocator::check_allocated_block(uint64_t phys, unsigned order) const {
    if (order > MAX_ORDER || phys % PAGE_SIZE != 0) return Errno::Inval;
    uint64_t index = page_index(phys);
    if (index >= page_limit_) return Errno::Inval;
    const PageMeta& m = meta_[index];
    constexpr uint8_t mask = PageMeta::Managed | PageMeta::Head | PageMeta::FreeBlock;
    // Catches foreign addresses, pointers into the middle of a block, double frees (the block is
    // free, or was merged away so this frame is no longer a head) and a wrong order.
    if ((m.flags & mask) != (PageMeta::Managed | PageMeta::Head) || m.order != order) return Errno::Inval;
    return static_cast<uint32_t>(index);
}

Result<void> BuddyAllocator::free(uint64_t phys, unsigned order) {
    uint32_t index = TRY(check_allocated_block(phys, order));
    uint64_t n = block_pages(order);
    pages_by_kind_[meta_[index].owner_kind] -= n;
    pages_by_kind_[static_cast<size_t>(OwnerKind::Free)] += n;
    insert_coalescing(index, order);
    return {};
}

Result<void> BuddyAllocator::set_owner(uint64_t phys, unsigned order, Owner owner) {
    if (owner.kind == OwnerKind::Free || static_cast<size_t>(owner.kind) >= OWNER_KIND_COUNT) return Errno::Inval;
    uint32_t index = TRY(check_allocated_block(phys, order));
    PageMeta& m = meta_[index];
    uint64_t n = block_pages(order);
    pages_by_kind_[m.owner_kind] -= n;
    pages_by_kind_[static_cast<size_t>(owner.kind)] += n;
    m.owner_kind = static_cast<uint8_t>(owner.kind);
    m.owner_id = owner.id;
    return {};
}

uint32_t BuddyAllocator::find_head(uint32_t index) const {
    if (!(meta_[index].flags & PageMeta::Managed)) return NO_PAGE;
    // Blocks are naturally aligned, so the head is index rounded down to its block's order; the
    // first candidate (smallest rounding) that is a head is the one, since blocks never nest.
    for (unsigned order = 0; order <= MAX_ORDER; order++) {
        uint32_t candidate = index & ~static_cast<uint32_t>(block_pages(order) - 1);
        const PageMeta& m = meta_[candidate];
        if (m.flags & PageMeta::Head) return m.order >= order ? candidate : NO_PAGE;
    }
    return NO_PAGE;
}

Result<Owner> BuddyAllocator::owner_of(uint64_t phys) const {
    uint64_t index = page_index(phys);
    if (index >= page_limit_) return Errno::Inval;
    uint32_t head = find_head(static_cast<uint32_t>(index));
    if (head == NO_PAGE) return Errno::Inval;
    return block_owner(meta_[head]);
}

uint64_t BuddyAllocator::count_owned(Owner owner) const {
    if (lowest_ == NO_PAGE) return 0;
    uint64_t count = 0;
    uint64_t i = lowest_;
    while (i <= highest_) {
        const PageMeta& m = meta_[i];
        if (!(m.flags & PageMeta::Head)) {
            i++;
            continue;
        }
        uint64_t n = block_pages(m.order);
        if (block_owner(m) == owner) count += n;
        i += n;
    }
    return count;
}

Result<void> BuddyAllocator::verify() const {
    uint64_t listed_pages = 0;
    for (unsigned order = 0; order <= MAX_ORDER; order++) {
        uint64_t count = 0;
        uint32_t prev = NO_PAGE;
        for (uint32_t i = free_heads_[order]; i != NO_PAGE; i = meta_[i].next) {
            if (i >= page_limit_ || count > page_limit_)  // out of bounds or a cycle
                return Errno::Inval;
            const PageMeta& m = meta_[i];
            constexpr uint8_t want = PageMeta::Managed | PageMeta::Head | PageMeta::FreeBlock;
            if ((m.flags & want) != want || m.order != order || m.prev != prev || (i & (block_pages(order) - 1)) != 0 ||
                i + block_pages(order) > page_limit_)
                return Errno::Inval;
            prev = i;
            count++;
        }
        if (count != free_count_[order]) return Errno::Inval;
        listed_pages += count * block_pages(order);
    }

    uint64_t by_kind[OWNER_KIND_COUNT] = {};
    uint64_t scanned_free_blocks[MAX_ORDER + 1] = {};
    uint64_t managed = 0;
    if (lowest_ != NO_PAGE) {
        uint64_t i = lowest_;
        while (i <= highest_) {
            const PageMeta& m = meta_[i];
            if (!(m.flags & PageMeta::Managed)) {
                i++;
                continue;
            }
            // Walking block by block, every managed frame we land on must start a block.
            if (!(m.flags & PageMeta::Head) || m.order > MAX_ORDER) return Errno::Inval;
            uint64_t n = block_pages(m.order);
            if ((i & (n - 1)) != 0 || i + n > page_limit_) return Errno::Inval;
            for (uint64_t j = i + 1; j < i + n; j++) {
                if ((meta_[j].flags & (PageMeta::Managed | PageMeta::Head)) != PageMeta::Managed) return Errno::Inval;
            }
            if (m.flags & PageMeta::FreeBlock) {
                by_kind[0] += n;
                scanned_free_blocks[m.order]++;
            } else {
                if (m.owner_kind == 0 || m.owner_kind >= OWNER_KIND_COUNT) return Errno::Inval;
                by_kind[m.owner_kind] += n;
            }
            managed += n;
            i += n;
        }
    }

    for (unsigned order = 0; order <= MAX_ORDER; order++) {
        if (scanned_free_blocks[order] != free_count_[order]) return Errno::Inval;
    }
    if (listed_pages != by_kind[0] || managed != total_pages_) return Errno::Inval;
    for (size_t k = 0; k < OWNER_KIND_COUNT; k++) {
        if (by_kind[k] != pages_by_kind_[k]) return Errno::Inval;
    }
    return {};
}

}  // namespace lamina::mm
