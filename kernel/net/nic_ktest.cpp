// In-kernel tests of the NIC service: the virtio_net driver domain on QEMU's virtio-net with
// user networking (images/run always attaches one, restrict=on), through its shadow, the way
// the netstack will reach it. QEMU's user network answers ARP for its gateway 10.0.2.2 and
// runs a DHCP server that offers 10.0.2.15; nothing leaves QEMU.
//
// Each test starts the service if it is not running and stops it afterwards.
#include <lamina/format.h>

#include "kernel/domain/domain.h"
#include "kernel/ktest/kbench.h"
#include "kernel/ktest/ktest.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/net/nic_service.h"
#include "kernel/time/time.h"

namespace lamina::net {

namespace {

using idl::NetPacket;
using idl::PacketKind;
using Batch = RRefDeque<NetPacket, 64>;

constexpr uint64_t REPLY_TIMEOUT_NS = 5'000'000'000;
constexpr uint16_t HEADROOM = 64;
constexpr uint8_t GATEWAY[4] = {10, 0, 2, 2};
constexpr uint8_t GUEST[4] = {10, 0, 2, 15};
constexpr uint32_t XID = 0x4c4d4e41;  // "LMNA"
constexpr uint8_t ABI_ENOBUFS = 105;  // a TxDone status: the transmit ring was full

struct ScopedService {
    bool started = false;
    bool ok = false;
    ScopedService() {
        if (nic_service_running()) {
            ok = true;
            return;
        }
        auto r = start_nic_service();
        ok = started = r.is_ok();
        if (r.is_error()) kprintf("nic ktest: cannot start the NIC service: %s\n", r.error().name());
    }
    ~ScopedService() {
        if (started) stop_nic_service();
    }
};

// Big-endian writers and readers for the wire formats below.
void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, uint16_t(v >> 16));
    put16(p + 2, uint16_t(v));
}
uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t(get16(p)) << 16 | get16(p + 2); }
bool equal(const uint8_t* a, const uint8_t* b, size_t n) { return __builtin_memcmp(a, b, n) == 0; }

// RFC 1071 over the IPv4 header.
uint16_t ip_checksum(const uint8_t* p, size_t n) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) sum += get16(p + i);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// An Ethernet header (IEEE 802.3: destination, source, EtherType) at the start of frame.
void ethernet(uint8_t* f, const uint8_t* dst, const uint8_t* src, uint16_t type) {
    __builtin_memcpy(f, dst, 6);
    __builtin_memcpy(f + 6, src, 6);
    put16(f + 12, type);
}

const uint8_t BROADCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// RFC 826: who has 10.0.2.2, tell 10.0.2.15.
uint16_t arp_request(uint8_t* f, const uint8_t* mac) {
    ethernet(f, BROADCAST, mac, 0x0806);
    uint8_t* a = f + 14;
    put16(a, 1);           // htype Ethernet
    put16(a + 2, 0x0800);  // ptype IPv4
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, 1);  // request
    __builtin_memcpy(a + 8, mac, 6);
    __builtin_memcpy(a + 14, GUEST, 4);
    __builtin_memset(a + 18, 0, 6);
    __builtin_memcpy(a + 24, GATEWAY, 4);
    return 14 + 28;
}

bool is_arp_reply_from_gateway(const uint8_t* f, uint16_t len, const uint8_t* mac) {
    if (len < 42 || get16(f + 12) != 0x0806) return false;
    const uint8_t* a = f + 14;
    return get16(a + 6) == 2 && equal(a + 14, GATEWAY, 4) && equal(a + 18, mac, 6) && equal(a + 24, GUEST, 4);
}

// RFC 2131: a DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67 (UDP checksum 0: none).
uint16_t dhcp_discover(uint8_t* f, const uint8_t* mac) {
    constexpr uint16_t BOOTP = 240 + 3 + 1;  // fixed part + cookie, option 53, end
    constexpr uint16_t UDP = 8 + BOOTP, IP = 20 + UDP;
    __builtin_memset(f, 0, 14 + IP);
    ethernet(f, BROADCAST, mac, 0x0800);
    uint8_t* ip = f + 14;
    ip[0] = 0x45;
    put16(ip + 2, IP);
    ip[8] = 64;  // TTL
    ip[9] = 17;  // UDP
    __builtin_memset(ip + 16, 0xff, 4);
    put16(ip + 10, ip_checksum(ip, 20));
    uint8_t* udp = ip + 20;
    put16(udp, 68);
    put16(udp + 2, 67);
    put16(udp + 4, UDP);
    uint8_t* b = udp + 8;
    b[0] = 1;  // BOOTREQUEST
    b[1] = 1;  // Ethernet
    b[2] = 6;
    put32(b + 4, XID);
    put16(b + 10, 0x8000);  // broadcast the reply: we have no address yet
    __builtin_memcpy(b + 28, mac, 6);
    put32(b + 236, 0x63825363);  // magic cookie
    b[240] = 53;                 // DHCP message type
    b[241] = 1;
    b[242] = 1;  // DHCPDISCOVER
    b[243] = 255;
    return uint16_t(14 + IP);
}

