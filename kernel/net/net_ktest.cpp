// In-kernel tests of the net service: the lwIP stack domain over the virtio_net driver domain on
// QEMU's user network (restrict=on: nothing leaves QEMU), called the way the socket layer calls
// it, through the service's shadow, sleeping on the readiness it publishes. QEMU's user network
// hands out 10.0.2.15 by DHCP and answers pings to its gateway 10.0.2.2 itself.
//
// Each test starts the NIC and net services if they are not running and stops them afterwards.
#include "kernel/domain/domain.h"
#include "kernel/ktest/kbench.h"
#include "kernel/ktest/ktest.h"
#include "kernel/lib/log.h"
#include "kernel/net/net_service.h"
#include "kernel/net/nic_service.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::net {

namespace {

using idl::NetAddr;
using idl::SockKind;

constexpr uint64_t SECOND = 1'000'000'000;

struct ScopedNet {
    bool nic_started = false, net_started = false, ok = false;
    ScopedNet() {
        if (!nic_service_running()) {
            auto r = start_nic_service();
            if (r.is_error()) {
                kprintf("net ktest: cannot start the NIC service: %s\n", r.error().name());
                return;
            }
            nic_started = true;
        }
        if (!net_service_running()) {
            auto r = start_net_service();
            if (r.is_error()) {
                kprintf("net ktest: cannot start the net service: %s\n", r.error().name());
                return;
            }
            net_started = true;
        }
        ok = true;
    }
    ~ScopedNet() {
        if (net_started) stop_net_service();
        if (nic_started) stop_nic_service();
    }
};

// Sleeps until one of bits is published for the socket (or its generation ends).
bool wait_for_state(uint64_t gen, uint32_t handle, uint32_t bits, uint64_t timeout_ns = 5 * SECOND) {
    auto r =
        readiness_queue().wait_for([&] { return (socket_state(gen, handle).state & (bits | GONE)) != 0; }, timeout_ns);
    return r.is_ok() && (socket_state(gen, handle).state & bits) != 0;
}

Result<uint32_t> send_bytes(idl::Net& net, uint32_t sock, NetAddr to, const uint8_t* data, uint32_t n) {
    RRefBytes buf = TRY(RRefBytes::create(n));
    __builtin_memcpy(buf.data(), data, n);
    TRY(buf.set_length(n));
    return net.send(sock, 0, to, buf);
}

Result<RRef<idl::NetMessage>> recv_message(idl::Net& net, uint32_t sock, uint32_t max) {
    RRef<idl::NetMessage> msg = TRY(RRef<idl::NetMessage>::create());
    msg->data = TRY(RRefBytes::create(max));
    return net.recv(sock, 0, static_cast<RRef<idl::NetMessage>&&>(msg));
}

// Polls eth0 until DHCP holds a lease.
bool wait_for_lease(idl::Net& net, idl::NetIfStatus& out) {
    uint64_t deadline = time::now_ns() + 15 * SECOND;
    while (time::now_ns() < deadline) {
        auto st = net.if_status(ETH0);
        if (st.is_ok() && st.value().dhcp_bound) {
            out = st.value();
            return true;
        }
        sched::sleep_ns(50'000'000);
    }
    return false;
}

uint16_t checksum(const uint8_t* p, size_t n) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// A loopback connection to port on 127.0.0.1, accepted by the listener: connect, accept,
// established on both sides. Closes both.
bool connect_and_accept(ktest::Context& ktest_ctx, idl::Net& net, uint64_t gen, uint32_t listener, uint16_t port) {
    auto c = net.socket(SockKind::Stream, 0);
    KEXPECT(c.is_ok());
    if (c.is_error()) return false;
    uint32_t client = c.value();
    KEXPECT(net.connect(client, NetAddr{{127, 0, 0, 1}, port}).is_ok());
    bool accepted = false;
    if (wait_for_state(gen, listener, READABLE)) {
        auto a = net.accept(listener);
        KEXPECT(a.is_ok());
        if (a.is_ok()) {
            accepted = true;
            KEXPECT(wait_for_state(gen, client, CONNECTED));
            uint8_t hello[5] = {'h', 'e', 'l', 'l', 'o'};
            KEXPECT(send_bytes(net, a.value().sock, {}, hello, 5).is_ok());
            KEXPECT(wait_for_state(gen, client, READABLE));
            auto m = recv_message(net, client, 64);
            KEXPECT(m.is_ok() && m.value()->data.length() == 5 &&
                    __builtin_memcmp(m.value()->data.data(), hello, 5) == 0);
            KEXPECT(net.close(a.value().sock).is_ok());
        }
    }
    KEXPECT(net.close(client).is_ok());
    return accepted;
}

}  // namespace

