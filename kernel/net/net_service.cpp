#include "kernel/net/net_service.h"

#include "kernel/domain/interfaces.h"
#include "kernel/domain/provided.h"
#include "kernel/lib/log.h"
#include "kernel/net/nic_service.h"
#include "kernel/sched/mutex.h"
#include "kernel/sched/thread.h"

namespace lamina::net {

namespace {

constexpr const char* PACKAGE = "net";
constexpr uint32_t MAX_INTERFACES = 8;   // lo, then up to the stack's four NICs, with room
constexpr uint32_t MAX_REPLAYED = 1024;  // every socket but connected streams (the stack's MAX_SOCKETS)
constexpr uint32_t SLOTS = 1024;         // the stack's MAX_SOCKETS: a handle's low 16 bits are slot + 1

// The readiness table: per slot, the handle last published there and its state. Guarded by the
// readiness queue's lock (update_and_wake_all / wait conditions), plain reads otherwise.
struct Entry {
    uint32_t handle;
    uint32_t state;
    int32_t error;
};
Entry g_table[SLOTS];
// Per slot, the connection the last event described (zeros unless CONNECTED): what the replay
// tells the fresh stack to reset. Written by ready() alone (the stack serializes its calls),
// read by the replay once the instance that wrote it is dead.
idl::NetConnection g_conn[SLOTS];
uint64_t g_generation = 1;
sched::WaitQueue g_readiness;
ReadinessHook g_hook;  // atomic

void run_hook(const uint32_t* handles, uint32_t count) {
    if (auto hook = __atomic_load_n(&g_hook, __ATOMIC_ACQUIRE)) hook(handles, count);
}

class Events final : public idl::NetEvents {
public:
    // Called by the stack, on its own threads or inside a call the kernel makes into it. Records
    // the batch and wakes; the batch goes back to the stack, which owns it.
    Result<RRef<idl::NetEventBatch>> ready(RRef<idl::NetEventBatch> batch) override {
        if (!batch) return Errno::Inval;
        const idl::NetEventBatch& b = *batch;
        if (b.count > 64) return Errno::Inval;
        // Events that only move a connection's sequence number (a send) change nobody's
        // readiness: no wake-up for those.
        uint32_t handles[64];
        uint32_t changed = 0;
        for (uint32_t i = 0; i < b.count; i++) {
            const idl::NetEvent& e = b.events[i];
            uint32_t slot = (e.sock & 0xffff) - 1;
            if (slot >= SLOTS) continue;  // not a handle the stack hands out
            g_conn[slot] = e.conn;
            const Entry& t = g_table[slot];
            if (t.handle != e.sock || t.state != e.state || t.error != e.error) handles[changed++] = e.sock;
        }
        if (changed == 0) return batch;
        g_readiness.update_and_wake_all([&] {
            for (uint32_t i = 0; i < b.count; i++) {
                const idl::NetEvent& e = b.events[i];
                uint32_t slot = (e.sock & 0xffff) - 1;
                if (slot < SLOTS) g_table[slot] = {e.sock, e.state, e.error};
            }
        });
        run_hook(handles, changed);
        return batch;
    }
};
Events g_events;
bool g_events_provided = false;

// Service state: the interface configurations and the sockets to replay, and the replay itself.
sched::Mutex g_lock;
idl::NetIfConfig g_if[MAX_INTERFACES];
bool g_if_set[MAX_INTERFACES];
ReplayedSocket* g_replayed[MAX_REPLAYED];
uint32_t g_replayed_count;

domain::Provided<idl::Net> g_service;

// The connections of the instance that just died, gathered by the replay before the new
// generation empties the table (guarded by g_lock).
idl::NetConnection g_lost[SLOTS];

bool is_loopback(const idl::NetAddr& a) { return a.ip[0] == 127; }

uint32_t gather_connections() {
    uint32_t n = 0;
    for (uint32_t slot = 0; slot < SLOTS; slot++) {
        const Entry& e = g_table[slot];
        // A peer on loopback was in the dead stack too.
        if (e.handle == 0 || !(e.state & CONNECTED) || (e.state & GONE) || is_loopback(g_conn[slot].peer)) continue;
        g_lost[n++] = g_conn[slot];
    }
    return n;
}

void new_generation() {
    g_readiness.update_and_wake_all([] {
        __atomic_add_fetch(&g_generation, 1, __ATOMIC_RELEASE);
        for (Entry& e : g_table) e = {};
    });
    run_hook(nullptr, 0);
}

Result<void> recreate(idl::NetProxy& fresh, ReplayedSocket& s) {
    uint32_t handle = TRY(fresh.socket(s.kind, s.protocol));
    auto fail = [&](Error e) -> Result<void> {
        (void)fresh.close(handle);
        return e;
    };
    for (uint32_t i = 0; i < s.option_count; i++)
        if (auto r = fresh.setopt(handle, s.options[i].opt, s.options[i].value); r.is_error()) return fail(r.error());
    if (s.bound)
        if (auto r = fresh.bind(handle, s.addr); r.is_error()) return fail(r.error());
    if (s.listening)
        if (auto r = fresh.listen(handle, s.backlog); r.is_error()) return fail(r.error());
    if (s.connected)
        if (auto r = fresh.connect(handle, s.peer); r.is_error()) return fail(r.error());
    s.handle = handle;
    s.generation = g_generation;
    return {};
}

// The fresh instance's state before it serves (see net_service.h, "Recovery"). Socket losses are
// the sockets' (each is failed alone); a refused interface configuration fails the recovery.
Result<void> replay(void*, idl::NetProxy& fresh) {
    sched::MutexGuard g(g_lock);
    uint32_t connections = gather_connections();
    new_generation();
    for (uint32_t i = 0; i < MAX_INTERFACES; i++)
        if (g_if_set[i]) TRY(fresh.if_configure(i, g_if[i]));
    uint32_t lost = 0;
    for (uint32_t i = 0; i < g_replayed_count; i++) {
        ReplayedSocket& s = *g_replayed[i];
        if (auto r = recreate(fresh, s); r.is_error()) {
            s.lost = true;
            lost++;
            kprintf("net: a replayed socket could not be re-created: %s\n", r.error().name());
        }
    }
    // Every socket hears the generation change again, now that the replayed ones have their new
    // handles: one that polled while the replay ran still knew only its old handle, so the
    // fresh stack's first event for it (a connection to a listener) found nobody to wake, and
    // a server sleeping in epoll_wait slept on with connections queued.
    run_hook(nullptr, 0);
    // The peers of the connections the crash ended hear of it now (a reset as soon as eth0 has
    // its address again), not when they next send or when their own timeout runs out. Last:
    // a client told may reconnect at once, and the listener must be there to answer.
    uint32_t told = 0;
    for (uint32_t i = 0; i < connections; i++)
        if (fresh.reset_peer(g_lost[i]).is_ok()) told++;
    kprintf("net: stack generation %lu: %u socket(s) replayed, %u lost; %u of %u peer(s) reset\n", g_generation,
            g_replayed_count - lost, lost, told, connections);
    return {};
}

// Recorded before the call: a crash during it replays the new configuration, and the shadow
// retries the call (if_configure is [retry]). The caller must not hold g_lock, which the replay
// takes. A refused configuration puts the previous record back.
Result<void> configure_with(idl::Net& net, uint32_t index, const idl::NetIfConfig& config) {
    if (index == 0 || index >= MAX_INTERFACES) return Errno::NoDev;
    idl::NetIfConfig before;
    bool was_set;
    {
        sched::MutexGuard g(g_lock);
        before = g_if[index];
        was_set = g_if_set[index];
        g_if[index] = config;
        g_if_set[index] = true;
    }
    auto r = net.if_configure(index, config);
    if (r.is_error()) {
        sched::MutexGuard g(g_lock);
        g_if[index] = before;
        g_if_set[index] = was_set;
    }
    return r;
}

// A stack that fails on its own (in its loop thread, or by an injected fault) is recovered by
// the next call through the shadow; when no call comes (every socket user asleep, waiting for
// readiness that a dead stack never publishes) the watcher makes one. It looks every 50 ms.
constexpr uint64_t WATCH_NS = 50'000'000;
sched::Thread* g_watcher;
bool g_watch_stop;  // atomic

void watch(void*) {
    while (!__atomic_load_n(&g_watch_stop, __ATOMIC_ACQUIRE)) {
        sched::sleep_ns(WATCH_NS);
        domain::Domain* d = g_service.instance();
        if (d && d->get_state() == domain::State::Failed) {
            // if_status is [retry]: the shadow recovers, replays, and asks the fresh instance.
            if (auto r = g_service.shadow()->if_status(1); r.is_error())
                kprintf("net: the stack could not be recovered: %s\n", r.error().name());
        }
    }
}

}  // namespace

Result<void> start_net_service() {
    if (!nic_service_running()) return Errno::NoEnt;
    if (!g_events_provided) {
        TRY(domain::provide_interface("net_events", &g_events));
        g_events_provided = true;
    }
    TRY(g_service.start({PACKAGE, replay}, [](domain::Supervised<idl::Net>& stack) -> Result<void> {
        {
            sched::MutexGuard g(g_lock);
            new_generation();
            for (bool& set : g_if_set) set = false;
            g_replayed_count = 0;
        }
        // QEMU's user network (and most others) hand out an address by DHCP.
        return configure_with(stack.proxy(), ETH0, {true, true, {}, {}, {}});
    }));
    __atomic_store_n(&g_watch_stop, false, __ATOMIC_RELEASE);
    auto t = sched::Thread::create("net-watch", watch, nullptr);
    if (t.is_error()) {
        g_service.stop();
        return t.error();
    }
    g_watcher = t.value();
    kprintf("net: 'net' is the lwIP stack (domain %u) over 'nic'; eth0 on DHCP%s\n", g_service.instance()->id,
            g_service.provided() ? "" : " (the name is taken: kernel use only)");
    return {};
}

void stop_net_service() {
    if (g_watcher) {
        __atomic_store_n(&g_watch_stop, true, __ATOMIC_RELEASE);
        g_watcher->join();
        g_watcher = nullptr;
    }
    g_service.stop();
    new_generation();
}

bool net_service_running() { return g_service.running(); }
idl::Net* net_stack() { return g_service.shadow(); }
domain::Domain* net_instance() { return g_service.instance(); }
domain::Recovery* net_recovery() { return g_service.recovery(); }

uint64_t generation() { return __atomic_load_n(&g_generation, __ATOMIC_ACQUIRE); }

SockState socket_state(uint64_t gen, uint32_t handle) {
    if (gen != generation()) return {GONE, 0};
    uint32_t slot = (handle & 0xffff) - 1;
    if (slot >= SLOTS) return {GONE, 0};
    Entry e = g_table[slot];
    if (e.handle != handle) return {0, 0};
    return {e.state, e.error};
}

sched::WaitQueue& readiness_queue() { return g_readiness; }

void set_readiness_hook(ReadinessHook hook) { __atomic_store_n(&g_hook, hook, __ATOMIC_RELEASE); }

Result<void> configure_interface(uint32_t index, const idl::NetIfConfig& config) {
    idl::Net* net = net_stack();
    if (!net) return Errno::NetDown;
    return configure_with(*net, index, config);
}

Result<void> record_option(ReplayedSocket& s, idl::SockOpt opt, int32_t value) {
    sched::MutexGuard g(g_lock);
    for (uint32_t i = 0; i < s.option_count; i++) {
        if (s.options[i].opt == opt) {
            s.options[i].value = value;
            return {};
        }
    }
    if (s.option_count == ReplayedSocket::MAX_OPTIONS) return Errno::NoBufs;
    s.options[s.option_count++] = {opt, value};
    return {};
}

void record_bind(ReplayedSocket& s, bool bound, const idl::NetAddr& addr) {
    sched::MutexGuard g(g_lock);
    s.bound = bound;
    s.addr = addr;
}

void record_listen(ReplayedSocket& s, bool listening, uint32_t backlog) {
    sched::MutexGuard g(g_lock);
    s.listening = listening;
    s.backlog = backlog;
}

void record_peer(ReplayedSocket& s, bool connected, const idl::NetAddr& peer) {
    sched::MutexGuard g(g_lock);
    s.connected = connected;
    s.peer = peer;
}

Result<void> remember(ReplayedSocket& s) {
    sched::MutexGuard g(g_lock);
    for (uint32_t i = 0; i < g_replayed_count; i++)
        if (g_replayed[i] == &s) return {};
    if (g_replayed_count == MAX_REPLAYED) return Errno::NoBufs;
    g_replayed[g_replayed_count++] = &s;
    return {};
}

void forget(ReplayedSocket& s) {
    sched::MutexGuard g(g_lock);
    for (uint32_t i = 0; i < g_replayed_count; i++) {
        if (g_replayed[i] == &s) {
            g_replayed[i] = g_replayed[--g_replayed_count];
            return;
        }
    }
}

Result<Current> current(ReplayedSocket& s) {
    sched::MutexGuard g(g_lock);
    if (s.lost) return Errno::BadF;
    return Current{s.generation, s.handle};
}

}  // namespace lamina::net