// A DHCPOFFER for our xid; its offered address in *yiaddr.
bool is_dhcp_offer(const uint8_t* f, uint16_t len, uint8_t* yiaddr) {
    if (len < 14 + 20 + 8 + 244 || get16(f + 12) != 0x0800) return false;
    const uint8_t* ip = f + 14;
    size_t ihl = size_t(ip[0] & 0xf) * 4;
    if (ip[9] != 17 || len < 14 + ihl + 8 + 244) return false;
    const uint8_t* udp = ip + ihl;
    if (get16(udp + 2) != 68) return false;
    const uint8_t* b = udp + 8;
    if (b[0] != 2 || get32(b + 4) != XID || get32(b + 236) != 0x63825363) return false;
    // Walk the options for 53 (message type).
    size_t at = 240, end = len - 14 - ihl - 8;
    while (at + 2 <= end && b[at] != 255) {
        if (b[at] == 0) {
            at++;
            continue;
        }
        if (b[at] == 53 && b[at + 1] == 1 && at + 2 < end) {
            __builtin_memcpy(yiaddr, b + 16, 4);
            return b[at + 2] == 2;  // DHCPOFFER
        }
        at += 2 + b[at + 1];
    }
    return false;
}

// Sends one frame built by `build`, then receives until `match` accepts a frame or the time
// is up. Every received buffer goes back to the driver as an RxBuffer.
template <typename Build, typename Match>
bool exchange(idl::Nic& nic, Build build, Match match, uint32_t* frames_seen) {
    auto batch = Batch::create();
    auto p = RRef<NetPacket>::create();
    if (batch.is_error() || p.is_error()) return false;
    p.value()->kind = PacketKind::TxFrame;
    p.value()->offset = HEADROOM;
    p.value()->len = build(p.value()->data + HEADROOM);
    if (batch.value().push_back(std::move(p.value())).is_error()) return false;
    Batch b = std::move(batch.value());
    uint64_t deadline = time::now_ns() + REPLY_TIMEOUT_NS;
    bool found = false, sent = false;
    // Both: a reply can be reaped before the send's completion (QEMU completes sends later).
    while (!(found && sent) && time::now_ns() < deadline) {
        auto out = nic.transfer(std::move(b));
        if (out.is_error()) {
            kprintf("nic ktest: transfer failed: %s\n", out.error().name());
            return false;
        }
        b = std::move(out.value());
        uint32_t n = b.size();
        for (uint32_t i = 0; i < n; i++) {
            RRef<NetPacket> q = b.pop_front();
            if (q->kind == PacketKind::TxDone) {
                sent = sent || q->status == 0;
            } else if (q->kind == PacketKind::RxFrame) {
                (*frames_seen)++;
                found = found || match(q->data + q->offset, q->len);
            }
            q->kind = PacketKind::RxBuffer;
            (void)b.push_back(std::move(q));
        }
        if (!(found && sent) && b.empty()) (void)nic.wait(50'000'000);
    }
    if (!sent) kprintf("nic ktest: the frame was never reported sent\n");
    return found && sent;
}

bool arp_gateway(idl::Nic& nic, const uint8_t* mac, uint32_t* seen) {
    return exchange(
        nic, [&](uint8_t* f) { return arp_request(f, mac); },
        [&](const uint8_t* f, uint16_t len) { return is_arp_reply_from_gateway(f, len, mac); }, seen);
}

bool dhcp_offer(idl::Nic& nic, const uint8_t* mac, uint32_t* seen, uint8_t* offered) {
    return exchange(
        nic, [&](uint8_t* f) { return dhcp_discover(f, mac); },
        [&](const uint8_t* f, uint16_t len) { return is_dhcp_offer(f, len, offered); }, seen);
}

// Receives and drops frames until none has come for 100 ms (the replies to a burst).
void drain(idl::Nic& nic) {
    Batch b = Batch::create().release_value();
    for (int quiet = 0; quiet < 2;) {
        auto out = nic.transfer(std::move(b));
        if (out.is_error()) return;
        b = std::move(out.value());
        quiet = b.empty() ? quiet + 1 : 0;
        for (uint32_t i = 0, n = b.size(); i < n; i++) {
            RRef<NetPacket> q = b.pop_front();
            q->kind = PacketKind::RxBuffer;
            (void)b.push_back(std::move(q));
        }
        if (b.empty()) (void)nic.wait(50'000'000);
    }
}

