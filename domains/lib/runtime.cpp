// The domain entry, logging and panics: the small part of libdomain that talks to the kernel.
#include "domains/lib/domain.h"

#include <lamina/format.h>

namespace lamina::domain_rt {

namespace {

const lamina_domain_caps* g_caps;

// Same major version, and a table with at least every field this domain was built with (a
// newer minor version only appends fields, so the size says enough).
bool compatible(const lamina_domain_caps* c) {
    return c && (c->abi_version >> 16) == LAMINA_DOMAIN_ABI_MAJOR && c->size >= sizeof(lamina_domain_caps);
}

// Frames the compiler can neither merge nor turn into a loop: each call takes 256 more bytes of
// the thread's stack, until the guard page below it.
[[gnu::noinline]] uint64_t recurse_forever(uint64_t depth) {
    volatile uint8_t frame[256];
    frame[0] = uint8_t(depth);
    if (depth == ~0ull) return 0;  // never: an end the compiler cannot rule out
    return recurse_forever(depth + 1) + frame[0];
}

// What the kernel calls (through the LAMINA_INJECT_EXPORT export) to make this domain fail the
// way a bug in it would: the fault is raised here, in the domain's own code, so the kernel sees
// and reports it (exception, registers, backtrace through these frames) like any other. The
// operands go through empty asm statements so the compiler cannot see the faults coming and
// replace them with traps of its own.
[[gnu::noinline]] uint64_t inject(uint64_t kind) {
    switch (kind) {
        case LAMINA_INJECT_PANIC:
            panic("fault injected by the kernel");
        case LAMINA_INJECT_NULL: {
            volatile uint64_t* p = nullptr;
            asm("" : "+r"(p));
            *p = kind;
            return 0;
        }
        case LAMINA_INJECT_UD:
            asm volatile("ud2");
            return 0;
        case LAMINA_INJECT_DIV0: {
            uint64_t zero = 0;
            asm("" : "+r"(zero));
            return kind / zero;
        }
        case LAMINA_INJECT_STACK:
            return recurse_forever(kind);
        case LAMINA_INJECT_LOOP:
            for (;;) asm volatile("" ::: "memory");
    }
    return ~0ull;  // a kind this runtime does not know: no fault
}

}  // namespace

const lamina_domain_caps& caps() { return *g_caps; }

namespace {

// One line for the kernel's log, formatted and cut to the buffer.
struct Line {
    char text[256];
    size_t length;
    Line(const char* fmt, va_list ap) {
        size_t n = vsnformat(text, sizeof(text), fmt, ap);
        length = n < sizeof(text) ? n : sizeof(text) - 1;
    }
};

}  // namespace

void log(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    Line line(fmt, ap);
    va_end(ap);
    g_caps->log(line.text, line.length);
}

void panic(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    Line line(fmt, ap);
    va_end(ap);
    if (g_caps) g_caps->panic(line.text, line.length);
    __builtin_trap();  // no table to report through: a #UD the kernel sees as a domain fault
}

}  // namespace lamina::domain_rt

namespace lamina {

void assertion_failed(const char* expression, const char* file, int line) {
    domain_rt::panic("assertion failed: %s at %s:%d", expression, file, line);
}

}  // namespace lamina

extern "C" {

[[gnu::visibility("default")]] int64_t lamina_domain_entry(const lamina_domain_caps* caps) {
    if (!lamina::domain_rt::compatible(caps)) return -22;  // EINVAL: refuse to run on a foreign ABI
    lamina::domain_rt::g_caps = caps;
    // Before the domain's own code, so injection works even into a domain that hangs in its
    // start. A kernel that refuses it falls back to failing the domain without running it.
    auto inject = &lamina::domain_rt::inject;
    if (caps->interface_publish)  // the host tests' tables leave what they do not offer null
        (void)caps->interface_publish(LAMINA_INJECT_EXPORT, sizeof(LAMINA_INJECT_EXPORT) - 1,
                                      reinterpret_cast<void*>(inject));
    return domain_main(*caps);
}

// Called through a vtable slot of a pure virtual function: a bug in the domain.
void __cxa_pure_virtual() { lamina::domain_rt::panic("pure virtual function called"); }

}  // extern "C"
