// What every fault test domain shares: it publishes "test.trigger", a function that returns 0
// for argument 0 (a healthy call, to show the domain works) and otherwise calls the domain's
// misbehave(arg), which faults in that domain's own way (panic, #PF, #UD, #DE, stack overflow,
// endless loop).
#pragma once

#include "domains/lib/domain.h"

// Defined by each fault test domain; never inlined, so it shows in the fault's backtrace.
[[gnu::noinline]] uint64_t misbehave(uint64_t arg);

namespace lamina::test_domain {

inline uint64_t trigger(uint64_t arg) { return arg == 0 ? 0 : misbehave(arg); }

inline int64_t publish_trigger(const lamina_domain_caps& caps) {
    auto fn = &trigger;
    int32_t rc = caps.interface_publish("test.trigger", 12, reinterpret_cast<void*>(fn));
    return rc ? -rc : 0;
}

}  // namespace lamina::test_domain
