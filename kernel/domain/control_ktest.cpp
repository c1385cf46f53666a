// Fault injection through the domain's own code (libdomain's LAMINA_INJECT_EXPORT), and the
// /proc/domctl command parser and its errors. Restarts through a shadow: proxy_ktest.cpp.
#include "kernel/domain/domain.h"
#include "kernel/domain/ktest_domains.h"
#include "kernel/ktest/ktest.h"
#include <lamina/format.h>
#include "kernel/mm/memory.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::domain {

namespace {

bool hello_answers() {
    Domain* d = nullptr;
    auto c = create("hello");
    if (c.is_error()) return false;
    d = c.value();
    auto r = start(d);
    bool ok = r.is_ok() && r.value() == 42;
    destroy(d);
    return ok;
}

bool wait_failed(Domain* d, uint64_t timeout_ns) {
    uint64_t deadline = time::now_ns() + timeout_ns;
    while (d->get_state() != State::Failed && time::now_ns() < deadline) sched::sleep_ns(5'000'000);
    return d->get_state() == State::Failed;
}

// Injects kind into a running fault_null (its own trigger is never called) and checks what the
// kernel recorded; the domain's pages must all come back.
void check_injection(ktest::Context& ktest_ctx, const char* kind, FaultRecord::Cause cause, uint32_t vector) {
    // A first round warms the heap and page tables up for the baseline (the injecting thread's
    // stack and record, the domain's pages).
    if (Domain* warm = started("fault_null")) {
        KEXPECT(inject_fault("fault_null", "panic").is_ok());
        destroy(warm);
    }
    KEXPECT(hello_answers());
    uint64_t free_before = mm::free_pages();
    uint64_t faults_before = fault_count();
    Domain* d = started("fault_null");
    KASSERT_TRUE(d);
    uint32_t id = d->id;
    auto r = inject_fault("fault_null", kind);
    KEXPECT(r.is_ok());
    KEXPECT(wait_failed(d, 5'000'000'000ull));
    KEXPECT(d->fault.cause == cause);
    if (cause == FaultRecord::Cause::Exception) {
        KEXPECT_EQ(d->fault.vector, vector);
        KEXPECT(d->contains(d->fault.address));  // raised by the domain's own code
    }
    if (d->fault.cause != cause || d->fault.vector != vector)
        ktest_ctx.note("%s: recorded cause %u vector %u", kind, unsigned(d->fault.cause), d->fault.vector);
    KEXPECT_EQ(d->counters.faults, 1u);
    KEXPECT(inject_fault("fault_null", kind).error().code() == Errno::Busy);  // failed already
    uint64_t out = 0;
    auto trigger = reinterpret_cast<CallFn>(find_export(d, "test.trigger"));
    KEXPECT(call(d, trigger, 0, &out) == DomainError::Dead);
    KEXPECT_EQ(d->fault.stack_overflow, __builtin_strcmp(kind, "stack") == 0);
    if (__builtin_strcmp(kind, "null") == 0) KEXPECT_EQ(d->fault.data, 0u);
    destroy(d);
    KEXPECT_EQ(fault_count(), faults_before + 1);
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::domain(id)), 0u);
    KEXPECT(hello_answers());  // other domains keep working
    KEXPECT_EQ(mm::free_pages(), free_before);
}

}  // namespace

KTEST(domain_inject, panic_runs_in_the_domain) { check_injection(ktest_ctx, "panic", FaultRecord::Cause::Panic, 0); }
KTEST(domain_inject, null_write_is_a_page_fault) {
    check_injection(ktest_ctx, "null", FaultRecord::Cause::Exception, 14);
}
KTEST(domain_inject, ud2_is_an_invalid_opcode) { check_injection(ktest_ctx, "ud", FaultRecord::Cause::Exception, 6); }
KTEST(domain_inject, div0_is_a_divide_error) { check_injection(ktest_ctx, "div0", FaultRecord::Cause::Exception, 0); }
KTEST(domain_inject, recursion_hits_the_stack_guard) {
    check_injection(ktest_ctx, "stack", FaultRecord::Cause::Exception, 14);
}

KTEST(domain_inject, loop_is_ended_by_the_watchdog) {
    uint64_t old = watchdog_ns();
    set_watchdog_ns(200'000'000);
    check_injection(ktest_ctx, "loop", FaultRecord::Cause::Watchdog, 0);
    set_watchdog_ns(old);
}