// Sends `count` ARP requests in batches of `batch` (the gateway answers each: the receive path
// runs too) and returns the ns per frame until every one is reported sent, 0 on failure.
uint64_t transmit(idl::Nic& nic, const uint8_t* mac, uint32_t count, uint32_t batch) {
    Batch b = Batch::create().release_value();
    uint32_t queued = 0, done = 0;
    uint64_t t0 = time::now_ns(), deadline = t0 + 60'000'000'000ull;
    while (done < count && time::now_ns() < deadline) {
        for (uint32_t i = 0; i < batch && queued < count && !b.full(); i++, queued++) {
            auto p = RRef<NetPacket>::create();
            if (p.is_error()) return 0;
            p.value()->kind = PacketKind::TxFrame;
            p.value()->offset = HEADROOM;
            p.value()->len = arp_request(p.value()->data + HEADROOM, mac);
            (void)b.push_back(std::move(p.value()));
        }
        auto out = nic.transfer(std::move(b));
        if (out.is_error()) return 0;
        b = std::move(out.value());
        uint32_t n = b.size();
        for (uint32_t i = 0; i < n; i++) {
            RRef<NetPacket> q = b.pop_front();
            if (q->kind == PacketKind::TxDone) {
                if (q->status == 0)
                    done++;
                else if (q->status == ABI_ENOBUFS)
                    queued--;  // the ring was full: send it again
                continue;      // freed
            }
            q->kind = PacketKind::RxBuffer;
            (void)b.push_back(std::move(q));
        }
    }
    return done == count ? (time::now_ns() - t0) / count : 0;
}

}  // namespace

KBENCH(nic_virtio) {
    ScopedService s;
    if (!s.ok) return;
    idl::Nic& nic = *nic_device();
    idl::NicInfo info = nic.info().value();
    uint32_t seen = 0;
    (void)transmit(nic, info.mac, 256, 32);  // warm-up
    for (uint32_t batch : {1u, 8u, 32u}) {
        uint64_t ns = transmit(nic, info.mac, 4096, batch);
        char metric[32];
        snformat(metric, sizeof(metric), "tx_frames_per_s_batch%u", batch);
        kbench_ctx.report(metric, ns ? 1'000'000'000ull / ns : 0, "frames/s");
    }
    drain(nic);  // so that every reply below answers its own request
    constexpr unsigned ROUNDS = 20;
    uint64_t rtt = 0;
    for (unsigned i = 0; i < ROUNDS; i++) {
        uint64_t t0 = time::now_ns();
        if (!arp_gateway(nic, info.mac, &seen)) {
            kprintf("nic kbench: no ARP reply from the gateway (round %u)\n", i);
            return;
        }
        rtt += time::now_ns() - t0;
    }
    kbench_ctx.report("arp_round_trip", rtt / ROUNDS, "ns");
    // Recovery: from the injected fault to the gateway's reply received by the fresh instance
    // (the shadow restarts the driver inside the first transfer after the fault).
    domain::set_verbose_faults(false);
    uint64_t to_frame = 0, restart = 0;
    for (unsigned i = 0; i < ROUNDS; i++) {
        uint64_t t0 = time::now_ns();
        if (domain::inject_fault("virtio_net", "panic").is_error()) break;
        if (!arp_gateway(nic, info.mac, &seen)) break;
        to_frame += time::now_ns() - t0;
        restart += nic_recovery()->last_recovery_ns();
    }
    domain::set_verbose_faults(true);
    kbench_ctx.report("recovery_fault_to_first_frame", to_frame / ROUNDS, "ns");
    kbench_ctx.report("recovery_restart", restart / ROUNDS, "ns");
}

KTEST(nic, info_and_link) {
    ScopedService s;
    KASSERT_TRUE(s.ok);
    auto info = nic_device()->info();
    KASSERT_TRUE(info.is_ok());
    KEXPECT_EQ(info.value().mac[0], 0x52);  // QEMU's 52:54:00:12:34:56
    KEXPECT_EQ(info.value().max_frame, 1514u);
    KEXPECT(info.value().rx_ring >= 64);
    auto link = nic_device()->link();
    KASSERT_TRUE(link.is_ok());
    KEXPECT(link.value().up);
}

KTEST(nic, arp_for_the_gateway_and_dhcp_offer) {
    ScopedService s;
    KASSERT_TRUE(s.ok);
    idl::NicInfo info = nic_device()->info().value();
    uint32_t seen = 0;
    KEXPECT(arp_gateway(*nic_device(), info.mac, &seen));
    uint8_t offered[4] = {};
    KEXPECT(dhcp_offer(*nic_device(), info.mac, &seen, offered));
    KEXPECT(equal(offered, GUEST, 4));
    auto c = nic_device()->counters();
    KASSERT_TRUE(c.is_ok());
    KEXPECT(c.value().tx_frames >= 2);
    KEXPECT(c.value().rx_frames >= seen);
}

KTEST(nic, a_driver_crash_between_arp_and_dhcp_is_recovered) {
    ScopedService s;
    KASSERT_TRUE(s.ok);
    idl::NicInfo info = nic_device()->info().value();
    uint32_t seen = 0;
    KEXPECT(arp_gateway(*nic_device(), info.mac, &seen));
    domain::Domain* before = nic_instance();
    uint64_t restarts = nic_recovery()->restarts();
    KASSERT_TRUE(domain::inject_fault("virtio_net", "panic").is_ok());
    uint8_t offered[4] = {};
    KEXPECT(dhcp_offer(*nic_device(), info.mac, &seen, offered));
    KEXPECT(equal(offered, GUEST, 4));
    KEXPECT_EQ(nic_recovery()->restarts(), restarts + 1);
    KEXPECT(nic_instance() != before);
    // And once more after a CPU exception rather than a panic.
    KASSERT_TRUE(domain::inject_fault("virtio_net", "null").is_ok());
    KEXPECT(arp_gateway(*nic_device(), info.mac, &seen));
    KEXPECT_EQ(nic_recovery()->restarts(), restarts + 2);
}

// /proc/net/dev's counters (nic_counters) add up the instances: a restart does not send them
// back to zero, and frames the fresh instance moves are counted on top.
KTEST(nic, counters_survive_a_driver_restart) {
    ScopedService s;
    KASSERT_TRUE(s.ok);
    idl::NicInfo info = nic_device()->info().value();
    uint32_t seen = 0;
    KEXPECT(arp_gateway(*nic_device(), info.mac, &seen));
    auto before = nic_counters();
    KASSERT_TRUE(before.is_ok());
    KEXPECT(before.value().tx_frames >= 1 && before.value().rx_frames >= 1);
    KASSERT_TRUE(domain::inject_fault("virtio_net", "panic").is_ok());
    KEXPECT(arp_gateway(*nic_device(), info.mac, &seen));
    auto fresh = nic_device()->counters();  // the new instance's own, from zero
    auto after = nic_counters();
    KASSERT_TRUE(fresh.is_ok() && after.is_ok());
    KEXPECT(after.value().tx_frames >= before.value().tx_frames + fresh.value().tx_frames);
    KEXPECT(after.value().rx_frames >= before.value().rx_frames + 1);
    KEXPECT(after.value().tx_bytes > before.value().tx_bytes);
}

}  // namespace lamina::net

