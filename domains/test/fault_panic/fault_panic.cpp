// A test domain for the kernel's fault containment: it publishes "test.trigger", a function
// that returns its argument when it is 0 and otherwise panics through the capability table.
#include "domains/test/fault_trigger.h"

uint64_t misbehave(uint64_t arg) {
    lamina::domain_rt::panic("asked to panic (argument %llu)", (unsigned long long)arg);
}

int64_t domain_main(const lamina_domain_caps& caps) { return lamina::test_domain::publish_trigger(caps); }
