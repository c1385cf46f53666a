// The net domain's input path (domains/net over lwIP): frames from the wire, as a hostile peer
// or a broken driver would hand them over, through the NIC interface (nic_netif), Ethernet,
// ARP, IPv4 with fragments and options, ICMP, UDP and TCP, while the kernel's side of the
// sockets (a TCP listener, a UDP socket, a raw ICMP socket, connections it accepts or opens)
// reads, writes and closes. The stack runs as it does in a host test: the core and lwIP linked
// in, called in a host domain through the generated proxies, on a virtual clock.
//
// lwIP keeps its state in globals and cannot be started twice in one process, so one instance
// serves every input (as lwIP's own fuzzer does): what an input leaves behind (connections,
// ARP entries, reassembly queues) meets the next one, and each input ends by closing the
// sockets it made and letting the timers run.
//
// Input: records until the end, each an op byte and its operands.
//   op & 3 == 0: a frame as is: u16 length (mod 1600), the bytes
//   op & 3 == 1: a frame "fixed up" so that it gets past the early checks: the same operands,
//                then the destination MAC becomes ours and, for IPv4, the header's total length
//                and checksum, and the TCP, UDP or ICMP checksum, are made right, and a TCP
//                acknowledgement number below 65536 counts from the stack's last sequence number
//   op & 3 == 2: the clock moves by u16 milliseconds and the loop steps
//   op & 3 == 3: a kernel call, op >> 2 picks it (accept, recv, send, shutdown, close, connect,
//                sendto over UDP or raw ICMP), the next byte the socket
// The harness checks beyond crashes: the stack never declares itself broken (fatal), every
// frame it sends fits the NIC's limits and starts with our MAC as source, calls that fail
// fail with an error rather than a dead domain, and the exchange heap sees no violation.
#include "tests/fuzz/fuzz.h"

#include <deque>
#include <map>
#include <vector>

#include "domains/net/host_instance.h"
#include "interfaces/net.h"
#include "interfaces/nic.h"
#include "tests/unit/host_domains.h"

extern "C" bool lamina_net_host_instance(lamina::net::NetPlatform& platform, const lamina::net::NetSeed& seed,
                                         lamina::idl::Nic* const* nics, unsigned nic_count,
                                         lamina::idl::NetEvents& events, lamina::net::HostInstance* out);

using namespace lamina;
using idl::NetAddr;
using idl::NetPacket;
using idl::PacketKind;
using idl::SockKind;

namespace {

constexpr uint8_t OUR_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x01};
constexpr uint8_t PEER_IP[4] = {10, 0, 0, 2};
constexpr uint16_t MAX_FRAME = 1514;
constexpr uint16_t RX_OFFSET = 32;

class Platform final : public net::NetPlatform {
public:
    uint64_t now = 1'000'000'000;
    uint64_t now_ns() override { return now; }
    void log(const char* line) override { FUZZ_CHECK(strlen(line) < 512, "a runaway log line"); }
    [[noreturn]] void fatal(const char* line) override {
        fprintf(stderr, "netstack: fatal: %s\n", line);
        FUZZ_CHECK(false, "the stack declared itself broken by outside input");
        abort();
    }
};

// The driver's side: receive buffers the stack posts, frames the input puts on the wire.
class FuzzNic final : public idl::Nic {
public:
    std::deque<std::vector<uint8_t>> arriving;
    std::deque<RRef<NetPacket>> ring;
    uint64_t sent = 0;
    // For each peer port, the sequence number after the last TCP segment the stack sent there:
    // what a fixed-up frame's small acknowledgement numbers count from, so that inputs can
    // complete handshakes and acknowledge data without guessing the stack's random ISN.
    std::map<uint16_t, uint32_t> next_seq;

    void note_tcp(const uint8_t* f, size_t n) {
        if (n < 14 + 20 || f[12] != 0x08 || f[13] != 0x00 || f[14 + 9] != 6) return;
        size_t hl = size_t(f[14] & 0x0f) * 4, total = size_t(f[16]) << 8 | f[17];
        if (hl < 20 || total > n - 14 || total < hl + 20) return;
        const uint8_t* t = f + 14 + hl;
        size_t off = size_t(t[12] >> 4) * 4;
        if (off < 20 || off > total - hl) return;
        uint32_t seq = uint32_t(t[4]) << 24 | uint32_t(t[5]) << 16 | uint32_t(t[6]) << 8 | t[7];
        next_seq[uint16_t(t[2] << 8 | t[3])] =
            seq + uint32_t(total - hl - off) + (t[13] & 0x02 ? 1 : 0) + (t[13] & 0x01 ? 1 : 0);
    }

