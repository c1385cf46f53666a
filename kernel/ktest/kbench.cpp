#include "kernel/ktest/kbench.h"

#include "kernel/lib/log.h"

extern "C" const lamina::kbench::Bench __kbenches_start[], __kbenches_end[];

namespace lamina::kbench {

void Context::report(const char* metric, uint64_t value, const char* unit) {
    kprintf("kbench: %s %s %lu %s\n", name_, metric, value, unit);
}

void run_all(const char* filter) {
    for (const Bench* b = __kbenches_start; b < __kbenches_end; b++) {
        if (filter && *filter && __builtin_strncmp(b->name, filter, __builtin_strlen(filter)) != 0) continue;
        Context ctx(b->name);
        b->fn(ctx);
    }
    kprintf("kbench: done\n");
}

}  // namespace lamina::kbench
