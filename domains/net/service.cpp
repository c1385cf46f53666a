// Sockets over lwIP's raw API (see service.h and interfaces/net.idl).
#include "domains/net/service.h"

#include <string.h>

extern "C" {
#include "lwip/inet_chksum.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/raw.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
}

namespace lamina::net {

using idl::NetAddr;
using idl::NetMessage;
using idl::SockKind;
using idl::SockOpt;

namespace {

// NetEvent.state bits (net.idl).
constexpr uint32_t READABLE = 1, WRITABLE = 2, HANGUP = 4, ERROR = 8, CONNECTED = 16, GONE = 32;
constexpr uint32_t NO_STATE = 0xffffffff;
// Linux's MSG_* flags that the calls understand.
constexpr uint32_t MSG_PEEK = 0x2, MSG_TRUNC = 0x20, MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000, MSG_MORE = 0x8000;
constexpr uint32_t MAX_BACKLOG = 128;
constexpr uint32_t MAX_DATAGRAM = 65507;  // 65535 - 20 (IP) - 8 (UDP)
constexpr uint32_t WRITE_CHUNK = 16 * 1024;
// ICMP (RFC 792): the header a ping socket's messages start with, and the echo types.
constexpr uint32_t ICMP_HEADER = 8;
constexpr uint8_t ICMP_ECHO_REPLY = 0, ICMP_ECHO_REQUEST = 8;
constexpr uint32_t ICMP_ID_OFFSET = 4;  // the identifier, then the sequence number
// How long reset_peer waits for the connection's local address (a restarted stack's DHCP).
constexpr uint32_t PEER_RESET_WAIT_MS = 10'000;

ip_addr_t to_ip(const NetAddr& a) {
    ip_addr_t r;
    IP_ADDR4(&r, a.ip[0], a.ip[1], a.ip[2], a.ip[3]);
    return r;
}

NetAddr to_net(const ip_addr_t* ip, u16_t port) {
    NetAddr a{};
    uint32_t v = ip4_addr_get_u32(ip_2_ip4(ip));
    memcpy(a.ip, &v, 4);
    a.port = port;
    return a;
}

bool is_any(const NetAddr& a) { return a.ip[0] == 0 && a.ip[1] == 0 && a.ip[2] == 0 && a.ip[3] == 0; }

// lwIP's errors as Linux reports the same conditions; anything else is EINVAL.
struct ErrMapping {
    err_t err;
    Errno errno_value;
};
constexpr ErrMapping ERR_TO_ERRNO[] = {
    {ERR_MEM, Errno::NoBufs},       {ERR_BUF, Errno::NoBufs},    {ERR_TIMEOUT, Errno::TimedOut},
    {ERR_RTE, Errno::NetUnreach},   {ERR_IF, Errno::NetUnreach}, {ERR_INPROGRESS, Errno::InProgress},
    {ERR_WOULDBLOCK, Errno::Again}, {ERR_USE, Errno::AddrInUse}, {ERR_ALREADY, Errno::Already},
    {ERR_ISCONN, Errno::IsConn},    {ERR_CONN, Errno::NotConn},  {ERR_CLSD, Errno::NotConn},
    {ERR_ABRT, Errno::ConnAborted}, {ERR_RST, Errno::ConnReset},
};

Errno from_err(err_t e) {
    for (const ErrMapping& m : ERR_TO_ERRNO)
        if (m.err == e) return m.errno_value;
    return Errno::Inval;
}

// An address a socket may bind to: any, loopback, or one of the interfaces' own.
bool is_local(const ip_addr_t& ip) {
    if (ip_addr_isany_val(ip) || ip4_addr_isloopback(ip_2_ip4(&ip))) return true;
    struct netif* n;
    NETIF_FOREACH(n) {
        if (ip4_addr_cmp(netif_ip4_addr(n), ip_2_ip4(&ip))) return true;
    }
    return false;
}

// The limited broadcast address, or the subnet broadcast of an interface.
bool is_broadcast(const ip_addr_t& ip) {
    if (ip4_addr_get_u32(ip_2_ip4(&ip)) == IPADDR_BROADCAST) return true;
    struct netif* n;
    NETIF_FOREACH(n) {
        if (ip4_addr_isbroadcast(ip_2_ip4(&ip), n)) return true;
    }
    return false;
}

uint32_t state_of(const Socket& s) {
    uint32_t st = s.error != 0 ? ERROR | READABLE | WRITABLE : 0;
    if (s.kind != SockKind::Stream) return st | WRITABLE | (s.dgram_count > 0 ? READABLE : 0);
    switch (s.stream) {
        case Socket::Stream::Fresh:
        case Socket::Stream::Connecting:
            return st;
        case Socket::Stream::Listening:
            return st | (s.pending_count > 0 ? READABLE : 0);
        case Socket::Stream::Closed:
            return st | READABLE | WRITABLE | HANGUP;
        case Socket::Stream::Connected:
            break;
    }
    st |= CONNECTED;
    if (s.rx_bytes > 0 || s.rx_eof || s.shut_rd) st |= READABLE;
    if (s.rx_eof) st |= HANGUP;
    if (s.shut_wr)
        st |= WRITABLE;  // send fails at once (Pipe)
    else if (!s.write_blocked && s.pcb.tcp->snd_buf >= TCP_SNDLOWAT && s.pcb.tcp->snd_queuelen < TCP_SND_QUEUELEN / 2)
        st |= WRITABLE;
    return st;
}

// What the kernel keeps of a connection to reset its peer after a crash (net.idl, reset_peer).
idl::NetConnection connection_of(const Socket& s, uint32_t state) {
    if (!(state & CONNECTED) || s.pcb.tcp == nullptr) return {};
    const struct tcp_pcb* pcb = s.pcb.tcp;
    return {to_net(&pcb->local_ip, pcb->local_port), to_net(&pcb->remote_ip, pcb->remote_port), pcb->snd_lbb,
            pcb->rcv_nxt};
}

void append_input(Socket& s, struct pbuf* p) {
    s.rx_bytes += p->tot_len;
    if (s.rx_tail != nullptr)
        s.rx_tail->next = p;
    else
        s.rx_head = p;
    while (p->next != nullptr) p = p->next;
    s.rx_tail = p;
}

// Copies up to n bytes of the queued input, from the start, without consuming it.
uint32_t copy_input(const Socket& s, uint8_t* out, uint32_t n) {
    uint32_t done = 0, off = s.rx_off;
    for (struct pbuf* p = s.rx_head; p != nullptr && done < n; p = p->next, off = 0) {
        uint32_t take = p->len - off;
        if (take > n - done) take = n - done;
        memcpy(out + done, static_cast<uint8_t*>(p->payload) + off, take);
        done += take;
    }
    return done;
}

// Drops n bytes from the front of the input; each pbuf used up is freed (a NIC buffer goes
// back to the driver's pool here).
void consume_input(Socket& s, uint32_t n) {
    s.rx_bytes -= n;
    while (s.rx_head != nullptr && (n > 0 || s.rx_off == s.rx_head->len)) {
        struct pbuf* p = s.rx_head;
        uint32_t left = p->len - s.rx_off;
        if (n < left) {
            s.rx_off += n;
            return;
        }
        n -= left;
        s.rx_head = p->next;
        p->next = nullptr;
        pbuf_free(p);
        s.rx_off = 0;
    }
    if (s.rx_head == nullptr) s.rx_tail = nullptr;
}

void free_input(Socket& s) {
    if (s.rx_head != nullptr) pbuf_free(s.rx_head);  // the queue is a valid chain for pbuf_free (it ignores tot_len)
    s.rx_head = s.rx_tail = nullptr;
    s.rx_off = s.rx_bytes = 0;
    for (uint32_t i = 0; i < s.dgram_count; i++) pbuf_free(s.dgrams[(s.dgram_head + i) % Socket::DATAGRAM_QUEUE].p);
    s.dgram_head = s.dgram_count = 0;
}

// Tells lwIP the application took n bytes: the receive window opens by as much.
void window_update(struct tcp_pcb* pcb, uint32_t n) {
    while (n > 0) {
        u16_t step = n > 0xffff ? 0xffff : static_cast<u16_t>(n);
        tcp_recved(pcb, step);
        n -= step;
    }
}

// Forgets a stream pcb: from here on lwIP finishes (or has finished) with it alone.
void detach(struct tcp_pcb* pcb) {
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);  // lwIP's default: acknowledge and drop
    tcp_sent(pcb, nullptr);
    tcp_err(pcb, nullptr);
}

}  // namespace

