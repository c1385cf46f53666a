// A test domain for the kernel's fault containment: it publishes "test.trigger", a function
// that returns its argument when it is 0 and otherwise recurses without end until the stack overflows.
#include "domains/test/fault_trigger.h"

namespace {

[[gnu::noinline]] uint64_t recurse(uint64_t depth) {
    volatile uint8_t frame[256];
    frame[0] = uint8_t(depth);
    if (depth == ~0ull) return 0;  // never: an end the compiler cannot rule out
    return recurse(depth + 1) + frame[0];
}

}  // namespace

uint64_t misbehave(uint64_t arg) { return recurse(arg); }

int64_t domain_main(const lamina_domain_caps& caps) { return lamina::test_domain::publish_trigger(caps); }
