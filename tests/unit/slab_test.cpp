// Host tests for the slab caches and Heap (kernel/mm/slab.h).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernel/mm/slab.h"

namespace {

using lamina::Errno;
using lamina::mm::Heap;
using lamina::mm::LargeStats;
using lamina::mm::PAGE_SIZE;
using lamina::mm::PageProvider;
using lamina::mm::SlabCache;
using lamina::mm::SlabStats;

// Pages from aligned_alloc, with bookkeeping: checks every free matches an alloc, can be told to
// run dry, and keeps returned pages mapped (retired, released at the end) so the tests can
// exercise the heap's checks on pages it has already given back.
class TestPages final : public PageProvider {
public:
    ~TestPages() {
        for (auto& [p, order] : live_) std::free(p);
        for (void* p : retired_) std::free(p);
    }
    void* alloc_pages(unsigned order) override {
        if (limit_pages_ != 0 && outstanding_ + (size_t{1} << order) > limit_pages_) return nullptr;
        void* p = std::aligned_alloc(PAGE_SIZE, PAGE_SIZE << order);
        if (p == nullptr) return nullptr;
        std::memset(p, 0xCC, PAGE_SIZE << order);  // stale garbage, as real frames would have
        live_[p] = order;
        outstanding_ += size_t{1} << order;
        return p;
    }
    void free_pages(void* p, unsigned order) override {
        auto it = live_.find(p);
        ASSERT_NE(it, live_.end()) << "free of pages never handed out";
        EXPECT_EQ(it->second, order);
        live_.erase(it);
        outstanding_ -= size_t{1} << order;
        retired_.push_back(p);
    }
    size_t outstanding() const { return outstanding_; }
    void limit(size_t pages) { limit_pages_ = pages; }

private:
    std::map<void*, unsigned> live_;
    std::vector<void*> retired_;
    size_t outstanding_ = 0;
    size_t limit_pages_ = 0;
};

SlabStats stats_of(const Heap& heap, const std::string& name) {
    SlabStats found{};
    bool seen = false;
    heap.for_each_cache([&](const SlabStats& s) {
        if (name == s.name) {
            found = s;
            seen = true;
        }
    });
    EXPECT_TRUE(seen) << name;
    return found;
}

size_t class_for(size_t size) {
    size_t c = 16;
    while (c < size) c *= 2;
    return c;
}

uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

TEST(SlabSizeClasses, ManyObjectsPerClassDistinctAlignedAndIntact) {
    TestPages pages;
    Heap heap(pages);
    for (size_t size : {size_t{1}, size_t{8}, size_t{16}, size_t{17}, size_t{24}, size_t{32}, size_t{48}, size_t{64},
                        size_t{100}, size_t{128}, size_t{200}, size_t{256}, size_t{500}, size_t{512}, size_t{1000},
                        size_t{1024}, size_t{1500}, size_t{2048}}) {
        SCOPED_TRACE(size);
        const size_t cls = class_for(size);
        std::vector<unsigned char*> objects;
        for (int i = 0; i < 600; i++) {
            auto* p = static_cast<unsigned char*>(heap.allocate(size));
            ASSERT_NE(p, nullptr);
            ASSERT_EQ(addr(p) % cls, 0u) << "not aligned to its size class";
            ASSERT_NE(addr(p) % PAGE_SIZE, 0u) << "slab objects never sit at a page start";
            std::memset(p, static_cast<int>(i & 0xFF), cls);  // the whole slot is usable
            objects.push_back(p);
        }
        std::set<unsigned char*> distinct(objects.begin(), objects.end());
        EXPECT_EQ(distinct.size(), objects.size());
        for (size_t i = 0; i < objects.size(); i++) {
            for (size_t b = 0; b < cls; b++)
                ASSERT_EQ(objects[i][b], static_cast<unsigned char>(i & 0xFF)) << "overlap at object " << i;
        }
        SlabStats s = stats_of(heap, "size-" + std::to_string(cls));
        EXPECT_EQ(s.object_size, cls);
        EXPECT_GE(s.objects_in_use, objects.size());
        for (auto* p : objects) ASSERT_TRUE(heap.deallocate(p).is_ok());
        EXPECT_EQ(stats_of(heap, "size-" + std::to_string(cls)).objects_in_use, 0u);
    }
}

TEST(SlabSizeClasses, ObjectsPerSlab) {
    TestPages pages;
    Heap heap(pages);
    // 48-byte header, slots aligned to their size.
    EXPECT_EQ(stats_of(heap, "size-16").objects_per_slab, (4096u - 48) / 16);
    EXPECT_EQ(stats_of(heap, "size-64").objects_per_slab, 63u);
    EXPECT_EQ(stats_of(heap, "size-1024").objects_per_slab, 3u);
    EXPECT_EQ(stats_of(heap, "size-2048").objects_per_slab, 1u);
    size_t caches = 0;
    heap.for_each_cache([&](const SlabStats&) { caches++; });
    EXPECT_EQ(caches, Heap::SIZE_CLASS_COUNT);
}

TEST(SlabSizeClasses, ZeroSizeGetsAUniqueObject) {
    TestPages pages;
    Heap heap(pages);
    void* a = heap.allocate(0);
    void* b = heap.allocate(0);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_NE(a, b);
    EXPECT_TRUE(heap.deallocate(a).is_ok());
    EXPECT_TRUE(heap.deallocate(b).is_ok());
    EXPECT_TRUE(heap.deallocate(nullptr).is_ok());
}

TEST(SlabReuse, FreedSlotsAreReusedBeforeNewPages) {
    TestPages pages;
    Heap heap(pages);
    void* a = heap.allocate(64);
    ASSERT_TRUE(heap.deallocate(a).is_ok());
    void* b = heap.allocate(64);
    EXPECT_EQ(a, b) << "the most recently freed slot should come back first";

    std::vector<void*> objects;
    for (int i = 0; i < 1000; i++) objects.push_back(heap.allocate(64));
    const size_t peak = pages.outstanding();
    for (int round = 0; round < 20; round++) {
        for (size_t i = round % 2; i < objects.size(); i += 2) ASSERT_TRUE(heap.deallocate(objects[i]).is_ok());
        for (size_t i = round % 2; i < objects.size(); i += 2) {
            objects[i] = heap.allocate(64);
            ASSERT_NE(objects[i], nullptr);
        }
    }
    EXPECT_EQ(pages.outstanding(), peak) << "churn within capacity must not take new pages";
    for (void* p : objects) ASSERT_TRUE(heap.deallocate(p).is_ok());
    ASSERT_TRUE(heap.deallocate(b).is_ok());
}

TEST(SlabRelease, KeepsAtMostOneEmptySlab) {
    TestPages pages;
    Heap heap(pages);
    const size_t per_slab = stats_of(heap, "size-128").objects_per_slab;
    std::vector<void*> objects;
    for (size_t i = 0; i < 4 * per_slab; i++) objects.push_back(heap.allocate(128));
    EXPECT_EQ(pages.outstanding(), 4u);
    EXPECT_EQ(stats_of(heap, "size-128").slabs, 4u);

    for (void* p : objects) ASSERT_TRUE(heap.deallocate(p).is_ok());
    SlabStats s = stats_of(heap, "size-128");
    EXPECT_EQ(s.objects_in_use, 0u);
    EXPECT_EQ(s.slabs, 1u);
    EXPECT_EQ(s.pages, 1u);
    EXPECT_EQ(pages.outstanding(), 1u);

    EXPECT_EQ(heap.release_empty_slabs(), 1u);
    EXPECT_EQ(pages.outstanding(), 0u);
    EXPECT_EQ(stats_of(heap, "size-128").slabs, 0u);

    // Everything still works after a full release.
    void* again = heap.allocate(128);
    ASSERT_NE(again, nullptr);
    ASSERT_TRUE(heap.deallocate(again).is_ok());
}

TEST(SlabStats, CountsAllocsFreesAndFailures) {
    TestPages pages;
    Heap heap(pages);
    std::vector<void*> objects;
    for (int i = 0; i < 100; i++) objects.push_back(heap.allocate(60));
    for (int i = 0; i < 30; i++) ASSERT_TRUE(heap.deallocate(objects[i]).is_ok());
    SlabStats s = stats_of(heap, "size-64");
    EXPECT_STREQ(s.name, "size-64");
    EXPECT_EQ(s.object_size, 64u);
    EXPECT_EQ(s.total_allocs, 100u);
    EXPECT_EQ(s.total_frees, 30u);
    EXPECT_EQ(s.objects_in_use, 70u);
    EXPECT_EQ(s.slabs, 2u);  // 63 per slab
    EXPECT_EQ(s.pages, 2u);
    EXPECT_EQ(s.failed_allocs, 0u);

    // Fill the current slabs, then run the provider dry.
    pages.limit(pages.outstanding());
    size_t fitted = 0;
    while (fitted < 1000 && heap.allocate(64) != nullptr) fitted++;
    EXPECT_EQ(fitted, 2 * 63 - 70u);
    EXPECT_EQ(heap.allocate(64), nullptr);
    s = stats_of(heap, "size-64");
    EXPECT_EQ(s.failed_allocs, 2u);
    EXPECT_EQ(s.objects_in_use, 126u);
    EXPECT_EQ(heap.allocate(5000), nullptr);
    EXPECT_EQ(heap.large_stats().failed_allocs, 1u);
}

TEST(SlabLarge, AllocationsGoStraightToPages) {
    TestPages pages;
    Heap heap(pages);
    struct Case {
        size_t size;
        size_t pages;
    };
    const Case cases[] = {{2049, 1}, {4096 - Heap::LARGE_HEADER_SIZE, 1}, {4096, 2}, {3 * 4096, 4}, {100000, 32}};
    std::vector<std::pair<unsigned char*, size_t>> live;
    size_t expected_pages = 0;
    for (const Case& c : cases) {
        SCOPED_TRACE(c.size);
        auto* p = static_cast<unsigned char*>(heap.allocate(c.size));
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(addr(p) % Heap::LARGE_HEADER_SIZE, 0u);
        std::memset(p, 0x5A, c.size);
        auto usable = heap.usable_size(p);
        ASSERT_TRUE(usable.is_ok());
        EXPECT_EQ(usable.value(), c.pages * PAGE_SIZE - Heap::LARGE_HEADER_SIZE);
        expected_pages += c.pages;
        live.push_back({p, c.size});
    }
    LargeStats s = heap.large_stats();
    EXPECT_EQ(s.allocations_in_use, live.size());
    EXPECT_EQ(s.pages, expected_pages);
    EXPECT_EQ(pages.outstanding(), expected_pages);
    for (auto [p, size] : live) {
        for (size_t i = 0; i < size; i++) ASSERT_EQ(p[i], 0x5A);
        ASSERT_TRUE(heap.deallocate(p).is_ok());
    }
    s = heap.large_stats();
    EXPECT_EQ(s.allocations_in_use, 0u);
    EXPECT_EQ(s.pages, 0u);
    EXPECT_EQ(s.total_allocs, live.size());
    EXPECT_EQ(s.total_frees, live.size());
    EXPECT_EQ(pages.outstanding(), 0u);

    EXPECT_EQ(heap.allocate(Heap::MAX_LARGE_SIZE + 1), nullptr);
    EXPECT_EQ(heap.allocate(~size_t{0}), nullptr);
    EXPECT_EQ(heap.large_stats().failed_allocs, 2u);
    void* biggest = heap.allocate(Heap::MAX_LARGE_SIZE);
    ASSERT_NE(biggest, nullptr);
    ASSERT_TRUE(heap.deallocate(biggest).is_ok());
}

TEST(SlabDoubleFree, SmallObjectIsRejected) {
    TestPages pages;
    Heap heap(pages);
    void* keep = heap.allocate(32);  // keeps the slab alive across the double free
    void* p = heap.allocate(32);
    ASSERT_TRUE(heap.deallocate(p).is_ok());
    auto again = heap.deallocate(p);
    ASSERT_TRUE(again.is_error());
    EXPECT_EQ(again.error().code(), Errno::Inval);
    SlabStats s = stats_of(heap, "size-32");
    EXPECT_EQ(s.total_frees, 1u);
    EXPECT_EQ(s.objects_in_use, 1u);
    // The free list was not corrupted: two allocations are two distinct slots.
    void* a = heap.allocate(32);
    void* b = heap.allocate(32);
    EXPECT_NE(a, b);
    for (void* x : {keep, a, b}) ASSERT_TRUE(heap.deallocate(x).is_ok());
}

TEST(SlabDoubleFree, LiveObjectHoldingThePoisonIsStillFreed) {
    TestPages pages;
    Heap heap(pages);
    auto* victim = static_cast<unsigned char*>(heap.allocate(64));
    auto* freed = static_cast<unsigned char*>(heap.allocate(64));
    ASSERT_TRUE(heap.deallocate(freed).is_ok());
    // A free slot's first 16 bytes are (next, poison ^ its address). Give the live object a
    // poison word computed for its own address, as unlucky user data could.
    uintptr_t poison_for_freed;
    std::memcpy(&poison_for_freed, freed + 8, 8);
    uintptr_t fake = poison_for_freed ^ addr(freed) ^ addr(victim);
    std::memcpy(victim + 8, &fake, 8);
    EXPECT_TRUE(heap.deallocate(victim).is_ok());
}

TEST(SlabDoubleFree, LargeAndReleasedSlabAreRejected) {
    TestPages pages;  // keeps returned pages readable, so the late frees below are well defined
    Heap heap(pages);
    void* big = heap.allocate(10000);
    ASSERT_TRUE(heap.deallocate(big).is_ok());
    EXPECT_TRUE(heap.deallocate(big).is_error());
    EXPECT_EQ(heap.large_stats().total_frees, 1u);

    // Two slabs' worth, so freeing everything releases one slab to the provider.
    std::vector<void*> objects;
    for (int i = 0; i < 2; i++) objects.push_back(heap.allocate(2048));
    for (void* p : objects) ASSERT_TRUE(heap.deallocate(p).is_ok());
    EXPECT_EQ(stats_of(heap, "size-2048").slabs, 1u);
    for (void* p : objects) EXPECT_TRUE(heap.deallocate(p).is_error());
    EXPECT_EQ(stats_of(heap, "size-2048").total_frees, 2u);
}

TEST(SlabBadPointer, ForeignAndInteriorPointersAreRejected) {
    TestPages pages;
    Heap heap(pages);
    auto* p = static_cast<unsigned char*>(heap.allocate(256));
    auto* large = static_cast<unsigned char*>(heap.allocate(9000));
    EXPECT_TRUE(heap.deallocate(p + 1).is_error());
    EXPECT_TRUE(heap.deallocate(p + 128).is_error());
    EXPECT_TRUE(heap.deallocate(reinterpret_cast<unsigned char*>(addr(p) & ~(PAGE_SIZE - 1)) + 8).is_error());
    EXPECT_TRUE(heap.deallocate(large + 16).is_error());
    EXPECT_TRUE(heap.deallocate(large + PAGE_SIZE).is_error());  // second page of the block
    EXPECT_TRUE(heap.usable_size(p + 1).is_error());
    EXPECT_EQ(stats_of(heap, "size-256").objects_in_use, 1u) << "rejected frees changed nothing";

    // A page the heap never saw.
    void* stranger = std::aligned_alloc(PAGE_SIZE, PAGE_SIZE);
    std::memset(stranger, 0, PAGE_SIZE);
    EXPECT_TRUE(heap.deallocate(static_cast<unsigned char*>(stranger) + 64).is_error());
    std::free(stranger);

    // A cache refuses objects of another cache.
    auto cache = heap.create_cache("other", 256, 16);
    ASSERT_TRUE(cache.is_ok());
    auto wrong = cache.value()->deallocate(p);
    ASSERT_TRUE(wrong.is_error());
    EXPECT_EQ(wrong.error().code(), Errno::Inval);

    ASSERT_TRUE(heap.deallocate(p).is_ok());
    ASSERT_TRUE(heap.deallocate(large).is_ok());
    ASSERT_TRUE(heap.destroy_cache(cache.value()).is_ok());
}

TEST(SlabNamedCache, CreateUseDestroy) {
    TestPages pages;
    Heap heap(pages);
    auto created = heap.create_cache("domain-descriptor", 200, 64);
    ASSERT_TRUE(created.is_ok());
    SlabCache* cache = created.value();
    EXPECT_STREQ(cache->name(), "domain-descriptor");
    EXPECT_EQ(cache->object_size(), 256u);  // 200 rounded up to the 64-byte alignment

    std::vector<void*> objects;
    for (int i = 0; i < 40; i++) {
        void* o = cache->allocate();
        ASSERT_NE(o, nullptr);
        EXPECT_EQ(addr(o) % 64, 0u);
        std::memset(o, i, 200);
        objects.push_back(o);
    }
    SlabStats s = stats_of(heap, "domain-descriptor");
    EXPECT_EQ(s.objects_in_use, 40u);
    EXPECT_EQ(s.objects_per_slab, (4096u - 64) / 256);
    EXPECT_EQ(s.slabs, 3u);

    auto busy = heap.destroy_cache(cache);
    ASSERT_TRUE(busy.is_error());
    EXPECT_EQ(busy.error().code(), Errno::Busy);

    // Objects of a named cache can be freed through the cache or through the Heap.
    for (size_t i = 0; i < objects.size(); i++) {
        auto r = i % 2 ? cache->deallocate(objects[i]) : heap.deallocate(objects[i]);
        ASSERT_TRUE(r.is_ok());
    }
    EXPECT_TRUE(cache->deallocate(objects[0]).is_error());  // double free through the cache
    ASSERT_TRUE(heap.destroy_cache(cache).is_ok());
    size_t caches = 0;
    heap.for_each_cache([&](const SlabStats&) { caches++; });
    EXPECT_EQ(caches, Heap::SIZE_CLASS_COUNT);
    EXPECT_TRUE(heap.destroy_cache(cache).is_error());
    EXPECT_TRUE(heap.destroy_cache(nullptr).is_error());

    heap.release_empty_slabs();
    EXPECT_EQ(pages.outstanding(), 0u) << "the cache object and its slabs were all returned";
}

TEST(SlabNamedCache, RejectsImpossibleLayouts) {
    TestPages pages;
    Heap heap(pages);
    EXPECT_TRUE(heap.create_cache("zero", 0).is_error());
    EXPECT_TRUE(heap.create_cache("too-big", 5000).is_error());
    EXPECT_TRUE(heap.create_cache("no-room", 4096 - 40).is_error());
    EXPECT_TRUE(heap.create_cache("odd-align", 64, 24).is_error());
    EXPECT_TRUE(heap.create_cache("huge-align", 64, 4096).is_error());
    auto small = heap.create_cache("tiny", 4, 4);  // rounded up to a 16-byte slot
    ASSERT_TRUE(small.is_ok());
    EXPECT_EQ(small.value()->object_size(), 16u);
    auto name = heap.create_cache("a-very-long-cache-name-that-does-not-fit", 32);
    ASSERT_TRUE(name.is_ok());
    EXPECT_EQ(std::strlen(name.value()->name()), 31u);
}

TEST(SlabHeap, DestructorReturnsEveryPage) {
    TestPages pages;
    {
        Heap heap(pages);
        for (int i = 0; i < 500; i++) ASSERT_NE(heap.allocate(16 + (i * 37) % 3000), nullptr);  // never freed
        auto cache = heap.create_cache("leaky", 100);
        ASSERT_TRUE(cache.is_ok());
        ASSERT_NE(cache.value()->allocate(), nullptr);
        EXPECT_GT(pages.outstanding(), 0u);
    }
    EXPECT_EQ(pages.outstanding(), 0u);
}

TEST(SlabRandom, MatchesReferenceModel) {
    for (uint32_t seed : {7u, 99u, 2024u}) {
        SCOPED_TRACE(seed);
        std::mt19937 rng(seed);
        TestPages pages;
        Heap heap(pages);
        std::map<unsigned char*, size_t> live;  // pointer -> requested size
        auto fill_byte = [](unsigned char* p) { return static_cast<unsigned char>(addr(p) >> 4); };
        size_t small_live = 0;
        for (int step = 0; step < 8000; step++) {
            bool do_alloc = live.empty() || std::uniform_int_distribution<int>(0, 99)(rng) < 55;
            if (do_alloc) {
                size_t size = std::uniform_int_distribution<int>(0, 99)(rng) < 90
                                  ? std::uniform_int_distribution<size_t>(0, 2048)(rng)
                                  : std::uniform_int_distribution<size_t>(2049, 40000)(rng);
                auto* p = static_cast<unsigned char*>(heap.allocate(size));
                ASSERT_NE(p, nullptr);
                ASSERT_EQ(addr(p) % 16, 0u);
                // No overlap with any live block.
                auto next = live.lower_bound(p);
                if (next != live.end()) {
                    ASSERT_LE(addr(p) + size, addr(next->first));
                }
                if (next != live.begin()) {
                    auto prev = std::prev(next);
                    ASSERT_LE(addr(prev->first) + prev->second, addr(p));
                }
                std::memset(p, fill_byte(p), size);
                live[p] = size;
                small_live += size <= Heap::MAX_SMALL_SIZE;
            } else {
                auto it = live.begin();
                std::advance(it, std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng));
                auto [p, size] = *it;
                for (size_t i = 0; i < size; i++) ASSERT_EQ(p[i], fill_byte(p)) << "block corrupted";
                ASSERT_TRUE(heap.deallocate(p).is_ok());
                small_live -= size <= Heap::MAX_SMALL_SIZE;
                live.erase(it);
            }
            if (step % 1000 == 0) {
                size_t in_use = 0;
                heap.for_each_cache([&](const SlabStats& s) { in_use += s.objects_in_use; });
                ASSERT_EQ(in_use, small_live);
                ASSERT_EQ(heap.large_stats().allocations_in_use, live.size() - small_live);
            }
        }
        for (auto [p, size] : live) ASSERT_TRUE(heap.deallocate(p).is_ok());
        heap.release_empty_slabs();
        EXPECT_EQ(pages.outstanding(), 0u);
    }
}

}  // namespace