// lwIP's callbacks. arg is the Socket (nullptr once the kernel closed it).
struct Callbacks {
    static err_t on_tcp_recv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err) {
        auto* s = static_cast<Socket*>(arg);
        (void)err;  // always ERR_OK in lwIP 2.1
        if (p == nullptr) {
            s->rx_eof = true;
            if (s->shut_wr) {
                // Both directions are finished: lwIP takes the pcb through TIME_WAIT and frees
                // it without a callback, so the socket lets go of it now.
                detach(pcb);
                s->pcb.tcp = nullptr;
                s->stream = Socket::Stream::Closed;
            }
        } else if (s->shut_rd) {
            window_update(pcb, p->tot_len);
            pbuf_free(p);
        } else {
            append_input(*s, p);
        }
        s->owner->mark(*s);
        return ERR_OK;
    }

    static err_t on_tcp_sent(void* arg, struct tcp_pcb*, u16_t) {
        auto* s = static_cast<Socket*>(arg);
        s->write_blocked = false;
        s->owner->mark(*s);
        return ERR_OK;
    }

    static err_t on_tcp_connected(void* arg, struct tcp_pcb*, err_t) {
        auto* s = static_cast<Socket*>(arg);
        s->stream = Socket::Stream::Connected;
        s->owner->mark(*s);
        return ERR_OK;
    }

    // The pcb is already freed when this runs.
    static void on_tcp_err(void* arg, err_t err) {
        auto* s = static_cast<Socket*>(arg);
        if (s == nullptr) return;
        NetService& service = *s->owner;
        bool connecting = s->stream == Socket::Stream::Connecting;
        s->pcb.tcp = nullptr;
        s->stream = Socket::Stream::Closed;
        // Refused or unanswered while connecting; reset or out of retransmissions after;
        // ERR_CLSD is a clean end (our FIN acknowledged after the peer's): no error.
        if (err == ERR_CLSD)
            s->error = 0;
        else if (err == ERR_RST)
            // After the peer's FIN (Linux's CLOSE_WAIT) a reset answers our writes: EPIPE.
            s->error = static_cast<int32_t>(connecting  ? Errno::ConnRefused
                                            : s->rx_eof ? Errno::Pipe
                                                        : Errno::ConnReset);
        else if (err == ERR_ABRT)
            s->error = static_cast<int32_t>(Errno::TimedOut);
        else
            s->error = static_cast<int32_t>(from_err(err));
        if (s->pending) {
            // Never seen by the kernel: it leaves the listener's queue and is gone.
            Socket& listener = service.sockets_[s->listener - 1];
            uint32_t self = static_cast<uint32_t>(s - service.sockets_) + 1;
            uint32_t* link = &listener.pending_head;
            uint32_t prev = 0;
            while (*link != 0 && *link != self) {
                prev = *link;
                link = &service.sockets_[*link - 1].next_pending;
            }
            if (*link == self) {
                *link = s->next_pending;
                if (listener.pending_tail == self) listener.pending_tail = prev;
                listener.pending_count--;
            }
            service.mark(listener);
            service.release(*s);
            return;
        }
        service.mark(*s);
    }

    static err_t on_tcp_accept(void* arg, struct tcp_pcb* pcb, err_t err) {
        auto* listener = static_cast<Socket*>(arg);
        if (err != ERR_OK || pcb == nullptr) return ERR_VAL;
        NetService& service = *listener->owner;
        Socket* s = service.allocate(SockKind::Stream);
        if (s == nullptr) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        s->pcb.tcp = pcb;
        s->stream = Socket::Stream::Connected;
        s->pending = true;
        s->listener = static_cast<uint32_t>(listener - service.sockets_) + 1;
        s->nodelay = listener->nodelay;
        s->linger = listener->linger;
        if (s->nodelay) tcp_nagle_disable(pcb);
        tcp_arg(pcb, s);
        tcp_recv(pcb, on_tcp_recv);
        tcp_sent(pcb, on_tcp_sent);
        tcp_err(pcb, on_tcp_err);
        // Counts against the backlog until the kernel accepts it (listen(2)'s meaning).
        tcp_backlog_delayed(pcb);
        uint32_t self = static_cast<uint32_t>(s - service.sockets_) + 1;
        if (listener->pending_tail != 0)
            service.sockets_[listener->pending_tail - 1].next_pending = self;
        else
            listener->pending_head = self;
        listener->pending_tail = self;
        listener->pending_count++;
        service.mark(*listener);
        return ERR_OK;
    }

    static void queue_datagram(Socket& s, struct pbuf* p, const ip_addr_t* from, u16_t port) {
        if (s.dgram_count == Socket::DATAGRAM_QUEUE) {
            pbuf_free(p);  // a full receive queue drops, as a full socket buffer does
            return;
        }
        s.dgrams[(s.dgram_head + s.dgram_count) % Socket::DATAGRAM_QUEUE] = {p, to_net(from, port)};
        s.dgram_count++;
        s.owner->mark(s);
    }

    static void on_udp_recv(void* arg, struct udp_pcb*, struct pbuf* p, const ip_addr_t* from, u16_t port) {
        queue_datagram(*static_cast<Socket*>(arg), p, from, port);
    }

    // Every raw socket of the protocol gets a copy, and lwIP still handles the datagram itself
    // (an echo request is answered even while ping has a socket open), as on Linux.
    static u8_t on_raw_recv(void* arg, struct raw_pcb*, struct pbuf* p, const ip_addr_t* from) {
        struct pbuf* copy = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
        if (copy != nullptr) queue_datagram(*static_cast<Socket*>(arg), copy, from, 0);
        return 0;
    }

    // The echo replies that carry a ping socket's identifier go to it, from the ICMP header on
    // (Linux's ping_rcv); when several share the identifier (SO_REUSEADDR), to the one that took
    // it last, as Linux's lookup finds it first. Never eaten: raw sockets see them too.
    static u8_t on_ping_recv(void* arg, struct raw_pcb*, struct pbuf* p, const ip_addr_t* from) {
        Socket& s = *static_cast<Socket*>(arg);
        if (s.ident == 0 || p->tot_len < 1 || s.owner->newer_ping(s)) return 0;
        uint16_t ihl = static_cast<uint16_t>((pbuf_get_at(p, 0) & 0xf) * 4);
        if (ihl < 20 || p->tot_len < ihl + ICMP_HEADER) return 0;
        uint16_t id =
            static_cast<uint16_t>(pbuf_get_at(p, ihl + ICMP_ID_OFFSET) << 8 | pbuf_get_at(p, ihl + ICMP_ID_OFFSET + 1));
        if (pbuf_get_at(p, ihl) != ICMP_ECHO_REPLY || pbuf_get_at(p, ihl + 1) != 0 || id != s.ident) return 0;
        u16_t len = static_cast<u16_t>(p->tot_len - ihl);
        struct pbuf* copy = pbuf_alloc(PBUF_RAW, len, PBUF_RAM);  // one piece: PBUF_RAM is contiguous
        if (copy == nullptr) return 0;
        pbuf_copy_partial(p, copy->payload, len, ihl);
        if (inet_chksum(copy->payload, len) != 0) {
            pbuf_free(copy);  // corrupt: icmp_rcv drops it before any ping socket sees it
            return 0;
        }
        queue_datagram(s, copy, from, 0);
        return 0;
    }
};

