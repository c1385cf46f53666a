// Host tests for the page-table walker (kernel/mm/page_table.h) over fake physical memory: table
// pages are heap arrays named by made-up physical addresses.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "kernel/mm/page_table.h"

namespace {

using lamina::Errno;
using lamina::mm::LARGE_PAGE_SIZE;
using lamina::mm::PAGE_SIZE;
using lamina::mm::PageTable;
using lamina::mm::PhysMemory;
using lamina::mm::Unmapped;
namespace PageFlag = lamina::mm::PageFlag;
namespace pte = lamina::mm::pte;

constexpr uint64_t KERNEL_HALF = 0xffff800000000000;
constexpr uint64_t USER_VA = 0x0000'4000'0000;

class FakeMemory final : public PhysMemory {
public:
    uint64_t* table(uint64_t phys) override {
        auto it = tables_.find(phys);
        EXPECT_NE(it, tables_.end()) << "walked into a non-table page " << std::hex << phys;
        if (it == tables_.end()) return dummy_.data();
        return it->second->data();
    }
    lamina::Result<uint64_t> alloc_table() override {
        if (tables_.size() >= limit) return Errno::NoMem;
        uint64_t phys = next_;
        next_ += PAGE_SIZE;
        tables_[phys] = std::make_unique<std::array<uint64_t, 512>>();
        tables_[phys]->fill(0);
        return phys;
    }
    void free_table(uint64_t phys) { ASSERT_EQ(tables_.erase(phys), 1u); }
    size_t live() const { return tables_.size(); }
    size_t limit = 1'000'000;

private:
    // Far above any frame the tests map, so a confusion between tables and frames shows.
    uint64_t next_ = 0x7'0000'0000;
    std::map<uint64_t, std::unique_ptr<std::array<uint64_t, 512>>> tables_;
    std::array<uint64_t, 512> dummy_{};
};

struct Space {
    FakeMemory mem;
    PageTable pt{mem, mem.alloc_table().value()};
    void release(const Unmapped& u) {
        for (unsigned i = 0; i < u.released_count; i++) mem.free_table(u.released_tables[i]);
    }
};

TEST(PageTableWalk, MapTranslateUnmap) {
    Space s;
    uint64_t va = KERNEL_HALF + 0x1234'5000;
    ASSERT_TRUE(s.pt.map(va, 0xABC000, PageFlag::Writable | PageFlag::NoExecute).is_ok());
    EXPECT_EQ(s.mem.live(), 4u);  // root, PDPT, PD, PT
    auto t = s.pt.translate(va + 0x123);
    ASSERT_TRUE(t.is_ok());
    EXPECT_EQ(t.value().phys, 0xABC123u);
    EXPECT_EQ(t.value().flags, PageFlag::Writable | PageFlag::NoExecute);
    EXPECT_EQ(t.value().page_size, PAGE_SIZE);
    EXPECT_EQ(s.pt.translate(va + PAGE_SIZE).error().code(), Errno::NoEnt);

    auto u = s.pt.unmap(va);
    ASSERT_TRUE(u.is_ok());
    EXPECT_EQ(u.value().phys, 0xABC000u);
    EXPECT_EQ(u.value().flags, PageFlag::Writable | PageFlag::NoExecute);
    // PT and PD became empty and are handed back; the PDPT stays.
    EXPECT_EQ(u.value().released_count, 2u);
    s.release(u.value());
    EXPECT_EQ(s.mem.live(), 2u);
    EXPECT_EQ(s.pt.translate(va).error().code(), Errno::NoEnt);
    EXPECT_EQ(s.pt.unmap(va).error().code(), Errno::NoEnt);
}

TEST(PageTableWalk, RejectsBadArguments) {
    Space s;
    EXPECT_EQ(s.pt.map(KERNEL_HALF + 1, 0, 0).error().code(), Errno::Inval);
    EXPECT_EQ(s.pt.map(KERNEL_HALF, 0x1001, 0).error().code(), Errno::Inval);
    EXPECT_EQ(s.pt.map(0x0000'8000'0000'0000, 0, 0).error().code(), Errno::Inval);  // non-canonical
    EXPECT_EQ(s.pt.map(KERNEL_HALF, uint64_t{1} << 52, 0).error().code(), Errno::Inval);
    EXPECT_EQ(s.pt.map(KERNEL_HALF, 0, uint64_t{1} << 9).error().code(), Errno::Inval);  // not a PageFlag
    EXPECT_EQ(s.pt.map(KERNEL_HALF, 0, pte::Present).error().code(), Errno::Inval);
    EXPECT_EQ(s.pt.map_large(KERNEL_HALF + PAGE_SIZE, 0, 0).error().code(), Errno::Inval);
    EXPECT_EQ(s.pt.map_large(KERNEL_HALF, PAGE_SIZE, 0).error().code(), Errno::Inval);
    EXPECT_EQ(s.pt.unmap(KERNEL_HALF + 8).error().code(), Errno::Inval);
    EXPECT_EQ(s.pt.translate(0x0000'8000'0000'0000).error().code(), Errno::Inval);
    EXPECT_EQ(s.mem.live(), 1u);  // nothing was created on the way
    ASSERT_TRUE(s.pt.map(KERNEL_HALF, 0x5000, 0).is_ok());
    EXPECT_EQ(s.pt.map(KERNEL_HALF, 0x6000, 0).error().code(), Errno::Exist);
    EXPECT_EQ(s.pt.translate(KERNEL_HALF).value().phys, 0x5000u);
    EXPECT_EQ(s.pt.map_large(KERNEL_HALF, 0, 0).error().code(), Errno::Exist);
}

TEST(PageTableWalk, UserBitReachesEveryLevel) {
    Space s;
    ASSERT_TRUE(s.pt.map(KERNEL_HALF + 0x10000, 0x1000, PageFlag::Writable).is_ok());
    ASSERT_TRUE(s.pt.map(USER_VA, 0x2000, PageFlag::User | PageFlag::Writable).is_ok());
    uint64_t table = s.pt.root();
    for (unsigned level = 4; level > 1; level--) {
        unsigned index = (USER_VA >> (12 + 9 * (level - 1))) & 511;
        uint64_t e = s.mem.table(table)[index];
        EXPECT_TRUE(e & pte::User) << "level " << level;
        EXPECT_TRUE(e & pte::Writable);
        EXPECT_FALSE(e & PageFlag::NoExecute);
        table = e & pte::AddressMask;
    }
    // The kernel mapping's tables did not get the user bit.
    uint64_t kernel_pml4e = s.mem.table(s.pt.root())[256];
    EXPECT_FALSE(kernel_pml4e & pte::User);
}

TEST(PageTableWalk, LargePagesAndPat) {
    Space s;
    uint64_t va = KERNEL_HALF + 3 * LARGE_PAGE_SIZE;
    uint64_t flags = PageFlag::Writable | PageFlag::Pat | PageFlag::CacheDisable | PageFlag::Global;
    ASSERT_TRUE(s.pt.map_large(va, 5 * LARGE_PAGE_SIZE, flags).is_ok());
    EXPECT_EQ(s.mem.live(), 3u);  // no PT
    auto t = s.pt.translate(va + 0x12345);
    ASSERT_TRUE(t.is_ok());
    EXPECT_EQ(t.value().phys, 5 * LARGE_PAGE_SIZE + 0x12345);
    EXPECT_EQ(t.value().page_size, LARGE_PAGE_SIZE);
    EXPECT_EQ(t.value().flags, flags);
    // In a 2 MiB entry the PAT bit lives at bit 12 and bit 7 is the page-size bit.
    uint64_t pdpte = s.mem.table(s.mem.table(s.pt.root())[256] & pte::AddressMask)[0];
    uint64_t pde = s.mem.table(pdpte & pte::AddressMask)[3];
    EXPECT_TRUE(pde & pte::LargePat);
    EXPECT_TRUE(pde & pte::Large);
    EXPECT_EQ(pde & pte::AddressMask & ~(LARGE_PAGE_SIZE - 1), 5 * LARGE_PAGE_SIZE);
    EXPECT_EQ(s.pt.map(va + PAGE_SIZE, 0x1000, 0).error().code(), Errno::Exist);
}

TEST(PageTableWalk, UnmapInsideLargePageSplitsIt) {
    Space s;
    uint64_t va = KERNEL_HALF + LARGE_PAGE_SIZE;
    uint64_t phys = 7 * LARGE_PAGE_SIZE;
    uint64_t flags = PageFlag::Writable | PageFlag::NoExecute | PageFlag::Pat;
    ASSERT_TRUE(s.pt.map_large(va, phys, flags).is_ok());
    auto u = s.pt.unmap(va + 9 * PAGE_SIZE);
    ASSERT_TRUE(u.is_ok());
    EXPECT_EQ(u.value().phys, phys + 9 * PAGE_SIZE);
    EXPECT_EQ(u.value().flags, flags);
    EXPECT_EQ(u.value().released_count, 0u);
    EXPECT_EQ(s.pt.splits(), 1u);
    for (uint64_t i = 0; i < 512; i++) {
        auto t = s.pt.translate(va + i * PAGE_SIZE + 5);
        if (i == 9) {
            EXPECT_TRUE(t.is_error());
            continue;
        }
        ASSERT_TRUE(t.is_ok()) << i;
        EXPECT_EQ(t.value().phys, phys + i * PAGE_SIZE + 5);
        EXPECT_EQ(t.value().flags, flags);  // PAT moved from bit 12 to bit 7
        EXPECT_EQ(t.value().page_size, PAGE_SIZE);
    }
    // Unmapping the rest empties the new PT, which goes back with the PD.
    unsigned released = 0;
    for (uint64_t i = 0; i < 512; i++) {
        if (i == 9) continue;
        auto r = s.pt.unmap(va + i * PAGE_SIZE);
        ASSERT_TRUE(r.is_ok());
        released += r.value().released_count;
        s.release(r.value());
    }
    EXPECT_EQ(released, 2u);
    EXPECT_EQ(s.mem.live(), 2u);
}

TEST(PageTableWalk, ProtectChangesOnePage) {
    Space s;
    uint64_t va = KERNEL_HALF;
    ASSERT_TRUE(s.pt.map_large(va, 0, PageFlag::Writable).is_ok());
    ASSERT_TRUE(s.pt.protect(va + PAGE_SIZE, PageFlag::NoExecute).is_ok());
    EXPECT_EQ(s.pt.translate(va + PAGE_SIZE).value().flags, PageFlag::NoExecute);
    EXPECT_EQ(s.pt.translate(va + PAGE_SIZE).value().phys, PAGE_SIZE);
    EXPECT_EQ(s.pt.translate(va).value().flags, PageFlag::Writable);
    EXPECT_EQ(s.pt.protect(va + LARGE_PAGE_SIZE, 0).error().code(), Errno::NoEnt);
    EXPECT_EQ(s.pt.protect(va, uint64_t{1} << 11).error().code(), Errno::Inval);
}

TEST(PageTableWalk, OutOfTablesIsNoMemAndRecoverable) {
    Space s;
    s.mem.limit = 3;  // root + PDPT + PD: no room for the PT
    uint64_t va = KERNEL_HALF + 0x40'0000'0000;
    EXPECT_EQ(s.pt.map(va, 0x1000, 0).error().code(), Errno::NoMem);
    EXPECT_TRUE(s.pt.translate(va).is_error());
    s.mem.limit = 100;
    ASSERT_TRUE(s.pt.map(va, 0x1000, 0).is_ok());
    EXPECT_EQ(s.pt.translate(va).value().phys, 0x1000u);
    // Splitting needs a table too.
    ASSERT_TRUE(s.pt.map_large(KERNEL_HALF, 0, 0).is_ok());
    s.mem.limit = s.mem.live();
    EXPECT_EQ(s.pt.unmap(KERNEL_HALF).error().code(), Errno::NoMem);
    EXPECT_EQ(s.pt.translate(KERNEL_HALF + PAGE_SIZE).value().page_size, LARGE_PAGE_SIZE);
}

// Random maps and unmaps across a few PD/PT boundaries, checked against a plain map.
TEST(PageTableWalk, RandomOperationsMatchModel) {
    Space s;
    std::mt19937_64 rng(12345);
    std::map<uint64_t, uint64_t> model;  // va -> phys
    const uint64_t span_pages = 3 * 512 + 17;
    uint64_t base = KERNEL_HALF + 0x3FE00000;  // crosses a 1 GiB boundary: two PDs
    for (int step = 0; step < 20000; step++) {
        uint64_t va = base + (rng() % span_pages) * PAGE_SIZE;
        if (rng() % 2) {
            uint64_t phys = (rng() % 100000) * PAGE_SIZE;
            auto r = s.pt.map(va, phys, PageFlag::Writable);
            if (model.count(va)) {
                EXPECT_EQ(r.error().code(), Errno::Exist);
            } else {
                ASSERT_TRUE(r.is_ok());
                model[va] = phys;
            }
        } else {
            auto r = s.pt.unmap(va);
            if (model.count(va)) {
                ASSERT_TRUE(r.is_ok());
                EXPECT_EQ(r.value().phys, model[va]);
                s.release(r.value());
                model.erase(va);
            } else {
                EXPECT_EQ(r.error().code(), Errno::NoEnt);
            }
        }
    }
    for (uint64_t i = 0; i < span_pages; i++) {
        uint64_t va = base + i * PAGE_SIZE;
        auto t = s.pt.translate(va);
        if (model.count(va)) {
            ASSERT_TRUE(t.is_ok());
            EXPECT_EQ(t.value().phys, model[va]);
        } else {
            EXPECT_TRUE(t.is_error());
        }
    }
    for (auto& [va, phys] : model) s.release(s.pt.unmap(va).value());
    EXPECT_EQ(s.mem.live(), 2u);  // root and the PDPT: every PT and PD went back
}

}  // namespace
