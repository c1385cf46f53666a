// Host tests for generated proxies and shadows (interfaces/test_echo.idl) against the host proxy
// runtime (tests/unit/host_domains.h): ownership moves, loans, returns, faults, dead domains,
// reclamation and shadow recovery.
#include <gtest/gtest.h>

#include "interfaces/test_echo.h"
#include "tests/unit/host_domains.h"

namespace {

using lamina::DomainError;
using lamina::DomainId;
using lamina::Errno;
using lamina::Handle;
using lamina::NO_DOMAIN;
using lamina::Result;
using lamina::RRef;
using lamina::RRefBytes;
using lamina::host::HostDomains;
using lamina::idl::Buf;
using lamina::idl::Echo;
using lamina::idl::EchoProxy;
using lamina::idl::EchoShadow;
using lamina::idl::Parcel;
using lamina::idl::Point;

// The "domain": an Echo implementation that records what it saw and can be told to fault or
// misbehave.
class EchoDomain final : public Echo {
public:
    explicit EchoDomain(HostDomains& host) : host_(host) {}

    int calls = 0;
    int fault_next = 0;           // fault on the next N calls
    bool free_lent = false;       // sum(): try to free the lent buffer
    bool return_foreign = false;  // bounce(): return an object it does not own
    DomainId seen_current = NO_DOMAIN;
    DomainId seen_owner = NO_DOMAIN;
    DomainId seen_borrower = NO_DOMAIN;
    Result<void> seen_free = Errno::None;
    RRef<Parcel> kept;
    RRef<Buf> stash;  // kept across calls by "domain state"
    Buf* foreign = nullptr;

    Result<void> nop() override { return enter(), Result<void>(); }
    Result<uint64_t> add(uint64_t a, uint64_t b) override {
        enter();
        return a + b;
    }
    Result<int64_t> norm(const Point& p) override {
        enter();
        return int64_t(p.x) * p.x + int64_t(p.y) * p.y;
    }
    Result<RRef<Buf>> fill(RRef<Buf> buf, uint8_t byte) override {
        seen_owner = host_.heap().owner_of(buf.get()).value();
        // Keep it somewhere the fault will leave behind.
        stash = std::move(buf);
        enter();
        for (auto& b : stash->data) b = byte;
        stash->len = sizeof stash->data;
        return std::move(stash);
    }
    Result<RRef<Buf>> fill_retry(RRef<Buf> buf, uint8_t byte) override { return fill(std::move(buf), byte); }
    Result<uint64_t> sum(const RRef<Buf>& buf) override {
        seen_owner = host_.heap().owner_of(buf.get()).value();
        seen_borrower = host_.heap().borrower_of(buf.get()).value();
        if (free_lent) seen_free = lamina::exchange::free(buf.get());
        enter();
        uint64_t s = 0;
        for (uint32_t i = 0; i < buf->len; i++) s += buf->data[i];
        return s;
    }
    Result<void> keep(RRef<Parcel> parcel) override {
        enter();
        kept = std::move(parcel);
        return {};
    }
    Result<RRefBytes> make(uint32_t bytes) override {
        enter();
        RRefBytes b = TRY(RRefBytes::create(bytes));
        TRY(b.set_length(bytes));
        return b;
    }
    Result<RRef<Buf>> bounce(RRef<Buf> b) override {
        enter();
        if (return_foreign) {
            (void)b.leak();  // pretend to have lost it, and hand out someone else's object
            return RRef<Buf>::adopt(foreign);
        }
        return b;
    }
    Result<uint64_t> forward(Handle<Echo> to, uint64_t a) override {
        enter();
        return TRY(to->add(a, 1)) * 10;
    }

private:
    void enter() {
        calls++;
        seen_current = host_.current();
        if (fault_next > 0) {
            fault_next--;
            host_.fault();
        }
    }
    HostDomains& host_;
};

class ProxyTest : public ::testing::Test {
protected:
    ProxyTest() : domain(host.create_domain()), impl(host), proxy(domain, impl) {
        for (const lamina::TypeInfo* const* t = lamina::idl::test_echo_types; *t != nullptr; t++)
            EXPECT_TRUE(host.heap().register_type(**t).is_ok());
    }
    ~ProxyTest() override {
        impl.kept = RRef<Parcel>();
        impl.stash = RRef<Buf>();
    }

