// Domains in the kernel: loading and running the test packages (domains/test/*), containing each
// kind of fault, tearing down without leaks, and restarting over and over.
#include "kernel/dev/pci/pci.h"
#include "kernel/domain/domain.h"
#include "kernel/domain/interfaces.h"
#include "kernel/domain/ktest_domains.h"
#include "kernel/ktest/ktest.h"
#include "kernel/ktest/on_thread.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/mm/page_table.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::domain {

namespace {

// Loads and starts a package; nullptr (with the failure recorded) if that does not work.
Domain* start_domain(ktest::Context& ktest_ctx, const char* name) {
    auto d = create(name);
    if (!KEXPECT(d.is_ok())) return nullptr;
    auto r = start(d.value());
    if (!KEXPECT(r.is_ok() && r.value() >= 0)) {
        destroy(d.value());
        return nullptr;
    }
    return d.value();
}

// Creates, runs and destroys hello: it must still answer 42.
void check_hello(ktest::Context& ktest_ctx) {
    auto d = create("hello");
    KASSERT_TRUE(d.is_ok());
    auto r = start(d.value());
    KEXPECT(r.is_ok() && r.value() == 42);
    KEXPECT(d.value()->get_state() == State::Running);
    destroy(d.value());
}

// The faulting domains, one per kind; loop ends by the watchdog.
void check_fault(ktest::Context& ktest_ctx, const char* package, DomainError expected) {
    check_hello(ktest_ctx);  // warms the heap and page tables up for the baseline
    uint64_t free_before = mm::free_pages();
    uint64_t faults_before = fault_count();
    uint32_t id = 0;
    ktest::on_thread(ktest_ctx, "domain-test", [&] {
        Domain* d = start_domain(ktest_ctx, package);
        if (!d) return;
        id = d->id;
        auto trigger = reinterpret_cast<CallFn>(find_export(d, "test.trigger"));
        KASSERT_TRUE(trigger);
        uint64_t result = 1;
        KEXPECT(call(d, trigger, 0, &result) == DomainError::None);
        KEXPECT_EQ(result, 0u);
        DomainError e = call(d, trigger, 7, &result);
        KEXPECT(e == expected);
        if (e != expected) ktest_ctx.note("%s: got domain error %d", package, int(e));
        KEXPECT(d->get_state() == State::Failed);
        KEXPECT_EQ(d->counters.faults, 1u);
        KEXPECT(call(d, trigger, 0, &result) == DomainError::Dead);
        KEXPECT(current() == nullptr);
        destroy(d);
    });
    KEXPECT_EQ(fault_count(), faults_before + 1);
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::domain(id)), 0u);
    check_hello(ktest_ctx);  // other domains keep working
    KEXPECT_EQ(mm::free_pages(), free_before);
}

}  // namespace

KTEST(domain, hello_runs_and_leaves_nothing) {
    check_hello(ktest_ctx);
    uint64_t free_before = mm::free_pages();
    auto d = create("hello");
    KASSERT_TRUE(d.is_ok());
    uint32_t id = d.value()->id;
    KEXPECT(d.value()->get_state() == State::Created);
    KEXPECT(mm::pages_owned_by(mm::Owner::domain(id)) > 0);
    auto r = start(d.value());
    KEXPECT(r.is_ok() && r.value() == 42);
    KEXPECT_EQ(d.value()->counters.calls_in, 1u);
    KEXPECT(find("hello") == d.value());
    destroy(d.value());
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::domain(id)), 0u);
    KEXPECT_EQ(mm::free_pages(), free_before);
    KEXPECT(find("hello") == nullptr);
}

