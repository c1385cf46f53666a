// Host tests for the buddy frame allocator (kernel/mm/buddy.h). Physical addresses here are made
// up: the allocator never touches frame contents, only the metadata array we give it.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "kernel/mm/buddy.h"

namespace {

using lamina::Errno;
using lamina::mm::BuddyAllocator;
using lamina::mm::MAX_ORDER;
using lamina::mm::Owner;
using lamina::mm::OwnerKind;
using lamina::mm::PAGE_SIZE;
using lamina::mm::PageMeta;

constexpr uint64_t MAX_BLOCK_PAGES = uint64_t{1} << MAX_ORDER;

// Owns the metadata buffer for one allocator covering [0, phys_end).
struct Frames {
    explicit Frames(uint64_t phys_end) : meta(BuddyAllocator::metadata_bytes(phys_end) / sizeof(PageMeta)) {
        auto created = BuddyAllocator::create(meta.data(), meta.size() * sizeof(PageMeta), phys_end);
        EXPECT_TRUE(created.is_ok());
        if (created.is_ok()) buddy = created.release_value();
    }
    void add(uint64_t first_page, uint64_t pages) {
        auto r = buddy.add_range(first_page * PAGE_SIZE, pages);
        ASSERT_TRUE(r.is_ok());
    }
    std::vector<PageMeta> meta;
    BuddyAllocator buddy;
};

Errno error_of(const lamina::Result<void>& r) { return r.error().code(); }

TEST(BuddyCreate, RejectsBadMetadata) {
    std::vector<PageMeta> meta(64);
    EXPECT_EQ(BuddyAllocator::metadata_bytes(64 * PAGE_SIZE), 64 * sizeof(PageMeta));
    EXPECT_EQ(BuddyAllocator::metadata_bytes(64 * PAGE_SIZE + 1), 65 * sizeof(PageMeta));

    auto too_small = BuddyAllocator::create(meta.data(), meta.size() * sizeof(PageMeta), 65 * PAGE_SIZE);
    ASSERT_TRUE(too_small.is_error());
    EXPECT_EQ(too_small.error().code(), Errno::Inval);

    auto misaligned = BuddyAllocator::create(reinterpret_cast<char*>(meta.data()) + 1,
                                             meta.size() * sizeof(PageMeta) - 1, 32 * PAGE_SIZE);
    EXPECT_TRUE(misaligned.is_error());

    EXPECT_TRUE(BuddyAllocator::create(meta.data(), meta.size() * sizeof(PageMeta), 0).is_error());
    // Past what 32-bit frame indices describe (16 TiB).
    EXPECT_TRUE(BuddyAllocator::create(meta.data(), ~size_t{0}, uint64_t{1} << 44).is_error());
    EXPECT_TRUE(BuddyAllocator::create(nullptr, 4096, PAGE_SIZE).is_error());
}

TEST(BuddyCreate, EmptyAllocatorHasNothing) {
    BuddyAllocator empty;
    auto r = empty.alloc(0, Owner::kernel());
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().code(), Errno::NoMem);
    EXPECT_EQ(empty.total_pages(), 0u);
    EXPECT_TRUE(empty.verify().is_ok());
    EXPECT_EQ(empty.count_owned(Owner::free()), 0u);
}

TEST(BuddyCreate, MoveLeavesSourceEmpty) {
    Frames f(64 * PAGE_SIZE);
    f.add(0, 64);
    BuddyAllocator moved(std::move(f.buddy));
    EXPECT_EQ(moved.total_pages(), 64u);
    EXPECT_EQ(f.buddy.total_pages(), 0u);
    EXPECT_TRUE(f.buddy.alloc(0, Owner::kernel()).is_error());
    EXPECT_TRUE(moved.alloc(0, Owner::kernel()).is_ok());
}

