#include "kernel/ktest/ktest.h"

#include "kernel/lib/log.h"

extern "C" const lamina::ktest::Test __ktests_start[], __ktests_end[];

namespace lamina::ktest {

bool Context::check(bool ok, const char* expr, const char* file, int line) {
    if (!ok) {
        failures_++;
        kprintf("ktest:   expectation failed: %s (%s:%d)\n", expr, file, line);
    }
    return ok;
}

void Context::note(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kprintf("ktest:   ");
    kvprintf(fmt, ap);
    kprintf("\n");
    va_end(ap);
}

namespace {
bool matches(const Test& test, const char* filter) {
    // filter is "suite" or "suite.name" prefix
    const char* s = test.suite;
    const char* f = filter;
    while (*s && *f && *s == *f) s++, f++;
    if (!*f) return true;
    if (*s || *f != '.') return false;
    f++;
    const char* n = test.name;
    while (*n && *f && *n == *f) n++, f++;
    return !*f;
}
}  // namespace

unsigned run_all(const char* filter, unsigned* passed_out) {
    unsigned passed = 0, failed = 0;
    size_t total = size_t(__ktests_end - __ktests_start);
    kprintf("ktest: running %lu registered tests%s%s\n", total, filter && *filter ? " matching " : "",
            filter ? filter : "");
    for (const Test* test = __ktests_start; test < __ktests_end; test++) {
        if (filter && *filter && !matches(*test, filter)) continue;
        kprintf("ktest: %s.%s ...\n", test->suite, test->name);
        Context ctx;
        test->fn(ctx);
        if (ctx.failed()) {
            failed++;
            kprintf("ktest: %s.%s FAILED (%u expectations)\n", test->suite, test->name, ctx.failures());
        } else {
            passed++;
            kprintf("ktest: %s.%s ok\n", test->suite, test->name);
        }
    }
    kprintf("ktest: %u passed, %u failed\n", passed, failed);
    if (passed_out) *passed_out = passed;
    return failed;
}

}  // namespace lamina::ktest