// Every entry point: on the way out of the outermost one, send what lwIP queued and publish.
class NetService::Request {
public:
    explicit Request(NetService& service) : service_(service) { service_.depth_++; }
    ~Request() {
        if (--service_.depth_ == 0) {
            service_.stack_.flush();
            service_.publish();
        }
    }

private:
    NetService& service_;
};

Result<void> NetService::start(NetPlatform& platform, const NetSeed& seed) {
    TRY(stack_.start(platform, seed));
    for (Socket& s : sockets_) s.generation = static_cast<uint16_t>(lamina_net_random());
    ident_rover_ = static_cast<uint16_t>(lamina_net_random());
    return {};
}

uint32_t NetService::handle_of(const Socket& s) const {
    return (uint32_t{s.generation} << 16) | (static_cast<uint32_t>(&s - sockets_) + 1);
}

Result<Socket*> NetService::lookup(uint32_t handle) {
    uint32_t slot = (handle & 0xffff);
    if (slot == 0 || slot > MAX_SOCKETS) return Errno::BadF;
    Socket& s = sockets_[slot - 1];
    if (!s.used || s.pending || s.generation != (handle >> 16)) return Errno::BadF;
    return &s;
}

Result<Socket*> NetService::lookup(uint32_t handle, SockKind kind) {
    Socket* s = TRY(lookup(handle));
    if (s->kind != kind) return Errno::NotSup;  // EOPNOTSUPP, as Linux says for a datagram socket's listen
    return s;
}

Socket* NetService::allocate(SockKind kind) {
    for (uint32_t i = 0; i < MAX_SOCKETS; i++) {
        Socket& s = sockets_[i];
        if (s.used) continue;
        uint16_t generation = static_cast<uint16_t>(s.generation + 1);
        bool listed = s.dirty;  // still in dirty_ from its previous life: must not go in twice
        s = Socket{};
        s.dirty = listed;
        s.owner = this;
        s.used = true;
        s.kind = kind;
        s.generation = generation;
        s.linger = -1;
        s.published = NO_STATE;
        in_use_++;
        return &s;
    }
    return nullptr;
}

void NetService::release(Socket& s) {
    free_input(s);
    s.used = false;
    s.pcb.any = nullptr;
    in_use_--;
}

Errno NetService::take_error(Socket& s) {
    Errno e = static_cast<Errno>(s.error);
    s.error = 0;
    mark(s);
    return e;
}