// interface_lookup answers only names the manifest imports, and only while the kernel provides
// them: hello imports test.greeting but not test.unlisted.
KTEST(domain, interface_lookup_follows_the_manifest) {
    auto d = create("hello");
    KASSERT_TRUE(d.is_ok());
    auto r = start(d.value());
    KEXPECT(r.is_ok() && r.value() == 42);
    auto probe = reinterpret_cast<CallFn>(find_export(d.value(), "hello.probe"));
    KASSERT_TRUE(probe != nullptr);
    auto run_probe = [&]() {
        uint64_t result = 0;
        KEXPECT(call(d.value(), probe, 0, &result) == DomainError::None);
        return result;
    };
    constexpr uint64_t PERM_HIGH = uint64_t(uint32_t(Errno::Perm)) << 32;
    KEXPECT_EQ(run_probe(), PERM_HIGH | uint32_t(Errno::NoEnt));
    static uint32_t greeting = 0x6c616d69;
    KEXPECT(provide_interface("test.greeting", &greeting).is_ok());
    KEXPECT(provide_interface("test.greeting", &greeting).error().code() == Errno::Exist);
    KEXPECT_EQ(run_probe(), PERM_HIGH | greeting);
    KEXPECT(withdraw_interface("test.greeting").is_ok());
    KEXPECT_EQ(run_probe(), PERM_HIGH | uint32_t(Errno::NoEnt));
    KEXPECT(withdraw_interface("test.greeting").error().code() == Errno::NoEnt);
    destroy(d.value());
}

// A capability that fails still returns to the domain through back_to_domain(): hello calls
// failing capabilities for 1 s under a 150 ms watchdog. An error path that skipped it (as
// alloc_pages, interface_lookup, interface_publish and exchange_alloc once did) leaves the
// watchdog counting from the call's start, and it fires. The margin between one capability
// call and the watchdog is wide because a loaded host can stall the virtual CPU for tens of
// milliseconds.
KTEST(domain, failing_capabilities_return_to_the_domain) {
    ktest::on_thread(ktest_ctx, "domain-test", [&] {
        Domain* d = start_domain(ktest_ctx, "hello");
        if (!d) return;
        auto probe = reinterpret_cast<CallFn>(find_export(d, "hello.probe"));
        KASSERT_TRUE(probe != nullptr);
        uint64_t saved = watchdog_ns();
        set_watchdog_ns(150'000'000);
        uint64_t wrong = ~0ull;
        DomainError e = call(d, probe, 1000, &wrong);
        set_watchdog_ns(saved);
        KEXPECT(e == DomainError::None);
        KEXPECT_EQ(wrong, 0u);
        KEXPECT(d->get_state() == State::Running);
        destroy(d);
    });
}

// A slot of the own-thread table belongs to whoever took it: giving one back (a thread that
// could not be created) leaves every other taker's slot alone, and a later take reuses it.
KTEST(domain, own_thread_slots_are_given_back_by_their_taker) {
    OwnThreads table;
    int first_arg = 0, second_arg = 0;
    auto fn = [](void*) {};
    OwnThread* first = table.take(fn, &first_arg, nullptr);
    OwnThread* second = table.take(fn, &second_arg, nullptr);
    KASSERT_TRUE(first && second && first != second);
    table.give_back(first);  // the first creator's thread failed; the second's runs on
    KEXPECT_EQ(table.count(), 1u);
    size_t listed = 0;
    table.for_each([&](OwnThread& t) {
        listed++;
        KEXPECT(t.arg == &second_arg);
    });
    KEXPECT_EQ(listed, 1u);
    KEXPECT(second->used && second->arg == &second_arg);
    KEXPECT(table.take(fn, &first_arg, nullptr) == first);
    for (size_t i = table.count(); i < MAX_OWN_THREADS; i++) KEXPECT(table.take(fn, nullptr, nullptr) != nullptr);
    KEXPECT(table.take(fn, nullptr, nullptr) == nullptr);
    KEXPECT_EQ(table.count(), MAX_OWN_THREADS);
}

KTEST(domain, unknown_package_is_noent) {
    auto d = create("no_such_domain");
    KEXPECT(d.is_error() && d.error().code() == Errno::NoEnt);
}

KTEST(domain, image_is_wx_and_symbolized) {
    auto d = create("hello");
    KASSERT_TRUE(d.is_ok());
    const LoadedImage& img = d.value()->image;
    KEXPECT(img.base >= IMAGE_BASE);
    for (size_t i = 0; i < img.segment_count; i++) {
        const LoadedSegment& s = img.segments[i];
        auto tr = mm::translate_kernel(s.start);
        if (s.prot == 0) {
            KEXPECT(tr.is_error());
            continue;
        }
        KASSERT_TRUE(tr.is_ok());
        bool writable = tr.value().flags & mm::PageFlag::Writable;
        bool exec = !(tr.value().flags & mm::PageFlag::NoExecute);
        KEXPECT(!(writable && exec));
        KEXPECT_EQ(writable, bool(s.prot & kProtWrite));
        KEXPECT_EQ(exec, bool(s.prot & kProtExec));
    }
    const char* name = nullptr;
    uintptr_t off = 0;
    KEXPECT(img.symbols.symbolize(img.entry, &name, &off) && __builtin_strcmp(name, LAMINA_DOMAIN_ENTRY_SYMBOL) == 0);
    destroy(d.value());
}