    Result<idl::NicInfo> info() override {
        idl::NicInfo i{};
        memcpy(i.mac, OUR_MAC, 6);
        i.mtu = 1500;
        i.max_frame = MAX_FRAME;
        i.rx_ring = 256;
        i.tx_ring = 256;
        memcpy(i.driver, "fuzz", 4);
        return i;
    }
    Result<idl::NicLink> link() override { return idl::NicLink{true, true, 1000}; }
    Result<idl::NicCounters> counters() override { return idl::NicCounters{}; }
    Result<uint32_t> wait(uint64_t) override { return arriving.empty() ? 0u : 1u; }

    Result<RRefDeque<NetPacket, 64>> transfer(RRefDeque<NetPacket, 64> batch) override {
        std::vector<RRef<NetPacket>> done;
        while (!batch.empty()) {
            RRef<NetPacket> p = batch.pop_front();
            if (p->kind == PacketKind::RxBuffer) {
                if (ring.size() < 256) ring.push_back(static_cast<RRef<NetPacket>&&>(p));
                continue;
            }
            FUZZ_CHECK(p->kind == PacketKind::TxFrame, "a packet of kind %d handed to the driver", int(p->kind));
            FUZZ_CHECK(size_t(p->offset) + p->len <= sizeof p->data, "a frame past its buffer");
            FUZZ_CHECK(p->len >= 14 && p->len <= MAX_FRAME, "a frame of %u bytes", p->len);
            FUZZ_CHECK(memcmp(p->data + p->offset + 6, OUR_MAC, 6) == 0, "a frame with another source MAC");
            note_tcp(p->data + p->offset, p->len);
            sent++;
            p->kind = PacketKind::TxDone;
            p->status = 0;
            done.push_back(static_cast<RRef<NetPacket>&&>(p));
        }
        for (auto& p : done) FUZZ_CHECK(batch.push_back(static_cast<RRef<NetPacket>&&>(p)).is_ok(), "batch full");
        // As a device would, frames land only in buffers the stack posted; the rest wait.
        for (; !batch.full() && !arriving.empty() && !ring.empty(); arriving.pop_front()) {
            NetPacket& rx = *ring.front();
            rx.kind = PacketKind::RxFrame;
            rx.status = 0, rx.flags = 0, rx.offset = RX_OFFSET, rx.len = uint16_t(arriving.front().size());
            if (rx.len != 0) memcpy(rx.data + RX_OFFSET, arriving.front().data(), rx.len);
            FUZZ_CHECK(batch.push_back(static_cast<RRef<NetPacket>&&>(ring.front())).is_ok(), "batch full");
            ring.pop_front();
        }
        return batch;
    }
};

class Events final : public idl::NetEvents {
public:
    Result<RRef<idl::NetEventBatch>> ready(RRef<idl::NetEventBatch> batch) override {
        FUZZ_CHECK(batch->count <= 64, "an event batch of %u", batch->count);
        return batch;
    }
};

// The Internet checksum (RFC 1071) over a pseudo-header sum and the bytes.
uint16_t checksum(const uint8_t* p, size_t n, uint32_t sum) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}

// Our MAC as destination; for IPv4 (RFC 791 3.1) a total length that fits and the header
// checksum, and for a first fragment the TCP (RFC 793 3.1), UDP (RFC 768) or ICMP (RFC 792)
// checksum over what follows.
void fix_up(std::vector<uint8_t>& f, const std::map<uint16_t, uint32_t>& next_seq) {
    if (f.size() < 14) return;
    memcpy(f.data(), OUR_MAC, 6);
    if (f[12] != 0x08 || f[13] != 0x00 || f.size() < 14 + 20) return;
    uint8_t* ip = f.data() + 14;
    size_t avail = f.size() - 14;
    size_t hl = size_t(ip[0] & 0x0f) * 4;
    if (hl < 20 || hl > avail) return;
    size_t total = size_t(ip[2]) << 8 | ip[3];
    if (total < hl || total > avail) total = avail;
    put16(ip + 2, uint16_t(total));
    ip[10] = ip[11] = 0;
    put16(ip + 10, checksum(ip, hl, 0));
    if ((ip[6] & 0x1f) != 0 || ip[7] != 0) return;  // not a first fragment
    uint8_t* l4 = ip + hl;
    size_t len = total - hl;
    uint32_t pseudo = (uint32_t(ip[12]) << 8 | ip[13]) + (uint32_t(ip[14]) << 8 | ip[15]) +
                      (uint32_t(ip[16]) << 8 | ip[17]) + (uint32_t(ip[18]) << 8 | ip[19]) + ip[9] + uint32_t(len);
    size_t at;
    switch (ip[9]) {
        case 1:  // ICMP: no pseudo-header
            at = 2, pseudo = 0;
            break;
        case 6:
            at = 16;
            break;
        case 17:
            at = 6;
            break;
        default:
            return;
    }
    if (len < at + 2 || (ip[9] == 17 && len < 8)) return;
    if (ip[9] == 17) put16(l4 + 4, uint16_t(len));
    if (ip[9] == 6 && len >= 20) {
        // An acknowledgement number below 65536 counts from what the stack sent that port.
        auto it = next_seq.find(uint16_t(l4[0] << 8 | l4[1]));
        uint32_t ack = uint32_t(l4[8]) << 24 | uint32_t(l4[9]) << 16 | uint32_t(l4[10]) << 8 | l4[11];
        if (it != next_seq.end() && ack < 65536) {
            ack += it->second;
            put16(l4 + 8, uint16_t(ack >> 16));
            put16(l4 + 10, uint16_t(ack));
        }
    }
    l4[at] = l4[at + 1] = 0;
    put16(l4 + at, checksum(l4, len, pseudo));
}