void NetService::mark(Socket& s) {
    if (s.dirty || s.pending) return;
    s.dirty = true;
    dirty_[dirty_count_++] = static_cast<uint32_t>(&s - sockets_);
}

void NetService::publish() {
    uint32_t i = 0;
    while (i < dirty_count_) {
        if (!batch_) {
            auto fresh = RRef<idl::NetEventBatch>::create();
            if (fresh.is_error()) return;  // the states stay dirty and go out with the next entry point
            batch_ = fresh.release_value();
        }
        batch_->count = 0;
        for (; i < dirty_count_ && batch_->count < 64; i++) {
            Socket& s = sockets_[dirty_[i]];
            s.dirty = false;
            if (!s.used) {
                // Closed by the kernel: a connection it knew goes from its records (nothing to
                // reset after a crash).
                if (s.published != NO_STATE && (s.published & CONNECTED))
                    batch_->events[batch_->count++] = {handle_of(s), GONE, 0, {}};
                s.published = NO_STATE;
                continue;
            }
            if (s.pending) continue;
            uint32_t state = state_of(s);
            idl::NetConnection conn = connection_of(s, state);
            if (state == s.published && s.error == s.published_error && conn.snd_seq == s.published_snd) continue;
            s.published = state;
            s.published_error = s.error;
            s.published_snd = conn.snd_seq;
            batch_->events[batch_->count++] = {handle_of(s), state, s.error, conn};
        }
        if (batch_->count == 0) continue;
        auto back = events_.ready(static_cast<RRef<idl::NetEventBatch>&&>(batch_));
        if (back.is_ok()) batch_ = back.release_value();
    }
    dirty_count_ = 0;
}

void NetService::step() {
    Request request(*this);
    stack_.step();
    if (reset_count_ > 0) send_peer_resets();
}

Result<void> NetService::reset_peer(const idl::NetConnection& conn) {
    Request request(*this);
    if (conn.local.port == 0 || conn.peer.port == 0 || is_any(conn.local) || is_any(conn.peer)) return Errno::Inval;
    if (reset_count_ == MAX_SOCKETS) return Errno::NoBufs;
    resets_[reset_count_++] = {conn, sys_now() + PEER_RESET_WAIT_MS};
    send_peer_resets();
    return {};
}

void NetService::send_peer_resets() {
    uint32_t now = sys_now();
    uint32_t i = 0, sent = 0, expired = 0;
    while (i < reset_count_) {
        const idl::NetConnection& c = resets_[i].conn;
        ip_addr_t local = to_ip(c.local), peer = to_ip(c.peer);
        bool up = false;
        struct netif* n;
        NETIF_FOREACH(n) {
            if (netif_is_up(n) && netif_is_link_up(n) && ip4_addr_cmp(netif_ip4_addr(n), ip_2_ip4(&local))) up = true;
        }
        if (!up && static_cast<int32_t>(now - resets_[i].deadline_ms) < 0) {
            i++;
            continue;
        }
        // Goes out (or not, when no route reaches the peer) with the entry point's flush.
        if (up) {
            tcp_rst(nullptr, c.snd_seq, c.rcv_seq, &local, &peer, c.local.port, c.peer.port);
            sent++;
        } else {
            expired++;
        }
        resets_[i] = resets_[--reset_count_];
    }
    if (sent + expired > 0)
        lamina_net_diag("net: reset the peers of %u lost connection(s); %u gave up (no local address)", sent, expired);
}

Result<uint32_t> NetService::socket(SockKind kind, uint8_t protocol) {
    Request request(*this);
    switch (kind) {
        case SockKind::Stream:
            if (protocol != 0 && protocol != IP_PROTO_TCP) return Errno::ProtoNoSupport;
            break;
        case SockKind::Datagram:
            if (protocol != 0 && protocol != IP_PROTO_UDP) return Errno::ProtoNoSupport;
            break;
        case SockKind::Raw:
        case SockKind::Ping:
            if (protocol != IP_PROTO_ICMP) return Errno::ProtoNoSupport;
            break;
        default:
            return Errno::Inval;
    }
    Socket* s = allocate(kind);
    if (s == nullptr) return Errno::NoBufs;
    s->protocol = protocol;
    switch (kind) {
        case SockKind::Stream:
            s->pcb.tcp = tcp_new_ip_type(IPADDR_TYPE_V4);
            if (s->pcb.tcp != nullptr) {
                tcp_arg(s->pcb.tcp, s);
                tcp_err(s->pcb.tcp, Callbacks::on_tcp_err);
            }
            break;
        case SockKind::Datagram:
            s->pcb.udp = udp_new_ip_type(IPADDR_TYPE_V4);
            if (s->pcb.udp != nullptr) udp_recv(s->pcb.udp, Callbacks::on_udp_recv, s);
            break;
        case SockKind::Raw:
            s->pcb.raw = raw_new_ip_type(IPADDR_TYPE_V4, protocol);
            if (s->pcb.raw != nullptr) raw_recv(s->pcb.raw, Callbacks::on_raw_recv, s);
            break;
        case SockKind::Ping:
            s->pcb.raw = raw_new_ip_type(IPADDR_TYPE_V4, protocol);
            if (s->pcb.raw != nullptr) {
                raw_recv(s->pcb.raw, Callbacks::on_ping_recv, s);
                ip_set_option(s->pcb.raw, SOF_REUSEADDR);  // Linux's INET_PROTOSW_REUSE
            }
            break;
    }
    if (s->pcb.any == nullptr) {
        release(*s);
        return Errno::NoBufs;
    }
    return handle_of(*s);
}

