// In-kernel benchmarks. KBENCH(name) registers one; the kernel command line `kbench` (or
// `kbench=NAME` prefix) runs them after boot, each printing `kbench: NAME METRIC VALUE UNIT`
// lines, then exits QEMU. bench/run collects the lines. Figures, never pass/fail.
#pragma once

#include <stdint.h>

namespace lamina::kbench {

class Context {
public:
    explicit Context(const char* name) : name_(name) {}
    // One figure: e.g. report("cycles_per_op", 812, "cycles").
    void report(const char* metric, uint64_t value, const char* unit);

private:
    const char* name_;
};

struct alignas(32) Bench {
    const char* name;
    void (*fn)(Context&);
    uint64_t reserved[2];
};
static_assert(sizeof(Bench) == 32);

void run_all(const char* filter);

}  // namespace lamina::kbench

#define KBENCH(name)                                                                                            \
    static void kbench_fn_##name(::lamina::kbench::Context& kbench_ctx);                                        \
    [[gnu::used, gnu::section(".kbenches." #name)]] static const ::lamina::kbench::Bench kbench_desc_##name = { \
        #name, kbench_fn_##name, {}};                                                                           \
    static void kbench_fn_##name([[maybe_unused]] ::lamina::kbench::Context& kbench_ctx)
