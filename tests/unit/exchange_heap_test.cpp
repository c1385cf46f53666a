// Host tests for the exchange heap (kernel/domain/exchange_heap.h): ownership checks, loans,
// nested moves and reclamation of a dead domain's objects, with exact counts.
#include <gtest/gtest.h>

#include <vector>

#include "interfaces/test_echo.h"
#include "kernel/domain/exchange_heap.h"
#include "tests/unit/host_domains.h"

namespace {

using lamina::DomainId;
using lamina::Errno;
using lamina::ExchangeTraits;
using lamina::NO_DOMAIN;
using lamina::domain::ExchangeHeap;
using lamina::idl::Buf;
using lamina::idl::Parcel;

constexpr DomainId A = 1, B = 2, C = 3;

class ExchangeHeapTest : public ::testing::Test {
protected:
    ExchangeHeapTest() : heap(pages) {
        for (const lamina::TypeInfo* const* t = lamina::idl::test_echo_types; *t != nullptr; t++)
            EXPECT_TRUE(heap.register_type(**t).is_ok());
    }
    void* buf(DomainId owner) { return heap.allocate(owner, ExchangeTraits<Buf>::id, sizeof(Buf)).value(); }
    Parcel* parcel(DomainId owner) {
        return static_cast<Parcel*>(heap.allocate(owner, ExchangeTraits<Parcel>::id, sizeof(Parcel)).value());
    }
    // Stores a raw object address into a handle field, as domain code would by moving an RRef in.
    template <typename H>
    static void put(H& handle, void* object) {
        lamina::proxy_rt::HandleTraits<H>::adopt(handle, object);
    }
    template <typename H>
    static void drop(H& handle) {
        lamina::proxy_rt::HandleTraits<H>::leak(handle);
    }
    DomainId owner(const void* p) { return heap.owner_of(p).value(); }