// A caller busy inside the domain when another kind of fault is injected is unwound with
// Faulted (the injection runs on a thread of its own).
KTEST(domain_inject, other_callers_inside_are_unwound) {
    Domain* d = started("fault_loop");
    KASSERT_TRUE(d);
    struct Busy {
        Domain* d;
        DomainError error = DomainError::None;
    } busy{d};
    auto t = sched::Thread::create(
        "inject-busy",
        [](void* p) {
            auto* b = static_cast<Busy*>(p);
            uint64_t r = 0;
            b->error = call(b->d, reinterpret_cast<CallFn>(find_export(b->d, "test.trigger")), 1, &r);
        },
        &busy);
    KASSERT_TRUE(t.is_ok());
    while (__atomic_load_n(&d->threads_inside, __ATOMIC_ACQUIRE) == 0) sched::yield();
    KEXPECT(inject_fault("fault_loop", "div0").is_ok());
    KEXPECT(t.value()->join() == sched::ExitReason::Returned);
    KEXPECT(busy.error == DomainError::Faulted);
    KEXPECT(d->fault.cause == FaultRecord::Cause::Exception && d->fault.vector == 0);
    destroy(d);
}

KTEST(domctl, parser_accepts_the_documented_commands) {
    ControlCommand c;
    KASSERT_TRUE(parse_control("inject fs null\n", 15, &c).is_ok());
    KEXPECT(c.op == ControlCommand::Op::Inject);
    KEXPECT(__builtin_strcmp(c.name, "fs") == 0 && __builtin_strcmp(c.kind, "null") == 0);
    KASSERT_TRUE(parse_control("inject net", 10, &c).is_ok());
    KEXPECT(__builtin_strcmp(c.name, "net") == 0 && __builtin_strcmp(c.kind, "panic") == 0);
    KASSERT_TRUE(parse_control(" restart\tnvme \n", 15, &c).is_ok());
    KEXPECT(c.op == ControlCommand::Op::Restart && __builtin_strcmp(c.name, "nvme") == 0);
    KASSERT_TRUE(parse_control("update fs\n", 10, &c).is_ok());
    KEXPECT(c.op == ControlCommand::Op::Update && __builtin_strcmp(c.name, "fs") == 0 && c.package[0] == 0);
    KASSERT_TRUE(parse_control("update fs /lib/fs-2.dom\n", 24, &c).is_ok());
    KEXPECT(c.op == ControlCommand::Op::Update && __builtin_strcmp(c.package, "/lib/fs-2.dom") == 0);
    for (const char* kind : {"panic", "null", "ud", "div0", "stack", "loop"}) {
        char line[32];
        size_t n = snformat(line, sizeof(line), "inject x %s\n", kind);
        KEXPECT(parse_control(line, n, &c).is_ok() && __builtin_strcmp(c.kind, kind) == 0);
    }
}

KTEST(domctl, parser_refuses_everything_else) {
    const char* bad[] = {
        "",                         // nothing
        "\n",                       // an empty line
        "inject\n",                 // no name
        "restart\n",                // no name
        "inject fs sideways\n",     // unknown kind
        "inject fs null extra\n",   // too many words
        "restart fs now\n",         // too many words
        "update\n",                 // no name
        "update fs a b\n",          // too many words
        "reboot fs\n",              // unknown command
        "INJECT fs\n",              // commands are lower case
        "inject fs\nrestart fs\n",  // one command per write
        "inject f\x01s\n",          // control characters
        "inject a_name_far_too_long_for_any_manifest_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        "inject fs panicky\n",  // a kind's prefix is not the kind
        "inject fs pan\n",
    };
    ControlCommand c;
    for (const char* cmd : bad) {
        auto r = parse_control(cmd, __builtin_strlen(cmd), &c);
        if (!KEXPECT(r.is_error() && r.error().code() == Errno::Inval)) ktest_ctx.note("accepted: '%s'", cmd);
    }
}

KTEST(domctl, errors_name_the_problem) {
    auto ghost = control("inject ghost\n", 13);
    KEXPECT(ghost.is_error() && ghost.error().code() == Errno::NoEnt);
    auto ghost_restart = control("restart ghost\n", 14);
    KEXPECT(ghost_restart.is_error() && ghost_restart.error().code() == Errno::NoEnt);
    auto ghost_update = control("update ghost\n", 13);
    KEXPECT(ghost_update.is_error() && ghost_update.error().code() == Errno::NoEnt);
    auto bad = control("inject ghost sideways\n", 22);
    KEXPECT(bad.is_error() && bad.error().code() == Errno::Inval);
    Domain* d = started("fault_null");
    KASSERT_TRUE(d);
    auto no_shadow = control("restart fault_null\n", 19);  // nothing would rebind its callers
    KEXPECT(no_shadow.is_error() && no_shadow.error().code() == Errno::NotSup);
    auto no_shadow_update = control("update fault_null\n", 18);
    KEXPECT(no_shadow_update.is_error() && no_shadow_update.error().code() == Errno::NotSup);
    KEXPECT(d->get_state() == State::Running);
    KEXPECT(control("inject fault_null ud\n", 21).is_ok());
    KEXPECT(d->get_state() == State::Failed);
    KEXPECT(d->fault.cause == FaultRecord::Cause::Exception && d->fault.vector == 6);
    auto again = control("inject fault_null ud\n", 21);
    KEXPECT(again.is_error() && again.error().code() == Errno::Busy);
    destroy(d);
}

}  // namespace lamina::domain