KTEST(domain, panic_is_contained) { check_fault(ktest_ctx, "fault_panic", DomainError::Faulted); }
KTEST(domain, null_dereference_is_contained) { check_fault(ktest_ctx, "fault_null", DomainError::Faulted); }
KTEST(domain, invalid_opcode_is_contained) { check_fault(ktest_ctx, "fault_ud", DomainError::Faulted); }
KTEST(domain, divide_error_is_contained) { check_fault(ktest_ctx, "fault_div0", DomainError::Faulted); }
KTEST(domain, stack_overflow_is_contained) { check_fault(ktest_ctx, "fault_stack", DomainError::Faulted); }

KTEST(domain, endless_loop_is_ended_by_the_watchdog) {
    uint64_t old = watchdog_ns();
    set_watchdog_ns(200'000'000);
    uint64_t t0 = time::now_ns();
    check_fault(ktest_ctx, "fault_loop", DomainError::TimedOut);
    ktest_ctx.note("watchdog (200 ms) ended the loop; test took %lu ms",
                   (unsigned long)((time::now_ns() - t0) / 1000000));
    set_watchdog_ns(old);
}

KTEST(domain, injected_fault_fails_the_domain) {
    ktest::on_thread(ktest_ctx, "domain-test", [&] {
        Domain* d = start_domain(ktest_ctx, "fault_ud");
        if (!d) return;
        auto trigger = reinterpret_cast<CallFn>(find_export(d, "test.trigger"));
        KEXPECT(inject_fault("fault_ud").is_ok());
        KEXPECT(d->get_state() == State::Failed);
        uint64_t result = 0;
        KEXPECT(call(d, trigger, 0, &result) == DomainError::Dead);
        destroy(d);
    });
    KEXPECT(inject_fault("no_such_domain").is_error());
    KEXPECT(inject_fault("hello", "sideways").is_error());
}

KTEST(domain, introspection_lists_live_domains) {
    auto d = create("hello");
    KASSERT_TRUE(d.is_ok());
    Status s;
    KEXPECT(status_of("hello", s));
    KEXPECT_EQ(s.id, d.value()->id);
    KEXPECT(s.state == State::Created && !s.restarting);
    KEXPECT_EQ(s.counters.image_pages, d.value()->counters.image_pages);
    destroy(d.value());
    KEXPECT(!status_of("hello", s));
}

// Recovery, by hand (the generated shadow does the same): fault, tear down, start afresh.
KTEST(domain, restart_loop_leaks_nothing) {
    constexpr unsigned ROUNDS = 200;
    check_hello(ktest_ctx);
    uint64_t free_before = mm::free_pages();
    uint64_t recovery_ns = 0;
    unsigned ok = 0;
    ktest::on_thread(ktest_ctx, "domain-test", [&] {
        Domain* d = start_domain(ktest_ctx, "fault_null");
        set_verbose_faults(false);
        for (unsigned i = 0; d && i < ROUNDS; i++) {
            auto trigger = reinterpret_cast<CallFn>(find_export(d, "test.trigger"));
            uint64_t r = 0;
            if (call(d, trigger, 1, &r) != DomainError::Faulted) break;
            uint64_t t0 = time::now_ns();
            uint64_t restarts = d->counters.restarts;
            destroy(d);
            auto fresh = create("fault_null");
            if (fresh.is_error()) {
                d = nullptr;
                break;
            }
            d = fresh.value();
            d->counters.restarts = restarts + 1;
            if (start(d).is_error()) break;
            recovery_ns += time::now_ns() - t0;
            ok++;
        }
        set_verbose_faults(true);
        if (d) {
            KEXPECT_EQ(d->counters.restarts, uint64_t(ROUNDS));
            destroy(d);
        }
    });
    KEXPECT_EQ(ok, ROUNDS);
    KEXPECT_EQ(mm::free_pages(), free_before);
    if (ok)
        ktest_ctx.note("%u restarts, average recovery (teardown + create + start) %lu us", ok,
                       (unsigned long)(recovery_ns / ok / 1000));
}

}  // namespace lamina::domain

