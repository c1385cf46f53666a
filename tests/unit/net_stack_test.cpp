// Host tests of the netstack core (domains/net) with lwIP: two stack instances joined by a model
// wire (tests/unit/net_wire.h), each a copy of the netstack shared object loaded into its own
// host domain (lwIP's globals are per copy, as they are per domain instance on Lamina). The
// test plays the kernel: it calls each instance through a generated NetProxy, receives its
// readiness events through a NetEventsProxy, and runs the instances' loops on a virtual clock.
// The wire's ends are the NIC "driver" domain behind NicProxies, so every packet buffer really
// changes hands between the domains.
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "domains/net/host_instance.h"
#include "interfaces/net.h"
#include "interfaces/nic.h"
#include "tests/unit/host_domains.h"
#include "tests/unit/net_wire.h"

extern "C" const unsigned char lamina_test_netstack_so_start[];
extern "C" const unsigned char lamina_test_netstack_so_end[];

namespace {

using lamina::Errno;
using lamina::RRef;
using lamina::RRefBytes;
using lamina::host::HostDomains;
using lamina::idl::NetAddr;
using lamina::idl::NetIfConfig;
using lamina::idl::NetMessage;
using lamina::idl::SockKind;
using lamina::idl::SockOpt;
using lamina::net_test::WireEnd;
namespace proxy_rt = lamina::proxy_rt;

constexpr uint32_t READABLE = 1, WRITABLE = 2, HANGUP = 4, ERROR = 8, CONNECTED = 16, GONE = 32;
constexpr uint32_t ETH0 = 2;

NetAddr addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port = 0) { return NetAddr{{a, b, c, d}, port}; }

std::string pattern(size_t n, uint32_t seed) {
    std::string s(n, '\0');
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        s[i] = char(x >> 24);
    }
    return s;
}

// The virtual clock and log every instance shares.
class TestPlatform final : public lamina::net::NetPlatform {
public:
    uint64_t now = 1'000'000'000;
    std::vector<std::string> lines;
    uint64_t now_ns() override { return now; }
    void log(const char* line) override { lines.emplace_back(line); }
    [[noreturn]] void fatal(const char* line) override {
        lines.emplace_back(line);
        ADD_FAILURE() << "netstack instance failed: " << line;
        HostDomains::installed().fault();
    }
};

// The kernel's side of readiness: the latest state of every socket handle.
class EventSink final : public lamina::idl::NetEvents {
public:
    struct State {
        uint32_t bits = 0;
        int32_t error = 0;
        lamina::idl::NetConnection conn{};
    };
    std::map<uint32_t, State> states;
    uint64_t events = 0;

    lamina::Result<RRef<lamina::idl::NetEventBatch>> ready(RRef<lamina::idl::NetEventBatch> batch) override {
        EXPECT_LE(batch->count, 64u);
        for (uint32_t i = 0; i < batch->count; i++) {
            auto& e = batch->events[i];
            states[e.sock] = {e.state, e.error, e.conn};
            events++;
        }
        return batch;
    }
    uint32_t bits(uint32_t sock) const {
        auto it = states.find(sock);
        return it == states.end() ? 0 : it->second.bits;
    }
};

// A copy of the netstack shared object, loaded from a memfd so that every load is a new copy.
class LoadedCopy {
public:
    LoadedCopy() {
        fd_ = memfd_create("netstack.so", MFD_CLOEXEC);
        EXPECT_GE(fd_, 0);
        size_t size = size_t(lamina_test_netstack_so_end - lamina_test_netstack_so_start);
        EXPECT_EQ(write(fd_, lamina_test_netstack_so_start, size), ssize_t(size));
        std::string path = "/proc/self/fd/" + std::to_string(fd_);
        handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        EXPECT_NE(handle_, nullptr) << dlerror();
        if (handle_ != nullptr)
            entry = reinterpret_cast<lamina::net::HostInstanceEntry>(dlsym(handle_, lamina::net::HOST_INSTANCE_ENTRY));
    }
    ~LoadedCopy() {
        if (handle_ != nullptr) dlclose(handle_);
        if (fd_ >= 0) close(fd_);
    }
    LoadedCopy(const LoadedCopy&) = delete;
    lamina::net::HostInstanceEntry entry = nullptr;

private:
    int fd_ = -1;
    void* handle_ = nullptr;
};

// One machine: a stack instance in its own domain over one wire end.
class Node {
public:
    Node(HostDomains& host, TestPlatform& platform, proxy_rt::DomainRecord& driver, WireEnd& wire, uint8_t last_byte)
        : host_(host),
          platform_(platform),
          nic_(driver, wire),
          events_(host.record(lamina::KERNEL_DOMAIN), sink),
          ip_{10, 0, 0, last_byte} {}

    EventSink sink;

    // A fresh instance (a new domain with a new copy of the stack), configured like the last.
    void start(uint64_t seed = 0) {
        stop();
        copy_ = std::make_unique<LoadedCopy>();
        ASSERT_NE(copy_->entry, nullptr);
        domain_ = &host_.create_domain();
        struct Args {
            Node* node;
            lamina::net::NetSeed seed;
            bool ok;
        } args{this, {{seed ? seed : 0x1234 + domain_->id, domain_->id * 77ull, ~seed, 42}}, false};
        auto start = [](void* p) {
            auto* a = static_cast<Args*>(p);
            lamina::idl::Nic* nics[] = {&a->node->nic_};
            a->ok = a->node->copy_->entry(a->node->platform_, a->seed, nics, 1, a->node->events_, &a->node->instance_);
        };
        ASSERT_EQ(host_.call_into(*domain_, start, &args), lamina::DomainError::None);
        ASSERT_TRUE(args.ok);
        net_ = std::make_unique<lamina::idl::NetProxy>(*domain_, *instance_.net);
        NetIfConfig config{true, false, {ip_[0], ip_[1], ip_[2], ip_[3]}, {255, 255, 255, 0}, {0, 0, 0, 0}};
        ASSERT_TRUE(net_->if_configure(ETH0, config).is_ok());
        sink.states.clear();
    }
    // The instance dies: its domain is dead and its exchange-heap objects are reclaimed.
    void stop() {
        if (domain_ == nullptr) return;
        net_.reset();
        host_.reclaim(domain_->id);
        domain_ = nullptr;
        copy_.reset();
    }
    ~Node() { stop(); }

    bool alive() const { return domain_ != nullptr && proxy_rt::is_alive(*domain_); }
    void step() {
        if (!alive()) return;
        auto run = [](void* p) { static_cast<lamina::net::NetLoop*>(p)->step(); };
        EXPECT_EQ(host_.call_into(*domain_, run, instance_.loop), lamina::DomainError::None);
    }
    uint64_t next_timer_ns() {
        if (!alive()) return UINT64_MAX;
        struct Args {
            lamina::net::NetLoop* loop;
            uint64_t ns;
        } a{instance_.loop, 0};
        (void)host_.call_into(
            *domain_,
            [](void* p) {
                auto* x = static_cast<Args*>(p);
                x->ns = x->loop->next_timer_ns();
            },
            &a);
        return a.ns;
    }