Result<NetAddr> NetService::bind(uint32_t sock, const NetAddr& addr) {
    Request request(*this);
    Socket& s = *TRY(lookup(sock));
    ip_addr_t ip = to_ip(addr);
    if (!is_local(ip)) return Errno::AddrNotAvail;
    switch (s.kind) {
        case SockKind::Stream:
            if (s.stream != Socket::Stream::Fresh || s.pcb.tcp->local_port != 0) return Errno::Inval;
            if (err_t e = tcp_bind(s.pcb.tcp, &ip, addr.port); e != ERR_OK)
                return e == ERR_USE ? Errno::AddrInUse : from_err(e);
            return to_net(&s.pcb.tcp->local_ip, s.pcb.tcp->local_port);
        case SockKind::Datagram:
            if (s.pcb.udp->local_port != 0) return Errno::Inval;
            if (err_t e = udp_bind(s.pcb.udp, &ip, addr.port); e != ERR_OK) return from_err(e);
            return to_net(&s.pcb.udp->local_ip, s.pcb.udp->local_port);
        case SockKind::Raw:
            if (err_t e = raw_bind(s.pcb.raw, &ip); e != ERR_OK) return from_err(e);
            return to_net(&s.pcb.raw->local_ip, 0);
        case SockKind::Ping:
            if (s.ident != 0) return Errno::Inval;
            TRY(bind_ident(s, addr.port));
            if (err_t e = raw_bind(s.pcb.raw, &ip); e != ERR_OK) {
                s.ident = 0;
                return from_err(e);
            }
            return to_net(&s.pcb.raw->local_ip, s.ident);
    }
    return Errno::Inval;
}

Result<void> NetService::bind_ident(Socket& s, uint16_t wanted) {
    bool reuse = ip_get_option(s.pcb.raw, SOF_REUSEADDR);
    auto taken = [&](uint16_t ident, bool check_reuse) {
        for (const Socket& o : sockets_) {
            if (&o == &s || !o.used || o.kind != SockKind::Ping || o.ident != ident) continue;
            if (!check_reuse || !reuse || !ip_get_option(o.pcb.raw, SOF_REUSEADDR)) return true;
        }
        return false;
    };
    s.bound_serial = ++ident_serial_;
    if (wanted != 0) {
        if (taken(wanted, true)) return Errno::AddrInUse;
        s.ident = wanted;
        return {};
    }
    for (uint32_t i = 0; i < 0x10000; i++) {
        uint16_t ident = ident_rover_++;
        if (ident != 0 && !taken(ident, false)) {
            s.ident = ident;
            return {};
        }
    }
    return Errno::AddrInUse;  // every identifier is in use (Linux: EADDRINUSE as well)
}

bool NetService::newer_ping(const Socket& s) const {
    for (const Socket& o : sockets_)
        if (o.used && o.kind == SockKind::Ping && o.ident == s.ident && o.bound_serial > s.bound_serial) return true;
    return false;
}

Result<void> NetService::listen(uint32_t sock, uint32_t backlog) {
    Request request(*this);
    Socket& s = *TRY(lookup(sock, SockKind::Stream));
    u8_t limit = static_cast<u8_t>(backlog < 1 ? 1 : backlog > MAX_BACKLOG ? MAX_BACKLOG : backlog);
    if (s.stream == Socket::Stream::Listening) {
        tcp_backlog_set(s.pcb.tcp, limit);
        return {};
    }
    if (s.stream != Socket::Stream::Fresh) return Errno::Inval;
    if (s.pcb.tcp->local_port == 0) {
        // Linux binds an unbound listener to an ephemeral port.
        if (err_t e = tcp_bind(s.pcb.tcp, IP4_ADDR_ANY, 0); e != ERR_OK) return from_err(e);
    }
    err_t e = ERR_OK;
    struct tcp_pcb* lpcb = tcp_listen_with_backlog_and_err(s.pcb.tcp, limit, &e);
    if (lpcb == nullptr) return e == ERR_USE ? Errno::AddrInUse : from_err(e);
    s.pcb.tcp = lpcb;  // lwIP freed the original pcb
    s.stream = Socket::Stream::Listening;
    tcp_arg(lpcb, &s);
    tcp_accept(lpcb, Callbacks::on_tcp_accept);
    mark(s);
    return {};
}

Result<void> NetService::connect(uint32_t sock, const NetAddr& addr) {
    Request request(*this);
    Socket& s = *TRY(lookup(sock));
    ip_addr_t ip = to_ip(addr);
    if (s.kind == SockKind::Datagram) {
        if (is_any(addr) && addr.port == 0) {
            udp_disconnect(s.pcb.udp);  // AF_UNSPEC: dissolve the association
            return {};
        }
        if (err_t e = udp_connect(s.pcb.udp, &ip, addr.port); e != ERR_OK) return from_err(e);
        return {};
    }
    if (s.kind == SockKind::Raw || s.kind == SockKind::Ping) {
        if (s.kind == SockKind::Ping && s.ident == 0) TRY(bind_ident(s, 0));  // Linux autobinds
        if (is_any(addr) && addr.port == 0) {
            raw_disconnect(s.pcb.raw);  // AF_UNSPEC
            return {};
        }
        if (err_t e = raw_connect(s.pcb.raw, &ip); e != ERR_OK) return from_err(e);
        s.peer_port = addr.port;
        return {};
    }
    switch (s.stream) {
        case Socket::Stream::Connecting:
            return Errno::Already;
        case Socket::Stream::Connected:
            return Errno::IsConn;
        case Socket::Stream::Listening:
            return Errno::Inval;
        case Socket::Stream::Closed:
            return Errno::Inval;
        case Socket::Stream::Fresh:
            break;
    }
    if (addr.port == 0) return Errno::ConnRefused;
    if (is_any(addr)) IP_ADDR4(&ip, 127, 0, 0, 1);  // Linux connects "any" to the local host
    tcp_recv(s.pcb.tcp, Callbacks::on_tcp_recv);
    tcp_sent(s.pcb.tcp, Callbacks::on_tcp_sent);
    if (err_t e = tcp_connect(s.pcb.tcp, &ip, addr.port, Callbacks::on_tcp_connected); e != ERR_OK) return from_err(e);
    s.stream = Socket::Stream::Connecting;
    return {};
}