TEST(BuddyRanges, AddRangeRejectsBadRanges) {
    Frames f(100 * PAGE_SIZE);
    f.add(10, 20);
    EXPECT_EQ(error_of(f.buddy.add_range(5 * PAGE_SIZE + 8, 2)), Errno::Inval);  // misaligned
    EXPECT_EQ(error_of(f.buddy.add_range(90 * PAGE_SIZE, 11)), Errno::Inval);    // past the end
    EXPECT_EQ(error_of(f.buddy.add_range(200 * PAGE_SIZE, 1)), Errno::Inval);    // way past
    EXPECT_EQ(error_of(f.buddy.add_range(0, ~uint64_t{0})), Errno::Inval);       // overflow
    EXPECT_EQ(error_of(f.buddy.add_range(25 * PAGE_SIZE, 10)), Errno::Inval);    // overlaps
    EXPECT_TRUE(f.buddy.add_range(50 * PAGE_SIZE, 0).is_ok());                   // no-op
    EXPECT_EQ(f.buddy.total_pages(), 20u);
    EXPECT_EQ(f.buddy.free_pages(), 20u);
    EXPECT_TRUE(f.buddy.verify().is_ok());
    // Frames 30..34 were not taken by the rejected overlapping range.
    EXPECT_TRUE(f.buddy.owner_of(31 * PAGE_SIZE).is_error());
}

TEST(BuddyRanges, UnalignedRangeSplitsIntoAlignedBlocks) {
    Frames f(64 * PAGE_SIZE);
    f.add(3, 13);  // frames 3..15: blocks 3 (order 0), 4..7 (order 2), 8..15 (order 3)
    EXPECT_EQ(f.buddy.free_blocks(0), 1u);
    EXPECT_EQ(f.buddy.free_blocks(1), 0u);
    EXPECT_EQ(f.buddy.free_blocks(2), 1u);
    EXPECT_EQ(f.buddy.free_blocks(3), 1u);
    EXPECT_TRUE(f.buddy.verify().is_ok());

    auto big = f.buddy.alloc(3, Owner::kernel());
    ASSERT_TRUE(big.is_ok());
    EXPECT_EQ(big.value(), 8 * PAGE_SIZE);
    EXPECT_TRUE(f.buddy.alloc(3, Owner::kernel()).is_error());
}

TEST(BuddyRanges, AdjacentRangesCoalesce) {
    Frames f(2 * MAX_BLOCK_PAGES * PAGE_SIZE);
    // Added out of order and in odd pieces; the result must be one maximal block.
    f.add(700, MAX_BLOCK_PAGES - 700);
    f.add(0, 3);
    f.add(3, 697);
    EXPECT_EQ(f.buddy.free_blocks(MAX_ORDER), 1u);
    for (unsigned o = 0; o < MAX_ORDER; o++) EXPECT_EQ(f.buddy.free_blocks(o), 0u) << "order " << o;
    EXPECT_TRUE(f.buddy.verify().is_ok());
}

TEST(BuddyRanges, MultipleRangesOnlyHandOutManagedFrames) {
    Frames f(4096 * PAGE_SIZE);
    std::vector<std::pair<uint64_t, uint64_t>> ranges = {{1, 5}, {17, 100}, {1000, 1500}, {3000, 7}};
    uint64_t total = 0;
    for (auto [first, n] : ranges) {
        f.add(first, n);
        total += n;
    }
    EXPECT_EQ(f.buddy.total_pages(), total);
    auto inside = [&](uint64_t page) {
        for (auto [first, n] : ranges)
            if (page >= first && page < first + n) return true;
        return false;
    };
    std::set<uint64_t> seen;
    for (;;) {
        auto r = f.buddy.alloc(0, Owner::kernel());
        if (r.is_error()) {
            EXPECT_EQ(r.error().code(), Errno::NoMem);
            break;
        }
        uint64_t page = r.value() / PAGE_SIZE;
        EXPECT_TRUE(inside(page)) << page;
        EXPECT_TRUE(seen.insert(page).second) << "handed out twice: " << page;
    }
    EXPECT_EQ(seen.size(), total);
    // Holes are unmanaged.
    EXPECT_TRUE(f.buddy.owner_of(0).is_error());
    EXPECT_TRUE(f.buddy.owner_of(10 * PAGE_SIZE).is_error());
    EXPECT_TRUE(f.buddy.owner_of(5000 * PAGE_SIZE).is_error());
}

