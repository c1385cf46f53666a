// Calibration and the monotonic clock. See time.h for the design.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/lapic.h"
#include "kernel/irq/vectors.h"
#include "kernel/lib/log.h"
#include "kernel/time/hpet.h"
#include "kernel/time/internal.h"
#include "kernel/time/pit.h"
#include "kernel/time/scale.h"
#include "kernel/time/time.h"

namespace lamina::time {

namespace {

uint64_t g_tsc_base;
Scale g_tsc_to_ns;
Scale g_ns_to_lapic;
uint64_t g_tsc_hz;
uint64_t g_lapic_hz;
bool g_tsc_invariant;
const char* g_reference = "none";

// Runs the TSC and the (masked, one-shot) local APIC timer over an interval timed by the
// reference. Under emulation a device register read can stall for milliseconds (the vCPU waits
// for the emulator's device lock), so every reading of the reference is bracketed by two TSC
// reads and retried until the bracket is narrow; the reading is taken to have happened at the
// bracket's middle.
constexpr uint64_t CALIBRATION_NS = 10'000'000;
constexpr int READ_ATTEMPTS = 8;

struct Point {
    uint64_t tsc;
    uint64_t reference;
    uint32_t lapic;
};

template <typename ReadReference>
Point read_point(ReadReference read_reference, bool with_lapic) {
    Point best{};
    uint64_t best_window = UINT64_MAX;
    for (int i = 0; i < READ_ATTEMPTS; i++) {
        uint64_t before = cpu::rdtsc();
        uint64_t reference = read_reference();
        uint32_t lapic = with_lapic ? lapic::timer_current_count() : 0;
        uint64_t after = cpu::rdtsc();
        if (after - before < best_window) {
            best_window = after - before;
            best = {before + (after - before) / 2, reference, lapic};
        }
    }
    return best;
}

struct Sample {
    uint64_t tsc_cycles;
    uint64_t lapic_counts;
    uint64_t ns;  // the interval as the reference measured it
};

Sample measure_with_hpet(bool with_lapic) {
    uint64_t mask = hpet::counter_mask();
    uint64_t want = mul_div(CALIBRATION_NS, hpet::frequency_hz(), NS_PER_SEC);
    if (with_lapic) lapic::timer_start(irq::VECTOR_LAPIC_TIMER, lapic::TimerMode::OneShot, 0xFFFFFFFF, true);
    Point p0 = read_point(hpet::read_counter, with_lapic);
    while (((hpet::read_counter() - p0.reference) & mask) < want) cpu::pause();
    Point p1 = read_point(hpet::read_counter, with_lapic);
    if (with_lapic) lapic::timer_stop();
    return {p1.tsc - p0.tsc, uint64_t(p0.lapic - p1.lapic),
            mul_div((p1.reference - p0.reference) & mask, NS_PER_SEC, hpet::frequency_hz())};
}

// The PIT gives no counter to read, only the moment its countdown ends, so the end is bracketed
// by the polling loop instead (a stall there shows as a long last iteration). A measurement with
// wide brackets is retried; the narrowest of the attempts is kept.
Sample measure_with_pit(bool with_lapic) {
    // 10 ms is 11932 PIT ticks; channel 2's countdown is polled through port 0x61.
    uint16_t ticks = uint16_t(mul_div(CALIBRATION_NS, pit::FREQUENCY_HZ, NS_PER_SEC));
    Sample best{};
    uint64_t best_window = UINT64_MAX;
    for (int attempt = 0;; attempt++) {
        if (with_lapic) lapic::timer_start(irq::VECTOR_LAPIC_TIMER, lapic::TimerMode::OneShot, 0xFFFFFFFF, true);
        uint64_t t0 = cpu::rdtsc();
        pit::start_countdown(ticks);  // counting starts with its last port write (the gate)
        uint64_t start = cpu::rdtsc();
        uint32_t l0 = with_lapic ? lapic::timer_current_count() : 0;
        uint64_t last = cpu::rdtsc(), end;
        for (;;) {
            bool done = pit::countdown_done();
            end = cpu::rdtsc();
            if (done) break;
            last = end;
        }
        uint32_t l1 = with_lapic ? lapic::timer_current_count() : 0;
        if (with_lapic) lapic::timer_stop();
        // The count starts at the gate's rising edge on an 8254, at the count write under QEMU
        // (which ignores the gate in mode 0): both lie in [t0, start].
        uint64_t window = (end - last) + (start - t0);
        Sample s{end - (t0 + (start - t0) / 2), uint64_t(l0 - l1), mul_div(ticks, NS_PER_SEC, pit::FREQUENCY_HZ)};
        if (window < best_window) {
            best_window = window;
            best = s;
        }
        if (window * 200 < s.tsc_cycles || attempt == READ_ATTEMPTS) return best;
    }
}

uint64_t median3(uint64_t a, uint64_t b, uint64_t c) {
    if (a > b) {
        uint64_t t = a;
        a = b;
        b = t;
    }
    if (b > c) {
        uint64_t t = b;
        b = c;
        c = t;
    }
    if (a > b) {
        uint64_t t = a;
        a = b;
        b = t;
    }
    return b;
}

}  // namespace

internal::Calibration internal::calibrate(Reference reference, bool with_lapic) {
    uint64_t tsc[3], lapic_hz[3];
    uint64_t flags = cpu::read_flags();
    cpu::cli();
    for (int i = 0; i < 3; i++) {
        Sample s = reference == Reference::Hpet ? measure_with_hpet(with_lapic) : measure_with_pit(with_lapic);
        tsc[i] = Scale::frequency_from(s.tsc_cycles, s.ns);
        lapic_hz[i] = Scale::frequency_from(s.lapic_counts, s.ns);
    }
    if (flags & (1u << 9)) cpu::sti();
    return {median3(tsc[0], tsc[1], tsc[2]), median3(lapic_hz[0], lapic_hz[1], lapic_hz[2])};
}

Result<void> init() {
    auto hpet_ready = hpet::init();
    bool use_hpet = hpet_ready.is_ok();
    if (!use_hpet && hpet_ready.error().code() != Errno::NoDev)
        kprintf("time: HPET unusable (%s); calibrating against the PIT\n", hpet_ready.error().name());
    g_reference = use_hpet ? "HPET" : "PIT";

    auto measured = internal::calibrate(use_hpet ? internal::Reference::Hpet : internal::Reference::Pit, true);
    g_tsc_hz = measured.tsc_hz;
    g_lapic_hz = measured.lapic_hz;
    if (g_tsc_hz < 1'000'000 || g_lapic_hz < 10'000) {
        kprintf("time: calibration failed (TSC %lu Hz, APIC timer %lu Hz)\n", g_tsc_hz, g_lapic_hz);
        return Errno::IO;
    }

    auto ext = cpu::cpuid(0x80000000);
    g_tsc_invariant = ext.eax >= 0x80000007 && (cpu::cpuid(0x80000007).edx & (1u << 8));

    g_tsc_to_ns = Scale::from_frequencies(g_tsc_hz, NS_PER_SEC);
    g_ns_to_lapic = Scale::from_frequencies(NS_PER_SEC, g_lapic_hz);
    __atomic_store_n(&g_tsc_base, cpu::rdtsc(), __ATOMIC_RELEASE);

    kprintf("time: reference %s", g_reference);
    if (use_hpet) kprintf(" (%lu Hz, %u comparators)", hpet::frequency_hz(), hpet::timer_count());
    kprintf("\ntime: TSC %lu.%03lu MHz%s\n", g_tsc_hz / 1'000'000, g_tsc_hz / 1000 % 1000,
            g_tsc_invariant ? ", invariant" : ", not invariant (assumed constant)");
    kprintf("time: local APIC timer %lu.%03lu MHz (divide by %u), tick %u Hz\n", g_lapic_hz / 1'000'000,
            g_lapic_hz / 1000 % 1000, lapic::TIMER_DIVISOR, TICK_HZ);
    init_this_cpu();
    return {};
}

void init_this_cpu() { internal::start_cpu_tick(); }

uint64_t now_ns() {
    uint64_t base = g_tsc_base;
    uint64_t tsc = cpu::rdtsc();
    // A CPU whose TSC lags the boot CPU's by a few cycles must not see time before the base.
    return tsc > base ? g_tsc_to_ns.apply(tsc - base) : 0;
}

void busy_wait_ns(uint64_t ns) {
    // Before calibration now_ns() stands still: waiting on it would never end.
    if (g_tsc_hz == 0) panic("time::busy_wait_ns called before time::init");
    uint64_t end = now_ns() + ns;
    while (now_ns() < end) cpu::pause();
}

uint64_t tsc_hz() { return g_tsc_hz; }
uint64_t lapic_timer_hz() { return g_lapic_hz; }
const char* reference_name() { return g_reference; }
bool tsc_invariant() { return g_tsc_invariant; }

uint32_t internal::lapic_counts_for(uint64_t ns) {
    uint64_t counts = g_ns_to_lapic.apply(ns) + 1;  // the scale rounds down; never fire early
    return counts > 0xFFFFFFFF ? 0xFFFFFFFF : uint32_t(counts);
}

}  // namespace lamina::time