    lamina::host::MallocPages pages;
    ExchangeHeap heap;
};

TEST_F(ExchangeHeapTest, AllocationRecordsOwnerTypeAndSize) {
    void* p = buf(A);
    auto* h = heap.header_of(p).value();
    EXPECT_EQ(h->owner, A);
    EXPECT_EQ(h->type, ExchangeTraits<Buf>::id);
    EXPECT_EQ(h->size, sizeof(Buf));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
    EXPECT_EQ(static_cast<Buf*>(p)->len, 0u);  // zero-filled
    EXPECT_EQ(heap.live_objects(), 1u);
    EXPECT_TRUE(heap.free(A, p).is_ok());
    EXPECT_EQ(heap.live_objects(), 0u);
}

TEST_F(ExchangeHeapTest, RefusesUnknownTypesAndWrongSizes) {
    EXPECT_EQ(heap.allocate(A, 0x12345678, 8).error(), lamina::Error(Errno::Inval));
    EXPECT_EQ(heap.allocate(A, ExchangeTraits<Buf>::id, sizeof(Buf) + 1).error(), lamina::Error(Errno::Inval));
    EXPECT_EQ(heap.allocate(A, lamina::BYTES_TYPE_ID, 4).error(), lamina::Error(Errno::Inval));
    EXPECT_TRUE(heap.allocate(A, lamina::BYTES_TYPE_ID, 8 + 5000).is_ok());  // variable size
}

TEST_F(ExchangeHeapTest, RegistryRefusesAnotherLayoutUnderTheSameId) {
    lamina::TypeInfo fake = ExchangeTraits<Buf>::info();
    EXPECT_TRUE(heap.register_type(fake).is_ok());  // same layout: accepted again
    fake.size += 8;
    EXPECT_EQ(heap.register_type(fake).error(), lamina::Error(Errno::Exist));
    lamina::TypeInfo bad = ExchangeTraits<Parcel>::info();
    bad.id = 0x0badbad0;
    uint32_t offsets[] = {4};
    bad.rref_offsets = offsets;
    bad.rref_count = 1;
    EXPECT_EQ(heap.register_type(bad).error(), lamina::Error(Errno::Inval));  // misaligned handle
}

TEST_F(ExchangeHeapTest, OnlyTheOwnerFreesOrMoves) {
    void* p = buf(A);
    EXPECT_EQ(heap.free(B, p).error(), lamina::Error(Errno::Perm));
    EXPECT_EQ(heap.transfer(p, B, C).error(), lamina::Error(Errno::Perm));
    EXPECT_TRUE(heap.transfer(p, A, B).is_ok());
    EXPECT_EQ(owner(p), B);
    EXPECT_EQ(heap.free(A, p).error(), lamina::Error(Errno::Perm));
    EXPECT_TRUE(heap.free(B, p).is_ok());
    EXPECT_EQ(heap.free(B, p).error(), lamina::Error(Errno::Inval));  // double free
    int local = 0;
    EXPECT_EQ(heap.free(A, &local).error(), lamina::Error(Errno::Inval));
}

// The proxies' move: the fast path and every way out of it.
TEST_F(ExchangeHeapTest, TypedTransferChecksTheTypeToo) {
    const lamina::TypeId buf_type = ExchangeTraits<Buf>::id, parcel_type = ExchangeTraits<Parcel>::id;
    void* p = buf(A);
    EXPECT_TRUE(heap.transfer_typed(p, buf_type, A, B).is_ok());
    EXPECT_EQ(owner(p), B);
    EXPECT_EQ(heap.transfer_typed(p, buf_type, A, C).error(), lamina::Error(Errno::Perm));
    EXPECT_EQ(heap.transfer_typed(p, parcel_type, B, C).error(), lamina::Error(Errno::Inval));  // a forged handle type
    EXPECT_EQ(owner(p), B);
    ASSERT_TRUE(heap.lend(p, B, C).is_ok());
    EXPECT_EQ(heap.transfer_typed(p, buf_type, B, A).error(), lamina::Error(Errno::Busy));
    EXPECT_TRUE(heap.end_loan(p, C, NO_DOMAIN).is_ok());
    EXPECT_TRUE(heap.transfer_typed(p, buf_type, B, A).is_ok());
    int local[32] = {};
    EXPECT_EQ(heap.transfer_typed(&local[16], buf_type, A, B).error(), lamina::Error(Errno::Inval));
    // A container takes the slow path and moves what it holds.
    Parcel* outer = parcel(A);
    put(outer->inner, p);
    EXPECT_TRUE(heap.transfer_typed(outer, parcel_type, A, B).is_ok());
    EXPECT_EQ(owner(outer), B);
    EXPECT_EQ(owner(p), B);
    drop(outer->inner);
}

TEST_F(ExchangeHeapTest, LendingAndRelending) {
    void* p = buf(A);
    auto prev = heap.lend(p, A, B);
    ASSERT_TRUE(prev.is_ok());
    EXPECT_EQ(prev.value(), NO_DOMAIN);
    EXPECT_EQ(heap.free(A, p).error(), lamina::Error(Errno::Busy));
    EXPECT_EQ(heap.transfer(p, A, C).error(), lamina::Error(Errno::Busy));
    EXPECT_EQ(heap.free(B, p).error(), lamina::Error(Errno::Perm));
    EXPECT_EQ(heap.lend(p, A, C).error(), lamina::Error(Errno::Perm));  // the borrower lends on, not the owner
    auto prev2 = heap.lend(p, B, C);
    ASSERT_TRUE(prev2.is_ok());
    EXPECT_EQ(prev2.value(), B);
    EXPECT_EQ(heap.objects_lent_to(C), 1u);
    EXPECT_TRUE(heap.end_loan(p, C, B).is_ok());
    EXPECT_EQ(heap.borrower_of(p).value(), B);
    EXPECT_EQ(heap.end_loan(p, C, B).error(), lamina::Error(Errno::Inval));
    EXPECT_TRUE(heap.end_loan(p, B, NO_DOMAIN).is_ok());
    EXPECT_EQ(heap.borrower_of(p).value(), NO_DOMAIN);
    EXPECT_TRUE(heap.free(A, p).is_ok());
}

TEST_F(ExchangeHeapTest, TransferMovesNestedObjectsAndSurvivesCycles) {
    Parcel* outer = parcel(A);
    Parcel* second = parcel(A);
    void* inner = buf(A);
    void* foreign = buf(C);
    put(outer->inner, inner);
    put(outer->next, second);
    put(second->next, outer);     // a cycle
    put(second->inner, foreign);  // not A's: left alone
    ASSERT_TRUE(heap.transfer(outer, A, B).is_ok());
    EXPECT_EQ(owner(outer), B);
    EXPECT_EQ(owner(second), B);
    EXPECT_EQ(owner(inner), B);
    EXPECT_EQ(owner(foreign), C);
    EXPECT_EQ(heap.objects_owned_by(A), 0u);
    drop(outer->inner);
    drop(outer->next);
    drop(second->next);
    drop(second->inner);
}

TEST_F(ExchangeHeapTest, ReclaimFreesEverythingTheDeadDomainOwnsIncludingNested) {
    Parcel* outer = parcel(B);
    void* inner = buf(B);
    put(outer->inner, inner);
    outer->spares.handle() =
        lamina::RRef<lamina::ExchangeDequeStorage<Buf, 4>>::adopt(static_cast<lamina::ExchangeDequeStorage<Buf, 4>*>(
            heap.allocate(B, ExchangeTraits<lamina::ExchangeDequeStorage<Buf, 4>>::id,
                          sizeof(lamina::ExchangeDequeStorage<Buf, 4>))
                .value()));
    auto* storage = outer->spares.handle().get();
    put(storage->slots[0], buf(B));
    put(storage->slots[3], buf(B));
    void* loose = buf(B);
    void* survivor = buf(A);
    (void)loose;
    EXPECT_EQ(heap.objects_owned_by(B), 6u);

    auto stats = heap.reclaim_domain(B);
    EXPECT_EQ(stats.freed, 6u);
    EXPECT_EQ(stats.nested, 4u);  // inner, the deque and its two buffers
    EXPECT_EQ(stats.orphaned, 0u);
    EXPECT_EQ(stats.loans_returned, 0u);
    EXPECT_EQ(stats.corrupt, 0u);
    EXPECT_EQ(heap.objects_owned_by(B), 0u);
    EXPECT_EQ(heap.live_objects(), 1u);
    EXPECT_EQ(owner(survivor), A);
}

TEST_F(ExchangeHeapTest, ReclaimReturnsObjectsLentToTheDeadDomain) {
    void* p = buf(A);
    void* q = buf(C);
    ASSERT_TRUE(heap.lend(p, A, B).is_ok());
    ASSERT_TRUE(heap.lend(q, C, B).is_ok());
    auto stats = heap.reclaim_domain(B);
    EXPECT_EQ(stats.loans_returned, 2u);
    EXPECT_EQ(stats.freed, 0u);
    EXPECT_EQ(heap.borrower_of(p).value(), NO_DOMAIN);
    EXPECT_EQ(owner(p), A);
    EXPECT_EQ(owner(q), C);
    EXPECT_TRUE(heap.free(A, p).is_ok());  // usable again by its owner
}

TEST_F(ExchangeHeapTest, ObjectsTheDeadDomainLentOutLiveUntilTheLoanEnds) {
    Parcel* outer = parcel(B);
    void* inner = buf(B);
    put(outer->inner, inner);
    ASSERT_TRUE(heap.lend(outer, B, C).is_ok());
    auto stats = heap.reclaim_domain(B);
    EXPECT_EQ(stats.orphaned, 2u);
    EXPECT_EQ(stats.freed, 0u);
    EXPECT_EQ(heap.live_objects(), 2u);
    EXPECT_EQ(static_cast<Buf*>(inner)->len, 0u);  // still readable by the borrower
    ASSERT_TRUE(heap.end_loan(outer, C, NO_DOMAIN).is_ok());
    EXPECT_EQ(heap.live_objects(), 0u);
}

TEST_F(ExchangeHeapTest, OrphansLentToAnotherDeadDomainGoWithIt) {
    Parcel* outer = parcel(B);
    put(outer->inner, buf(B));
    ASSERT_TRUE(heap.lend(outer, B, C).is_ok());
    EXPECT_EQ(heap.reclaim_domain(B).orphaned, 2u);
    auto stats = heap.reclaim_domain(C);
    EXPECT_EQ(stats.loans_returned, 1u);
    EXPECT_EQ(stats.freed, 2u);
    EXPECT_EQ(heap.live_objects(), 0u);
}

TEST_F(ExchangeHeapTest, ReclaimCountsHandlesThatPointNowhere) {
    Parcel* outer = parcel(B);
    int junk[8] alignas(16) = {};
    put(outer->inner, &junk[4]);
    auto stats = heap.reclaim_domain(B);
    EXPECT_EQ(stats.freed, 1u);
    EXPECT_EQ(stats.corrupt, 1u);
}

TEST_F(ExchangeHeapTest, PagesGoBackWhenTheHeapGoes) {
    size_t before = pages.outstanding_pages();
    {
        lamina::host::MallocPages local_pages;
        ExchangeHeap h(local_pages);
        for (int i = 0; i < 100; i++) ASSERT_TRUE(h.allocate(A, lamina::BYTES_TYPE_ID, 8 + 3000).is_ok());
        EXPECT_GT(local_pages.outstanding_pages(), 0u);
        EXPECT_EQ(h.reclaim_domain(A).freed, 100u);
        EXPECT_EQ(h.live_bytes(), 0u);
    }
    EXPECT_EQ(pages.outstanding_pages(), before);
}

TEST_F(ExchangeHeapTest, ManyLargeObjectsStayFindableAsTheirPagesComeAndGo) {
    std::vector<void*> objs;
    for (int i = 0; i < 1500; i++) objs.push_back(heap.allocate(A, lamina::BYTES_TYPE_ID, 8 + 3000).value());
    for (size_t i = 0; i < objs.size(); i += 2) ASSERT_TRUE(heap.free(A, objs[i]).is_ok());
    for (size_t i = 0; i < objs.size(); i++) EXPECT_EQ(heap.owner_of(objs[i]).is_ok(), i % 2 == 1) << i;
    EXPECT_EQ(heap.reclaim_domain(A).freed, 750u);
}

// RRef through the host environment: create/destroy, and the destructors of nested handles.
TEST(ExchangeRRefTest, HandlesFreeWhatTheyOwnIncludingNested) {
    lamina::host::HostDomains host;
    for (const lamina::TypeInfo* const* t = lamina::idl::test_echo_types; *t != nullptr; t++)
        ASSERT_TRUE(host.heap().register_type(**t).is_ok());
    {
        auto p = lamina::RRef<Parcel>::create();
        ASSERT_TRUE(p.is_ok());
        lamina::RRef<Parcel> parcel = p.release_value();
        parcel->inner = lamina::RRef<Buf>::create().release_value();
        parcel->spares = lamina::RRefDeque<Buf, 4>::create().release_value();
        for (int i = 0; i < 4; i++)
            ASSERT_TRUE(parcel->spares.push_back(lamina::RRef<Buf>::create().release_value()).is_ok());
        auto extra = lamina::RRef<Buf>::create().release_value();
        EXPECT_EQ(parcel->spares.push_back(std::move(extra)).error(), lamina::Error(Errno::Busy));
        EXPECT_TRUE(extra);
        EXPECT_TRUE(parcel->spares.pop_front());
        EXPECT_EQ(parcel->spares.size(), 3u);
        auto arr = lamina::RRefArray<uint32_t, 16>::create();
        EXPECT_EQ(arr.error(), lamina::Error(Errno::Inval));  // not registered by anyone
        EXPECT_EQ(host.heap().live_objects(), 7u);
    }
    EXPECT_EQ(host.heap().live_objects(), 0u);
    EXPECT_EQ(host.violations(), 0u);
}

}  // namespace
