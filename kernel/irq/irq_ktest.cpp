// In-kernel tests of the interrupt controllers and the vector allocator. IPIs to other CPUs are
// tested by the SMP code once other CPUs run.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/ioapic.h"
#include "kernel/arch/x86_64/lapic.h"
#include "kernel/irq/irq.h"
#include "kernel/irq/msi.h"
#include "kernel/irq/vectors.h"
#include "kernel/ktest/ktest.h"
#include "kernel/time/hpet.h"
#include "kernel/time/pit.h"
#include "kernel/time/time.h"

namespace lamina::irq {
namespace {

constexpr uint64_t MS = 1'000'000;

volatile uint64_t g_count;
void count_and_eoi(arch::InterruptFrame&) {
    g_count = g_count + 1;
    lapic::eoi();
}

template <typename F>
bool wait_until(F done, uint64_t timeout_ns) {
    uint64_t end = time::now_ns() + timeout_ns;
    while (!done()) {
        if (time::now_ns() > end) return false;
        cpu::pause();
    }
    return true;
}

// A device vector with the counting handler, released at scope exit.
struct CountingVector {
    uint8_t vector = 0;
    bool ok = false;
    CountingVector() {
        auto v = allocate_vector();
        if (v.is_error()) return;
        vector = v.value();
        ok = true;
        g_count = 0;
        arch::set_interrupt_handler(vector, count_and_eoi);
    }
    ~CountingVector() {
        if (!ok) return;
        arch::set_interrupt_handler(vector, nullptr);
        (void)free_vector(vector);
    }
};

KTEST(irq, legacy_pics_are_masked) {
    KEXPECT_EQ(cpu::inb(0x21), 0xFF);
    KEXPECT_EQ(cpu::inb(0xA1), 0xFF);
}

KTEST(irq, ipi_to_self_arrives) {
    CountingVector cv;
    KASSERT_TRUE(cv.ok);
    lapic::send_ipi_self(cv.vector);
    KEXPECT(wait_until([] { return g_count == 1; }, 100 * MS));
    lapic::send_ipi(lapic::id(), cv.vector);
    KEXPECT(wait_until([] { return g_count == 2; }, 100 * MS));
    KEXPECT_EQ(lapic::error_count(), 0u);
}

KTEST(irq, vector_allocator_exhausts_and_recovers) {
    size_t initially_free = free_vector_count();
    KASSERT_TRUE(initially_free > 0);
    static uint8_t taken[256];
    size_t n = 0;
    for (;;) {
        auto v = allocate_vector();
        if (v.is_error()) {
            KEXPECT(v.error().code() == Errno::NoSpc);
            break;
        }
        KEXPECT(v.value() >= DEVICE_VECTOR_FIRST && v.value() <= DEVICE_VECTOR_LAST);
        taken[n++] = v.value();
        if (n > 256) break;
    }
    KEXPECT_EQ(n, initially_free);
    KEXPECT_EQ(free_vector_count(), 0u);
    for (size_t i = 0; i < n; i++) KEXPECT(free_vector(taken[i]).is_ok());
    KEXPECT(free_vector(taken[0]).is_error());  // double free
    KEXPECT_EQ(free_vector_count(), initially_free);
}

KTEST(irq, aligned_vector_blocks) {
    for (unsigned count : {2u, 4u, 8u, 16u, 32u}) {
        auto b = allocate_vectors(count);
        KASSERT_TRUE(b.is_ok());
        KEXPECT_EQ(b.value() % count, 0u);
        KEXPECT(free_vectors(b.value(), count).is_ok());
    }
    KEXPECT(allocate_vectors(3).is_error());
}

KTEST(irq, msi_message_targets_this_cpu) {
    MsiMessage m = compose_msi(lapic::id(), 0x41);
    KEXPECT_EQ(m.address, 0xFEE00000ull | (uint64_t(lapic::id()) << 12));
    KEXPECT_EQ(m.data, 0x41u);
}

// ISA IRQ 0 (the PIT's channel 0) through the MADT override (GSI 2 on PCs) and the IO APIC.
KTEST(irq, ioapic_routes_pit_irq0) {
    CountingVector cv;
    KASSERT_TRUE(cv.ok);
    auto gsi = ioapic::route_isa_irq(0, cv.vector, lapic::id());
    KASSERT_TRUE(gsi.is_ok());
    ktest_ctx.note("ISA IRQ 0 arrives on GSI %u", gsi.value());
    KEXPECT(ioapic::unmask(gsi.value()).is_ok());
    time::pit::start_channel0(1000);
    bool arrived = wait_until([] { return g_count >= 5; }, 500 * MS);
    KEXPECT(ioapic::mask(gsi.value()).is_ok());
    time::pit::stop_channel0();
    KEXPECT(arrived);
    // Masked: no more arrive.
    time::busy_wait_ns(2 * MS);
    uint64_t after_mask = g_count;
    time::busy_wait_ns(10 * MS);
    KEXPECT_EQ(g_count, after_mask);
}

// An HPET comparator in periodic mode, on an IO APIC input it can drive.
KTEST(irq, ioapic_routes_hpet_timer) {
    if (time::hpet::timer_count() == 0) {
        ktest_ctx.note("no HPET");
        return;
    }
    uint32_t caps = time::hpet::route_capability(0);
    uint32_t gsi = 32;
    // Prefer an input no ISA device uses (16 and up on PCs).
    for (uint32_t g = 0; g < 32 && g < ioapic::gsi_limit(); g++) {
        if (!(caps & (1u << g))) continue;
        gsi = g;
        if (g >= 16) break;
    }
    if (gsi == 32) {
        ktest_ctx.note("HPET timer 0 can reach no IO APIC input (caps %#x)", caps);
        return;
    }
    CountingVector cv;
    KASSERT_TRUE(cv.ok);
    KASSERT_TRUE(ioapic::route({gsi, false, false}, cv.vector, lapic::id()).is_ok());
    KEXPECT(ioapic::unmask(gsi).is_ok());
    // Three separate one-shot interrupts, each 2 ms ahead: every one must arrive.
    bool arrived = true;
    for (uint32_t i = 0; i < 3 && arrived; i++) {
        KASSERT_TRUE(time::hpet::start_oneshot(0, gsi, time::hpet::frequency_hz() / 500).is_ok());
        arrived = wait_until([i] { return g_count > i; }, 500 * MS);
    }
    time::hpet::stop(0);
    KEXPECT(ioapic::mask(gsi).is_ok());
    ktest_ctx.note("HPET timer 0 on GSI %u: %lu interrupts", gsi, uint64_t(g_count));
    KEXPECT(arrived);
}

KTEST(irq, no_apic_errors) { KEXPECT_EQ(lapic::error_count(), 0u); }

}  // namespace
}  // namespace lamina::irq
