// A test domain for the kernel's fault containment: it publishes "test.trigger", a function
// that returns its argument when it is 0 and otherwise executes ud2 (#UD).
#include "domains/test/fault_trigger.h"

uint64_t misbehave(uint64_t) {
    asm volatile("ud2");
    return 1;
}

int64_t domain_main(const lamina_domain_caps& caps) { return lamina::test_domain::publish_trigger(caps); }
