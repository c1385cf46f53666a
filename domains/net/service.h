// The net domain's exported object: interfaces/net.idl's Net over the Stack, with sockets on
// lwIP's raw API (tcp_*, udp_*, raw_*), and readiness published through the kernel's
// NetEvents.
//
// A socket is a slot in a fixed table, named to the kernel by (generation << 16 | slot + 1), so
// a stale handle of a closed socket never reaches its successor. Each slot keeps what lwIP
// hands over until the kernel takes it: received stream data as a queue of pbufs (the NIC's
// buffers, zero copy, until read: reading them is what reopens the TCP window), datagrams with
// their senders, and connections accepted by lwIP but not yet by the kernel.
//
// Every entry point (a Net method, step) ends by sending what lwIP queued and publishing the
// states that changed, so the kernel sees the effect of its request before the call returns.
//
// Single-threaded: the domain serializes its loop and the kernel's calls.
#pragma once

#include <stdint.h>

#include <lamina/result.h>
#include <lamina/rref.h>

#include "domains/net/net_loop.h"
#include "domains/net/platform.h"
#include "domains/net/stack.h"
#include "interfaces/net.h"

struct tcp_pcb;
struct udp_pcb;
struct raw_pcb;
struct pbuf;

namespace lamina::net {

class NetService;

// One socket slot. Stream sockets go Fresh -> (Listening | Connecting -> Connected) -> Closed
// (the connection is gone: reset, timed out, or fully closed by lwIP).
struct Socket {
    static constexpr uint32_t DATAGRAM_QUEUE = 32;  // per socket; more are dropped, as on Linux
    enum class Stream : uint8_t { Fresh, Listening, Connecting, Connected, Closed };
    struct Datagram {
        struct pbuf* p;
        idl::NetAddr from;
    };

    NetService* owner;
    bool used;
    bool dirty;
    bool pending;        // accepted by lwIP, not yet by the kernel: no events yet
    bool write_blocked;  // the last send found lwIP's memory full: not WRITABLE until a sent
    bool shut_rd, shut_wr;
    bool rx_eof;  // the peer's FIN arrived
    bool nodelay;
    idl::SockKind kind;
    Stream stream;
    uint8_t protocol;
    uint16_t generation;
    int32_t error;          // pending error (a positive errno), SO_ERROR
    int32_t linger;         // -1 off, else seconds
    uint16_t ident;         // a ping socket's echo identifier (its "port"), 0 until bound
    uint16_t peer_port;     // a ping socket's connect port (only getpeername shows it, as on Linux)
    uint32_t bound_serial;  // a ping socket: when it took its identifier (the latest gets replies)
    uint32_t published;     // the state last sent to the kernel (NO_STATE: never)
    int32_t published_error;
    uint32_t published_snd;  // the NetConnection.snd_seq last sent
    union {
        struct tcp_pcb* tcp;
        struct udp_pcb* udp;
        struct raw_pcb* raw;
        void* any;
    } pcb;
    // Stream input: single pbufs linked through their `next` (lwIP's tot_len is 16 bits, a
    // window is not), rx_off bytes of the first already read.
    struct pbuf* rx_head;
    struct pbuf* rx_tail;
    uint32_t rx_off;
    uint32_t rx_bytes;
    // Datagram input: a ring.
    Datagram dgrams[DATAGRAM_QUEUE];
    uint32_t dgram_head, dgram_count;
    // Listening: connections lwIP accepted, oldest first, linked through next_pending (slot + 1).
    uint32_t pending_head, pending_tail, pending_count;
    uint32_t next_pending;
    uint32_t listener;  // pending: the listening slot + 1
};

class NetService final : public idl::Net, public NetLoop {
public:
    static constexpr uint32_t MAX_SOCKETS = 1024;

    explicit NetService(idl::NetEvents& events) : events_(events) {}
    NetService(const NetService&) = delete;

    // Also starts the slots' generations at random: a handle of a crashed instance that the
    // kernel still holds is then unlikely to name a socket of this one.
    Result<void> start(NetPlatform& platform, const NetSeed& seed);
    Stack& stack() { return stack_; }

