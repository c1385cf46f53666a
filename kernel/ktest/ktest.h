// In-kernel tests, in the spirit of KUnit. A test is registered with KTEST(suite, name) anywhere
// in the kernel; the linker gathers the descriptors into one section. When the command line says
// `ktest` (optionally `ktest=PATTERN`, matching "suite.name" prefixes), the kernel runs them all
// after boot, prints one line per test and a final `ktest: N passed, M failed`, and leaves QEMU
// through isa-debug-exit with a status that says whether every test passed.
#pragma once

#include <stdint.h>

namespace lamina::ktest {

class Context {
public:
    // Records a failed expectation; the test goes on (KEXPECT) or returns (KASSERT_TRUE).
    bool check(bool ok, const char* expr, const char* file, int line);
    [[gnu::format(printf, 2, 3)]] void note(const char* fmt, ...);
    bool failed() const { return failures_ != 0; }
    unsigned failures() const { return failures_; }

private:
    unsigned failures_ = 0;
};

// The compiler aligns 24-byte objects to 32 bytes; fixing size and alignment at 32 keeps the
// descriptors the linker gathers into .ktests an array without gaps.
struct alignas(32) Test {
    const char* suite;
    const char* name;
    void (*fn)(Context&);
};
static_assert(sizeof(Test) == 32);

// Runs the registered tests whose "suite.name" starts with filter (all when empty).
// Returns the number of failed tests.
unsigned run_all(const char* filter, unsigned* passed_out);

}  // namespace lamina::ktest

#define KTEST(suite, name)                                                                                           \
    static void ktest_fn_##suite##_##name(::lamina::ktest::Context& ktest_ctx);                                      \
    [[gnu::used,                                                                                                     \
      gnu::section(".ktests." #suite "." #name)]] static const ::lamina::ktest::Test ktest_desc_##suite##_##name = { \
        #suite, #name, ktest_fn_##suite##_##name};                                                                   \
    static void ktest_fn_##suite##_##name([[maybe_unused]] ::lamina::ktest::Context& ktest_ctx)

#define KEXPECT(cond) ktest_ctx.check(bool(cond), #cond, __FILE__, __LINE__)
#define KEXPECT_EQ(a, b) ktest_ctx.check((a) == (b), #a " == " #b, __FILE__, __LINE__)
#define KASSERT_TRUE(cond)                                                   \
    do {                                                                     \
        if (!ktest_ctx.check(bool(cond), #cond, __FILE__, __LINE__)) return; \
    } while (0)