// eth0 gets QEMU's 10.0.2.15 by DHCP, and a raw ICMP socket pings the gateway.
KTEST(net, dhcp_lease_and_ping_the_gateway) {
    ScopedNet s;
    KASSERT_TRUE(s.ok);
    idl::Net& net = *net_stack();
    idl::NetIfStatus st;
    KASSERT_TRUE(wait_for_lease(net, st));
    KEXPECT(st.addr[0] == 10 && st.addr[1] == 0 && st.addr[2] == 2 && st.addr[3] == 15);
    // No default route: QEMU's DHCP server leaves the router option out under restrict=on.

    uint64_t gen = generation();
    auto r = net.socket(SockKind::Raw, 1);
    KASSERT_TRUE(r.is_ok());
    uint32_t sock = r.value();
    // RFC 792 echo request: type 8, code 0, checksum, identifier, sequence number, data.
    uint8_t echo[24] = {8, 0, 0, 0, 0x4c, 0x4d, 0, 1, 'l', 'a', 'm', 'i', 'n', 'a', ' ', 'p', 'i', 'n', 'g'};
    uint16_t sum = checksum(echo, sizeof(echo));
    echo[2] = uint8_t(sum >> 8);
    echo[3] = uint8_t(sum);
    auto sent = send_bytes(net, sock, NetAddr{{10, 0, 2, 2}, 0}, echo, sizeof(echo));
    KEXPECT(sent.is_ok() && sent.value() == sizeof(echo));
    KEXPECT(wait_for_state(gen, sock, READABLE));
    auto m = recv_message(net, sock, 128);
    KASSERT_TRUE(m.is_ok());
    const uint8_t* reply = m.value()->data.data();
    // As on Linux, a raw socket's datagrams start with the IP header (RFC 791: IHL in words).
    uint32_t len = m.value()->data.length();
    uint32_t ihl = len ? (reply[0] & 15u) * 4 : 0;
    KASSERT_TRUE(len >= 20 && ihl >= 20 && len == ihl + sizeof(echo));
    KEXPECT_EQ(reply[9], 1);  // ICMP
    const uint8_t* icmp = reply + ihl;
    KEXPECT_EQ(icmp[0], 0);  // echo reply
    KEXPECT(icmp[4] == 0x4c && icmp[5] == 0x4d && icmp[7] == 1);
    KEXPECT(__builtin_memcmp(icmp + 8, echo + 8, sizeof(echo) - 8) == 0);
    KEXPECT(net.close(sock).is_ok());
}

// Crashes the stack while no call is under way and waits for the watcher's recovery: false when
// no restart came.
bool crash_and_wait() {
    uint64_t restarts = net_recovery()->restarts();
    if (domain::inject_fault("net", "panic").is_error()) return false;
    // The watcher notices within 50 ms; the restart counts once the hand-over is done.
    for (uint64_t end = time::now_ns() + 5 * SECOND; net_recovery()->restarts() == restarts && time::now_ns() < end;)
        sched::sleep_ns(10'000'000);
    return net_recovery()->restarts() == restarts + 1;
}

