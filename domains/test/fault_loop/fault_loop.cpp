// A test domain for the kernel's fault containment: it publishes "test.trigger", a function
// that returns its argument when it is 0 and otherwise loops forever (the watchdog ends it).
#include "domains/test/fault_trigger.h"

uint64_t misbehave(uint64_t arg) {
    for (;;) asm volatile("" : "+r"(arg));
    return arg;
}

int64_t domain_main(const lamina_domain_caps& caps) { return lamina::test_domain::publish_trigger(caps); }