TEST(BuddyRanges, AddRegionTrimsToWholePages) {
    Frames f(64 * PAGE_SIZE);
    ASSERT_TRUE(f.buddy.add_region(PAGE_SIZE + 1, 3 * PAGE_SIZE).is_ok());  // frames 2, 3
    EXPECT_EQ(f.buddy.total_pages(), 2u);
    EXPECT_TRUE(f.buddy.owner_of(PAGE_SIZE).is_error());
    EXPECT_TRUE(f.buddy.owner_of(2 * PAGE_SIZE).is_ok());
    EXPECT_TRUE(f.buddy.owner_of(4 * PAGE_SIZE).is_error());
    ASSERT_TRUE(f.buddy.add_region(10 * PAGE_SIZE + 5, PAGE_SIZE).is_ok());  // no whole page
    EXPECT_EQ(f.buddy.total_pages(), 2u);
    ASSERT_TRUE(f.buddy.add_region(20 * PAGE_SIZE, 0).is_ok());
    EXPECT_TRUE(f.buddy.add_region(~uint64_t{0} - 10, 100).is_error());  // wraps around
    EXPECT_TRUE(f.buddy.verify().is_ok());
}

TEST(BuddyRanges, ClaimRangeReservesSpecificFrames) {
    Frames f(2 * MAX_BLOCK_PAGES * PAGE_SIZE);
    f.add(0, 2 * MAX_BLOCK_PAGES);
    const uint64_t total = f.buddy.total_pages();
    // Like the kernel image sitting in the middle of a usable region.
    const Owner kernel = Owner::kernel();
    ASSERT_TRUE(f.buddy.claim_range(517 * PAGE_SIZE, 300, kernel).is_ok());
    EXPECT_EQ(f.buddy.pages_of(OwnerKind::Kernel), 300u);
    EXPECT_EQ(f.buddy.free_pages(), total - 300);
    EXPECT_TRUE(f.buddy.verify().is_ok());
    for (uint64_t i : {517u, 600u, 816u}) {
        auto o = f.buddy.owner_of(i * PAGE_SIZE);
        ASSERT_TRUE(o.is_ok());
        EXPECT_EQ(o.value(), kernel);
    }
    auto before = f.buddy.owner_of(516 * PAGE_SIZE);
    auto after = f.buddy.owner_of(817 * PAGE_SIZE);
    ASSERT_TRUE(before.is_ok() && after.is_ok());
    EXPECT_EQ(before.value(), Owner::free());
    EXPECT_EQ(after.value(), Owner::free());

    // Claiming taken, unmanaged or out-of-range frames changes nothing.
    EXPECT_TRUE(f.buddy.claim_range(510 * PAGE_SIZE, 10, kernel).is_error());
    EXPECT_TRUE(f.buddy.claim_range(2 * MAX_BLOCK_PAGES * PAGE_SIZE - PAGE_SIZE, 2, kernel).is_error());
    EXPECT_TRUE(f.buddy.claim_range(0, 1, Owner::free()).is_error());
    EXPECT_EQ(f.buddy.pages_of(OwnerKind::Kernel), 300u);
    EXPECT_TRUE(f.buddy.verify().is_ok());

    // Every other allocation avoids the claimed frames.
    for (;;) {
        auto r = f.buddy.alloc(0, Owner::domain(1));
        if (r.is_error()) break;
        uint64_t page = r.value() / PAGE_SIZE;
        ASSERT_TRUE(page < 517 || page >= 817) << page;
    }
    EXPECT_EQ(f.buddy.count_owned(Owner::domain(1)), total - 300);

    // Claimed frames are freed one by one and coalesce with the rest.
    for (uint64_t i = 0; i < 2 * MAX_BLOCK_PAGES; i++) ASSERT_TRUE(f.buddy.free(i * PAGE_SIZE, 0).is_ok());
    EXPECT_EQ(f.buddy.free_blocks(MAX_ORDER), 2u);
    EXPECT_TRUE(f.buddy.verify().is_ok());
}