    lamina::idl::Net& net() { return *net_; }
    NetAddr ip(uint16_t port = 0) const { return addr(ip_[0], ip_[1], ip_[2], ip_[3], port); }
    proxy_rt::DomainRecord& domain() { return *domain_; }

    // Socket helpers, as the kernel's socket layer would use the calls.
    uint32_t socket(SockKind kind, uint8_t protocol = 0) {
        auto r = net_->socket(kind, protocol);
        EXPECT_TRUE(r.is_ok()) << r.error().name();
        return r.is_ok() ? r.value() : 0;
    }
    lamina::Result<uint32_t> send(uint32_t sock, const std::string& data, NetAddr to = {}) {
        auto buf = RRefBytes::create(uint32_t(data.size()));
        EXPECT_TRUE(buf.is_ok());
        memcpy(buf.value().data(), data.data(), data.size());
        EXPECT_TRUE(buf.value().set_length(uint32_t(data.size())).is_ok());
        return net_->send(sock, 0, to, buf.value());
    }
    // One recv of up to max bytes: the data, or the error.
    lamina::Result<std::string> recv(uint32_t sock, uint32_t max, NetAddr* from = nullptr, uint32_t flags = 0,
                                     uint32_t* full_len = nullptr) {
        auto msg = RRef<NetMessage>::create();
        EXPECT_TRUE(msg.is_ok());
        auto buf = RRefBytes::create(max);
        EXPECT_TRUE(buf.is_ok());
        msg.value()->data = buf.release_value();
        auto r = net_->recv(sock, flags, msg.release_value());
        if (r.is_error()) return r.error();
        if (from) *from = r.value()->from;
        if (full_len) *full_len = r.value()->full_len;
        return std::string(reinterpret_cast<const char*>(r.value()->data.data()), r.value()->data.length());
    }

private:
    HostDomains& host_;
    TestPlatform& platform_;
    lamina::idl::NicProxy nic_;
    lamina::idl::NetEventsProxy events_;
    uint8_t ip_[4];
    std::unique_ptr<LoadedCopy> copy_;
    proxy_rt::DomainRecord* domain_ = nullptr;
    lamina::net::HostInstance instance_{};
    std::unique_ptr<lamina::idl::NetProxy> net_;
};

class NetStackTest : public ::testing::Test {
protected:
    NetStackTest() : driver(host.create_domain()), end_a(0xa), end_b(0xb) {
        for (auto* types : {lamina::idl::nic_types, lamina::idl::net_types})
            for (const lamina::TypeInfo* const* t = types; *t != nullptr; t++)
                EXPECT_TRUE(host.heap().register_type(**t).is_ok());
        end_a.connect(end_b);
        end_b.connect(end_a);
        a = std::make_unique<Node>(host, platform, driver, end_a, 1);
        b = std::make_unique<Node>(host, platform, driver, end_b, 2);
        a->start();
        b->start();
    }
    ~NetStackTest() override {
        a.reset();
        b.reset();
        EXPECT_EQ(host.violations(), 0u) << host.last_violation().name();
    }