Result<idl::NetAccepted> NetService::accept(uint32_t sock) {
    Request request(*this);
    Socket& l = *TRY(lookup(sock, SockKind::Stream));
    if (l.stream != Socket::Stream::Listening) return Errno::Inval;
    if (l.pending_head == 0) return Errno::Again;
    Socket& s = sockets_[l.pending_head - 1];
    l.pending_head = s.next_pending;
    if (l.pending_head == 0) l.pending_tail = 0;
    l.pending_count--;
    mark(l);
    s.pending = false;
    s.next_pending = 0;
    s.listener = 0;
    tcp_backlog_accepted(s.pcb.tcp);
    idl::NetAccepted accepted{handle_of(s), to_net(&s.pcb.tcp->remote_ip, s.pcb.tcp->remote_port)};
    mark(s);
    return accepted;
}

Result<uint32_t> NetService::send(uint32_t sock, uint32_t flags, const NetAddr& to, const RRefBytes& buf) {
    Request request(*this);
    Socket& s = *TRY(lookup(sock));
    if ((flags & ~(MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL)) != 0) return Errno::Inval;
    if (!buf) return Errno::Fault;
    if (s.kind == SockKind::Stream) return send_stream(s, flags, buf);
    return send_datagram(s, to, buf);
}

Result<uint32_t> NetService::send_stream(Socket& s, uint32_t flags, const RRefBytes& buf) {
    if (s.error != 0) return take_error(s);
    switch (s.stream) {
        case Socket::Stream::Fresh:
        case Socket::Stream::Listening:
            return Errno::NotConn;
        case Socket::Stream::Connecting:
            return Errno::Again;
        case Socket::Stream::Closed:
            return Errno::Pipe;
        case Socket::Stream::Connected:
            break;
    }
    if (s.shut_wr) return Errno::Pipe;
    uint32_t len = buf.length();
    if (len == 0) return 0u;
    struct tcp_pcb* pcb = s.pcb.tcp;
    uint32_t room = pcb->snd_buf;
    uint32_t want = len < room ? len : room;
    uint32_t done = 0;
    while (done < want && pcb->snd_queuelen < TCP_SND_QUEUELEN - 2) {
        uint32_t chunk = want - done < WRITE_CHUNK ? want - done : WRITE_CHUNK;
        u8_t wflags = TCP_WRITE_FLAG_COPY;
        if (done + chunk < len || (flags & MSG_MORE)) wflags |= TCP_WRITE_FLAG_MORE;
        err_t e = tcp_write(pcb, buf.data() + done, static_cast<u16_t>(chunk), wflags);
        if (e == ERR_MEM) break;
        if (e != ERR_OK) return done > 0 ? Result<uint32_t>(done) : Result<uint32_t>(from_err(e));
        done += chunk;
    }
    if (done == 0) {
        s.write_blocked = true;  // not WRITABLE again until lwIP frees something (tcp_sent)
        mark(s);
        return Errno::Again;
    }
    tcp_output(pcb);
    mark(s);
    return done;
}

Result<uint32_t> NetService::send_datagram(Socket& s, const NetAddr& to, const RRefBytes& buf) {
    if (s.error != 0) return take_error(s);
    uint32_t len = buf.length();
    if (len > MAX_DATAGRAM) return Errno::MsgSize;
    bool connected = s.kind == SockKind::Datagram ? (s.pcb.udp->flags & UDP_FLAGS_CONNECTED) != 0
                                                  : (s.pcb.raw->flags & RAW_FLAGS_CONNECTED) != 0;
    bool use_peer = is_any(to) && to.port == 0;
    if (use_peer && !connected) return Errno::DestAddrReq;
    ip_addr_t ip = to_ip(to);
    bool may_broadcast = s.kind == SockKind::Datagram ? ip_get_option(s.pcb.udp, SOF_BROADCAST) != 0
                                                      : ip_get_option(s.pcb.raw, SOF_BROADCAST) != 0;
    if (!use_peer && s.kind != SockKind::Raw && !may_broadcast && is_broadcast(ip))
        return Errno::Acces;  // broadcasting needs SO_BROADCAST (Linux: EACCES)
    struct pbuf* p;
    if (s.kind == SockKind::Ping) {
        p = TRY(echo_request(s, buf));
    } else {
        p = pbuf_alloc(s.kind == SockKind::Datagram ? PBUF_TRANSPORT : PBUF_IP, static_cast<u16_t>(len), PBUF_RAM);
        if (p == nullptr) return Errno::NoBufs;
        if (len > 0) pbuf_take(p, buf.data(), static_cast<u16_t>(len));
    }
    err_t e;
    if (s.kind == SockKind::Datagram)
        e = use_peer ? udp_send(s.pcb.udp, p) : udp_sendto(s.pcb.udp, p, &ip, to.port);
    else
        e = use_peer ? raw_send(s.pcb.raw, p) : raw_sendto(s.pcb.raw, p, &ip);
    pbuf_free(p);
    if (e != ERR_OK) return from_err(e);
    return len;
}

Result<struct pbuf*> NetService::echo_request(Socket& s, const RRefBytes& buf) {
    uint32_t len = buf.length();
    // Linux's ping_common_sendmsg: only echo requests, at least their header.
    if (len < ICMP_HEADER || buf.data()[0] != ICMP_ECHO_REQUEST || buf.data()[1] != 0) return Errno::Inval;
    if (s.ident == 0) TRY(bind_ident(s, 0));
    struct pbuf* p = pbuf_alloc(PBUF_IP, static_cast<u16_t>(len), PBUF_RAM);
    if (p == nullptr) return Errno::NoBufs;
    auto* m = static_cast<uint8_t*>(p->payload);
    memcpy(m, buf.data(), len);
    m[ICMP_ID_OFFSET] = static_cast<uint8_t>(s.ident >> 8);
    m[ICMP_ID_OFFSET + 1] = static_cast<uint8_t>(s.ident);
    m[2] = m[3] = 0;
    u16_t sum = inet_chksum(m, static_cast<u16_t>(len));  // already in network order
    memcpy(m + 2, &sum, sizeof sum);
    return p;
}