    RRef<Buf> new_buf(uint8_t fill, uint32_t len) {
        RRef<Buf> b = RRef<Buf>::create().release_value();
        for (uint32_t i = 0; i < len; i++) b->data[i] = fill;
        b->len = len;
        return b;
    }
    DomainId owner(const void* p) { return host.heap().owner_of(p).value(); }

    HostDomains host;
    lamina::proxy_rt::DomainRecord& domain;
    EchoDomain impl;
    EchoProxy proxy;
};

TEST_F(ProxyTest, ScalarsAndStructsCrossAndTheCalleeRunsInItsDomain) {
    auto r = proxy.add(40, 2);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value(), 42u);
    EXPECT_EQ(impl.seen_current, domain.id);
    EXPECT_EQ(host.current(), lamina::KERNEL_DOMAIN);
    EXPECT_EQ(host.depth(), 0u);
    EXPECT_EQ(proxy.norm(Point{3, -4}).value(), 25);
    EXPECT_TRUE(proxy.nop().is_ok());
}

TEST_F(ProxyTest, ByValueRRefMovesToTheCalleeAndTheResultMovesBack) {
    RRef<Buf> b = new_buf(0, 0);
    Buf* raw = b.get();
    EXPECT_EQ(owner(raw), lamina::KERNEL_DOMAIN);
    auto r = proxy.fill(std::move(b), 7);
    ASSERT_TRUE(r.is_ok());
    EXPECT_FALSE(b);
    EXPECT_EQ(impl.seen_owner, domain.id);
    RRef<Buf> back = r.release_value();
    EXPECT_EQ(back.get(), raw);
    EXPECT_EQ(owner(raw), lamina::KERNEL_DOMAIN);
    EXPECT_EQ(back->data[100], 7);
    EXPECT_EQ(host.heap().objects_owned_by(domain.id), 0u);
}

TEST_F(ProxyTest, ConstRefLendsForTheCallOnly) {
    RRef<Buf> b = new_buf(2, 10);
    auto r = proxy.sum(b);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value(), 20u);
    EXPECT_EQ(impl.seen_owner, lamina::KERNEL_DOMAIN);
    EXPECT_EQ(impl.seen_borrower, domain.id);
    EXPECT_EQ(host.heap().borrower_of(b.get()).value(), NO_DOMAIN);
    EXPECT_EQ(owner(b.get()), lamina::KERNEL_DOMAIN);
}

TEST_F(ProxyTest, BorrowerCannotFreeALentObject) {
    RRef<Buf> b = new_buf(1, 3);
    impl.free_lent = true;
    ASSERT_TRUE(proxy.sum(b).is_ok());
    EXPECT_EQ(impl.seen_free.error(), lamina::Error(Errno::Perm));
    EXPECT_EQ(host.violations(), 1u);
    EXPECT_EQ(host.last_culprit(), domain.id);
    EXPECT_TRUE(host.heap().owner_of(b.get()).is_ok());  // still alive
}

TEST_F(ProxyTest, NestedObjectsMoveWithTheirContainer) {
    RRef<Parcel> p = RRef<Parcel>::create().release_value();
    p->inner = new_buf(1, 1);
    p->spares = lamina::RRefDeque<Buf, 4>::create().release_value();
    ASSERT_TRUE(p->spares.push_back(new_buf(2, 2)).is_ok());
    ASSERT_TRUE(p->spares.push_back(new_buf(3, 3)).is_ok());
    p->next = RRef<Parcel>::create().release_value();
    EXPECT_EQ(host.heap().objects_owned_by(lamina::KERNEL_DOMAIN), 6u);
    ASSERT_TRUE(proxy.keep(std::move(p)).is_ok());
    EXPECT_EQ(host.heap().objects_owned_by(lamina::KERNEL_DOMAIN), 0u);
    EXPECT_EQ(host.heap().objects_owned_by(domain.id), 6u);

    // The domain dies: everything it owns goes, nested objects included, counted as nested.
    (void)impl.kept.leak();  // its memory goes with it; nothing runs its destructors
    auto stats = host.reclaim(domain.id);
    EXPECT_EQ(stats.freed, 6u);
    EXPECT_EQ(stats.nested, 5u);
    EXPECT_EQ(stats.corrupt, 0u);
    EXPECT_EQ(host.heap().live_objects(), 0u);
}

