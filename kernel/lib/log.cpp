#include "kernel/lib/log.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/dev/serial.h"
#include "kernel/power.h"

namespace lamina {

namespace {

// The last kLogSize bytes of kernel output, for dmesg (syslog(2)); written under the console
// lock.
constexpr size_t kLogSize = 64 * 1024;
char g_log[kLogSize];
uint64_t g_log_total;  // bytes ever written; the ring holds the last min(total, kLogSize)
uint64_t g_log_cleared;  // g_log_total when last cleared

void remember(const char* s, size_t n) {
    for (size_t i = 0; i < n; i++) g_log[(g_log_total + i) % kLogSize] = s[i];
    g_log_total += n;
}

class ConsoleSink final : public FormatSink {
public:
    void put(const char* s, size_t n) override {
        remember(s, n);
        serial::write(s, n);
    }
};

// Until the scheduler brings real spinlocks, a simple test-and-set lock with interrupts off.
volatile int console_lock = 0;
volatile bool panicking = false;

uint64_t lock_console() {
    uint64_t flags = cpu::read_flags();
    cpu::cli();
    if (!panicking)
        while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE)) cpu::pause();
    return flags;
}

void unlock_console(uint64_t flags) {
    __atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
    if (flags & (1u << 9)) cpu::sti();
}

}  // namespace

void kvprintf(const char* fmt, va_list ap) {
    ConsoleSink sink;
    uint64_t flags = lock_console();
    vformat(sink, fmt, ap);
    unlock_console(flags);
}

void kprintf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

size_t log_read(char* buf, size_t size, bool clear) {
    uint64_t flags = lock_console();
    uint64_t first = g_log_total > kLogSize ? g_log_total - kLogSize : 0;
    if (first < g_log_cleared) first = g_log_cleared;
    uint64_t n = g_log_total - first;
    if (n > size) {
        first += n - size;
        n = size;
    }
    for (uint64_t i = 0; i < n; i++) buf[i] = g_log[(first + i) % kLogSize];
    if (clear) g_log_cleared = g_log_total;
    unlock_console(flags);
    return size_t(n);
}

size_t log_unread_size() {
    uint64_t flags = lock_console();
    uint64_t first = g_log_total > kLogSize ? g_log_total - kLogSize : 0;
    if (first < g_log_cleared) first = g_log_cleared;
    size_t n = size_t(g_log_total - first);
    unlock_console(flags);
    return n;
}

void log_clear() {
    uint64_t flags = lock_console();
    g_log_cleared = g_log_total;
    unlock_console(flags);
}

void panic(const char* fmt, ...) {
    cpu::cli();
    panicking = true;
    ConsoleSink sink;
    format(sink, "\nKERNEL PANIC: ");
    va_list ap;
    va_start(ap, fmt);
    vformat(sink, fmt, ap);
    va_end(ap);
    format(sink, "\n");
    print_backtrace(uintptr_t(__builtin_frame_address(0)));
    power::halt_after_panic();
}

}  // namespace lamina
