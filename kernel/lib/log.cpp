#include "kernel/lib/log.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/dev/serial.h"
#include "kernel/power.h"

namespace lamina {

namespace {

class ConsoleSink final : public FormatSink {
public:
    void put(const char* s, size_t n) override { serial::write(s, n); }
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