// Each instance of the stack seeds its random numbers afresh (net_domain.cpp: RDRAND, the TSC,
// the clock, the domain id), so a restarted stack's TCP initial sequence numbers, which come
// from the seed (the host test NetStackTest.InitialSequenceNumbersDependOnTheSeed), are new.
// Seen from here through the other user of the seed: the first ephemeral port of each instance
// (LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS). Three instances drawing the same one of 16384 ports by
// chance: once in 2^28 runs.
KTEST(net, a_restarted_stack_draws_new_random_numbers) {
    ScopedNet s;
    KASSERT_TRUE(s.ok);
    uint16_t ports[3];
    for (uint32_t i = 0; i < 3; i++) {
        if (i > 0) KASSERT_TRUE(crash_and_wait());
        idl::Net& net = *net_stack();
        auto h = net.socket(SockKind::Stream, 0);
        KASSERT_TRUE(h.is_ok());
        auto bound = net.bind(h.value(), NetAddr{{0, 0, 0, 0}, 0});
        KASSERT_TRUE(bound.is_ok());
        ports[i] = bound.value().port;
        KEXPECT(ports[i] >= 49152);  // lwIP's ephemeral range, as Linux's default ends
        KEXPECT(net.close(h.value()).is_ok());
    }
    KEXPECT(ports[0] != ports[1] || ports[1] != ports[2]);
}

// A listener remembered for replay survives a crash of the stack: the watcher recovers the stack
// without any call from the socket layer, the replay re-creates the listener on the same port,
// and the next connection is accepted; a connection of the old generation is gone.
KTEST(net, a_remembered_listener_survives_a_stack_crash) {
    ScopedNet s;
    KASSERT_TRUE(s.ok);
    idl::Net& net = *net_stack();
    constexpr uint16_t PORT = 7070;

    ReplayedSocket rs = {};
    rs.kind = SockKind::Stream;
    rs.generation = generation();
    auto h = net.socket(SockKind::Stream, 0);
    KASSERT_TRUE(h.is_ok());
    rs.handle = h.value();
    KEXPECT(net.setopt(rs.handle, idl::SockOpt::ReuseAddr, 1).is_ok());
    KEXPECT(record_option(rs, idl::SockOpt::ReuseAddr, 1).is_ok());
    auto bound = net.bind(rs.handle, NetAddr{{0, 0, 0, 0}, PORT});
    KASSERT_TRUE(bound.is_ok());
    rs.bound = true;
    rs.addr = bound.value();
    KEXPECT(net.listen(rs.handle, 4).is_ok());
    rs.listening = true;
    rs.backlog = 4;
    KASSERT_TRUE(remember(rs).is_ok());

    KEXPECT(connect_and_accept(ktest_ctx, net, rs.generation, rs.handle, PORT));
    // A connection left open across the crash.
    auto open = net.socket(SockKind::Stream, 0);
    KASSERT_TRUE(open.is_ok());
    KEXPECT(net.connect(open.value(), NetAddr{{127, 0, 0, 1}, PORT}).is_ok());
    KEXPECT(wait_for_state(rs.generation, open.value(), CONNECTED));

    uint64_t before = generation();
    KEXPECT(crash_and_wait());
    KEXPECT(generation() != before);
    KEXPECT_EQ(socket_state(before, open.value()).state, GONE);

    auto cur = current(rs);
    KASSERT_TRUE(cur.is_ok());
    KEXPECT_EQ(cur.value().generation, generation());
    KEXPECT(connect_and_accept(ktest_ctx, net, cur.value().generation, cur.value().handle, PORT));

    forget(rs);
    KEXPECT(net.close(cur.value().handle).is_ok());
}

// What the stack's transmit copy costs (bench/README.md): nic_netif gathers each outgoing pbuf
// chain into one NetPacket, a copy of the whole frame into an exchange-heap buffer. The same
// copy, of a full-sized frame (1514 bytes) from one heap buffer into another, timed alone.
KBENCH(net_tx_copy) {
    constexpr uint32_t FRAME = 1514, ROUNDS = 20'000;
    auto from = RRefBytes::create(FRAME);
    auto to = RRefBytes::create(FRAME + 64);
    if (from.is_error() || to.is_error()) return;
    __builtin_memset(from.value().data(), 0x5a, FRAME);
    uint64_t t0 = time::now_ns();
    for (uint32_t i = 0; i < ROUNDS; i++) {
        __builtin_memcpy(to.value().data() + 64, from.value().data(), FRAME);
        __asm__ volatile("" : : "r"(to.value().data()) : "memory");  // every copy happens
    }
    kbench_ctx.report("copy_1514_bytes", (time::now_ns() - t0) / ROUNDS, "ns");
}

}  // namespace lamina::net
