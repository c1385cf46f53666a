#include "kernel/time/rtc.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/time/time.h"

namespace lamina::time {

namespace {

// Ports and registers of the MC146818 RTC as PCs wire it.
constexpr uint16_t CMOS_INDEX = 0x70, CMOS_DATA = 0x71;
constexpr uint8_t RTC_SECONDS = 0x00, RTC_MINUTES = 0x02, RTC_HOURS = 0x04, RTC_DAY = 0x07, RTC_MONTH = 0x08,
                  RTC_YEAR = 0x09, RTC_STATUS_A = 0x0A, RTC_STATUS_B = 0x0B;
constexpr uint8_t STATUS_A_UPDATING = 0x80;                         // the registers are being rewritten
constexpr uint8_t STATUS_B_24_HOUR = 0x02, STATUS_B_BINARY = 0x04;  // else 12-hour, BCD
constexpr uint8_t HOURS_PM = 0x80;                                  // in 12-hour mode

uint64_t g_boot_epoch_ns = 0;  // realtime at monotonic 0
bool g_epoch_read = false;

// Days from 1970-01-01 to a proleptic Gregorian date (month 1-12): eras of 400 years, and
// years counted from March so that the leap day ends one.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = unsigned(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + int64_t(doe) - 719468;
}

uint8_t cmos(uint8_t reg) {
    cpu::outb(CMOS_INDEX, reg);
    return cpu::inb(CMOS_DATA);
}

uint64_t boot_epoch_ns() {
    if (__atomic_load_n(&g_epoch_read, __ATOMIC_ACQUIRE)) return g_boot_epoch_ns;
    while (cmos(RTC_STATUS_A) & STATUS_A_UPDATING) cpu::pause();
    uint8_t sec = cmos(RTC_SECONDS), min = cmos(RTC_MINUTES), hour = cmos(RTC_HOURS), day = cmos(RTC_DAY),
            mon = cmos(RTC_MONTH), year = cmos(RTC_YEAR);
    uint8_t b = cmos(RTC_STATUS_B);
    auto bcd = [&](uint8_t v) -> unsigned { return (b & STATUS_B_BINARY) ? v : (v & 15) + (v >> 4) * 10; };
    bool pm = hour & HOURS_PM;
    unsigned h = bcd(hour & ~HOURS_PM);
    if (!(b & STATUS_B_24_HOUR) && pm) h = (h % 12) + 12;
    // The RTC keeps a two-digit year; these machines are all past 2000.
    uint64_t days = uint64_t(days_from_civil(2000 + int64_t(bcd(year)), bcd(mon), bcd(day)));
    uint64_t secs = days * 86400 + h * 3600 + bcd(min) * 60 + bcd(sec);
    g_boot_epoch_ns = secs * 1'000'000'000ull - now_ns();
    __atomic_store_n(&g_epoch_read, true, __ATOMIC_RELEASE);
    return g_boot_epoch_ns;
}

}  // namespace

uint64_t realtime_ns() { return boot_epoch_ns() + now_ns(); }

}  // namespace lamina::time
