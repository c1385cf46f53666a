// A test domain for the kernel's fault containment: it publishes "test.trigger", a function
// that returns its argument when it is 0 and otherwise dereferences a null pointer (#PF).
#include "domains/test/fault_trigger.h"

uint64_t misbehave(uint64_t arg) {
    volatile uint64_t* p = nullptr;
    asm("" : "+r"(p));  // hide the null from the compiler, which would otherwise trap on its own
    return *p + arg;
}

int64_t domain_main(const lamina_domain_caps& caps) { return lamina::test_domain::publish_trigger(caps); }