TEST_F(ProxyTest, BytesComeBackToTheCaller) {
    auto r = proxy.make(100);
    ASSERT_TRUE(r.is_ok());
    RRefBytes b = r.release_value();
    EXPECT_EQ(b.capacity(), 100u);
    EXPECT_EQ(b.length(), 100u);
    EXPECT_EQ(owner(b.raw()), lamina::KERNEL_DOMAIN);
    EXPECT_EQ(b.set_length(101).error(), lamina::Error(Errno::Inval));
}

TEST_F(ProxyTest, InterfaceHandlesPassThrough) {
    auto& d2 = host.create_domain();
    EchoDomain other(host);
    EchoProxy to_other(d2, other);
    auto r = proxy.forward(Handle<Echo>(&to_other), 4);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value(), 50u);
    EXPECT_EQ(other.seen_current, d2.id);
}

TEST_F(ProxyTest, DeadDomainIsNotEntered) {
    host.kill(domain.id);
    RRef<Buf> b = new_buf(0, 0);
    auto r = proxy.invoke_fill(b, 1);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().domain_error(), DomainError::Dead);
    EXPECT_EQ(impl.calls, 0);
    ASSERT_TRUE(b);  // never moved
    EXPECT_EQ(owner(b.get()), lamina::KERNEL_DOMAIN);
    // Through the interface the argument is moved into the call, so the caller's copy goes
    // with the failed call (freed, not leaked).
    EXPECT_EQ(proxy.fill(std::move(b), 1).error().domain_error(), DomainError::Dead);
    EXPECT_EQ(host.heap().live_objects(), 0u);
    EXPECT_EQ(proxy.add(1, 2).error().domain_error(), DomainError::Dead);
}

TEST_F(ProxyTest, FaultReturnsFaultedAndRescuesMovedArguments) {
    impl.fault_next = 1;
    RRef<Buf> b = new_buf(5, 5);
    Buf* raw = b.get();
    auto r = proxy.invoke_fill(b, 9);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().domain_error(), DomainError::Faulted);
    EXPECT_EQ(host.depth(), 0u);
    EXPECT_EQ(host.current(), lamina::KERNEL_DOMAIN);
    EXPECT_EQ(lamina::proxy_rt::state_of(domain), lamina::proxy_rt::DomainState::Failed);
    // The dead callee still "held" it in its state; the proxy took it back.
    EXPECT_EQ(b.get(), raw);
    EXPECT_EQ(owner(raw), lamina::KERNEL_DOMAIN);
    (void)impl.stash.leak();
    auto stats = host.reclaim(domain.id);
    EXPECT_EQ(stats.freed, 0u);
    EXPECT_EQ(b->data[0], 5);
    // And a failed domain is not entered again.
    EXPECT_EQ(proxy.add(1, 1).error().domain_error(), DomainError::Dead);
}

TEST_F(ProxyTest, FaultWhileLendingEndsTheLoan) {
    impl.fault_next = 1;
    RRef<Buf> b = new_buf(1, 4);
    auto r = proxy.sum(b);
    EXPECT_EQ(r.error().domain_error(), DomainError::Faulted);
    EXPECT_EQ(host.heap().borrower_of(b.get()).value(), NO_DOMAIN);
    auto stats = host.reclaim(domain.id);
    EXPECT_EQ(stats.freed, 0u);
    EXPECT_EQ(owner(b.get()), lamina::KERNEL_DOMAIN);
}