namespace lamina::domain {

// A fault injected from outside unwinds a thread that is busy in the domain's code (on whichever
// CPU it runs), at its next interrupt.
KTEST(domain, injection_unwinds_a_busy_thread) {
    uint64_t free_before = 0;
    check_hello(ktest_ctx);
    free_before = mm::free_pages();
    auto d = create("fault_loop");
    KASSERT_TRUE(d.is_ok());
    KASSERT_TRUE(start(d.value()).is_ok());
    struct Busy {
        Domain* d;
        DomainError error = DomainError::None;
        volatile bool entered = false;
    } busy{d.value()};
    auto body = [](void* p) {
        auto* b = static_cast<Busy*>(p);
        auto trigger = reinterpret_cast<CallFn>(find_export(b->d, "test.trigger"));
        b->entered = true;
        uint64_t r = 0;
        b->error = call(b->d, trigger, 1, &r);
    };
    auto t = sched::Thread::create("domain-busy", body, &busy);
    KASSERT_TRUE(t.is_ok());
    while (!busy.entered || __atomic_load_n(&busy.d->threads_inside, __ATOMIC_ACQUIRE) == 0) sched::yield();
    sched::sleep_ns(20'000'000);  // well inside the loop (the watchdog allows 2 s)
    KEXPECT(inject_fault("fault_loop").is_ok());
    KEXPECT(t.value()->join() == sched::ExitReason::Returned);
    KEXPECT(busy.error == DomainError::Faulted);
    KEXPECT_EQ(__atomic_load_n(&busy.d->threads_inside, __ATOMIC_ACQUIRE), 0u);
    destroy(d.value());
    KEXPECT_EQ(mm::free_pages(), free_before);
}

}  // namespace lamina::domain

namespace lamina::domain {

// A domain's own threads run until teardown, which stops and joins them; nothing leaks.
KTEST(domain, own_threads_stop_at_teardown) {
    check_hello(ktest_ctx);
    uint64_t free_before = mm::free_pages();
    auto d = create("threads");
    KASSERT_TRUE(d.is_ok());
    auto r = start(d.value());
    KASSERT_TRUE(r.is_ok() && r.value() == 0);
    KEXPECT_EQ(d.value()->resources.threads.count(), 2u);
    auto count = reinterpret_cast<CallFn>(find_export(d.value(), "test.count"));
    KASSERT_TRUE(count);
    uint64_t n = 0;
    uint64_t deadline = time::now_ns() + 2'000'000'000ull;
    while (n < 10 && time::now_ns() < deadline) {
        KASSERT_TRUE(call(d.value(), count, 0, &n) == DomainError::None);
        sched::sleep_ns(1'000'000);
    }
    KEXPECT(n >= 10);
    Status s;
    KEXPECT(status_of("threads", s) && s.threads == 2);
    uint32_t id = d.value()->id;
    destroy(d.value());
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::domain(id)), 0u);
    KEXPECT_EQ(mm::free_pages(), free_before);
}

}  // namespace lamina::domain

namespace lamina::domain {

// Device claims are limited to the manifest's list, and teardown releases what was claimed.
KTEST(domain, device_claims_follow_the_manifest_and_are_released) {
    auto d = create("claim");
    KASSERT_TRUE(d.is_ok());
    auto r = start(d.value());
    KASSERT_TRUE(r.is_ok());
    KEXPECT_EQ(r.value(), 0);  // -1: the unlisted claim was not refused
    auto result = reinterpret_cast<CallFn>(find_export(d.value(), "test.claim_result"));
    KASSERT_TRUE(result);
    uint64_t rc = ~0ull;
    KEXPECT(call(d.value(), result, 0, &rc) == DomainError::None);
    pci::PciDevice* dev = d.value()->resources.devices[0];
    if (rc == uint64_t(Errno::Busy)) {
        ktest_ctx.note("the NVMe controller is held by another driver: only the refusal is checked");
    } else {
        KEXPECT_EQ(rc, 0u);
        KASSERT_TRUE(dev);
        KEXPECT(dev->claimed() && __builtin_strcmp(dev->owner(), "claim") == 0);
    }
    destroy(d.value());
    if (rc == 0 && dev) KEXPECT(!dev->claimed());
}

}  // namespace lamina::domain
