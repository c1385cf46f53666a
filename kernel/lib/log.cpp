#include "kernel/lib/log.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/backtrace.h"
#include "kernel/dev/serial.h"
#include "kernel/power.h"

namespace lamina {

namespace {

class ConsoleSink final : public FormatSink {
public:
    void put(const char* s, size_t n) override { serial::write_locked(s, n); }
};

}  // namespace

void kvprintf(const char* fmt, va_list ap) {
    // One call's text goes out in one burst, never mixed with another CPU's or the tty's.
    ConsoleSink sink;
    uint64_t flags = serial::lock_output();
    vformat(sink, fmt, ap);
    serial::unlock_output(flags);
}

void kprintf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

void panic(const char* fmt, ...) {
    cpu::cli();
    serial::set_panicking();
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