TEST_F(ProxyTest, NestedCallFaultUnwindsToTheOutermostEntry) {
    // kernel -> domain -> other(fault): the caller of `other` (domain) gets Faulted and sees it.
    auto& d2 = host.create_domain();
    EchoDomain other(host);
    EchoProxy to_other(d2, other);
    other.fault_next = 1;
    auto r = proxy.forward(Handle<Echo>(&to_other), 4);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().domain_error(), DomainError::Faulted);
    EXPECT_EQ(lamina::proxy_rt::state_of(domain), lamina::proxy_rt::DomainState::Running);
    EXPECT_EQ(host.depth(), 0u);
}

TEST_F(ProxyTest, CallerMovingAnObjectItDoesNotOwnGetsTheOwnershipError) {
    auto& d2 = host.create_domain();
    RRef<Buf> b = new_buf(0, 0);
    ASSERT_TRUE(host.heap().transfer(b.get(), lamina::KERNEL_DOMAIN, d2.id).is_ok());
    auto r = proxy.invoke_fill(b, 1);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), lamina::Error(Errno::Perm));
    EXPECT_EQ(impl.calls, 0);
    EXPECT_EQ(host.last_culprit(), lamina::KERNEL_DOMAIN);
    EXPECT_EQ(owner(b.get()), d2.id);
    (void)b.leak();
    EXPECT_EQ(host.reclaim(d2.id).freed, 1u);
}

TEST_F(ProxyTest, CalleeReturningAnObjectItDoesNotOwnIsAFault) {
    RRef<Buf> mine = new_buf(0, 0);
    impl.return_foreign = true;
    impl.foreign = mine.get();
    auto r = proxy.bounce(new_buf(1, 1));
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().domain_error(), DomainError::Faulted);
    EXPECT_EQ(host.last_culprit(), domain.id);
    EXPECT_EQ(owner(mine.get()), lamina::KERNEL_DOMAIN);  // untouched
    auto stats = host.reclaim(domain.id);
    EXPECT_EQ(stats.freed, 1u);  // the buffer it was given and lost
}

// ---- shadows ---------------------------------------------------------------------------------

// Restarts: a fresh domain and a fresh instance, the shadow's proxy pointed at them.
class Restarter final : public lamina::proxy_rt::ShadowRecovery {
public:
    Restarter(HostDomains& host, EchoProxy& proxy, EchoDomain& first) : host_(host), proxy_(proxy), current_(&first) {}
    Result<void> recover(DomainError) override {
        DomainId old = proxy_.domain().id;
        (void)current_->stash.leak();
        (void)current_->kept.leak();
        last_stats = host_.reclaim(old);
        if (fail) return Errno::NoMem;
        instances_.push_back(std::make_unique<EchoDomain>(host_));
        current_ = instances_.back().get();
        proxy_.rebind(host_.create_domain(), *current_);
        recoveries++;
        return {};
    }
    EchoDomain& current() { return *current_; }
    int recoveries = 0;
    bool fail = false;
    lamina::domain::ReclaimStats last_stats;

private:
    HostDomains& host_;
    EchoProxy& proxy_;
    EchoDomain* current_;
    std::vector<std::unique_ptr<EchoDomain>> instances_;
};

TEST_F(ProxyTest, ShadowRetriesARetrySafeMethodAfterRecovery) {
    Restarter restarter(host, proxy, impl);
    EchoShadow shadow(proxy, restarter);
    impl.fault_next = 1;
    auto r = shadow.add(2, 3);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value(), 5u);
    EXPECT_EQ(shadow.restarts(), 1u);
    EXPECT_EQ(restarter.recoveries, 1);
    EXPECT_EQ(restarter.current().calls, 1);
    EXPECT_NE(proxy.domain().id, domain.id);
}