Result<RRef<NetMessage>> NetService::recv(uint32_t sock, uint32_t flags, RRef<NetMessage> msg) {
    Request request(*this);
    Socket& s = *TRY(lookup(sock));
    if ((flags & ~(MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT)) != 0) return Errno::Inval;
    if (!msg || !msg->data) return Errno::Fault;
    if (s.kind == SockKind::Stream) return recv_stream(s, flags, static_cast<RRef<NetMessage>&&>(msg));
    return recv_datagram(s, flags, static_cast<RRef<NetMessage>&&>(msg));
}

Result<RRef<NetMessage>> NetService::recv_stream(Socket& s, uint32_t flags, RRef<NetMessage> msg) {
    switch (s.stream) {
        case Socket::Stream::Fresh:
        case Socket::Stream::Listening:
            return Errno::NotConn;
        case Socket::Stream::Connecting:
            return Errno::Again;
        case Socket::Stream::Connected:
        case Socket::Stream::Closed:
            break;
    }
    msg->full_len = 0;
    if (s.pcb.tcp != nullptr) msg->from = to_net(&s.pcb.tcp->remote_ip, s.pcb.tcp->remote_port);
    if (s.rx_bytes == 0) {
        if (s.error != 0) return take_error(s);  // queued data first, then the error (a reset), then the end
        if (!s.rx_eof && !s.shut_rd && s.stream != Socket::Stream::Closed) return Errno::Again;
        (void)msg->data.set_length(0);
        return msg;
    }
    uint32_t n = copy_input(s, msg->data.data(), msg->data.capacity());
    (void)msg->data.set_length(n);
    msg->full_len = n;
    if ((flags & MSG_PEEK) == 0) {
        consume_input(s, n);
        if (s.pcb.tcp != nullptr) window_update(s.pcb.tcp, n);
        mark(s);
    }
    return msg;
}

Result<RRef<NetMessage>> NetService::recv_datagram(Socket& s, uint32_t flags, RRef<NetMessage> msg) {
    if (s.dgram_count == 0) {
        if (s.error != 0) return take_error(s);
        return Errno::Again;
    }
    Socket::Datagram& d = s.dgrams[s.dgram_head];
    uint32_t n = d.p->tot_len < msg->data.capacity() ? d.p->tot_len : msg->data.capacity();
    pbuf_copy_partial(d.p, msg->data.data(), static_cast<u16_t>(n), 0);
    (void)msg->data.set_length(n);
    msg->full_len = d.p->tot_len;
    msg->from = d.from;
    if ((flags & MSG_PEEK) == 0) {
        pbuf_free(d.p);
        s.dgram_head = (s.dgram_head + 1) % Socket::DATAGRAM_QUEUE;
        s.dgram_count--;
        mark(s);
    }
    return msg;
}

void NetService::drop_stream_input(Socket& s) {
    if (s.pcb.tcp != nullptr && s.rx_bytes > 0) window_update(s.pcb.tcp, s.rx_bytes);
    free_input(s);
}

Result<void> NetService::shutdown(uint32_t sock, uint8_t how) {
    Request request(*this);
    Socket& s = *TRY(lookup(sock));
    if (how > 2) return Errno::Inval;
    bool rd = how != 1, wr = how != 0;
    if (s.kind == SockKind::Stream) {
        if (s.stream == Socket::Stream::Listening && rd) {
            // Linux stops a listener shut down for reading: new SYNs are refused, and accept
            // fails with Inval from then on.
            stop_listening(s);
            s.stream = Socket::Stream::Closed;
            s.pcb.tcp = nullptr;
            mark(s);
            return {};
        }
        if (s.stream != Socket::Stream::Connected) return Errno::NotConn;
        if (wr && !s.shut_wr && s.pcb.tcp != nullptr) {
            if (err_t e = tcp_shutdown(s.pcb.tcp, 0, 1); e != ERR_OK) return from_err(e);
        }
        if (rd) drop_stream_input(s);
    }
    s.shut_rd = s.shut_rd || rd;
    s.shut_wr = s.shut_wr || wr;
    mark(s);
    return {};
}

void NetService::stop_listening(Socket& s) {
    // Connections the kernel never accepted are reset.
    while (s.pending_head != 0) {
        Socket& c = sockets_[s.pending_head - 1];
        s.pending_head = c.next_pending;
        detach(c.pcb.tcp);
        tcp_abort(c.pcb.tcp);
        release(c);
    }
    s.pending_tail = s.pending_count = 0;
    tcp_arg(s.pcb.tcp, nullptr);
    tcp_accept(s.pcb.tcp, nullptr);
    (void)tcp_close(s.pcb.tcp);  // a listening pcb always closes
}