    // Runs both loops until done() or max_ms of virtual time. While frames are on the wire the
    // clock moves 100 us a round; when the wire is idle it jumps to the next lwIP timer.
    bool run_until(const std::function<bool()>& done, uint64_t max_ms = 10'000) {
        uint64_t end = platform.now + max_ms * 1'000'000;
        while (platform.now < end) {
            a->step();
            b->step();
            if (done()) return true;
            if (!end_a.arriving.empty() || !end_b.arriving.empty()) {
                platform.now += 100'000;
            } else {
                uint64_t wait = std::min(a->next_timer_ns(), b->next_timer_ns());
                platform.now += std::clamp<uint64_t>(wait, 100'000, 250'000'000);
            }
        }
        return done();
    }
    void run_for(uint64_t ms) {
        run_until([] { return false; }, ms);
    }

    // A connected pair: client on a, server (accepted) on b; returns {client, listener, server}.
    struct Conn {
        uint32_t client, listener, server;
    };
    Conn connect_pair(uint16_t port) {
        Conn c{};
        c.listener = b->socket(SockKind::Stream);
        EXPECT_TRUE(b->net().bind(c.listener, addr(0, 0, 0, 0, port)).is_ok());
        EXPECT_TRUE(b->net().listen(c.listener, 8).is_ok());
        c.client = a->socket(SockKind::Stream);
        EXPECT_TRUE(a->net().connect(c.client, b->ip(port)).is_ok());
        EXPECT_TRUE(
            run_until([&] { return (a->sink.bits(c.client) & CONNECTED) && (b->sink.bits(c.listener) & READABLE); }));
        auto accepted = b->net().accept(c.listener);
        EXPECT_TRUE(accepted.is_ok());
        if (accepted.is_ok()) {
            c.server = accepted.value().sock;
            EXPECT_EQ(memcmp(accepted.value().peer.ip, a->ip().ip, 4), 0);
        }
        return c;
    }

    // Moves data from one stream socket to another through the loops, as a blocking writer
    // and reader would: sends while the stack takes it, receives what arrived.
    std::string transfer(Node& from, uint32_t out, Node& to, uint32_t in, const std::string& data) {
        size_t sent = 0;
        std::string got;
        run_until(
            [&] {
                while (sent < data.size()) {
                    auto r = from.send(out, data.substr(sent, 65536));
                    if (r.is_error()) {
                        EXPECT_EQ(r.error().code(), Errno::Again);
                        break;
                    }
                    sent += r.value();
                }
                for (;;) {
                    auto r = to.recv(in, 65536);
                    if (r.is_error()) {
                        EXPECT_EQ(r.error().code(), Errno::Again);
                        break;
                    }
                    if (r.value().empty()) break;
                    got += r.value();
                }
                return got.size() >= data.size();
            },
            120'000);
        return got;
    }

    HostDomains host;
    TestPlatform platform;
    proxy_rt::DomainRecord& driver;
    WireEnd end_a, end_b;
    std::unique_ptr<Node> a, b;
};

// ICMP echo on a raw socket; the first packet needs ARP both ways.
std::string echo_request(uint16_t id, uint16_t seq, const std::string& payload) {
    std::string m(8, '\0');
    m[0] = 8;  // echo request
    m[4] = char(id >> 8), m[5] = char(id);
    m[6] = char(seq >> 8), m[7] = char(seq);
    m += payload;
    uint32_t sum = 0;
    for (size_t i = 0; i < m.size(); i += 2) sum += (uint8_t(m[i]) << 8) | (i + 1 < m.size() ? uint8_t(m[i + 1]) : 0);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    m[2] = char(~sum >> 8), m[3] = char(~sum);
    return m;
}

TEST_F(NetStackTest, ArpThenIcmpEchoOnARawSocket) {
    end_a.logging = true;
    uint32_t s = a->socket(SockKind::Raw, 1);
    ASSERT_TRUE(a->send(s, echo_request(0x4242, 1, "lamina ping"), b->ip()).is_ok());
    std::string reply;
    NetAddr from{};
    ASSERT_TRUE(run_until([&] {
        auto r = a->recv(s, 2048, &from);
        if (r.is_ok()) reply = r.value();
        return r.is_ok();
    }));
    // An IPv4 header (raw sockets see it, as on Linux), then the echo reply with our id and seq.
    ASSERT_GE(reply.size(), 20u + 8u);
    size_t ihl = (uint8_t(reply[0]) & 0xf) * 4;
    EXPECT_EQ(uint8_t(reply[0]) >> 4, 4);
    EXPECT_EQ(reply[9], 1);    // ICMP
    EXPECT_EQ(reply[ihl], 0);  // echo reply
    EXPECT_EQ(reply.substr(ihl + 4, 4), std::string("\x42\x42\x00\x01", 4));
    EXPECT_EQ(reply.substr(ihl + 8), "lamina ping");
    EXPECT_EQ(memcmp(from.ip, b->ip().ip, 4), 0);
    // The first frame a sent was an ARP request (ethertype 0x0806) for b's address.
    ASSERT_FALSE(end_a.log.empty());
    EXPECT_EQ(end_a.log[0][12], 0x08);
    EXPECT_EQ(end_a.log[0][13], 0x06);
    EXPECT_EQ(memcmp(&end_a.log[0][38], b->ip().ip, 4), 0);
    // Only socket handles a created got events.
    for (auto& [sock, st] : a->sink.states) EXPECT_EQ(sock, s);
    auto status = a->net().if_status(ETH0);
    ASSERT_TRUE(status.is_ok());
    EXPECT_GE(status.value().rx_frames, 2u);  // the ARP reply and the echo reply
    EXPECT_GE(status.value().tx_frames, 2u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(status.value().name)), "eth0");
    EXPECT_EQ(status.value().flags & 0x41, 0x41u);  // IFF_UP | IFF_RUNNING
    EXPECT_TRUE(a->net().close(s).is_ok());
}

// A ping socket (Linux's SOCK_DGRAM + IPPROTO_ICMP): the stack fills in its identifier and the
// checksum, and hands it only the echo replies carrying that identifier, without the IP header;
// a raw socket still sees every reply.
TEST_F(NetStackTest, PingSocketsGetTheirOwnEchoReplies) {
    auto& net = a->net();
    uint32_t ping = a->socket(SockKind::Ping, 1);
    uint32_t other = a->socket(SockKind::Ping, 1);
    uint32_t raw = a->socket(SockKind::Raw, 1);
    auto bound = net.bind(ping, addr(0, 0, 0, 0, 0));
    ASSERT_TRUE(bound.is_ok());
    uint16_t ident = bound.value().port;
    EXPECT_NE(ident, 0);
    auto names = net.names(ping);
    ASSERT_TRUE(names.is_ok());
    EXPECT_EQ(names.value().local.port, ident);
    // Without SO_REUSEADDR (on by default, as on Linux) the identifier is the socket's own: a
    // second socket may not take it, and gets another.
    ASSERT_TRUE(net.setopt(other, SockOpt::ReuseAddr, 0).is_ok());
    EXPECT_EQ(net.bind(other, addr(0, 0, 0, 0, ident)).error().code(), Errno::AddrInUse);
    EXPECT_EQ(net.bind(ping, addr(0, 0, 0, 0, 7)).error().code(), Errno::Inval);  // bound already
    ASSERT_TRUE(net.connect(other, b->ip()).is_ok());                             // binds one
    auto other_names = net.names(other);
    ASSERT_TRUE(other_names.is_ok());
    EXPECT_NE(other_names.value().local.port, 0);
    EXPECT_NE(other_names.value().local.port, ident);
    // Only echo requests, at least the ICMP header.
    EXPECT_EQ(a->send(ping, "short", b->ip()).error().code(), Errno::Inval);
    std::string timestamp = echo_request(1, 1, "x");
    timestamp[0] = 13;
    EXPECT_EQ(a->send(ping, timestamp, b->ip()).error().code(), Errno::Inval);

    // Whatever id and checksum the caller wrote are replaced.
    std::string request = echo_request(0x1111, 7, "lamina ping socket");
    request[2] = request[3] = 0x55;
    ASSERT_TRUE(a->send(ping, request, b->ip(9999)).is_ok());
    std::string reply;
    NetAddr from{};
    ASSERT_TRUE(run_until([&] {
        auto r = a->recv(ping, 2048, &from);
        if (r.is_ok()) reply = r.value();
        return r.is_ok();
    }));
    ASSERT_EQ(reply.size(), 8u + 18u);
    EXPECT_EQ(reply[0], 0);  // echo reply, from the ICMP header on
    EXPECT_EQ(reply.substr(4, 4), std::string({char(ident >> 8), char(ident), 0, 7}));
    EXPECT_EQ(reply.substr(8), "lamina ping socket");
    EXPECT_EQ(memcmp(from.ip, b->ip().ip, 4), 0);
    EXPECT_EQ(from.port, 0);
    // The raw socket saw the same reply with its IP header; the other ping socket nothing.
    auto seen = a->recv(raw, 2048);
    ASSERT_TRUE(seen.is_ok());
    EXPECT_EQ(seen.value().size(), 20u + reply.size());
    EXPECT_EQ(seen.value().substr(20), reply);
    EXPECT_EQ(a->recv(other, 2048).error().code(), Errno::Again);
    EXPECT_EQ(a->recv(ping, 2048).error().code(), Errno::Again);
    // With SO_REUSEADDR on both, a socket may share the identifier: the one bound last gets the
    // replies.
    uint32_t shared = a->socket(SockKind::Ping, 1);
    ASSERT_TRUE(net.bind(shared, addr(0, 0, 0, 0, ident)).is_ok());
    ASSERT_TRUE(a->send(ping, echo_request(0, 8, "shared"), b->ip()).is_ok());
    ASSERT_TRUE(run_until([&] { return a->recv(shared, 2048).is_ok(); }));
    EXPECT_EQ(a->recv(ping, 2048).error().code(), Errno::Again);
    for (uint32_t s : {ping, other, raw, shared}) EXPECT_TRUE(net.close(s).is_ok());
    // A closed socket's identifier is free again.
    uint32_t again = a->socket(SockKind::Ping, 1);
    EXPECT_TRUE(net.bind(again, addr(0, 0, 0, 0, ident)).is_ok());
    EXPECT_EQ(net.socket(SockKind::Ping, 17).error().code(), Errno::ProtoNoSupport);
}

TEST_F(NetStackTest, UdpDatagramsBothWaysWithTruncationAndPeek) {
    uint32_t server = b->socket(SockKind::Datagram);
    auto bound = b->net().bind(server, addr(0, 0, 0, 0, 7000));
    ASSERT_TRUE(bound.is_ok());
    EXPECT_EQ(bound.value().port, 7000);
    uint32_t client = a->socket(SockKind::Datagram);
    ASSERT_TRUE(a->send(client, "hello over udp", b->ip(7000)).is_ok());
    NetAddr from{};
    std::string got;
    ASSERT_TRUE(run_until([&] { return b->sink.bits(server) & READABLE; }));
    uint32_t full = 0;
    auto peek = b->recv(server, 5, &from, 0x2 /* MSG_PEEK */, &full);
    ASSERT_TRUE(peek.is_ok());
    EXPECT_EQ(peek.value(), "hello");
    EXPECT_EQ(full, 14u);  // MSG_TRUNC's answer: the whole datagram's length
    auto r = b->recv(server, 100, &from);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value(), "hello over udp");
    EXPECT_EQ(memcmp(from.ip, a->ip().ip, 4), 0);
    EXPECT_NE(from.port, 0);
    EXPECT_EQ(b->recv(server, 100).error().code(), Errno::Again);

