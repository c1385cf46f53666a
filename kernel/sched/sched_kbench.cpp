// Scheduler benchmarks: the cost of a thread switch and of a thread's whole life.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/ktest/kbench.h"
#include "kernel/sched/scheduler.h"

namespace lamina::sched {
namespace {

struct PingPong {
    static constexpr uint64_t ROUNDS = 20000;
    volatile bool stop = false;
    uint64_t cycles = 0;
};

void measuring_yielder(void* arg) {
    auto* p = static_cast<PingPong*>(arg);
    yield();  // let the partner start
    uint64_t start = cpu::rdtsc();
    for (uint64_t i = 0; i < PingPong::ROUNDS; i++) yield();
    p->cycles = cpu::rdtsc() - start;
    p->stop = true;
}

void partner_yielder(void* arg) {
    auto* p = static_cast<PingPong*>(arg);
    while (!p->stop) yield();
}

// Two threads on one CPU hand it back and forth with yield() while the boot thread is blocked in
// join: each yield of the measuring thread is two switches (to the partner and back).
KBENCH(context_switch) {
    PingPong p;
    ThreadOptions o;
    o.cpu = 0;
    Thread* a = Thread::create("yield-a", measuring_yielder, &p, o).value();
    Thread* b = Thread::create("yield-b", partner_yielder, &p, o).value();
    a->join();
    b->join();
    kbench_ctx.report("cycles_per_switch", p.cycles / (2 * PingPong::ROUNDS), "cycles");
}

void nothing(void*) {}

KBENCH(thread_create_join) {
    constexpr unsigned N = 500;
    ThreadOptions o;
    o.cpu = 0;
    uint64_t start = cpu::rdtsc();
    for (unsigned i = 0; i < N; i++) Thread::create("short", nothing, nullptr, o).value()->join();
    kbench_ctx.report("cycles_per_thread", (cpu::rdtsc() - start) / N, "cycles");
}

}  // namespace
}  // namespace lamina::sched