// The one instance, made on the first input.
struct Stack {
    host::HostDomains host;
    Platform platform;
    FuzzNic nic;
    Events events;
    proxy_rt::DomainRecord* net_domain = nullptr;
    proxy_rt::DomainRecord* driver_domain = nullptr;
    idl::NicProxy* nic_proxy = nullptr;
    idl::NetEventsProxy* events_proxy = nullptr;
    idl::NetProxy* net = nullptr;
    net::HostInstance instance{};
    uint32_t listener = 0, udp = 0, icmp = 0;

    bool start() {
        for (auto* types : {idl::nic_types, idl::net_types})
            for (const TypeInfo* const* t = types; *t != nullptr; t++) (void)host.heap().register_type(**t);
        driver_domain = &host.create_domain();
        net_domain = &host.create_domain();
        nic_proxy = new idl::NicProxy(*driver_domain, nic);
        events_proxy = new idl::NetEventsProxy(host.record(KERNEL_DOMAIN), events);
        struct Args {
            Stack* s;
            bool ok;
        } args{this, false};
        auto entry = [](void* p) {
            auto* a = static_cast<Args*>(p);
            idl::Nic* nics[] = {a->s->nic_proxy};
            net::NetSeed seed{{1, 2, 3, 4}};
            a->ok = lamina_net_host_instance(a->s->platform, seed, nics, 1, *a->s->events_proxy, &a->s->instance);
        };
        if (host.call_into(*net_domain, entry, &args) != DomainError::None || !args.ok) return false;
        net = new idl::NetProxy(*net_domain, *instance.net);
        // 10.0.0.1/24 behind a gateway at .254: the peer (10.0.0.2) is on the link.
        idl::NetIfConfig config{true, false, {10, 0, 0, 1}, {255, 255, 255, 0}, {10, 0, 0, 254}};
        if (net->if_configure(2, config).is_error()) return false;
        listener = open(SockKind::Stream, 0, 80);
        if (listener == 0 || net->listen(listener, 8).is_error()) return false;
        udp = open(SockKind::Datagram, 0, 53);
        icmp = open(SockKind::Raw, 1, 0);
        return udp != 0 && icmp != 0;
    }

    uint32_t open(SockKind kind, uint8_t protocol, uint16_t port) {
        auto s = net->socket(kind, protocol);
        if (s.is_error()) return 0;
        if (port != 0 && net->bind(s.value(), NetAddr{{0, 0, 0, 0}, port}).is_error()) return 0;
        return s.value();
    }

    void step() {
        auto run = [](void* p) { static_cast<net::NetLoop*>(p)->step(); };
        FUZZ_CHECK(host.call_into(*net_domain, run, instance.loop) == DomainError::None, "the stack's loop faulted");
    }
    void advance(uint64_t ms) {
        // In steps of at most 250 ms (lwIP's TCP timer), as a loop woken by its timers would run.
        for (uint64_t left = ms; left > 0;) {
            uint64_t d = left < 250 ? left : 250;
            platform.now += d * 1'000'000;
            left -= d;
            step();
        }
        step();
    }
    bool alive() { return proxy_rt::is_alive(*net_domain); }
};

Stack* the_stack() {
    static Stack* s = [] {
        auto* n = new Stack;
        FUZZ_CHECK(n->start(), "the stack did not start");
        return n;
    }();
    return s;
}