TEST(BuddyExhaustion, AllocateUntilEnomemThenFreeAll) {
    Frames f(4 * MAX_BLOCK_PAGES * PAGE_SIZE);
    f.add(37, 2 * MAX_BLOCK_PAGES + 100);
    const uint64_t total = f.buddy.total_pages();
    ASSERT_EQ(f.buddy.free_pages(), total);
    std::vector<uint64_t> free_blocks_before;
    for (unsigned o = 0; o <= MAX_ORDER; o++) free_blocks_before.push_back(f.buddy.free_blocks(o));

    for (unsigned order : {0u, 3u, MAX_ORDER}) {
        std::vector<uint64_t> got;
        for (;;) {
            auto r = f.buddy.alloc(order, Owner::kernel());
            if (r.is_error()) {
                EXPECT_EQ(r.error().code(), Errno::NoMem);
                break;
            }
            EXPECT_EQ(r.value() % (PAGE_SIZE << order), 0u) << "not naturally aligned";
            got.push_back(r.value());
        }
        EXPECT_GT(got.size(), 0u);
        if (order == 0) {
            EXPECT_EQ(got.size(), total);
            EXPECT_EQ(f.buddy.free_pages(), 0u);
        }
        EXPECT_EQ(f.buddy.pages_of(OwnerKind::Kernel), got.size() << order);
        EXPECT_TRUE(f.buddy.verify().is_ok());
        for (uint64_t phys : got) ASSERT_TRUE(f.buddy.free(phys, order).is_ok());
        EXPECT_EQ(f.buddy.free_pages(), total);
        EXPECT_EQ(f.buddy.pages_of(OwnerKind::Kernel), 0u);
        EXPECT_TRUE(f.buddy.verify().is_ok());
        for (unsigned o = 0; o <= MAX_ORDER; o++)
            EXPECT_EQ(f.buddy.free_blocks(o), free_blocks_before[o]) << "order " << o;
    }
}

TEST(BuddyFragmentation, EveryOtherPageBlocksOrderOneUntilFreed) {
    Frames f(MAX_BLOCK_PAGES * PAGE_SIZE);
    f.add(0, MAX_BLOCK_PAGES);
    std::vector<uint64_t> pages;
    for (uint64_t i = 0; i < MAX_BLOCK_PAGES; i++) {
        auto r = f.buddy.alloc(0, Owner::kernel());
        ASSERT_TRUE(r.is_ok());
        pages.push_back(r.value());
    }
    EXPECT_TRUE(f.buddy.alloc(0, Owner::kernel()).is_error());

    std::sort(pages.begin(), pages.end());
    for (size_t i = 0; i < pages.size(); i += 2) ASSERT_TRUE(f.buddy.free(pages[i], 0).is_ok());
    EXPECT_EQ(f.buddy.free_pages(), MAX_BLOCK_PAGES / 2);
    auto order1 = f.buddy.alloc(1, Owner::kernel());
    ASSERT_TRUE(order1.is_error());
    EXPECT_EQ(order1.error().code(), Errno::NoMem);
    EXPECT_TRUE(f.buddy.verify().is_ok());

    for (size_t i = 1; i < pages.size(); i += 2) ASSERT_TRUE(f.buddy.free(pages[i], 0).is_ok());
    EXPECT_EQ(f.buddy.free_blocks(MAX_ORDER), 1u);
    auto whole = f.buddy.alloc(MAX_ORDER, Owner::kernel());
    ASSERT_TRUE(whole.is_ok());
    EXPECT_EQ(whole.value(), 0u);
    EXPECT_TRUE(f.buddy.verify().is_ok());
}

