// Host benchmark for cross-domain calls: generated proxies and shadows (interfaces/test_echo.idl)
// on the host proxy runtime (tests/unit/host_domains.cpp, whose domain-entry trampoline saves
// the callee-saved registers and stack pointer as the kernel's will), and exchange-heap
// allocation. The baseline is a plain virtual call to the same implementation, in the same run.
//
// Each figure is the best of 5 slices of ITERATIONS/5 calls, in TSC ticks ("cycles": rdtsc runs
// at the nominal frequency) and nanoseconds per call. Issue 4's aims: a null proxy call <= 40
// cycles, moving an RRef adds <= 10, a shadow call <= 100.

#include <cstdio>

#include "bench/host/measure.h"
#include "interfaces/test_echo.h"
#include "tests/unit/host_domains.cpp"  // the host proxy runtime, built into this program

namespace {

using lamina::Result;
using lamina::RRef;
using lamina::host::HostDomains;
using lamina::idl::Buf;
using lamina::idl::Echo;

constexpr size_t ITERATIONS = 2'000'000;
constexpr size_t REPEATS = 5;

class NullEcho final : public Echo {
public:
    [[gnu::noinline]] Result<void> nop() override { return {}; }
    Result<uint64_t> add(uint64_t a, uint64_t b) override { return a + b; }
    Result<int64_t> norm(const lamina::idl::Point& p) override { return p.x; }
    Result<RRef<Buf>> fill(RRef<Buf> b, uint8_t) override { return b; }
    Result<RRef<Buf>> fill_retry(RRef<Buf> b, uint8_t) override { return b; }
    Result<uint64_t> sum(const RRef<Buf>& b) override { return b->len; }
    Result<void> keep(RRef<lamina::idl::Parcel>) override { return {}; }
    Result<lamina::RRefBytes> make(uint32_t n) override { return lamina::RRefBytes::create(n); }
    [[gnu::noinline]] Result<RRef<Buf>> bounce(RRef<Buf> b) override { return b; }
    Result<uint64_t> forward(lamina::Handle<Echo>, uint64_t a) override { return a; }
};

class NoRecovery final : public lamina::proxy_rt::ShadowRecovery {
public:
    Result<void> recover(lamina::DomainError) override { return lamina::Errno::NoSys; }
};

using lamina::bench::Figure;

template <typename Body>
Figure measure(Body&& body) {
    return lamina::bench::measure(ITERATIONS, 1, 10000, body, REPEATS);
}

void print(const char* what, Figure f, const Figure* baseline = nullptr) {
    std::printf("  %-44s %8.1f cycles %8.1f ns", what, f.cycles, f.ns);
    if (baseline != nullptr) std::printf("   x%.1f vs virtual call", f.cycles / baseline->cycles);
    std::printf("\n");
}

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "proxy_bench: %s failed\n", what);
        std::exit(1);
    }
}

}  // namespace

int main() {
    HostDomains host;
    for (const lamina::TypeInfo* const* t = lamina::idl::test_echo_types; *t != nullptr; t++)
        check(host.heap().register_type(**t).is_ok(), "type registration");
    auto& domain = host.create_domain();
    NullEcho impl;
    lamina::idl::EchoProxy proxy(domain, impl);
    NoRecovery recovery;
    lamina::idl::EchoShadow shadow(proxy, recovery);

    // Reached through volatile pointers so the compiler cannot devirtualise or inline.
    Echo* volatile direct_p = &impl;
    Echo* volatile proxy_p = &proxy;
    Echo* volatile shadow_p = &shadow;

    std::printf("proxy_bench: %zu calls per figure (best of %zu slices)\n", ITERATIONS, REPEATS);
    Figure virt = measure([&] { check(direct_p->nop().is_ok(), "virtual nop"); });
    Figure null_proxy = measure([&] { check(proxy_p->nop().is_ok(), "proxy nop"); });
    Figure shadow_call = measure([&] { check(shadow_p->nop().is_ok(), "shadow nop"); });

    RRef<Buf> buf = RRef<Buf>::create().release_value();
    Figure virt_bounce = measure([&] {
        auto r = direct_p->bounce(std::move(buf));
        buf = r.release_value();
    });
    Figure proxy_bounce = measure([&] {
        auto r = proxy_p->bounce(std::move(buf));
        buf = r.release_value();
    });
    check(host.heap().owner_of(buf.get()).value() == lamina::KERNEL_DOMAIN, "ownership after bounce");
    // The same call with an empty handle: everything but the two moves.
    RRef<Buf> empty;
    Figure proxy_bounce_empty = measure([&] {
        auto r = proxy_p->bounce(std::move(empty));
        empty = r.release_value();
    });

    auto& heap = host.heap();
    const lamina::TypeId buf_type = lamina::ExchangeTraits<Buf>::id;
    Figure heap_alloc = measure([&] {
        void* p = heap.allocate(1, buf_type, sizeof(Buf)).value();
        check(heap.free(1, p).is_ok(), "free");
    });
    Figure rref_create = measure([&] { check(static_cast<bool>(RRef<Buf>::create().value()), "create"); });
    void* obj = heap.allocate(1, buf_type, sizeof(Buf)).value();
    Figure transfer = measure([&] {
        check(heap.transfer(obj, 1, 2).is_ok(), "transfer");
        check(heap.transfer(obj, 2, 1).is_ok(), "transfer");
    });

    print("virtual call (baseline)", virt);
    print("null proxy call", null_proxy, &virt);
    print("shadow call (shadow -> proxy)", shadow_call, &virt);
    print("virtual call moving an RRef in and out", virt_bounce);
    print("proxy call moving an RRef in and out", proxy_bounce, &virt_bounce);
    print("proxy call passing an empty RRef in and out", proxy_bounce_empty, &virt_bounce);
    std::printf("  %-44s %8.1f cycles per move (half the difference to the empty handle)\n",
                "  added by moving an RRef", (proxy_bounce.cycles - proxy_bounce_empty.cycles) / 2);
    print("exchange heap allocate+free (264 B)", heap_alloc);
    print("RRef<Buf>::create + destroy (zero-filled)", rref_create);
    print("exchange heap transfer (there and back)", transfer);
    std::printf("  aims (issue 4): null proxy <= 40 cycles, +<= 10 per RRef moved, shadow <= 100\n");
    return 0;
}
