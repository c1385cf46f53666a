// The smallest domain: logs a greeting through its capability table, uses its private heap,
// and returns a known value. The host tests load it at different addresses and run it; the
// pointers below are what they check relocation with.
#include <lamina/page.h>

#include "domains/lib/domain.h"

// In .data: a pointer the loader must relocate (R_X86_64_RELATIVE).
const char* hello_greeting = "hello from a domain";

namespace {

int64_t square(int64_t v) { return v * v; }
int64_t twice(int64_t v) { return 2 * v; }

// Looks up the interface the manifest imports and one it does not: the kernel's ktest calls
// this inside the domain (domain::call) and checks what the capability answered. Returns the
// looked-up object's first word (what the kernel provided) or the errno (positive, as the
// capability returns it); the unlisted lookup's errno goes to bits 32 and up.
uint64_t lookup_probe() {
    const lamina_domain_caps& caps = lamina::domain_rt::caps();
    void* object = nullptr;
    int32_t unlisted = caps.interface_lookup("test.unlisted", 13, &object);
    int32_t err = caps.interface_lookup("test.greeting", 13, &object);
    uint64_t low = err ? uint64_t(uint32_t(err)) : *static_cast<uint32_t*>(object);
    return (uint64_t(uint32_t(unlisted)) << 32) | low;
}

// For `ms` milliseconds, calls capabilities that fail (and do not log), with some work of its
// own in between. Each failing call is still a return from the kernel to the domain, which
// restarts the watchdog: a watchdog shorter than the whole run must not fire. Returns how many
// calls did not fail as expected.
uint64_t failing_capabilities(uint64_t ms) {
    const lamina_domain_caps& caps = lamina::domain_rt::caps();
    uint64_t end = caps.time_now_ns() + ms * 1'000'000;
    uint64_t wrong = 0;
    void* out = nullptr;
    while (caps.time_now_ns() < end) {
        wrong += caps.alloc_pages(0, &out) != 22;                        // EINVAL
        wrong += caps.interface_publish("hello.probe", 11, &out) != 17;  // EEXIST
        wrong += caps.interface_lookup("test.greeting", 13, &out) != 2;  // ENOENT: not provided
        wrong += caps.exchange_alloc(8, 3, 0, &out) != 22;               // EINVAL: alignment
        for (int i = 0; i < 2000; i++) asm volatile("");
    }
    return wrong;
}

// The probes the kernel's ktests run: 0 the lookup probe, N > 0 the failing capabilities for N ms.
uint64_t probe(uint64_t arg) { return arg ? failing_capabilities(arg) : lookup_probe(); }

}  // namespace

// In .data.rel.ro (made read-only after relocation): function pointers, also relocated. The
// declaration gives the constant external linkage, so its symbol keeps its plain name.
extern int64_t (*const hello_operations[2])(int64_t);
int64_t (*const hello_operations[])(int64_t) = {square, twice};

int64_t domain_main(const lamina_domain_caps& caps) {
    using namespace lamina::domain_rt;
    log("%s (ABI %u.%u, domain %llu)", hello_greeting, caps.abi_version >> 16, caps.abi_version & 0xffff,
        (unsigned long long)caps.domain_id);
    auto* small = static_cast<int64_t*>(malloc(sizeof(int64_t)));
    auto* large = static_cast<char*>(malloc(3 * lamina::PAGE_SIZE));
    if (!small || !large) return -12;  // ENOMEM
    // Through the table in memory (the barrier stops the compiler from folding the calls), so
    // that the relocated pointers are what runs.
    auto* ops = hello_operations;
    asm("" : "+r"(ops));
    *small = ops[0](6) + ops[1](3);  // 42
    large[3 * lamina::PAGE_SIZE - 1] = 1;
    int64_t result = *small;
    if (caps.interface_publish("hello.probe", 11, reinterpret_cast<void*>(&probe)) != 0) result = -1;
    free(large);
    free(small);
    return result;
}