TEST(BuddyOwner, TracksOwnersAndCounters) {
    Frames f(4 * MAX_BLOCK_PAGES * PAGE_SIZE);
    f.add(0, 4 * MAX_BLOCK_PAGES);
    const uint64_t total = f.buddy.total_pages();

    auto d7a = f.buddy.alloc(2, Owner::domain(7));
    auto d7b = f.buddy.alloc(0, Owner::domain(7));
    auto d8 = f.buddy.alloc(3, Owner::domain(8));
    auto p7 = f.buddy.alloc(1, Owner::process(7));
    auto pt = f.buddy.alloc(0, Owner::page_table());
    auto xh = f.buddy.alloc(4, Owner::exchange_heap(7));
    auto rsv = f.buddy.alloc(0, Owner{OwnerKind::Reserved, 0});
    for (auto* r : {&d7a, &d7b, &d8, &p7, &pt, &xh, &rsv}) ASSERT_TRUE(r->is_ok());

    EXPECT_EQ(f.buddy.count_owned(Owner::domain(7)), 5u);
    EXPECT_EQ(f.buddy.count_owned(Owner::domain(8)), 8u);
    EXPECT_EQ(f.buddy.count_owned(Owner::domain(9)), 0u);
    EXPECT_EQ(f.buddy.count_owned(Owner::process(7)), 2u);
    EXPECT_EQ(f.buddy.count_owned(Owner::exchange_heap(7)), 16u);
    EXPECT_EQ(f.buddy.pages_of(OwnerKind::Domain), 13u);
    EXPECT_EQ(f.buddy.pages_of(OwnerKind::Process), 2u);
    EXPECT_EQ(f.buddy.pages_of(OwnerKind::PageTable), 1u);
    EXPECT_EQ(f.buddy.pages_of(OwnerKind::ExchangeHeap), 16u);
    EXPECT_EQ(f.buddy.pages_of(OwnerKind::Reserved), 1u);
    EXPECT_EQ(f.buddy.pages_of(OwnerKind::Kernel), 0u);
    EXPECT_EQ(f.buddy.free_pages(), total - 5 - 8 - 2 - 1 - 16 - 1);
    EXPECT_EQ(f.buddy.count_owned(Owner::free()), f.buddy.free_pages());

    // Every frame of a block reports the block's owner, not just the head.
    for (uint64_t i = 0; i < 8; i++) {
        auto o = f.buddy.owner_of(d8.value() + i * PAGE_SIZE);
        ASSERT_TRUE(o.is_ok());
        EXPECT_EQ(o.value(), Owner::domain(8));
    }
    auto after = f.buddy.owner_of(xh.value() + 16 * PAGE_SIZE);
    ASSERT_TRUE(after.is_ok());
    EXPECT_NE(after.value(), Owner::exchange_heap(7));

    // Handing exchange-heap frames to a domain moves them between counters.
    ASSERT_TRUE(f.buddy.set_owner(xh.value(), 4, Owner::domain(7)).is_ok());
    EXPECT_EQ(f.buddy.count_owned(Owner::domain(7)), 21u);
    EXPECT_EQ(f.buddy.pages_of(OwnerKind::ExchangeHeap), 0u);
    EXPECT_EQ(f.buddy.pages_of(OwnerKind::Domain), 29u);
    EXPECT_TRUE(f.buddy.set_owner(xh.value(), 3, Owner::domain(1)).is_error());  // wrong order
    EXPECT_TRUE(f.buddy.set_owner(xh.value(), 4, Owner::free()).is_error());
    EXPECT_TRUE(f.buddy.verify().is_ok());

    // Domain 7 teardown: free everything it owns; others are untouched.
    const uint64_t d8_before = f.buddy.count_owned(Owner::domain(8));
    ASSERT_TRUE(f.buddy.free(d7a.value(), 2).is_ok());
    ASSERT_TRUE(f.buddy.free(d7b.value(), 0).is_ok());
    ASSERT_TRUE(f.buddy.free(xh.value(), 4).is_ok());
    EXPECT_EQ(f.buddy.count_owned(Owner::domain(7)), 0u);
    EXPECT_EQ(f.buddy.count_owned(Owner::domain(8)), d8_before);
    auto freed = f.buddy.owner_of(d7a.value() + PAGE_SIZE);
    ASSERT_TRUE(freed.is_ok());
    EXPECT_EQ(freed.value(), Owner::free());
    EXPECT_TRUE(f.buddy.verify().is_ok());
}