    ASSERT_TRUE(b->send(server, "and back", from).is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(client) & READABLE; }));
    NetAddr back{};
    EXPECT_EQ(a->recv(client, 100, &back).value(), "and back");
    EXPECT_EQ(back.port, 7000);
    // A connected datagram socket sends to its peer without an address.
    ASSERT_TRUE(a->net().connect(client, b->ip(7000)).is_ok());
    ASSERT_TRUE(a->send(client, "connected").is_ok());
    ASSERT_TRUE(run_until([&] { return b->sink.bits(server) & READABLE; }));
    EXPECT_EQ(b->recv(server, 100).value(), "connected");
    auto names = a->net().names(client);
    ASSERT_TRUE(names.is_ok());
    EXPECT_EQ(names.value().peer.port, 7000);
    EXPECT_EQ(names.value().local.port, from.port);

    // Broadcast: sending needs SO_BROADCAST; receiving does not (as on Linux).
    uint32_t caster = a->socket(SockKind::Datagram);
    EXPECT_EQ(a->send(caster, "to all", addr(10, 0, 0, 255, 7000)).error().code(), Errno::Acces);
    ASSERT_TRUE(a->net().setopt(caster, SockOpt::Broadcast, 1).is_ok());
    ASSERT_TRUE(a->send(caster, "to all", addr(10, 0, 0, 255, 7000)).is_ok());
    ASSERT_TRUE(run_until([&] { return b->sink.bits(server) & READABLE; }));
    EXPECT_EQ(b->recv(server, 100).value(), "to all");
}

TEST_F(NetStackTest, TcpConnectTransferCheckedAndClose) {
    Conn c = connect_pair(8080);
    std::string data = pattern(4 << 20, 1);
    EXPECT_EQ(transfer(*a, c.client, *b, c.server, data) == data, true);
    // And the other way, smaller.
    std::string back = pattern(300000, 2);
    EXPECT_EQ(transfer(*b, c.server, *a, c.client, back) == back, true);
    // The stacks post receive buffers up to the ring's size, not every buffer a send freed.
    EXPECT_GT(end_a.ring_held(), 0u);
    EXPECT_LE(end_a.ring_held(), WireEnd::RING);
    EXPECT_LE(end_b.ring_held(), WireEnd::RING);

    // The client closes its side: the server reads the end, then closes too.
    ASSERT_TRUE(a->net().shutdown(c.client, 1).is_ok());
    ASSERT_TRUE(run_until([&] { return b->sink.bits(c.server) & HANGUP; }));
    auto end = b->recv(c.server, 100);
    ASSERT_TRUE(end.is_ok());
    EXPECT_EQ(end.value(), "");
    EXPECT_EQ(b->send(c.server, "late").value(), 4u);  // half-closed: the server may still send
    ASSERT_TRUE(run_until([&] { return a->sink.bits(c.client) & READABLE; }));
    EXPECT_EQ(a->recv(c.client, 100).value(), "late");
    EXPECT_EQ(a->send(c.client, "x").error().code(), Errno::Pipe);
    ASSERT_TRUE(b->net().close(c.server).is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(c.client) & HANGUP; }));
    EXPECT_EQ(a->recv(c.client, 100).value(), "");
    // lwIP ends the client's TIME_WAIT (2 MSL, 120 s) alone and reuses the pcb for the next
    // connection: the old socket, closed only now, must not touch it.
    run_for(130'000);
    Conn next = connect_pair(8081);
    ASSERT_TRUE(a->net().close(c.client).is_ok());
    EXPECT_EQ(a->net().close(c.client).error().code(), Errno::BadF);  // the handle is gone
    EXPECT_EQ(transfer(*a, next.client, *b, next.server, "next one"), "next one");
    EXPECT_EQ(transfer(*b, next.server, *a, next.client, "and back"), "and back");
    EXPECT_EQ(a->sink.states[next.client].error, 0);
}