TEST_F(ProxyTest, ShadowRetriesWithRescuedHandles) {
    Restarter restarter(host, proxy, impl);
    EchoShadow shadow(proxy, restarter);
    impl.fault_next = 1;
    RRef<Buf> b = new_buf(0, 0);
    Buf* raw = b.get();
    auto r = shadow.fill_retry(std::move(b), 3);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().get(), raw);
    EXPECT_EQ(r.value()->data[0], 3);
    EXPECT_EQ(owner(raw), lamina::KERNEL_DOMAIN);
    EXPECT_EQ(restarter.last_stats.freed, 0u);  // it was rescued before the teardown
}

// A fault injected from another thread can fail the callee at any point of a call that moved an
// argument to it, and each must leave the shadow an argument to retry with, unfreed:
//   Returned: after the callee returned it, before the call got back to the kernel (the result
//     the dead callee made must not free it when the proxy drops that result);
//   Dead, Faulted: after the proxy moved its ownership but before the callee took the handle
//     (the kernel's entry found the callee dead, or the fault unwound the call first): the
//     caller's handle still names it, and the rescue must leave it so rather than replace it,
//     which freed the object under the retry (the block ktest
//     faults_injected_from_another_thread_during_batches failed with EINVAL and 62 ownership
//     violations about one run in twelve under load).
enum class FailPoint { Returned, Dead, Faulted };
class ProxyFailDuringCall : public ProxyTest, public ::testing::WithParamInterface<FailPoint> {};

TEST_P(ProxyFailDuringCall, ShadowRetriesWithTheArgumentItHadMoved) {
    Restarter restarter(host, proxy, impl);
    EchoShadow shadow(proxy, restarter);
    if (GetParam() == FailPoint::Returned)
        host.fault_on_next_return();
    else
        host.fail_on_next_entry(GetParam() == FailPoint::Dead ? DomainError::Dead : DomainError::Faulted);
    RRef<Buf> b = new_buf(0, 0);
    Buf* raw = b.get();
    auto r = shadow.fill_retry(std::move(b), 5);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().get(), raw);
    EXPECT_EQ(r.value()->data[0], 5);
    EXPECT_EQ(owner(raw), lamina::KERNEL_DOMAIN);
    EXPECT_EQ(restarter.recoveries, 1);
    EXPECT_EQ(restarter.current().calls, 1);
    EXPECT_EQ(host.violations(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Points, ProxyFailDuringCall,
                         ::testing::Values(FailPoint::Returned, FailPoint::Dead, FailPoint::Faulted),
                         [](const auto& info) {
                             return info.param == FailPoint::Returned ? "Returned"
                                    : info.param == FailPoint::Dead   ? "Dead"
                                                                      : "Faulted";
                         });

TEST_F(ProxyTest, ShadowReturnsRestartingForAMethodThatIsNotRetrySafe) {
    Restarter restarter(host, proxy, impl);
    EchoShadow shadow(proxy, restarter);
    impl.fault_next = 1;
    RRef<Buf> b = new_buf(0, 0);
    auto r = shadow.fill(std::move(b), 3);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().domain_error(), DomainError::Restarting);
    EXPECT_EQ(restarter.recoveries, 1);
    EXPECT_EQ(restarter.current().calls, 0);
    // The next call goes to the new instance.
    EXPECT_EQ(shadow.add(1, 1).value(), 2u);
}

TEST_F(ProxyTest, ShadowGivesUpWhenRecoveryFailsOrKeepsFaulting) {
    Restarter restarter(host, proxy, impl);
    EchoShadow shadow(proxy, restarter, 3);
    impl.fault_next = 1;
    restarter.fail = true;
    EXPECT_EQ(shadow.add(1, 1).error().domain_error(), DomainError::Restarting);
}

TEST_F(ProxyTest, ShadowRetriesACallThatNeverEnteredADeadDomain) {
    Restarter restarter(host, proxy, impl);
    EchoShadow shadow(proxy, restarter);
    host.kill(domain.id);
    RRef<Buf> b = new_buf(0, 0);
    auto r = shadow.fill(std::move(b), 4);  // not [retry], but it was never entered
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value()->data[0], 4);
    EXPECT_EQ(shadow.restarts(), 1u);
}

}  // namespace
