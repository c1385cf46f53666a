// The net domain's entry: the netstack core (domains/net/service.h) over the capability table.
// It looks up the imported NIC and the kernel's readiness sink, starts lwIP with a seed of its
// own, attaches the NIC as eth0, publishes Net, and starts the loop thread.
//
// Two kinds of thread run the core: the kernel's calls (the socket layer's, on the calling
// process's thread) and the loop thread (receive, timers, transmit). lwIP is single-threaded
// (NO_SYS), so one lock serializes them. It is a spinlock: nothing inside the core waits (the
// NIC's wait() is called outside it, and NetEvents only records and wakes), so it is held for
// the length of one step or one request.
#include <new>

#include <lamina/own.h>

#include "domains/lib/domain.h"
#include "domains/net/service.h"

namespace {

using namespace lamina;

class DomainPlatform final : public net::NetPlatform {
public:
    uint64_t now_ns() override { return domain_rt::caps().time_now_ns(); }
    void log(const char* line) override { domain_rt::log("%s", line); }
    [[noreturn]] void fatal(const char* line) override { domain_rt::panic("%s", line); }
};

class CoreLock {
public:
    void lock() {
        for (uint32_t spins = 0; __atomic_exchange_n(&held_, 1, __ATOMIC_ACQUIRE); spins++) {
            while (__atomic_load_n(&held_, __ATOMIC_RELAXED)) asm volatile("pause");
            // A step can take a while under a flood: let the kernel see this thread now and then
            // (sleep_ns(0) restarts the watchdog and leaves at once if the domain failed).
            if ((spins & 1023) == 1023) (void)domain_rt::caps().sleep_ns(0);
        }
    }
    void unlock() { __atomic_store_n(&held_, 0, __ATOMIC_RELEASE); }

private:
    int held_ = 0;
};

class Locked {
public:
    explicit Locked(CoreLock& l) : l_(l) { l_.lock(); }
    ~Locked() { l_.unlock(); }
    Locked(const Locked&) = delete;

private:
    CoreLock& l_;
};

// What the kernel calls: Net with every method under the lock.
class LockedNet final : public idl::Net {
public:
    LockedNet(net::NetService& s, CoreLock& l) : s_(s), l_(l) {}

    Result<uint32_t> socket(idl::SockKind kind, uint8_t protocol) override {
        Locked g(l_);
        return s_.socket(kind, protocol);
    }
    Result<idl::NetAddr> bind(uint32_t sock, const idl::NetAddr& addr) override {
        Locked g(l_);
        return s_.bind(sock, addr);
    }
    Result<void> listen(uint32_t sock, uint32_t backlog) override {
        Locked g(l_);
        return s_.listen(sock, backlog);
    }
    Result<void> connect(uint32_t sock, const idl::NetAddr& addr) override {
        Locked g(l_);
        return s_.connect(sock, addr);
    }
    Result<idl::NetAccepted> accept(uint32_t sock) override {
        Locked g(l_);
        return s_.accept(sock);
    }
    Result<uint32_t> send(uint32_t sock, uint32_t flags, const idl::NetAddr& to, const RRefBytes& buf) override {
        Locked g(l_);
        return s_.send(sock, flags, to, buf);
    }
    Result<RRef<idl::NetMessage>> recv(uint32_t sock, uint32_t flags, RRef<idl::NetMessage> msg) override {
        Locked g(l_);
        return s_.recv(sock, flags, static_cast<RRef<idl::NetMessage>&&>(msg));
    }
    Result<void> shutdown(uint32_t sock, uint8_t how) override {
        Locked g(l_);
        return s_.shutdown(sock, how);
    }
    Result<void> close(uint32_t sock) override {
        Locked g(l_);
        return s_.close(sock);
    }
    Result<void> setopt(uint32_t sock, idl::SockOpt opt, int32_t value) override {
        Locked g(l_);
        return s_.setopt(sock, opt, value);
    }
    Result<int32_t> getopt(uint32_t sock, idl::SockOpt opt) override {
        Locked g(l_);
        return s_.getopt(sock, opt);
    }
    Result<idl::SockNames> names(uint32_t sock) override {
        Locked g(l_);
        return s_.names(sock);
    }
    Result<idl::NetIfStatus> if_status(uint32_t index) override {
        Locked g(l_);
        return s_.if_status(index);
    }
    Result<void> if_configure(uint32_t index, const idl::NetIfConfig& config) override {
        Locked g(l_);
        return s_.if_configure(index, config);
    }

private:
    net::NetService& s_;
    CoreLock& l_;
};

// The longest the loop sleeps in the NIC's wait() when lwIP has no timer due: well inside the
// watchdog, and a bound on how late a link change is noticed.
constexpr uint64_t MAX_SLEEP_NS = 250'000'000;

struct Instance {
    Instance(idl::NetEvents& events, idl::Nic& nic) : service(events), exported(service, lock), nic(nic) {}