// Unread receive windows hold the NIC's buffers (zero copy). Three connections' worth is more
// than the stack may hold, so the rest arrives by copy; every byte is right either way, and
// once read, the buffers are back with the driver.
TEST_F(NetStackTest, ZeroCopyReceiveFallsBackToCopyUnderPressure) {
    std::vector<Conn> conns;
    for (uint16_t i = 0; i < 3; i++) conns.push_back(connect_pair(uint16_t(6000 + i)));
    std::vector<std::string> data;
    for (uint32_t i = 0; i < 3; i++) data.push_back(pattern(200000, 20 + i));
    std::vector<size_t> sent(3, 0);
    run_until(
        [&] {
            bool all = true;
            for (size_t i = 0; i < 3; i++) {
                while (sent[i] < data[i].size()) {
                    auto r = a->send(conns[i].client, data[i].substr(sent[i], 65536));
                    if (r.is_error()) break;
                    sent[i] += r.value();
                }
                all = all && sent[i] == data[i].size();
            }
            return all && end_b.arriving.empty();
        },
        60'000);
    run_for(1000);
    auto st = b->net().if_status(ETH0);
    ASSERT_TRUE(st.is_ok());
    EXPECT_GT(st.value().rx_copied, 0u);
    EXPECT_LT(st.value().rx_copied, st.value().rx_frames);
    for (size_t i = 0; i < 3; i++) {
        std::string got;
        for (;;) {
            auto r = b->recv(conns[i].server, 65536);
            if (r.is_error() || r.value().empty()) break;
            got += r.value();
        }
        EXPECT_EQ(got.size(), data[i].size());
        EXPECT_TRUE(got == data[i]) << "connection " << i;
    }
}

TEST_F(NetStackTest, ListenBacklogBoundsUnacceptedConnections) {
    uint32_t l = b->socket(SockKind::Stream);
    ASSERT_TRUE(b->net().bind(l, addr(0, 0, 0, 0, 9000)).is_ok());
    ASSERT_TRUE(b->net().listen(l, 2).is_ok());
    std::vector<uint32_t> clients;
    for (int i = 0; i < 5; i++) {
        clients.push_back(a->socket(SockKind::Stream));
        ASSERT_TRUE(a->net().connect(clients.back(), b->ip(9000)).is_ok());
    }
    run_for(2000);
    auto connected = [&] {
        int n = 0;
        for (uint32_t s : clients) n += (a->sink.bits(s) & CONNECTED) ? 1 : 0;
        return n;
    };
    // Two fit the backlog; the SYNs of the others go unanswered (they keep retrying).
    EXPECT_EQ(connected(), 2);
    std::vector<uint32_t> accepted;
    std::map<uint16_t, uint32_t> by_port;  // the client's port -> the server's socket
    auto accept_all = [&] {
        for (;;) {
            auto r = b->net().accept(l);
            if (r.is_error()) {
                EXPECT_EQ(r.error().code(), Errno::Again);
                return;
            }
            accepted.push_back(r.value().sock);
            by_port[r.value().peer.port] = r.value().sock;
        }
    };
    accept_all();
    EXPECT_EQ(accepted.size(), 2u);
    // Accepting made room: the retried SYNs get through, two more at a time.
    ASSERT_TRUE(run_until([&] { return connected() == 4; }, 30'000));
    accept_all();
    EXPECT_EQ(accepted.size(), 4u);
    ASSERT_TRUE(run_until([&] { return connected() == 5; }, 30'000));
    // Closing the listener resets the one it had not accepted; accepted ones live on.
    uint32_t unaccepted = 0, kept = 0;
    for (uint32_t s : clients) {
        auto names = a->net().names(s);
        ASSERT_TRUE(names.is_ok());
        if (by_port.count(names.value().local.port))
            kept = s;
        else
            unaccepted = s;
    }
    ASSERT_NE(unaccepted, 0u);
    ASSERT_TRUE(b->net().close(l).is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(unaccepted) & ERROR; }));
    EXPECT_EQ(a->sink.states[unaccepted].error, int32_t(Errno::ConnReset));
    uint16_t kept_port = a->net().names(kept).value().local.port;
    ASSERT_TRUE(b->send(by_port[kept_port], "still here").is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(kept) & READABLE; }));
    EXPECT_EQ(a->recv(kept, 100).value(), "still here");
}

// The server closes first, so its side of the connection sits in TIME_WAIT on the port: a new
// listener may bind the port only with SO_REUSEADDR (what a restarted server does).
TEST_F(NetStackTest, ReuseAddrRebindsAPortInTimeWait) {
    Conn c = connect_pair(8080);
    ASSERT_TRUE(b->net().close(c.server).is_ok());
    ASSERT_TRUE(b->net().close(c.listener).is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(c.client) & HANGUP; }));
    ASSERT_TRUE(a->net().close(c.client).is_ok());
    run_for(1000);
    uint32_t plain = b->socket(SockKind::Stream);
    EXPECT_EQ(b->net().bind(plain, addr(0, 0, 0, 0, 8080)).error().code(), Errno::AddrInUse);
    uint32_t reuse = b->socket(SockKind::Stream);
    ASSERT_TRUE(b->net().setopt(reuse, SockOpt::ReuseAddr, 1).is_ok());
    EXPECT_EQ(b->net().getopt(reuse, SockOpt::ReuseAddr).value(), 1);
    ASSERT_TRUE(b->net().bind(reuse, addr(0, 0, 0, 0, 8080)).is_ok());
    ASSERT_TRUE(b->net().listen(reuse, 4).is_ok());
    uint32_t again = a->socket(SockKind::Stream);
    ASSERT_TRUE(a->net().connect(again, b->ip(8080)).is_ok());
    ASSERT_TRUE(run_until([&] { return b->sink.bits(reuse) & READABLE; }));
    EXPECT_TRUE(b->net().accept(reuse).is_ok());
}

TEST_F(NetStackTest, ListenerShutDownForReadingRefusesConnections) {
    uint32_t l = b->socket(SockKind::Stream);
    ASSERT_TRUE(b->net().bind(l, addr(0, 0, 0, 0, 9100)).is_ok());
    ASSERT_TRUE(b->net().listen(l, 4).is_ok());
    ASSERT_TRUE(b->net().shutdown(l, 0).is_ok());
    EXPECT_EQ(b->net().accept(l).error().code(), Errno::Inval);
    uint32_t c = a->socket(SockKind::Stream);
    ASSERT_TRUE(a->net().connect(c, b->ip(9100)).is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(c) & ERROR; }));
    EXPECT_EQ(a->sink.states[c].error, int32_t(Errno::ConnRefused));
    EXPECT_EQ(a->recv(c, 10).error().code(), Errno::ConnRefused);
    EXPECT_TRUE(b->net().close(l).is_ok());
}

TEST_F(NetStackTest, LoopbackTcpInsideOneInstance) {
    uint32_t l = a->socket(SockKind::Stream);
    ASSERT_TRUE(a->net().bind(l, addr(127, 0, 0, 1, 5555)).is_ok());
    ASSERT_TRUE(a->net().listen(l, 4).is_ok());
    uint32_t c = a->socket(SockKind::Stream);
    ASSERT_TRUE(a->net().connect(c, addr(127, 0, 0, 1, 5555)).is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(l) & READABLE; }));
    auto s = a->net().accept(l);
    ASSERT_TRUE(s.is_ok());
    std::string data = pattern(1 << 20, 3);
    uint64_t wire_frames = end_a.sent;
    EXPECT_EQ(transfer(*a, c, *a, s.value().sock, data) == data, true);
    EXPECT_EQ(end_a.sent, wire_frames);  // nothing went out on the wire
    auto lo = a->net().if_status(1);
    ASSERT_TRUE(lo.is_ok());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(lo.value().name)), "lo");
    EXPECT_EQ(lo.value().flags & 0x8, 0x8u);  // IFF_LOOPBACK
}

// b crashes with an established connection and a listener. The kernel replays the listener into
// a fresh instance (same calls, new handle): the old connection's peer gets a reset, a new
// connection is accepted as if nothing happened.
TEST_F(NetStackTest, RestartResetsConnectionsAndReplayedListenerAcceptsAgain) {
    Conn c = connect_pair(8080);
    EXPECT_EQ(transfer(*a, c.client, *b, c.server, "before"), "before");

    b->stop();
    b->start();
    uint32_t l = b->socket(SockKind::Stream);
    ASSERT_TRUE(b->net().setopt(l, SockOpt::ReuseAddr, 1).is_ok());
    ASSERT_TRUE(b->net().bind(l, addr(0, 0, 0, 0, 8080)).is_ok());
    ASSERT_TRUE(b->net().listen(l, 8).is_ok());

    // The client's next segment reaches a stack that never heard of the connection.
    ASSERT_TRUE(a->send(c.client, "after the crash").is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(c.client) & ERROR; }));
    EXPECT_EQ(a->sink.states[c.client].error, int32_t(Errno::ConnReset));
    EXPECT_EQ(a->recv(c.client, 100).error().code(), Errno::ConnReset);
    EXPECT_EQ(a->send(c.client, "x").error().code(), Errno::Pipe);
    ASSERT_TRUE(a->net().close(c.client).is_ok());

    uint32_t again = a->socket(SockKind::Stream);
    ASSERT_TRUE(a->net().connect(again, b->ip(8080)).is_ok());
    ASSERT_TRUE(run_until([&] { return b->sink.bits(l) & READABLE; }));
    auto s = b->net().accept(l);
    ASSERT_TRUE(s.is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(again) & CONNECTED; }));
    EXPECT_EQ(transfer(*a, again, *b, s.value().sock, pattern(100000, 9)) == pattern(100000, 9), true);
}