    void step() override;
    uint64_t next_timer_ns() override { return stack_.next_timer_ns(); }

    Result<uint32_t> socket(idl::SockKind kind, uint8_t protocol) override;
    Result<idl::NetAddr> bind(uint32_t sock, const idl::NetAddr& addr) override;
    Result<void> listen(uint32_t sock, uint32_t backlog) override;
    Result<void> connect(uint32_t sock, const idl::NetAddr& addr) override;
    Result<idl::NetAccepted> accept(uint32_t sock) override;
    Result<uint32_t> send(uint32_t sock, uint32_t flags, const idl::NetAddr& to, const RRefBytes& buf) override;
    Result<RRef<idl::NetMessage>> recv(uint32_t sock, uint32_t flags, RRef<idl::NetMessage> msg) override;
    Result<void> shutdown(uint32_t sock, uint8_t how) override;
    Result<void> close(uint32_t sock) override;
    Result<void> setopt(uint32_t sock, idl::SockOpt opt, int32_t value) override;
    Result<int32_t> getopt(uint32_t sock, idl::SockOpt opt) override;
    Result<idl::SockNames> names(uint32_t sock) override;
    Result<idl::NetIfStatus> if_status(uint32_t index) override;
    Result<void> if_configure(uint32_t index, const idl::NetIfConfig& config) override;
    Result<void> reset_peer(const idl::NetConnection& conn) override;

    // Sockets in use (for tests and /proc views).
    uint32_t sockets_in_use() const { return in_use_; }

private:
    friend struct Callbacks;
    class Request;

    // The socket a handle names: EBADF for a stale or unknown handle; with `kind`, EOPNOTSUPP
    // for a socket of another kind.
    Result<Socket*> lookup(uint32_t handle);
    Result<Socket*> lookup(uint32_t handle, idl::SockKind kind);
    Socket* allocate(idl::SockKind kind);
    void release(Socket& s);
    void mark(Socket& s);
    // The pending error, cleared (SO_ERROR's read, or a call's failure).
    Errno take_error(Socket& s);
    void publish();
    uint32_t handle_of(const Socket& s) const;

    Result<uint32_t> send_stream(Socket& s, uint32_t flags, const RRefBytes& buf);
    Result<uint32_t> send_datagram(Socket& s, const idl::NetAddr& to, const RRefBytes& buf);
    // A ping socket's identifier: `wanted`, or a free one when 0 (AddrInUse when another ping
    // socket holds it and not both have SO_REUSEADDR, as Linux's ping_get_port).
    Result<void> bind_ident(Socket& s, uint16_t wanted);
    // Another ping socket with s's identifier took it after s did.
    bool newer_ping(const Socket& s) const;
    // A ping socket's message as lwIP sends it: an echo request with our identifier and checksum.
    Result<struct pbuf*> echo_request(Socket& s, const RRefBytes& buf);
    Result<RRef<idl::NetMessage>> recv_stream(Socket& s, uint32_t flags, RRef<idl::NetMessage> msg);
    Result<RRef<idl::NetMessage>> recv_datagram(Socket& s, uint32_t flags, RRef<idl::NetMessage> msg);
    void drop_stream_input(Socket& s);
    void close_stream(Socket& s);
    void stop_listening(Socket& s);
    // Sends the waiting peer resets whose local address is up; drops those past their time.
    void send_peer_resets();

    idl::NetEvents& events_;
    Stack stack_;
    Socket sockets_[MAX_SOCKETS] = {};
    uint32_t in_use_ = 0;
    uint32_t dirty_[MAX_SOCKETS];
    uint32_t dirty_count_ = 0;
    RRef<idl::NetEventBatch> batch_;
    uint32_t depth_ = 0;        // nesting of entry points: only the outermost one publishes
    uint16_t ident_rover_ = 0;  // where the search for a free ping identifier starts
    uint32_t ident_serial_ = 0;
    // reset_peer's connections, until their local address is up (sys_now() ms deadlines).
    struct PeerReset {
        idl::NetConnection conn;
        uint32_t deadline_ms;
    };
    PeerReset resets_[MAX_SOCKETS];
    uint32_t reset_count_ = 0;
};

}  // namespace lamina::net