    DomainPlatform platform;
    CoreLock lock;
    net::NetService service;
    LockedNet exported;
    idl::Nic& nic;
};

void loop(void* arg) {
    auto* in = static_cast<Instance*>(arg);
    for (;;) {
        uint64_t sleep;
        {
            Locked g(in->lock);
            in->service.step();
            sleep = in->service.next_timer_ns();
        }
        (void)domain_rt::caps().sleep_ns(0);
        if (sleep == 0) continue;
        // Whatever the wait returns (events, timeout, or an error while the driver restarts),
        // the next step looks: transfer() is what consumes the events.
        (void)in->nic.wait(sleep < MAX_SLEEP_NS ? sleep : MAX_SLEEP_NS);
    }
}

Instance* g_instance;

uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

bool rdrand(uint64_t& out) {
    uint32_t a, b, c, d;
    asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c & (1u << 30))) return false;
    for (int tries = 0; tries < 10; tries++) {
        unsigned char ok;
        asm volatile("rdrand %0; setc %1" : "=r"(out), "=qm"(ok));
        if (ok) return true;
    }
    return false;
}

// A fresh seed per instance (a restarted stack's sequence numbers and ports have nothing to do
// with its predecessor's): RDRAND where the CPU has it, mixed with the TSC, the clock and the
// instance's domain id, which differ across restarts even without it.
net::NetSeed make_seed(const lamina_domain_caps& caps) {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t state = (uint64_t(hi) << 32 | lo) ^ mix(caps.time_now_ns()) ^ mix(caps.domain_id << 1);
    net::NetSeed seed;
    for (auto& w : seed.words) {
        uint64_t r = 0;
        if (rdrand(r)) state ^= r;
        state = mix(state);
        w = state;
    }
    return seed;
}

}  // namespace

int64_t domain_main(const lamina_domain_caps& caps) {
    using domain_rt::log;
    void *nic = nullptr, *events = nullptr;
    if (int32_t rc = caps.interface_lookup("nic", 3, &nic); rc != 0) {
        log("no NIC to attach (interface_lookup: errno %d)", rc);
        return -rc;
    }
    if (int32_t rc = caps.interface_lookup("net_events", 10, &events); rc != 0) {
        log("no readiness sink (interface_lookup: errno %d)", rc);
        return -rc;
    }
    auto made = make_own<Instance>(*static_cast<idl::NetEvents*>(events), *static_cast<idl::Nic*>(nic));
    if (made.is_error()) return -int64_t(made.error().code());
    Instance* in = made.value().get();
    if (auto r = in->service.start(in->platform, make_seed(caps)); r.is_error()) return -int64_t(r.error().code());
    if (auto r = in->service.stack().add_nic(in->nic); r.is_error()) {
        log("cannot attach the NIC: %s", r.error().name());
        return -int64_t(r.error().code());
    }
    idl::Net* exported = &in->exported;
    if (int32_t rc = domain_rt::publish_interface(caps, "net", exported); rc != 0) return -rc;
    if (int32_t rc = caps.thread_create(loop, in, "loop", 4, nullptr); rc != 0) {
        log("cannot start the loop thread: errno %d", rc);
        return -rc;
    }
    g_instance = made.value().release();  // lives as long as this instance (its heap)
    return 0;
}
