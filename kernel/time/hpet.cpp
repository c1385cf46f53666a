#include "kernel/time/hpet.h"

#include "kernel/dev/acpi/platform.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/time/scale.h"

namespace lamina::time::hpet {

namespace {

// Register offsets and bits (HPET spec 2.3).
constexpr uint32_t CAPABILITIES = 0x000;
constexpr uint32_t CONFIG = 0x010;
constexpr uint32_t MAIN_COUNTER = 0x0F0;
constexpr uint32_t timer_config(unsigned n) { return 0x100 + 0x20 * n; }
constexpr uint32_t timer_comparator(unsigned n) { return 0x108 + 0x20 * n; }

constexpr uint64_t CAP_COUNT_SIZE_64 = 1ull << 13;
constexpr unsigned CAP_NUM_TIMERS_SHIFT = 8;
constexpr uint64_t CONFIG_ENABLE = 1ull << 0;
constexpr uint64_t CONFIG_LEGACY_ROUTE = 1ull << 1;
constexpr uint64_t TN_LEVEL = 1ull << 1;
constexpr uint64_t TN_INT_ENABLE = 1ull << 2;
constexpr uint64_t TN_PERIODIC = 1ull << 3;
constexpr uint64_t TN_PERIODIC_CAPABLE = 1ull << 4;
constexpr uint64_t TN_VALUE_SET = 1ull << 6;
constexpr uint64_t TN_32BIT_MODE = 1ull << 8;
constexpr unsigned TN_ROUTE_SHIFT = 9;
constexpr uint64_t TN_ROUTE_MASK = 0x1Full << TN_ROUTE_SHIFT;
constexpr uint64_t TN_FSB_ENABLE = 1ull << 14;
// 2.3.4: COUNTER_CLK_PERIOD is at most 100 ns, in femtoseconds.
constexpr uint64_t MAX_PERIOD_FS = 100'000'000;
constexpr uint64_t FS_PER_SEC = 1'000'000'000'000'000;

volatile uint8_t* g_base;
uint64_t g_frequency;
uint64_t g_mask;
unsigned g_timers;

uint64_t read64(uint32_t offset) { return *reinterpret_cast<volatile uint64_t*>(g_base + offset); }
void write64(uint32_t offset, uint64_t v) { *reinterpret_cast<volatile uint64_t*>(g_base + offset) = v; }

}  // namespace

Result<void> init() {
    const acpi::Acpi* platform = acpi::platform();
    if (!platform || !platform->hpet().present) return Errno::NoDev;
    const acpi::HpetInfo& info = platform->hpet();
    if (info.space != acpi::AddressSpace::SystemMemory) return Errno::NotSup;
    auto* base = static_cast<volatile uint8_t*>(TRY(mm::map_mmio(info.base_address, 1024)));
    uint64_t caps = *reinterpret_cast<volatile uint64_t*>(base + CAPABILITIES);
    uint64_t period_fs = caps >> 32;
    if (period_fs == 0 || period_fs > MAX_PERIOD_FS) {
        kprintf("hpet: bad counter period %lu fs\n", period_fs);
        mm::unmap_mmio(const_cast<uint8_t*>(base), 1024);
        return Errno::Inval;
    }
    g_base = base;
    g_frequency = FS_PER_SEC / period_fs;
    g_mask = (caps & CAP_COUNT_SIZE_64) ? ~0ull : 0xFFFFFFFFull;
    g_timers = unsigned((caps >> CAP_NUM_TIMERS_SHIFT) & 0x1F) + 1;
    // Interrupts off and through the IO APIC (not the legacy replacement route) for every
    // comparator until someone asks for one.
    for (unsigned n = 0; n < g_timers; n++)
        write64(timer_config(n), read64(timer_config(n)) & ~(TN_INT_ENABLE | TN_FSB_ENABLE));
    write64(CONFIG, (read64(CONFIG) & ~CONFIG_LEGACY_ROUTE) | CONFIG_ENABLE);
    return {};
}

bool available() { return g_base != nullptr; }
uint64_t frequency_hz() { return g_frequency; }
uint64_t read_counter() { return read64(MAIN_COUNTER) & g_mask; }
uint64_t counter_mask() { return g_mask; }
unsigned timer_count() { return g_base ? g_timers : 0; }

uint32_t route_capability(unsigned timer) {
    if (!g_base || timer >= g_timers) return 0;
    return uint32_t(read64(timer_config(timer)) >> 32);
}

Result<void> start_periodic(unsigned timer, uint32_t gsi, uint64_t period) {
    if (!g_base || timer >= g_timers || gsi >= 32 || period == 0) return Errno::Inval;
    if (!(route_capability(timer) & (1u << gsi))) return Errno::Inval;
    uint64_t config = read64(timer_config(timer));
    if (!(config & TN_PERIODIC_CAPABLE)) return Errno::NotSup;
    config &= ~(TN_ROUTE_MASK | TN_LEVEL | TN_FSB_ENABLE | TN_32BIT_MODE);
    config |= (uint64_t(gsi) << TN_ROUTE_SHIFT) | TN_PERIODIC | TN_INT_ENABLE | TN_VALUE_SET;
    write64(timer_config(timer), config);
    // With VAL_SET, the first comparator write sets the next match and the second the period
    // (2.3.9.2.2).
    write64(timer_comparator(timer), read_counter() + period);
    write64(timer_comparator(timer), period);
    return {};
}

Result<void> start_oneshot(unsigned timer, uint32_t gsi, uint64_t delay) {
    if (!g_base || timer >= g_timers || gsi >= 32 || delay == 0) return Errno::Inval;
    if (!(route_capability(timer) & (1u << gsi))) return Errno::Inval;
    uint64_t config = read64(timer_config(timer));
    config &= ~(TN_ROUTE_MASK | TN_LEVEL | TN_FSB_ENABLE | TN_32BIT_MODE | TN_PERIODIC | TN_VALUE_SET);
    config |= (uint64_t(gsi) << TN_ROUTE_SHIFT) | TN_INT_ENABLE;
    write64(timer_comparator(timer), read_counter() + delay);
    write64(timer_config(timer), config);
    return {};
}

void stop(unsigned timer) {
    if (!g_base || timer >= g_timers) return;
    write64(timer_config(timer), read64(timer_config(timer)) & ~(TN_INT_ENABLE | TN_PERIODIC));
}

}  // namespace lamina::time::hpet