void NetService::close_stream(Socket& s) {
    struct tcp_pcb* pcb = s.pcb.tcp;
    if (s.stream == Socket::Stream::Listening) {
        stop_listening(s);
        return;
    }
    if (pcb == nullptr) return;
    detach(pcb);
    // Linux resets instead of closing when unread data would be lost, or for SO_LINGER 0.
    if (s.rx_bytes > 0 || s.linger == 0 || tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
}

Result<void> NetService::close(uint32_t sock) {
    Request request(*this);
    Socket& s = *TRY(lookup(sock));
    switch (s.kind) {
        case SockKind::Stream:
            close_stream(s);
            break;
        case SockKind::Datagram:
            udp_remove(s.pcb.udp);
            break;
        case SockKind::Raw:
        case SockKind::Ping:
            raw_remove(s.pcb.raw);
            break;
    }
    release(s);
    mark(s);  // a connection's GONE (publish)
    return {};
}

Result<void> NetService::setopt(uint32_t sock, SockOpt opt, int32_t value) {
    Request request(*this);
    Socket& s = *TRY(lookup(sock));
    bool on = value != 0;
    // The option bits and TTL/TOS sit in the part every pcb kind shares (IP_PCB).
    struct ip_pcb_view {
        IP_PCB;
    };
    static_assert(offsetof(struct tcp_pcb, so_options) == offsetof(ip_pcb_view, so_options));
    static_assert(offsetof(struct udp_pcb, so_options) == offsetof(ip_pcb_view, so_options));
    static_assert(offsetof(struct raw_pcb, so_options) == offsetof(ip_pcb_view, so_options));
    auto* ip = static_cast<ip_pcb_view*>(s.pcb.any);
    if (ip == nullptr && opt != SockOpt::Linger) return Errno::Inval;  // the connection is gone
    bool tcp = s.kind == SockKind::Stream;
    bool tcp_conn = tcp && s.stream != Socket::Stream::Listening;
    switch (opt) {
        case SockOpt::ReuseAddr:
            if (on)
                ip_set_option(ip, SOF_REUSEADDR);
            else
                ip_reset_option(ip, SOF_REUSEADDR);
            return {};
        case SockOpt::Broadcast:
            if (on)
                ip_set_option(ip, SOF_BROADCAST);
            else
                ip_reset_option(ip, SOF_BROADCAST);
            return {};
        case SockOpt::KeepAlive:
            if (!tcp) return Errno::NoProtoOpt;
            if (on)
                ip_set_option(ip, SOF_KEEPALIVE);
            else
                ip_reset_option(ip, SOF_KEEPALIVE);
            return {};
        case SockOpt::KeepIdle:
        case SockOpt::KeepInterval:
        case SockOpt::KeepCount:
            if (!tcp) return Errno::NoProtoOpt;
            if (value < 1 || value > 32767) return Errno::Inval;
            if (!tcp_conn) return {};
            if (opt == SockOpt::KeepIdle)
                s.pcb.tcp->keep_idle = static_cast<u32_t>(value) * 1000;
            else if (opt == SockOpt::KeepInterval)
                s.pcb.tcp->keep_intvl = static_cast<u32_t>(value) * 1000;
            else
                s.pcb.tcp->keep_cnt = static_cast<u32_t>(value);
            return {};
        case SockOpt::NoDelay:
            if (!tcp) return Errno::NoProtoOpt;
            s.nodelay = on;
            if (tcp_conn) {
                if (on)
                    tcp_nagle_disable(s.pcb.tcp);
                else
                    tcp_nagle_enable(s.pcb.tcp);
            }
            return {};
        case SockOpt::Linger:
            s.linger = value < 0 ? -1 : value;
            return {};
        case SockOpt::RcvBuf:
        case SockOpt::SndBuf:
            return {};  // fixed by lwipopts.h; accepted as Linux accepts any size
        case SockOpt::Ttl:
            if (value < 1 || value > 255) return Errno::Inval;
            ip->ttl = static_cast<u8_t>(value);
            return {};
        case SockOpt::Tos:
            ip->tos = static_cast<u8_t>(value);
            return {};
        case SockOpt::Error:
            return Errno::NoProtoOpt;
    }
    return Errno::NoProtoOpt;
}

Result<int32_t> NetService::getopt(uint32_t sock, SockOpt opt) {
    Request request(*this);
    Socket& s = *TRY(lookup(sock));
    struct ip_pcb_view {
        IP_PCB;
    };
    auto* ip = static_cast<ip_pcb_view*>(s.pcb.any);
    bool tcp_conn = s.kind == SockKind::Stream && s.stream != Socket::Stream::Listening && ip != nullptr;
    auto bit = [&](u8_t option) -> int32_t { return ip != nullptr && ip_get_option(ip, option) ? 1 : 0; };
    switch (opt) {
        case SockOpt::ReuseAddr:
            return bit(SOF_REUSEADDR);
        case SockOpt::Broadcast:
            return bit(SOF_BROADCAST);
        case SockOpt::KeepAlive:
            return bit(SOF_KEEPALIVE);
        case SockOpt::KeepIdle:
            return tcp_conn ? static_cast<int32_t>(s.pcb.tcp->keep_idle / 1000) : TCP_KEEPIDLE_DEFAULT / 1000;
        case SockOpt::KeepInterval:
            return tcp_conn ? static_cast<int32_t>(s.pcb.tcp->keep_intvl / 1000) : TCP_KEEPINTVL_DEFAULT / 1000;
        case SockOpt::KeepCount:
            return tcp_conn ? static_cast<int32_t>(s.pcb.tcp->keep_cnt) : TCP_KEEPCNT_DEFAULT;
        case SockOpt::NoDelay:
            return s.nodelay ? 1 : 0;
        case SockOpt::Linger:
            return s.linger;
        case SockOpt::RcvBuf:
            return TCP_WND;
        case SockOpt::SndBuf:
            return TCP_SND_BUF;
        case SockOpt::Ttl:
            return ip != nullptr ? ip->ttl : IP_DEFAULT_TTL;
        case SockOpt::Tos:
            return ip != nullptr ? ip->tos : 0;
        case SockOpt::Error:
            return s.error != 0 ? static_cast<int32_t>(take_error(s)) : 0;
    }
    return Errno::NoProtoOpt;
}

Result<idl::SockNames> NetService::names(uint32_t sock) {
    Request request(*this);
    Socket& s = *TRY(lookup(sock));
    idl::SockNames n{};
    if (s.pcb.any == nullptr) return n;
    switch (s.kind) {
        case SockKind::Stream:
            n.local = to_net(&s.pcb.tcp->local_ip, s.pcb.tcp->local_port);
            if (s.stream == Socket::Stream::Connected) n.peer = to_net(&s.pcb.tcp->remote_ip, s.pcb.tcp->remote_port);
            break;
        case SockKind::Datagram:
            n.local = to_net(&s.pcb.udp->local_ip, s.pcb.udp->local_port);
            if (s.pcb.udp->flags & UDP_FLAGS_CONNECTED) n.peer = to_net(&s.pcb.udp->remote_ip, s.pcb.udp->remote_port);
            break;
        case SockKind::Raw:
        case SockKind::Ping:
            n.local = to_net(&s.pcb.raw->local_ip, s.ident);
            if (s.pcb.raw->flags & RAW_FLAGS_CONNECTED) n.peer = to_net(&s.pcb.raw->remote_ip, s.peer_port);
            break;
    }
    return n;
}

Result<idl::NetIfStatus> NetService::if_status(uint32_t index) {
    Request request(*this);
    return stack_.status(index);
}

Result<void> NetService::if_configure(uint32_t index, const idl::NetIfConfig& config) {
    Request request(*this);
    return stack_.configure(index, config);
}

}  // namespace lamina::net
