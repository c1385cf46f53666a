// A test domain for the kernel's fault containment: it publishes "test.trigger", a function
// that returns its argument when it is 0 and otherwise recurses without end until the stack overflows.
#include "domains/lib/domain.h"

namespace {

[[gnu::noinline]] uint64_t recurse(uint64_t depth) {
    volatile uint8_t frame[256];
    frame[0] = uint8_t(depth);
    if (depth == ~0ull) return 0;  // never: an end the compiler cannot rule out
    return recurse(depth + 1) + frame[0];
}

[[gnu::noinline]] uint64_t misbehave(uint64_t arg) { return recurse(arg); }

uint64_t trigger(uint64_t arg) {
    if (arg == 0) return 0;
    return misbehave(arg);
}

}  // namespace

int64_t domain_main(const lamina_domain_caps& caps) {
    auto fn = &trigger;
    int32_t rc = caps.interface_publish("test.trigger", 12, reinterpret_cast<void*>(fn));
    return rc ? -rc : 0;
}
