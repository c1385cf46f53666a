// A test domain for the kernel's fault containment: it publishes "test.trigger", a function
// that returns its argument when it is 0 and otherwise divides by zero (#DE).
#include "domains/lib/domain.h"

namespace {

[[gnu::noinline]] uint64_t misbehave(uint64_t arg) {
    uint64_t zero = 0;
    asm("" : "+r"(zero));
    return arg / zero;
}

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