TEST(BuddyErrors, BadFreesAreRejectedWithoutDamage) {
    Frames f(2 * MAX_BLOCK_PAGES * PAGE_SIZE);
    f.add(0, 100);
    f.add(200, 100);
    auto a = f.buddy.alloc(2, Owner::kernel());
    auto b = f.buddy.alloc(0, Owner::kernel());
    ASSERT_TRUE(a.is_ok());
    ASSERT_TRUE(b.is_ok());
    auto expect_rejected = [&](uint64_t phys, unsigned order) {
        const uint64_t free_before = f.buddy.free_pages();
        auto r = f.buddy.free(phys, order);
        ASSERT_TRUE(r.is_error()) << std::hex << phys << " order " << order;
        EXPECT_EQ(r.error().code(), Errno::Inval);
        EXPECT_EQ(f.buddy.free_pages(), free_before);
        EXPECT_TRUE(f.buddy.verify().is_ok());
    };
    expect_rejected(a.value(), 1);                         // wrong order (smaller)
    expect_rejected(a.value(), 3);                         // wrong order (larger)
    expect_rejected(a.value() + PAGE_SIZE, 0);             // interior frame
    expect_rejected(a.value() + 12, 2);                    // not page aligned
    expect_rejected(150 * PAGE_SIZE, 0);                   // hole between ranges
    expect_rejected(10 * MAX_BLOCK_PAGES * PAGE_SIZE, 0);  // beyond phys_end
    expect_rejected(a.value(), MAX_ORDER + 1);             // impossible order
    expect_rejected(250 * PAGE_SIZE, 0);                   // managed but free

    ASSERT_TRUE(f.buddy.free(b.value(), 0).is_ok());
    expect_rejected(b.value(), 0);  // double free, block still free on its own
    ASSERT_TRUE(f.buddy.free(a.value(), 2).is_ok());
    expect_rejected(a.value(), 2);  // double free after it merged into a bigger block
    EXPECT_EQ(f.buddy.free_pages(), f.buddy.total_pages());
}

TEST(BuddyErrors, BadAllocArguments) {
    Frames f(64 * PAGE_SIZE);
    f.add(0, 64);
    auto big = f.buddy.alloc(MAX_ORDER + 1, Owner::kernel());
    ASSERT_TRUE(big.is_error());
    EXPECT_EQ(big.error().code(), Errno::Inval);
    auto free_owner = f.buddy.alloc(0, Owner::free());
    ASSERT_TRUE(free_owner.is_error());
    EXPECT_EQ(free_owner.error().code(), Errno::Inval);
    auto too_big_for_memory = f.buddy.alloc(7, Owner::kernel());
    ASSERT_TRUE(too_big_for_memory.is_error());
    EXPECT_EQ(too_big_for_memory.error().code(), Errno::NoMem);
    EXPECT_EQ(f.buddy.free_pages(), 64u);
}

// Reference model: one bit per frame. Because the buddy allocator coalesces eagerly, an
// allocation of order k must succeed exactly when some naturally aligned run of 2^k free managed
// frames exists; the model checks that, plus no overlap and all counters.
class BuddyReferenceModel {
public:
    BuddyReferenceModel(uint64_t pages, const std::vector<std::pair<uint64_t, uint64_t>>& ranges)
        : managed_(pages, false), used_(pages, false) {
        for (auto [first, n] : ranges)
            for (uint64_t i = first; i < first + n; i++) managed_[i] = true;
    }
    bool has_free_run(unsigned order) const {
        uint64_t n = uint64_t{1} << order;
        for (uint64_t base = 0; base + n <= managed_.size(); base += n) {
            bool ok = true;
            for (uint64_t i = base; i < base + n && ok; i++) ok = managed_[i] && !used_[i];
            if (ok) return true;
        }
        return false;
    }
    bool take(uint64_t first, unsigned order) {
        for (uint64_t i = first; i < first + (uint64_t{1} << order); i++) {
            if (i >= managed_.size() || !managed_[i] || used_[i]) return false;
            used_[i] = true;
        }
        return true;
    }
    void give_back(uint64_t first, unsigned order) {
        for (uint64_t i = first; i < first + (uint64_t{1} << order); i++) used_[i] = false;
    }

private:
    std::vector<bool> managed_, used_;
};

