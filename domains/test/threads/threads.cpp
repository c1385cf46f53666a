// A test domain that starts threads of its own: two workers that count and sleep forever, until
// the kernel tears the domain down. It publishes "test.count", which returns how many times the
// workers have counted so far.
#include "domains/lib/domain.h"

namespace {

uint64_t g_count;

void worker(void*) {
    for (;;) {
        __atomic_fetch_add(&g_count, 1, __ATOMIC_RELAXED);
        lamina::domain_rt::caps().sleep_ns(1'000'000);
    }
}

uint64_t count(uint64_t) { return __atomic_load_n(&g_count, __ATOMIC_RELAXED); }

}  // namespace

int64_t domain_main(const lamina_domain_caps& caps) {
    for (int i = 0; i < 2; i++) {
        uint64_t id = 0;
        if (int32_t rc = caps.thread_create(worker, nullptr, "worker", 6, &id); rc != 0) return -rc;
    }
    auto fn = &count;
    int32_t rc = caps.interface_publish("test.count", 10, reinterpret_cast<void*>(fn));
    return rc ? -rc : 0;
}