namespace lamina::net {

// Crash after crash, of every kind a bug would cause, with traffic between them: each fresh
// instance answers, and once the service is stopped every page is back.
KTEST(nic, repeated_crashes_lose_nothing_and_leak_nothing) {
    const char* kinds[] = {"panic", "null", "ud", "div0"};
    constexpr unsigned ROUNDS = 8;
    uint8_t mac[6];
    uint32_t seen = 0;
    {  // warm-up: heap classes, page tables and exchange-heap slabs the loop will use
        ScopedService s;
        KASSERT_TRUE(s.ok);
        __builtin_memcpy(mac, nic_device()->info().value().mac, 6);
        domain::set_verbose_faults(false);
        KEXPECT(domain::inject_fault("virtio_net", "panic").is_ok());
        KEXPECT(arp_gateway(*nic_device(), mac, &seen));
        domain::set_verbose_faults(true);
    }
    KASSERT_TRUE(!nic_service_running());
    uint64_t free_before = mm::free_pages();
    {
        ScopedService s;
        KASSERT_TRUE(s.ok);
        domain::set_verbose_faults(false);
        unsigned answered = 0;
        for (unsigned i = 0; i < ROUNDS; i++) {
            KEXPECT(domain::inject_fault("virtio_net", kinds[i % 4]).is_ok());
            answered += arp_gateway(*nic_device(), mac, &seen);
        }
        domain::set_verbose_faults(true);
        KEXPECT_EQ(answered, ROUNDS);
        KEXPECT_EQ(nic_recovery()->restarts(), uint64_t(ROUNDS));
        ktest_ctx.note("%u crashes, last recovery %lu us", ROUNDS,
                       (unsigned long)(nic_recovery()->last_recovery_ns() / 1000));
    }
    KEXPECT_EQ(mm::free_pages(), free_before);
}

}  // namespace lamina::net