void send_bytes(Stack& s, uint32_t sock, NetAddr to, size_t n, uint8_t fill) {
    auto buf = RRefBytes::create(uint32_t(n));
    if (buf.is_error()) return;
    memset(buf.value().data(), fill, n);
    (void)buf.value().set_length(uint32_t(n));
    (void)s.net->send(sock, 0, to, buf.value());
}

void kernel_call(Stack& s, uint8_t which, fuzz::Input& in, std::vector<uint32_t>& mine) {
    uint8_t pick = in.take<uint8_t>();
    uint32_t fixed[] = {s.listener, s.udp, s.icmp};
    uint32_t sock = !mine.empty() && pick & 0x80 ? mine[pick % mine.size()] : fixed[pick % 3];
    switch (which % 8) {
        case 0: {
            auto a = s.net->accept(s.listener);
            if (a.is_ok() && mine.size() < 16)
                mine.push_back(a.value().sock);
            else if (a.is_ok())
                (void)s.net->close(a.value().sock);
            break;
        }
        case 1: {
            auto msg = RRef<idl::NetMessage>::create();
            auto buf = RRefBytes::create(4096);
            if (msg.is_error() || buf.is_error()) break;
            msg.value()->data = buf.release_value();
            auto r = s.net->recv(sock, pick & 1 ? 2 /* MSG_PEEK */ : 0, msg.release_value());
            if (r.is_ok()) FUZZ_CHECK(r.value()->data.length() <= 4096, "recv returned more than the buffer");
            break;
        }
        case 2:
            send_bytes(s, sock, NetAddr{{10, 0, 0, 2}, 7}, 1 + in.take<uint16_t>() % 6000, pick);
            break;
        case 3:
            (void)s.net->shutdown(sock, pick % 3);
            break;
        case 4:
            for (size_t i = 0; i < mine.size(); i++) {
                if (mine[i] != sock) continue;
                (void)s.net->close(sock);
                mine.erase(mine.begin() + long(i));
                break;
            }
            break;
        case 5: {
            if (mine.size() >= 16) break;
            uint32_t c = s.open(SockKind::Stream, 0, 0);
            if (c == 0) break;
            mine.push_back(c);
            (void)s.net->connect(c, NetAddr{{PEER_IP[0], PEER_IP[1], PEER_IP[2], PEER_IP[3]}, uint16_t(80 + pick % 4)});
            break;
        }
        case 6:
            send_bytes(s, s.udp, NetAddr{{PEER_IP[0], PEER_IP[1], PEER_IP[2], PEER_IP[3]}, 53}, pick % 1600, pick);
            break;
        default: {
            // An echo request (RFC 792) to the peer: raw sends take what follows the IP header.
            auto buf = RRefBytes::create(64);
            if (buf.is_error()) break;
            uint8_t* p = buf.value().data();
            memset(p, pick, 64);
            p[0] = 8, p[1] = 0, p[2] = p[3] = 0;
            put16(p + 2, checksum(p, 64, 0));
            (void)buf.value().set_length(64);
            (void)s.net->send(s.icmp, 0, NetAddr{{PEER_IP[0], PEER_IP[1], PEER_IP[2], PEER_IP[3]}, 0}, buf.value());
            break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Stack& s = *the_stack();
    fuzz::Input in(data, size);
    std::vector<uint32_t> mine;
    while (!in.empty()) {
        uint8_t op = in.take<uint8_t>();
        switch (op & 3) {
            case 0:
            case 1: {
                size_t len = in.take<uint16_t>() % 1600, got;
                const uint8_t* b = in.bytes(len, &got);
                std::vector<uint8_t> frame(b, b + got);
                if (op & 1) fix_up(frame, s.nic.next_seq);
                // A driver never hands over more than max_frame (nic.idl); past that is its bug.
                if (frame.size() > MAX_FRAME) frame.resize(MAX_FRAME);
                s.nic.arriving.push_back(static_cast<std::vector<uint8_t>&&>(frame));
                s.step();
                break;
            }
            case 2:
                s.advance(in.take<uint16_t>() % 10000);
                break;
            default:
                kernel_call(s, op >> 2, in, mine);
                break;
        }
        FUZZ_CHECK(s.alive(), "the stack's domain died");
    }
    for (uint32_t sock : mine) (void)s.net->close(sock);
    s.advance(500);
    FUZZ_CHECK(s.host.violations() == 0, "exchange heap violation: %s", s.host.last_violation().name());
    return 0;
}