// The TCP segments with RST among the frames an end sent (IPv4 in Ethernet, as the stacks send).
size_t resets_in(const std::vector<std::vector<uint8_t>>& frames) {
    size_t n = 0;
    for (const auto& f : frames) {
        if (f.size() < 14 + 20 + 20 || f[12] != 0x08 || f[13] != 0x00 || f[14 + 9] != 6) continue;
        size_t tcp = 14 + size_t(f[14] & 0xf) * 4;
        if (f.size() >= tcp + 14 && (f[tcp + 13] & 0x04)) n++;
    }
    return n;
}

// The events carry each connection's ends and sequence numbers (a send alone moves snd_seq,
// and sends an event), and a close by the kernel is GONE: what the kernel keeps to reset the
// peers of a crashed instance.
TEST_F(NetStackTest, EventsCarryConnectionsAndCloseIsGone) {
    Conn c = connect_pair(8082);
    auto conn = [&] { return b->sink.states[c.server].conn; };
    EXPECT_EQ(memcmp(conn().local.ip, b->ip().ip, 4), 0);
    EXPECT_EQ(conn().local.port, 8082);
    EXPECT_EQ(memcmp(conn().peer.ip, a->ip().ip, 4), 0);
    EXPECT_NE(conn().peer.port, 0);
    uint32_t before = conn().snd_seq, rcv_before = conn().rcv_seq;
    uint64_t events = b->sink.events;
    ASSERT_EQ(b->send(c.server, "twelve bytes").value(), 12u);
    EXPECT_GT(b->sink.events, events);
    EXPECT_EQ(conn().snd_seq, before + 12);
    EXPECT_EQ(transfer(*a, c.client, *b, c.server, "seven.."), "seven..");
    EXPECT_EQ(conn().rcv_seq, rcv_before + 7);
    ASSERT_TRUE(b->net().close(c.server).is_ok());
    EXPECT_EQ(b->sink.bits(c.server), GONE);
    // The listener was never connected: its close says nothing.
    events = b->sink.events;
    ASSERT_TRUE(b->net().close(c.listener).is_ok());
    EXPECT_EQ(b->sink.events, events);
}

// b crashes with connections whose peers on a send nothing: the kernel hands the fresh instance
// the connections the old one's events described, and each peer is reset without having to
// send. With the exact sequence number one RST does it; with one that is only inside the
// peer's window the peer answers with a challenge ACK (RFC 5961 3.2, which lwIP does as Linux
// does) and the stack, having no such connection, answers that with the exact RST.
TEST_F(NetStackTest, RestartedStackResetsThePeersOfLostConnections) {
    Conn exact = connect_pair(8083);
    Conn near = connect_pair(8084);
    EXPECT_EQ(transfer(*b, exact.server, *a, exact.client, "response"), "response");
    EXPECT_EQ(transfer(*b, near.server, *a, near.client, "response"), "response");
    lamina::idl::NetConnection lost_exact = b->sink.states[exact.server].conn;
    lamina::idl::NetConnection lost_near = b->sink.states[near.server].conn;
    lost_near.snd_seq += 1000;
    lost_near.rcv_seq -= 1000;

    b->stop();
    b->start();
    end_b.logging = true;
    ASSERT_TRUE(b->net().reset_peer(lost_exact).is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(exact.client) & ERROR; }));
    EXPECT_EQ(a->sink.states[exact.client].error, int32_t(Errno::ConnReset));
    EXPECT_EQ(resets_in(end_b.log), 1u);
    EXPECT_EQ(a->sink.bits(near.client) & ERROR, 0u);

    end_b.log.clear();
    ASSERT_TRUE(b->net().reset_peer(lost_near).is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(near.client) & ERROR; }));
    EXPECT_EQ(a->sink.states[near.client].error, int32_t(Errno::ConnReset));
    EXPECT_EQ(resets_in(end_b.log), 2u);  // the approximate one, then the exact answer
    EXPECT_EQ(a->recv(near.client, 100).error().code(), Errno::ConnReset);

    NetAddr any{};
    EXPECT_EQ(b->net().reset_peer({any, a->ip(80), 1, 1}).error().code(), Errno::Inval);
}

