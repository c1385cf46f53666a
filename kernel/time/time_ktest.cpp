// In-kernel tests of the clock, the tick and one-shot timers. Timing bounds are generous: QEMU
// under TCG on a loaded machine can stall a virtual CPU for tens of milliseconds. What must hold exactly
// (monotonicity, never firing early, ordering, cancellation) is checked exactly.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/ktest/ktest.h"
#include "kernel/time/hpet.h"
#include "kernel/time/internal.h"
#include "kernel/time/scale.h"
#include "kernel/time/time.h"

namespace lamina::time {
namespace {

constexpr uint64_t MS = 1'000'000;

// Spins with interrupts enabled (so timers can fire) until done() or the timeout.
template <typename F>
bool wait_until(F done, uint64_t timeout_ns) {
    uint64_t end = now_ns() + timeout_ns;
    while (!done()) {
        if (now_ns() > end) return false;
        cpu::pause();
    }
    return true;
}

KTEST(time, clock_is_monotonic) {
    KASSERT_TRUE(cpu::interrupts_enabled());
    uint64_t prev = now_ns();
    KEXPECT(prev > 0);
    unsigned backwards = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t t = now_ns();
        if (t < prev) backwards++;
        prev = t;
    }
    KEXPECT_EQ(backwards, 0u);
}

KTEST(time, clock_advances_at_hpet_rate) {
    if (!hpet::available()) {
        ktest_ctx.note("no HPET; nothing to compare with");
        return;
    }
    // Each HPET read is bracketed by two clock reads, and retried until the bracket is narrow:
    // under emulation one device read can stall for milliseconds.
    auto read = [](uint64_t* clock) {
        uint64_t best_window = UINT64_MAX, h = 0;
        for (int i = 0; i < 8; i++) {
            uint64_t before = now_ns();
            uint64_t counter = hpet::read_counter();
            uint64_t after = now_ns();
            if (after - before < best_window) {
                best_window = after - before;
                h = counter;
                *clock = before + (after - before) / 2;
            }
        }
        return h;
    };
    uint64_t mask = hpet::counter_mask();
    uint64_t want = mul_div(50 * MS, hpet::frequency_hz(), NS_PER_SEC);
    uint64_t t0 = 0, t1 = 0;
    uint64_t h0 = read(&t0);
    while (((hpet::read_counter() - h0) & mask) < want) cpu::pause();
    uint64_t h1 = read(&t1);
    uint64_t hpet_ns = mul_div((h1 - h0) & mask, NS_PER_SEC, hpet::frequency_hz());
    uint64_t clock_ns = t1 - t0;
    ktest_ctx.note("50 ms by HPET: %lu ns by now_ns()", clock_ns);
    KEXPECT(clock_ns >= hpet_ns - hpet_ns / 50);
    KEXPECT(clock_ns <= hpet_ns + hpet_ns / 50);
}

// The fallback reference for machines without an HPET. On an idle host the PIT agrees with the
// HPET to 0.1%, but on a loaded one it has read up to 50% high under TCG (not yet understood:
// the polling brackets stay narrow), so this checks only that it is the same order of magnitude
// and reports the figure.
KTEST(time, pit_calibration_agrees) {
    uint64_t pit_hz = internal::calibrate(internal::Reference::Pit, false).tsc_hz;
    ktest_ctx.note("TSC by PIT %lu kHz, by %s %lu kHz", pit_hz / 1000, reference_name(), tsc_hz() / 1000);
    KEXPECT(pit_hz >= tsc_hz() / 2);
    KEXPECT(pit_hz <= tsc_hz() * 2);
}

KTEST(time, busy_wait_waits_long_enough) {
    uint64_t t0 = now_ns();
    busy_wait_ns(3 * MS);
    uint64_t elapsed = now_ns() - t0;
    KEXPECT(elapsed >= 3 * MS);
    ktest_ctx.note("busy_wait_ns(3 ms) took %lu ns", elapsed);
}

KTEST(time, tick_runs_at_configured_rate) {
    uint64_t n0 = ticks(), m0 = missed_ticks();
    uint64_t t0 = now_ns();
    busy_wait_ns(200 * MS);
    uint64_t n = ticks() - n0, missed = missed_ticks() - m0;
    uint64_t elapsed = now_ns() - t0;
    uint64_t expected = elapsed / TICK_PERIOD_NS;
    ktest_ctx.note("%lu ticks (%lu missed) in %lu ms (%u Hz: %lu expected)", n, missed, elapsed / MS, TICK_HZ,
                   expected);
    // Every tick period that passed is either taken or counted as missed (the interrupt came more
    // than a period late, which a loaded host running TCG does cause); how many are taken is
    // up to the host, so only some are required. A virtual CPU descheduled by the host for part
    // of a period shifts the grid without a period being counted either way, so the lower bound
    // allows half of the periods to go unaccounted; a tick at the wrong rate still fails.
    KEXPECT(2 * (n + missed) + 2 >= expected);
    KEXPECT(n + missed <= expected + 2);
    KEXPECT(n >= 2);
}

struct Fired {
    volatile bool fired = false;
    uint64_t at = 0;
};

void record(void* context) {
    auto* f = static_cast<Fired*>(context);
    f->at = now_ns();
    f->fired = true;
}

KTEST(time, one_shot_fires_after_deadline) {
    for (uint64_t delay : {1 * MS, 5 * MS, 12 * MS}) {
        Fired f;
        Timer t;
        cpu::cli();  // so that a stall of the virtual CPU cannot let it fire before the check
        uint64_t deadline = now_ns() + delay;
        t.arm(deadline, record, &f);
        KEXPECT(t.armed());
        cpu::sti();
        KEXPECT(wait_until([&] { return f.fired; }, 1000 * MS));
        KEXPECT(!t.armed());
        KEXPECT(f.at >= deadline);
        uint64_t late = f.at - deadline;
        ktest_ctx.note("%lu ms timer: %lu us late", delay / MS, late / 1000);
        KEXPECT(late < 250 * MS);  // generous: a loaded host stalls TCG vCPUs for tens of ms
    }
}

KTEST(time, timers_fire_in_deadline_order) {
    constexpr int N = 6;
    const uint64_t offsets_ms[N] = {9, 2, 6, 4, 6, 1};
    static int order[N];
    static volatile int fired;
    fired = 0;
    struct Slot {
        int index;
        Timer timer;
        uint64_t deadline;
        uint64_t at;
    };
    static Slot slots[N];
    // All armed before any can fire, even if the virtual CPU stalls while arming.
    cpu::cli();
    uint64_t base = now_ns();
    for (int i = 0; i < N; i++) {
        slots[i].index = i;
        slots[i].deadline = base + offsets_ms[i] * MS;
        slots[i].timer.arm(
            slots[i].deadline,
            [](void* c) {
                auto* s = static_cast<Slot*>(c);
                s->at = now_ns();
                order[fired] = s->index;
                fired = fired + 1;
            },
            &slots[i]);
    }
    cpu::sti();
    KASSERT_TRUE(wait_until([] { return fired == N; }, 2000 * MS));
    // Deadline order, and arming order between the two equal deadlines (2 before 4).
    const int expected[N] = {5, 1, 3, 2, 4, 0};
    for (int i = 0; i < N; i++) KEXPECT_EQ(order[i], expected[i]);
    for (int i = 0; i < N; i++) KEXPECT(slots[i].at >= slots[i].deadline);
}

KTEST(time, cancelled_timer_does_not_fire) {
    Fired kept, cancelled;
    Timer keep, drop;
    cpu::cli();  // nothing may fire before the cancel, however the virtual CPU is scheduled
    uint64_t base = now_ns();
    drop.arm(base + 3 * MS, record, &cancelled);
    keep.arm(base + 6 * MS, record, &kept);
    KEXPECT(drop.cancel());
    KEXPECT(!drop.armed());
    KEXPECT(!drop.cancel());  // a second cancel has nothing to cancel
    cpu::sti();
    KEXPECT(wait_until([&] { return kept.fired; }, 1000 * MS));  // past drop's deadline too
    busy_wait_ns(2 * MS);
    KEXPECT(!cancelled.fired);
    // Cancelling one that already fired says so.
    KEXPECT(!keep.cancel());
}

struct Repeat {
    Timer timer;
    volatile int count = 0;
};

void repeat(void* c) {
    auto* self = static_cast<Repeat*>(c);
    self->count = self->count + 1;
    if (self->count < 5) self->timer.arm_after(1 * MS, repeat, self);
}

KTEST(time, callback_can_rearm_its_timer) {
    static Repeat r;
    r.count = 0;
    r.timer.arm_after(1 * MS, repeat, &r);
    KEXPECT(wait_until([] { return r.count == 5; }, 2000 * MS));
    busy_wait_ns(3 * MS);
    KEXPECT_EQ(r.count, 5);
    KEXPECT(!r.timer.armed());
}

KTEST(time, tick_handler_is_called) {
    static volatile uint64_t calls;
    calls = 0;
    set_tick_handler([] { calls = calls + 1; });
    bool ok = wait_until([] { return calls >= 3; }, 1000 * MS);
    set_tick_handler(nullptr);
    KEXPECT(ok);
}

}  // namespace
}  // namespace lamina::time
