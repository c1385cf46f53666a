#include "kernel/lib/log.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/dev/serial.h"
#include "kernel/power.h"

namespace lamina {

namespace {

// The last LOG_SIZE bytes of kernel output, for dmesg (syslog(2)); written under the serial
// output lock.
constexpr size_t LOG_SIZE = 64 * 1024;
char g_log[LOG_SIZE];
uint64_t g_log_total;    // bytes ever written; the ring holds the last min(total, LOG_SIZE)
uint64_t g_log_cleared;  // g_log_total when last cleared

void remember(const char* s, size_t n) {
    for (size_t i = 0; i < n; i++) g_log[(g_log_total + i) % LOG_SIZE] = s[i];
    g_log_total += n;
}

int g_console_loglevel = LOGLEVEL_DEFAULT;

class ConsoleSink final : public FormatSink {
public:
    explicit ConsoleSink(bool console) : console_(console) {}
    void put(const char* s, size_t n) override {
        remember(s, n);
        if (console_) serial::write_locked(s, n);
    }

private:
    bool console_;
};

void log_at(int level, const char* fmt, va_list ap) {
    // One call's text goes out in one burst, never mixed with another CPU's or the tty's.
    ConsoleSink sink(level < __atomic_load_n(&g_console_loglevel, __ATOMIC_RELAXED));
    uint64_t flags = serial::lock_output();
    vformat(sink, fmt, ap);
    serial::unlock_output(flags);
}

}  // namespace

void kvprintf(const char* fmt, va_list ap) { log_at(0, fmt, ap); }

void set_console_loglevel(int level) { __atomic_store_n(&g_console_loglevel, level, __ATOMIC_RELAXED); }

void kinfo(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_at(LOGLEVEL_INFO, fmt, ap);
    va_end(ap);
}

void kprintf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

size_t log_read(char* buf, size_t size, bool clear) {
    uint64_t flags = serial::lock_output();
    uint64_t first = g_log_total > LOG_SIZE ? g_log_total - LOG_SIZE : 0;
    if (first < g_log_cleared) first = g_log_cleared;
    uint64_t n = g_log_total - first;
    if (n > size) {
        first += n - size;
        n = size;
    }
    for (uint64_t i = 0; i < n; i++) buf[i] = g_log[(first + i) % LOG_SIZE];
    if (clear) g_log_cleared = g_log_total;
    serial::unlock_output(flags);
    return size_t(n);
}

size_t log_unread_size() {
    uint64_t flags = serial::lock_output();
    uint64_t first = g_log_total > LOG_SIZE ? g_log_total - LOG_SIZE : 0;
    if (first < g_log_cleared) first = g_log_cleared;
    size_t n = size_t(g_log_total - first);
    serial::unlock_output(flags);
    return n;
}

void log_clear() {
    uint64_t flags = serial::lock_output();
    g_log_cleared = g_log_total;
    serial::unlock_output(flags);
}

void panic(const char* fmt, ...) {
    cpu::cli();
    serial::set_panicking();
    ConsoleSink sink(true);
    format(sink, "\nKERNEL PANIC: ");
    va_list ap;
    va_start(ap, fmt);
    vformat(sink, fmt, ap);
    va_end(ap);
    format(sink, "\n");
    print_backtrace(uintptr_t(__builtin_frame_address(0)));
    power::halt_after_panic();
}

void assertion_failed(const char* expression, const char* file, int line) {
    panic("assertion failed: %s at %s:%d", expression, file, line);
}

}  // namespace lamina