// The same against Linux as the peer, which is what the challenge-ACK step relies on: b's wire
// is bridged to a tap device in a private network namespace (made for the test, with only lo
// and the tap: nothing leaves the process's namespace), and a Linux socket there connects to
// b. b crashes; its successor resets the peer with a sequence number 500 past the one Linux
// expects. Linux answers with a challenge ACK (RFC 5961 3.2), the fresh stack with the exact
// RST, and the Linux socket fails with ECONNRESET without having sent anything.
TEST_F(NetStackTest, LinuxPeerIsResetThroughItsChallengeAck) {
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(home, 0);
    if (unshare(CLONE_NEWNET) != 0) {
        close(home);
        GTEST_SKIP() << "no private network namespace here (needs CAP_SYS_ADMIN): " << strerror(errno);
    }
    struct Back {
        int home;
        ~Back() {
            EXPECT_EQ(setns(home, CLONE_NEWNET), 0);
            close(home);
        }
    } back{home};
    int tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (tap < 0) GTEST_SKIP() << "no /dev/net/tun: " << strerror(errno);
    struct Tap {
        int fd;
        ~Tap() { close(fd); }
    } tap_guard{tap};
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, "tap0", IFNAMSIZ - 1);
    ASSERT_EQ(ioctl(tap, TUNSETIFF, &ifr), 0) << strerror(errno);
    if (system("ip link set lo up && ip addr add 10.0.0.1/24 dev tap0 && ip link set tap0 up") != 0)
        GTEST_SKIP() << "ip (iproute2) could not configure tap0";

    // a (10.0.0.1 on the model wire) gives way to Linux: what b sends goes to the tap, what
    // Linux sends arrives at b. b's clock is virtual and Linux's real: a round with nothing
    // from Linux waits up to 10 ms of real time for it, so that the rounds' virtual budget
    // (120 s, at most 250 ms a round) lasts seconds of real time on a loaded machine.
    a->stop();
    auto pump = [&] {
        while (!end_a.arriving.empty()) {
            const auto& f = end_a.arriving.front();
            EXPECT_EQ(write(tap, f.data(), f.size()), ssize_t(f.size()));
            end_a.arriving.pop_front();
        }
        pollfd p{tap, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0) return;
        uint8_t frame[2048];
        for (ssize_t n; (n = read(tap, frame, sizeof frame)) > 0;) end_b.arriving.emplace_back(frame, frame + n);
    };

    uint32_t l = b->socket(SockKind::Stream);
    ASSERT_TRUE(b->net().bind(l, addr(0, 0, 0, 0, 8086)).is_ok());
    ASSERT_TRUE(b->net().listen(l, 4).is_ok());
    int client = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(client, 0);
    struct Sock {
        int fd;
        ~Sock() { close(fd); }
    } client_guard{client};
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(8086);
    to.sin_addr.s_addr = htonl(0x0a000002);
    ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to), -1);
    ASSERT_EQ(errno, EINPROGRESS);
    ASSERT_TRUE(run_until(
        [&] {
            pump();
            return b->sink.bits(l) & READABLE;
        },
        120'000));
    auto accepted = b->net().accept(l);
    ASSERT_TRUE(accepted.is_ok());
    uint32_t server = accepted.value().sock;
    // An answer the client reads: its window moved on from the first sequence number.
    ASSERT_EQ(b->send(server, pattern(3000, 4)).value(), 3000u);
    std::string got;
    ASSERT_TRUE(run_until(
        [&] {
            pump();
            char buf[4096];
            for (ssize_t n; (n = recv(client, buf, sizeof buf, 0)) > 0;) got.append(buf, size_t(n));
            return got.size() >= 3000;
        },
        120'000));
    EXPECT_EQ(got, pattern(3000, 4));
    // Linux's delayed ACK (at most 200 ms) reaches the old b: no segment of Linux's may reach
    // the fresh stack and draw the exact reset by itself.
    auto settle = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    run_until(
        [&] {
            pump();
            return std::chrono::steady_clock::now() > settle;
        },
        600'000);
    lamina::idl::NetConnection lost = b->sink.states[server].conn;
    lost.snd_seq += 500;

    b->stop();
    b->start();
    end_b.logging = true;
    ASSERT_TRUE(b->net().reset_peer(lost).is_ok());
    int error = 0;
    ASSERT_TRUE(run_until(
        [&] {
            pump();
            char c;
            if (recv(client, &c, 1, 0) < 0 && errno != EAGAIN) error = errno;
            return error != 0;
        },
        120'000));
    EXPECT_EQ(error, ECONNRESET);
    EXPECT_EQ(resets_in(end_b.log), 2u);  // the approximate one, then the answer to the challenge
}

// A reset waits for its local address: a restarted stack gets it from DHCP after the replay.
// Once the address is there it goes out; one whose address never comes is given up.
TEST_F(NetStackTest, PeerResetWaitsForTheLocalAddress) {
    Conn c = connect_pair(8085);
    lamina::idl::NetConnection lost = b->sink.states[c.server].conn;
    lamina::idl::NetConnection elsewhere = lost;
    elsewhere.local.ip[3] = 99;  // an address b never gets
    b->stop();
    b->start();
    ASSERT_TRUE(b->net().if_configure(ETH0, NetIfConfig{false, false, {}, {}, {}}).is_ok());
    end_b.logging = true;
    ASSERT_TRUE(b->net().reset_peer(lost).is_ok());
    ASSERT_TRUE(b->net().reset_peer(elsewhere).is_ok());
    run_for(2'000);
    EXPECT_EQ(resets_in(end_b.log), 0u);
    EXPECT_EQ(a->sink.bits(c.client) & ERROR, 0u);
    NetIfConfig up{true, false, {10, 0, 0, 2}, {255, 255, 255, 0}, {0, 0, 0, 0}};
    ASSERT_TRUE(b->net().if_configure(ETH0, up).is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(c.client) & ERROR; }));
    EXPECT_EQ(resets_in(end_b.log), 1u);
    run_for(12'000);
    EXPECT_EQ(resets_in(end_b.log), 1u);  // the other one expired unsent
}

// The instance dies in the middle of a call (a fault inside the domain): the call returns
// Faulted, the domain's exchange objects are reclaimed, and a fresh instance serves.
TEST_F(NetStackTest, FaultedInstanceIsReclaimedAndReplaced) {
    Conn c = connect_pair(7070);
    auto crash = [](void*) { HostDomains::installed().fault(); };
    EXPECT_EQ(host.call_into(b->domain(), crash, nullptr), lamina::DomainError::Faulted);
    EXPECT_EQ(b->net().socket(SockKind::Stream, 0).error().domain_error(), lamina::DomainError::Dead);
    b->start();
    ASSERT_TRUE(a->send(c.client, "ping").is_ok());
    ASSERT_TRUE(run_until([&] { return a->sink.bits(c.client) & ERROR; }));
}

// RFC 6528: the initial sequence number is keyed by the instance's seed, so a restarted stack
// does not repeat its predecessor's numbers for the same connection at the same moment.
TEST_F(NetStackTest, InitialSequenceNumbersDependOnTheSeed) {
    uint32_t l = b->socket(SockKind::Stream);
    ASSERT_TRUE(b->net().bind(l, addr(0, 0, 0, 0, 80)).is_ok());
    ASSERT_TRUE(b->net().listen(l, 8).is_ok());
    auto syn_seq = [&](uint64_t seed) {
        a->start(seed);
        platform.now = 5'000'000'000;
        end_a.log.clear();
        end_a.logging = true;
        uint32_t s = a->socket(SockKind::Stream);
        EXPECT_TRUE(a->net().bind(s, addr(0, 0, 0, 0, 40000)).is_ok());
        EXPECT_TRUE(a->net().connect(s, b->ip(80)).is_ok());
        run_until([&] {
            for (auto& f : end_a.log)
                if (f.size() >= 54 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 6 && (f[47] & 0x02)) return true;
            return false;
        });
        end_a.logging = false;
        for (auto& f : end_a.log)
            if (f.size() >= 54 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 6 && (f[47] & 0x02))
                return uint32_t(f[38]) << 24 | uint32_t(f[39]) << 16 | uint32_t(f[40]) << 8 | f[41];
        ADD_FAILURE() << "no SYN seen";
        return 0u;
    };
    uint32_t first = syn_seq(111), same = syn_seq(111), other = syn_seq(222);
    EXPECT_EQ(first, same);
    EXPECT_NE(first, other);
}

// A DHCP server as QEMU's user network is one (10.0.2.2 hands out 10.0.2.15/24), answering
// what a sent on the wire: DISCOVER with an OFFER, REQUEST with an ACK (RFC 2131 4.3).
class DhcpServer {
public:
    explicit DhcpServer(WireEnd& client) : client_(client) {}
    int offers = 0, acks = 0;
    std::string hostname;  // option 12 of the last request

    void serve(std::deque<std::vector<uint8_t>>& from_client) {
        while (!from_client.empty()) {
            std::vector<uint8_t> f = std::move(from_client.front());
            from_client.pop_front();
            // Ethernet IPv4, UDP to port 67, BOOTREQUEST with the magic cookie.
            if (f.size() < 14 + 20 + 8 + 240 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 17) continue;
            size_t udp = 14 + (f[14] & 0xf) * 4, bootp = udp + 8;
            if (f[udp + 2] != 0 || f[udp + 3] != 67 || f[bootp] != 1) continue;
            if (memcmp(&f[bootp + 236], "\x63\x82\x53\x63", 4) != 0) continue;
            int type = 0;
            for (size_t o = bootp + 240; o + 1 < f.size() && f[o] != 255;) {
                if (f[o] == 0) {
                    o++;
                    continue;
                }
                if (f[o] == 53) type = f[o + 2];
                if (f[o] == 12) hostname.assign(reinterpret_cast<const char*>(&f[o + 2]), f[o + 1]);
                o += 2 + f[o + 1];
            }
            if (type == 1) {
                offers++;
                reply(f, bootp, 2);
            }
            if (type == 3) {
                acks++;
                reply(f, bootp, 5);
            }
        }
    }

private:
    void reply(const std::vector<uint8_t>& req, size_t bootp, uint8_t type) {
        std::vector<uint8_t> b(240, 0);
        b[0] = 2, b[1] = 1, b[2] = 6;                  // BOOTREPLY, Ethernet
        memcpy(&b[4], &req[bootp + 4], 4);             // xid
        b[16] = 10, b[17] = 0, b[18] = 2, b[19] = 15;  // yiaddr
        memcpy(&b[28], &req[bootp + 28], 16);          // chaddr
        memcpy(&b[236], "\x63\x82\x53\x63", 4);
        uint8_t opts[] = {53,   1, type, 54,  4,   10,  0, 2, 2, 51, 4, 0, 1, 0x51,
                          0x80, 1, 4,    255, 255, 255, 0, 3, 4, 10, 0, 2, 2, 255};
        b.insert(b.end(), opts, opts + sizeof opts);
        std::vector<uint8_t> f(14 + 20 + 8);
        memcpy(&f[0], &req[6], 6);  // to the client's MAC
        uint8_t server_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
        memcpy(&f[6], server_mac, 6);
        f[12] = 0x08, f[13] = 0x00;
        uint16_t ip_len = uint16_t(20 + 8 + b.size());
        uint8_t ip[20] = {
            0x45, 0, uint8_t(ip_len >> 8), uint8_t(ip_len), 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 2, 2, 255, 255, 255, 255};
        uint32_t sum = 0;
        for (int i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        ip[10] = uint8_t(~sum >> 8), ip[11] = uint8_t(~sum);
        memcpy(&f[14], ip, 20);
        uint16_t udp_len = uint16_t(8 + b.size());
        uint8_t udp[8] = {0, 67, 0, 68, uint8_t(udp_len >> 8), uint8_t(udp_len), 0, 0};  // no checksum
        memcpy(&f[34], udp, 8);
        f.insert(f.end(), b.begin(), b.end());
        client_.arriving.push_back(std::move(f));
    }
    WireEnd& client_;
};

TEST_F(NetStackTest, DhcpClientGetsItsAddressAndRoute) {
    b->stop();  // the other end of the wire is the DHCP server
    DhcpServer server(end_a);
    NetIfConfig dhcp{true, true, {}, {}, {}};
    ASSERT_TRUE(a->net().if_configure(ETH0, dhcp).is_ok());
    lamina::idl::NetIfStatus st{};
    ASSERT_TRUE(run_until(
        [&] {
            server.serve(end_b.arriving);
            auto r = a->net().if_status(ETH0);
            if (r.is_ok()) st = r.value();
            return r.is_ok() && st.dhcp_bound;
        },
        30'000));
    EXPECT_EQ(server.offers, 1);
    EXPECT_EQ(server.acks, 1);
    EXPECT_EQ(server.hostname, "lamina");
    EXPECT_TRUE(st.dhcp);
    EXPECT_EQ(memcmp(st.addr, "\x0a\x00\x02\x0f", 4), 0);
    EXPECT_EQ(memcmp(st.netmask, "\xff\xff\xff\x00", 4), 0);
    EXPECT_EQ(memcmp(st.gateway, "\x0a\x00\x02\x02", 4), 0);
    // Back to a static address: DHCP stops (no more requests go out).
    NetIfConfig fixed{true, false, {10, 0, 2, 99}, {255, 255, 255, 0}, {10, 0, 2, 2}};
    ASSERT_TRUE(a->net().if_configure(ETH0, fixed).is_ok());
    auto after = a->net().if_status(ETH0);
    ASSERT_TRUE(after.is_ok());
    EXPECT_FALSE(after.value().dhcp);
    EXPECT_EQ(after.value().addr[3], 99);
}

TEST_F(NetStackTest, BadRequestsGetClearErrors) {
    auto& net = a->net();
    EXPECT_EQ(net.close(0).error().code(), Errno::BadF);
    EXPECT_EQ(net.close(0x12345).error().code(), Errno::BadF);
    EXPECT_EQ(net.socket(SockKind::Raw, 6).error().code(), Errno::ProtoNoSupport);
    EXPECT_EQ(net.socket(SockKind::Stream, 17).error().code(), Errno::ProtoNoSupport);
    uint32_t s = a->socket(SockKind::Stream);
    EXPECT_EQ(net.bind(s, addr(10, 9, 9, 9, 80)).error().code(), Errno::AddrNotAvail);
    EXPECT_EQ(a->recv(s, 10).error().code(), Errno::NotConn);
    EXPECT_EQ(a->send(s, "x").error().code(), Errno::NotConn);
    EXPECT_EQ(net.accept(s).error().code(), Errno::Inval);
    EXPECT_TRUE(net.bind(s, addr(0, 0, 0, 0, 8000)).is_ok());
    uint32_t t = a->socket(SockKind::Stream);
    EXPECT_EQ(net.bind(t, addr(0, 0, 0, 0, 8000)).error().code(), Errno::AddrInUse);
    EXPECT_EQ(net.connect(t, addr(10, 0, 0, 2, 0)).error().code(), Errno::ConnRefused);
    EXPECT_EQ(net.shutdown(t, 3).error().code(), Errno::Inval);
    uint32_t u = a->socket(SockKind::Datagram);
    EXPECT_EQ(a->send(u, "no address").error().code(), Errno::DestAddrReq);
    EXPECT_EQ(a->send(u, std::string(70000, 'x'), b->ip(9)).error().code(), Errno::MsgSize);
    EXPECT_EQ(net.listen(u, 1).error().code(), Errno::NotSup);
    EXPECT_EQ(net.setopt(u, SockOpt::KeepAlive, 1).error().code(), Errno::NoProtoOpt);
    EXPECT_EQ(net.if_status(9).error().code(), Errno::NoDev);
    NetIfConfig bad{true, false, {10, 0, 0, 1}, {255, 0, 255, 0}, {}};
    EXPECT_EQ(net.if_configure(ETH0, bad).error().code(), Errno::Inval);
    // Malformed frames from the driver are counted and dropped; the stack carries on.
    end_a.arriving.push_back(std::vector<uint8_t>(10, 0xff));
    end_a.arriving.push_back(std::vector<uint8_t>(60, 0x00));
    run_for(10);
    auto st = net.if_status(ETH0);
    ASSERT_TRUE(st.is_ok());
    EXPECT_EQ(st.value().rx_dropped, 1u);
    uint32_t raw = a->socket(SockKind::Raw, 1);
    ASSERT_TRUE(a->send(raw, echo_request(1, 1, "ok"), b->ip()).is_ok());
    EXPECT_TRUE(run_until([&] { return a->sink.bits(raw) & READABLE; }));
}

}  // namespace