TEST(BuddyRandom, MatchesReferenceModel) {
    for (uint32_t seed : {1u, 2u, 3u, 42u, 1234u}) {
        SCOPED_TRACE(seed);
        std::mt19937 rng(seed);
        const uint64_t pages = 3 * MAX_BLOCK_PAGES;
        std::vector<std::pair<uint64_t, uint64_t>> ranges = {
            {1, 250}, {251, 400}, {900, 1200 + seed % 7}, {2200, 3 * MAX_BLOCK_PAGES - 2200 - 3}};
        Frames f(pages * PAGE_SIZE);
        for (auto [first, n] : ranges) f.add(first, n);
        BuddyReferenceModel model(pages, ranges);
        const uint64_t total = f.buddy.total_pages();
        std::vector<uint64_t> initial_blocks;
        for (unsigned o = 0; o <= MAX_ORDER; o++) initial_blocks.push_back(f.buddy.free_blocks(o));

        struct Live {
            uint64_t phys;
            unsigned order;
            Owner owner;
        };
        std::vector<Live> live;
        std::map<uint32_t, uint64_t> owned_by_domain;
        uint64_t used = 0;
        std::vector<Live> recently_freed;
        int enomem_seen = 0;

        for (int step = 0; step < 6000; step++) {
            int action = std::uniform_int_distribution<int>(0, 99)(rng);
            if (action < 55 || live.empty()) {
                // Small orders dominate, as in the kernel.
                unsigned order = std::uniform_int_distribution<unsigned>(0, 99)(rng) < 80
                                     ? std::uniform_int_distribution<unsigned>(0, 2)(rng)
                                     : std::uniform_int_distribution<unsigned>(0, MAX_ORDER)(rng);
                Owner owner = Owner::domain(std::uniform_int_distribution<uint32_t>(1, 4)(rng));
                auto r = f.buddy.alloc(order, owner);
                if (r.is_error()) {
                    ASSERT_EQ(r.error().code(), Errno::NoMem);
                    ASSERT_FALSE(model.has_free_run(order)) << "ENOMEM with a free order-" << order << " run";
                    enomem_seen++;
                    continue;
                }
                ASSERT_EQ(r.value() % (PAGE_SIZE << order), 0u);
                ASSERT_TRUE(model.take(r.value() / PAGE_SIZE, order)) << "overlap or unmanaged frame";
                live.push_back({r.value(), order, owner});
                owned_by_domain[owner.id] += uint64_t{1} << order;
                used += uint64_t{1} << order;
            } else if (action < 95) {
                size_t k = std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng);
                Live l = live[k];
                live[k] = live.back();
                live.pop_back();
                ASSERT_TRUE(f.buddy.free(l.phys, l.order).is_ok());
                model.give_back(l.phys / PAGE_SIZE, l.order);
                owned_by_domain[l.owner.id] -= uint64_t{1} << l.order;
                used -= uint64_t{1} << l.order;
                recently_freed.push_back(l);
                if (recently_freed.size() > 8) recently_freed.erase(recently_freed.begin());
            } else if (!recently_freed.empty()) {
                // A stale handle: rejected unless the same block was handed out again, in which
                // case the allocator cannot tell and neither do we try.
                Live stale = recently_freed.back();
                bool reissued = false;
                for (auto& l : live) reissued |= l.phys == stale.phys && l.order == stale.order;
                if (!reissued) {
                    ASSERT_TRUE(f.buddy.free(stale.phys, stale.order).is_error());
                }
            }
            ASSERT_EQ(f.buddy.free_pages(), total - used);
            ASSERT_EQ(f.buddy.pages_of(OwnerKind::Domain), used);
            if (step % 250 == 0) {
                ASSERT_TRUE(f.buddy.verify().is_ok());
                for (auto [id, n] : owned_by_domain) ASSERT_EQ(f.buddy.count_owned(Owner::domain(id)), n);
                for (auto& l : live) {
                    auto o = f.buddy.owner_of(l.phys + (PAGE_SIZE << l.order) - PAGE_SIZE);
                    ASSERT_TRUE(o.is_ok());
                    ASSERT_EQ(o.value(), l.owner);
                }
            }
        }
        EXPECT_GT(enomem_seen, 0) << "the sequence never ran memory short; make it harder";
        for (auto& l : live) ASSERT_TRUE(f.buddy.free(l.phys, l.order).is_ok());
        EXPECT_EQ(f.buddy.free_pages(), total);
        EXPECT_TRUE(f.buddy.verify().is_ok());
        // Fully coalesced again: the same block structure as right after add_range.
        for (unsigned o = 0; o <= MAX_ORDER; o++) EXPECT_EQ(f.buddy.free_blocks(o), initial_blocks[o]) << "order " << o;
    }
}

}  // namespace
