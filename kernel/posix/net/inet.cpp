// AF_INET sockets: the BSD socket calls on top of the netstack domain's non-blocking Net
// interface.
//
// Each InetSocket names one socket of the stack by (generation, handle). Blocking is ours: a
// call that would block gets Again from the stack and sleeps on the net service's readiness
// queue until the state published for its handle has the bit it needs (or an error, or the
// handle's generation ended), then tries again. poll/select/epoll subscribe to the socket's
// own poll queue, which the net service's readiness hook notifies for each handle in a batch of
// events (g_slots maps a handle's slot to its socket), and for every socket when a new stack
// generation begins.
//
// Recovery of the stack (net_service.h, "Recovery"). Every socket except a stream that has
// started to connect (or was accepted) is registered for replay from its creation: the replay
// re-creates it with its options, bound address, listen backlog and datagram destination, and
// its handle follows through current(). A connecting or connected stream keeps the handle it
// had; when that handle's generation ends, the connection is gone: the socket turns "dead",
// with ECONNRESET pending (recv returns it once, then the end of the stream; send returns it
// once, then EPIPE), and polls In|Out|Hup|Err.
//
// Locking: g_lock (an IrqSpinlock) guards each socket's small state (phase, handle of a
// connected stream, pending error, shutdown bits); it is never held across a call into the
// stack, which may publish events and so take the readiness queue's and the poll queue's locks.
#include "kernel/posix/net/inet.h"

#include <new>

#include <lamina/format.h>
#include <lamina/intrusive_list.h>

#include "kernel/mm/memory.h"
#include "kernel/net/net_service.h"
#include "kernel/posix/cred.h"
#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/fs/procfs.h"
#include "kernel/posix/irq_spinlock.h"
#include "kernel/posix/net/inet_abi.h"
#include "kernel/posix/net/socket.h"
#include "kernel/posix/signal.h"
#include "kernel/time/time.h"

namespace lamina::posix::net {

namespace {

namespace stack = ::lamina::net;
using idl::NetAddr;
using idl::SockKind;
using idl::SockOpt;

// The most moved through the stack per call: larger transfers are several calls.
constexpr uint32_t IO_MAX = 64 * 1024;
// A UDP datagram's largest payload (65535 minus the IP and UDP headers).
constexpr uint32_t MAX_DATAGRAM = 65507;
constexpr uint32_t MAX_BACKLOG = 128;  // the stack's clamp (net.idl, listen)
constexpr int32_t TCP_MSS = 1460;      // domains/net/lwip/lwipopts.h
constexpr int RETRIES = 4;             // attempts of a call across restarts of the stack
constexpr int MSG_MORE = 0x8000;
constexpr uint8_t ICMP_ECHO_REQUEST = 8;            // RFC 792
constexpr uint64_t REPLAY_WAIT_NS = 2'000'000'000;  // for the watcher (50 ms) and the replay

IrqSpinlock g_lock;
ListChain g_sockets;              // every InetSocket (through its link), for /proc/net/tcp and udp; g_lock
constexpr uint32_t SLOTS = 1024;  // the stack's sockets: a handle's low 16 bits are slot + 1
class InetSocket;
// The socket that last registered a handle in each slot (g_lock): readiness events find the
// poll queue to notify through it.
InetSocket* g_slots[SLOTS];

void readiness_changed(const uint32_t* handles, uint32_t count);

Result<NetAddr> parse_addr(const SockAddr& a) {
    if (a.len < sizeof(inet::SockaddrIn)) return Errno::Inval;
    if (a.family() != af::Inet) return Errno::AfNoSupport;
    inet::SockaddrIn in;
    __builtin_memcpy(&in, a.bytes, sizeof in);
    NetAddr n{};
    __builtin_memcpy(n.ip, in.addr, 4);
    n.port = uint16_t(in.port[0] << 8 | in.port[1]);
    return n;
}

void format_addr(const NetAddr& n, SockAddr& out) {
    inet::SockaddrIn in{};
    in.family = af::Inet;
    in.port[0] = uint8_t(n.port >> 8);
    in.port[1] = uint8_t(n.port);
    __builtin_memcpy(in.addr, n.ip, 4);
    out.len = sizeof in;
    __builtin_memcpy(out.bytes, &in, sizeof in);
}

bool is_unspecified(const NetAddr& n) { return !(n.ip[0] | n.ip[1] | n.ip[2] | n.ip[3]) && !n.port; }

Result<int32_t> int_option(const void* val, uint32_t len) {
    if (len < sizeof(int32_t)) return Errno::Inval;
    int32_t v;
    __builtin_memcpy(&v, val, sizeof v);
    return v;
}

uint32_t put_int(void* val, uint32_t len, int32_t v) {
    uint32_t n = len < sizeof v ? len : uint32_t(sizeof v);
    __builtin_memcpy(val, &v, n);
    return n;
}

// A stream's life as the socket layer sees it (datagram and raw sockets stay Fresh, or
// Connected once they have a default destination).
enum class Phase : uint8_t { Fresh, Listening, Connecting, Connected, Closed };

struct Ref {
    uint64_t gen;
    uint32_t handle;
};

class InetSocket final : public Socket {
public:
    InetSocket(int type, int protocol, SockKind kind)
        : Socket(af::Inet, type, protocol), kind_(kind), uid_(current_ucred().uid) {
        IrqSpinlockGuard g(g_lock);
        g_sockets.push_back(&listed_.link);
    }

    ~InetSocket() override {
        {
            IrqSpinlockGuard g(g_lock);
            g_sockets.remove(&listed_.link);
            unregister_locked();
        }
        if (remembered_) stack::forget(rs_);
        idl::Net* net = stack::net_stack();
        Ref r = remembered_ ? Ref{rs_.generation, rs_.handle} : Ref{gen_, handle_};
        if (net && !rs_.lost && r.gen == stack::generation()) (void)net->close(r.handle);
    }

    // A new socket of the stack, registered for replay.
    Result<void> open(uint8_t protocol) {
        rs_.kind = kind_;
        rs_.protocol = protocol;
        for (int attempt = 0;; attempt++) {
            idl::Net* net = stack::net_stack();
            if (!net) return Errno::AfNoSupport;
            uint64_t gen = stack::generation();
            auto h = net->socket(kind_, protocol);
            if (h.is_error() && !h.error().is_domain_error()) return h.error();
            if (h.is_ok()) {
                rs_.generation = gen;
                rs_.handle = h.value();
                TRY(stack::remember(rs_));
                remembered_ = true;
                register_handle(h.value());
                // A restart between socket() and remember() did not replay it: make it again.
                auto c = stack::current(rs_);
                if (c.is_ok() && c.value().generation == stack::generation()) return {};
                stack::forget(rs_);
                remembered_ = false;
            }
            if (attempt == RETRIES) return Errno::NetDown;
        }
    }

    // An accepted connection: its handle is fixed, never replayed.
    void adopt(Ref r, const NetAddr& peer) {
        register_handle(r.handle);
        gen_ = r.gen;
        handle_ = r.handle;
        phase_ = Phase::Connected;
        peer_ = peer;
    }

    Result<void> bind(const SockAddr& addr) override {
        NetAddr a = TRY(parse_bind_addr(addr));
        // Below 1024: CAP_NET_BIND_SERVICE (EACCES); a ping socket's "port" is its echo identifier.
        if (kind_ != SockKind::Ping) TRY(may_bind_port(a.port));
        if (!remembered_) return Errno::Inval;  // connected or connecting: bound already
        // Recorded first: a restart during the call replays the bind.
        stack::record_bind(rs_, true, a);
        auto r = call([&](idl::Net& n, Ref ref) { return n.bind(ref.handle, a); });
        if (r.is_error()) {
            stack::record_bind(rs_, false, {});
            return r.error();
        }
        stack::record_bind(rs_, true, r.value());
        bound_ = true;
        return {};
    }

    Result<void> listen(int backlog) override {
        if (kind_ != SockKind::Stream) return Errno::NotSup;
        {
            IrqSpinlockGuard g(g_lock);
            if (phase_ != Phase::Fresh && phase_ != Phase::Listening) return Errno::Inval;
        }
        // Linux binds an unbound listener to an ephemeral port.
        if (!bound_) {
            SockAddr any;
            format_addr({}, any);
            TRY(bind(any));
        }
        uint32_t b = backlog < 0 ? MAX_BACKLOG : uint32_t(backlog) > MAX_BACKLOG ? MAX_BACKLOG : uint32_t(backlog);
        stack::record_listen(rs_, true, b);
        auto r = call([&](idl::Net& n, Ref ref) { return n.listen(ref.handle, b); });
        if (r.is_error()) {
            IrqSpinlockGuard g(g_lock);
            if (phase_ != Phase::Listening) stack::record_listen(rs_, false, 0);
            return r.error();
        }
        IrqSpinlockGuard g(g_lock);
        phase_ = Phase::Listening;
        return {};
    }

    bool listening() const override { return phase_ == Phase::Listening; }

    Result<void> connect(OpenFile& f, const SockAddr& addr) override {
        if (kind_ != SockKind::Stream) return connect_datagram(addr);
        NetAddr to = TRY(parse_addr(addr));
        {
            IrqSpinlockGuard g(g_lock);
            switch (phase_) {
                case Phase::Connecting:
                    break;
                case Phase::Connected:
                    return Errno::IsConn;
                case Phase::Listening:
                    return Errno::IsConn;
                case Phase::Closed:
                    if (!connect_failed_) return Errno::IsConn;
                    break;
                case Phase::Fresh:
                    break;
            }
        }
        if (phase_ == Phase::Closed) TRY(reopen());
        if (phase_ == Phase::Connecting) {
            // Linux: a second connect finishes what the first started (0 or its error), or
            // EALREADY while it still runs.
            if (auto done = finish_connect(); done.is_ok() || done.error().code() != Errno::Again) return done;
            if (f.nonblocking()) return Errno::Already;
            return await_connect();
        }
        TRY(start_connect(to));
        if (f.nonblocking()) return Errno::InProgress;
        return await_connect();
    }

    Result<RefPtr<Socket>> accept(OpenFile& f, SockAddr* peer) override {
        if (kind_ != SockKind::Stream) return Errno::NotSup;
        if (phase_ != Phase::Listening) return Errno::Inval;
        uint64_t deadline = deadline_after(options().rcvtimeo_ns);
        for (;;) {
            Ref used{};
            auto r = call([&](idl::Net& n, Ref ref) {
                used = ref;
                return n.accept(ref.handle);
            });
            if (r.is_ok()) {
                auto s = make_ref<InetSocket>(type(), protocol(), kind_);
                if (s.is_error()) {
                    if (idl::Net* net = stack::net_stack()) (void)net->close(r.value().sock);
                    return s.error();
                }
                s.value()->adopt({used.gen, r.value().sock}, r.value().peer);
                if (peer) format_addr(r.value().peer, *peer);
                return RefPtr<Socket>(s.value());
            }
            if (r.error().code() != Errno::Again) return r.error();
            if (f.nonblocking()) return Errno::Again;
            TRY(sleep(stack::READABLE, deadline, Errno::Again));
        }
    }

    Result<size_t> send(SendArgs& a) override {
        if (kind_ != SockKind::Stream) return send_datagram(a);
        {
            IrqSpinlockGuard g(g_lock);
            if (dead_) return take_dead_error(Errno::Pipe);
            if (phase_ == Phase::Fresh || phase_ == Phase::Listening) return Errno::Pipe;
            if (shut_wr_) return Errno::Pipe;
        }
        uint64_t deadline = deadline_after(options().sndtimeo_ns);
        uint32_t flags = (a.flags & MSG_MORE) ? uint32_t(MSG_MORE) : 0;
        uint32_t chunk = a.len < IO_MAX ? uint32_t(a.len) : IO_MAX;
        if (!chunk) return size_t(0);
        RRefBytes buf = TRY(RRefBytes::create(chunk));
        size_t done = 0;
        while (done < a.len) {
            uint32_t n = a.len - done < chunk ? uint32_t(a.len - done) : chunk;
            __builtin_memcpy(buf.data(), a.data + done, n);
            TRY(buf.set_length(n));
            auto r = call([&](idl::Net& net, Ref ref) { return net.send(ref.handle, flags, {}, buf); });
            if (r.is_ok()) {
                done += r.value();
                continue;
            }
            if (done) return done;
            if (r.error().code() != Errno::Again) return stream_error(r.error(), Errno::Pipe);
            if (a.nonblock) return Errno::Again;
            TRY(sleep(stack::WRITABLE, deadline, Errno::Again));
        }
        return done;
    }

    Result<size_t> recv(RecvArgs& a) override {
        bool stream = kind_ == SockKind::Stream;
        {
            IrqSpinlockGuard g(g_lock);
            if (dead_) return take_dead_error(Errno::None);
            if (stream && (phase_ == Phase::Fresh || phase_ == Phase::Listening)) return Errno::NotConn;
        }
        if (stream && !a.len) return size_t(0);
        uint64_t deadline = deadline_after(options().rcvtimeo_ns);
        uint32_t flags = a.flags & (msg::Peek | msg::Trunc);
        uint32_t cap = a.len < IO_MAX ? uint32_t(a.len) : IO_MAX;
        if (!stream) cap = a.len < MAX_DATAGRAM + 60 ? uint32_t(a.len) : MAX_DATAGRAM + 60;
        size_t done = 0;
        for (;;) {
            uint32_t want = stream && a.len - done < cap ? uint32_t(a.len - done) : cap;
            RRef<idl::NetMessage> m = TRY(RRef<idl::NetMessage>::create());
            m->data = TRY(RRefBytes::create(want ? want : 1));
            auto r = call([&](idl::Net& n, Ref ref) {
                return n.recv(ref.handle, flags, static_cast<RRef<idl::NetMessage>&&>(m));
            });
            if (r.is_ok()) {
                idl::NetMessage& got = *r.value();
                uint32_t n = got.data.length() < want ? got.data.length() : want;
                __builtin_memcpy(a.data + done, got.data.data(), n);
                if (!stream) {
                    if (a.from) format_addr(got.from, *a.from);
                    if (got.full_len > n) a.out_flags |= msg::Trunc;
                    // Linux's ping_recvmsg returns what it copied, even for MSG_TRUNC.
                    bool whole = (a.flags & msg::Trunc) && kind_ != SockKind::Ping;
                    return whole ? size_t(got.full_len) : size_t(n);
                }
                done += n;
                if (!n || done == a.len || !(a.flags & msg::WaitAll) || (a.flags & msg::Peek)) return done;
                continue;
            }
            if (done) return done;
            if (r.error().code() != Errno::Again) return stream_error(r.error(), Errno::None);
            if (a.nonblock) return Errno::Again;
            TRY(sleep(stack::READABLE, deadline, Errno::Again));
        }
    }

    Result<void> shutdown(int how) override {
        if (how < shut::Rd || how > shut::RdWr) return Errno::Inval;
        settle();
        {
            IrqSpinlockGuard g(g_lock);
            if (dead_) return Errno::NotConn;
            if (phase_ == Phase::Fresh || phase_ == Phase::Connecting || phase_ == Phase::Closed) return Errno::NotConn;
        }
        TRY(call([&](idl::Net& n, Ref ref) { return n.shutdown(ref.handle, uint8_t(how)); }));
        IrqSpinlockGuard g(g_lock);
        if (how != shut::Wr) shut_rd_ = true;
        if (how != shut::Rd) shut_wr_ = true;
        return {};
    }

    Result<void> getsockname(SockAddr& out) override {
        NetAddr local{};
        if (!dead_) {
            auto r = call([&](idl::Net& n, Ref ref) { return n.names(ref.handle); });
            if (r.is_ok()) local = r.value().local;
        }
        format_addr(local, out);
        return {};
    }

    Result<void> getpeername(SockAddr& out) override {
        settle();
        if (dead_ || phase_ != Phase::Connected) return Errno::NotConn;
        NetAddr peer = peer_;
        if (kind_ != SockKind::Stream || is_unspecified(peer)) {
            auto r = call([&](idl::Net& n, Ref ref) { return n.names(ref.handle); });
            if (r.is_error()) return Errno::NotConn;
            peer = r.value().peer;
        }
        if (is_unspecified(peer)) return Errno::NotConn;
        format_addr(peer, out);
        return {};
    }

    int take_error() override {
        {
            IrqSpinlockGuard g(g_lock);
            if (pending_) {
                int e = pending_;
                pending_ = 0;
                return e;
            }
            if (dead_) return 0;
        }
        auto r = call([&](idl::Net& n, Ref ref) { return n.getopt(ref.handle, SockOpt::Error); });
        return r.is_ok() ? r.value() : 0;
    }

    Result<void> option_set(int name) override {
        const SocketOptions& o = options();
        switch (name) {
            case so::ReuseAddr:
                return stack_option(SockOpt::ReuseAddr, o.reuseaddr);
            case so::KeepAlive:
                return stack_option(SockOpt::KeepAlive, o.keepalive);
            case so::Broadcast:
                return stack_option(SockOpt::Broadcast, o.broadcast);
            case so::Linger:
                return stack_option(SockOpt::Linger, o.linger_onoff ? o.linger_secs : -1);
            default:
                return {};
        }
    }

    Result<void> family_setsockopt(int level, int name, const void* val, uint32_t len) override {
        if (level == inet::PROTO_TCP) {
            if (kind_ != SockKind::Stream) return Errno::NoProtoOpt;
            int32_t v = TRY(int_option(val, len));
            switch (name) {
                case inet::TCP_NODELAY:
                    return stack_option(SockOpt::NoDelay, v != 0);
                case inet::TCP_KEEPIDLE:
                    return stack_option(SockOpt::KeepIdle, v);
                case inet::TCP_KEEPINTVL:
                    return stack_option(SockOpt::KeepInterval, v);
                case inet::TCP_KEEPCNT:
                    return stack_option(SockOpt::KeepCount, v);
                case inet::TCP_MAXSEG:
                    return v < 88 || v > 32767 ? Result<void>(Errno::Inval) : Result<void>();
                default:
                    return Errno::NoProtoOpt;
            }
        }
        if (level == inet::PROTO_IP) {
            int32_t v = TRY(int_option(val, len));
            switch (name) {
                case inet::IP_TTL:
                    // -1 is the default (64).
                    return stack_option(SockOpt::Ttl, v == -1 ? 64 : v);
                case inet::IP_TOS:
                    return stack_option(SockOpt::Tos, v & 0xff);
                default:
                    return Errno::NoProtoOpt;
            }
        }
        return Errno::NoProtoOpt;
    }

    Result<uint32_t> family_getsockopt(int level, int name, void* val, uint32_t len) override {
        SockOpt opt;
        if (level == inet::PROTO_TCP && kind_ == SockKind::Stream) {
            switch (name) {
                case inet::TCP_NODELAY:
                    opt = SockOpt::NoDelay;
                    break;
                case inet::TCP_KEEPIDLE:
                    opt = SockOpt::KeepIdle;
                    break;
                case inet::TCP_KEEPINTVL:
                    opt = SockOpt::KeepInterval;
                    break;
                case inet::TCP_KEEPCNT:
                    opt = SockOpt::KeepCount;
                    break;
                case inet::TCP_MAXSEG:
                    return put_int(val, len, TCP_MSS);
                default:
                    return Errno::NoProtoOpt;
            }
        } else if (level == inet::PROTO_IP && name == inet::IP_TTL) {
            opt = SockOpt::Ttl;
        } else if (level == inet::PROTO_IP && name == inet::IP_TOS) {
            opt = SockOpt::Tos;
        } else {
            return Errno::NoProtoOpt;
        }
        if (dead_) return put_int(val, len, 0);
        int32_t v = TRY(call([&](idl::Net& n, Ref ref) { return n.getopt(ref.handle, opt); }));
        return put_int(val, len, v);
    }

    size_t readable_bytes() override {
        if (dead_) return 0;
        RRef<idl::NetMessage> m;
        if (auto c = RRef<idl::NetMessage>::create(); c.is_ok())
            m = c.release_value();
        else
            return 0;
        auto d = RRefBytes::create(IO_MAX);
        if (d.is_error()) return 0;
        m->data = d.release_value();
        auto r = call([&](idl::Net& n, Ref ref) {
            return n.recv(ref.handle, msg::Peek, static_cast<RRef<idl::NetMessage>&&>(m));
        });
        if (r.is_error()) return 0;
        return kind_ == SockKind::Stream ? r.value()->data.length() : r.value()->full_len;
    }

    // Linux's tcp_poll / datagram_poll from the state the stack published.
    uint32_t poll(OpenFile&) override {
        Ref r = snapshot();
        register_handle(r.handle);  // a replay gave it a new one
        stack::SockState st = stack::socket_state(r.gen, r.handle);
        IrqSpinlockGuard g(g_lock);
        if (!dead_ && (st.state & stack::GONE)) {
            // A replayed socket has its new handle published soon (the replay wakes us).
            if (remembered_ || rs_.lost) return remembered_ && !rs_.lost ? 0 : pollev::Err | pollev::Hup;
            die_locked();
        }
        if (dead_) {
            return pollev::In | pollev::RdNorm | pollev::Out | pollev::WrNorm | pollev::Hup | pollev::RdHup |
                   (pending_ ? pollev::Err : 0);
        }
        uint32_t ev = (st.state & stack::ERROR) ? pollev::Err : 0;
        if (kind_ != SockKind::Stream) {
            if (st.state & stack::READABLE) ev |= pollev::In | pollev::RdNorm;
            return ev | pollev::Out | pollev::WrNorm | pollev::WrBand;
        }
        switch (phase_) {
            case Phase::Fresh:
            case Phase::Closed:
                return ev | pollev::Out | pollev::WrNorm | pollev::Hup;
            case Phase::Listening:
                return ev | ((st.state & stack::READABLE) ? pollev::In | pollev::RdNorm : 0);
            case Phase::Connecting:
                if (!(st.state & (stack::CONNECTED | stack::ERROR | stack::HANGUP))) return ev;
                if (st.state & stack::CONNECTED) phase_ = Phase::Connected;
                break;
            case Phase::Connected:
                break;
        }
        if (st.state & stack::READABLE) ev |= pollev::In | pollev::RdNorm;
        if (st.state & stack::WRITABLE) ev |= pollev::Out | pollev::WrNorm;
        if ((st.state & stack::HANGUP) || shut_rd_) ev |= pollev::In | pollev::RdNorm | pollev::RdHup;
        // The connection is over: both directions shut, or the stack closed it (reset, or
        // FIN both ways).
        bool closed = (st.state & stack::HANGUP) && !(st.state & stack::CONNECTED);
        if (closed || ((st.state & stack::HANGUP) && shut_wr_)) ev |= pollev::Hup;
        return ev;
    }

    PollQueue* poll_queue() override { return &queue_; }

    // Under g_lock (the hook): the stack published a new state for this socket.
    void notify_locked() { queue_.notify(); }
    bool has_handle_locked(uint32_t handle) const { return registered_ == handle; }

    Result<int64_t> ioctl(OpenFile& f, uint32_t cmd, uint64_t arg, UserIo& io) override;

    // What /proc/net/tcp and udp show of a socket (under g_lock).
    struct Row {
        Ref ref;
        SockKind kind;
        uint8_t tcp_state;  // Linux's TCP_* number, 0: not listed
        uint32_t uid;
        uint64_t ino;
    };
    Row row_locked() {
        Ref r = remembered_ ? Ref{rs_.generation, rs_.handle} : Ref{gen_, handle_};
        uint8_t st = 0;
        if (!dead_) {
            switch (phase_) {
                case Phase::Listening:
                    st = 0x0A;
                    break;
                case Phase::Connecting:
                    st = 0x02;
                    break;
                case Phase::Connected:
                    st = (stack::socket_state(r.gen, r.handle).state & stack::HANGUP) ? 0x08 : 0x01;
                    break;
                default:
                    st = kind_ == SockKind::Datagram && bound_ ? 0x07 : 0;
            }
        }
        return {r, kind_, st, uid_, uint64_t(reinterpret_cast<uintptr_t>(this) >> 4)};
    }
    static InetSocket* of(ListNode* n) { return reinterpret_cast<Listed*>(n)->self; }

private:
    static uint64_t deadline_after(int64_t timeout_ns) { return timeout_ns > 0 ? time::now_ns() + timeout_ns : 0; }

    Result<NetAddr> parse_bind_addr(const SockAddr& addr) {
        // Linux takes AF_UNSPEC for INADDR_ANY (inet_bind).
        if (addr.len >= sizeof(inet::SockaddrIn) && addr.family() == 0) {
            inet::SockaddrIn in;
            __builtin_memcpy(&in, addr.bytes, sizeof in);
            if (in.addr[0] | in.addr[1] | in.addr[2] | in.addr[3]) return Errno::AfNoSupport;
            return NetAddr{{0, 0, 0, 0}, uint16_t(in.port[0] << 8 | in.port[1])};
        }
        return parse_addr(addr);
    }

    // The socket's current handle, without sleeping (poll): a replay may change it under us,
    // which at worst makes this poll answer from the old generation (GONE: a wake follows).
    Ref snapshot() {
        if (remembered_)
            return {__atomic_load_n(&rs_.generation, __ATOMIC_ACQUIRE), __atomic_load_n(&rs_.handle, __ATOMIC_ACQUIRE)};
        IrqSpinlockGuard g(g_lock);
        return {gen_, handle_};
    }

    void register_handle(uint32_t handle) {
        IrqSpinlockGuard g(g_lock);
        if (registered_ == handle) return;
        unregister_locked();
        uint32_t slot = (handle & 0xffff) - 1;
        if (slot >= SLOTS) return;
        g_slots[slot] = this;
        registered_ = handle;
    }

    void unregister_locked() {
        uint32_t slot = (registered_ & 0xffff) - 1;
        if (slot < SLOTS && g_slots[slot] == this) g_slots[slot] = nullptr;
        registered_ = 0;
    }

    Result<Ref> ref() {
        if (remembered_) {
            auto c = stack::current(rs_);
            if (c.is_error()) return Errno::NetDown;  // the replay could not re-create it
            register_handle(c.value().handle);
            return Ref{c.value().generation, c.value().handle};
        }
        IrqSpinlockGuard g(g_lock);
        return Ref{gen_, handle_};
    }

    // Under g_lock: the connection of a socket that is not replayed ended with its stack.
    void die_locked() {
        if (dead_) return;
        dead_ = true;
        if (phase_ == Phase::Connected || phase_ == Phase::Connecting) pending_ = int(Errno::ConnReset);
    }

    // Under g_lock: what a dead socket's recv (after = None: the end) or send (Pipe) returns.
    Result<size_t> take_dead_error(Errno after) {
        if (pending_) {
            Errno e = Errno(pending_);
            pending_ = 0;
            return e;
        }
        if (after == Errno::None) return size_t(0);
        return after;
    }

    // A failed stream call: a dead socket answers as one.
    Result<size_t> stream_error(Error e, Errno after) {
        IrqSpinlockGuard g(g_lock);
        if (dead_) return take_dead_error(after);
        return e;
    }

    // Calls f(net, ref) with the socket's current handle. A replayed socket is retried with its
    // new handle when the stack restarted under the call (NetDown if no replay comes); any other
    // socket dies (ConnReset: the caller answers as a dead socket does).
    template <typename F>
    auto call(F&& f) -> decltype(f(*stack::net_stack(), Ref{})) {
        for (int attempt = 0;; attempt++) {
            idl::Net* net = stack::net_stack();
            if (!net) return Errno::NetDown;
            Ref r = TRY(ref());
            bool stale = r.gen != stack::generation();
            if (!stale) {
                auto res = f(*net, r);
                if (res.is_ok()) return res;
                Error e = res.error();
                stale = e.is_domain_error() || (e.code() == Errno::BadF && r.gen != stack::generation());
                if (!stale) return res;
            }
            if (!remembered_) {
                IrqSpinlockGuard g(g_lock);
                die_locked();
                return Errno::ConnReset;
            }
            if (attempt == RETRIES) return Errno::NetDown;
            // The fault is being recovered: wait for the replay to hand out the new handle.
            (void)stack::readiness_queue().wait_for([&] { return stack::generation() != r.gen; }, REPLAY_WAIT_NS);
        }
    }

    // Sleeps until the stack publishes one of bits for the socket (or an error, or its
    // generation ends). `expired` is what a timeout (SO_RCVTIMEO/SO_SNDTIMEO) returns.
    Result<void> sleep(uint32_t bits, uint64_t deadline, Errno expired) {
        Ref r = TRY(ref());
        uint64_t timeout = 0;
        if (deadline) {
            uint64_t now = time::now_ns();
            if (now >= deadline) return expired;
            timeout = deadline - now;
        }
        auto w = wait_interruptible(
            stack::readiness_queue(),
            [&] { return (stack::socket_state(r.gen, r.handle).state & (bits | stack::ERROR | stack::GONE)) != 0; },
            timeout);
        if (w.is_error() && w.error().code() == Errno::TimedOut) return expired;
        return w;
    }

    Result<void> stack_option(SockOpt opt, int32_t value) {
        if (dead_) return {};
        TRY(call([&](idl::Net& n, Ref ref) { return n.setopt(ref.handle, opt, value); }));
        if (remembered_) TRY(stack::record_option(rs_, opt, value));
        return {};
    }

    // The stream leaves the replay (a connection is not replayed) and starts its handshake.
    Result<void> start_connect(const NetAddr& to) {
        if (remembered_) {
            stack::forget(rs_);
            remembered_ = false;
            // No replay touches the record now: its handle is the latest one.
            IrqSpinlockGuard g(g_lock);
            gen_ = rs_.generation;
            handle_ = rs_.handle;
        }
        auto r = call([&](idl::Net& n, Ref ref) { return n.connect(ref.handle, to); });
        if (r.is_error()) {
            if (!dead_) {
                // Still a fresh socket: replayed again.
                if (stack::remember(rs_).is_ok()) remembered_ = true;
            }
            return r.error();
        }
        IrqSpinlockGuard g(g_lock);
        phase_ = Phase::Connecting;
        return {};
    }

    // A nonblocking connect that finished is connected (its errors stay for SO_ERROR).
    void settle() {
        if (phase_ != Phase::Connecting) return;
        Ref r = snapshot();
        stack::SockState st = stack::socket_state(r.gen, r.handle);
        IrqSpinlockGuard g(g_lock);
        if (phase_ == Phase::Connecting && (st.state & stack::CONNECTED)) phase_ = Phase::Connected;
    }

    // Again while the handshake runs; else its result (the pending error, taken, as Linux's
    // connect does).
    Result<void> finish_connect() {
        Ref r = TRY(ref());
        stack::SockState st = stack::socket_state(r.gen, r.handle);
        {
            IrqSpinlockGuard g(g_lock);
            if (phase_ != Phase::Connecting) return phase_ == Phase::Connected ? Result<void>() : Errno::ConnAborted;
            if (st.state & stack::GONE) die_locked();
            if (dead_) {
                phase_ = Phase::Closed;
                connect_failed_ = true;
                int e = pending_;
                pending_ = 0;
                return e ? Errno(e) : Errno::ConnAborted;
            }
            if (st.state & stack::CONNECTED) {
                phase_ = Phase::Connected;
                return {};
            }
            if (!(st.state & (stack::ERROR | stack::HANGUP))) return Errno::Again;
            phase_ = Phase::Closed;
            connect_failed_ = true;
        }
        int err = take_error();
        return err ? Errno(err) : Errno::ConnAborted;
    }

    // Linux lets a stream whose connect failed connect again (inet_stream_connect puts it back
    // to SS_UNCONNECTED). The stack's socket ended with the attempt (lwIP frees the PCB of a
    // failed connection), so a fresh one takes its place, with the options and the address
    // bound so far; it is replayed again until it connects.
    Result<void> reopen() {
        Ref old;
        {
            IrqSpinlockGuard g(g_lock);
            old = {gen_, handle_};
            unregister_locked();
            phase_ = Phase::Fresh;
            connect_failed_ = dead_ = shut_rd_ = shut_wr_ = false;
            pending_ = 0;
        }
        idl::Net* net = stack::net_stack();
        if (net && old.gen == stack::generation()) (void)net->close(old.handle);
        rs_.lost = false;
        TRY(open(rs_.protocol));
        // Through call(): a restart meanwhile replays the record, which holds them already.
        for (uint32_t i = 0; i < rs_.option_count; i++) {
            auto o = rs_.options[i];
            TRY(call([&](idl::Net& n, Ref ref) { return n.setopt(ref.handle, o.opt, o.value); }));
        }
        if (rs_.bound) TRY(call([&](idl::Net& n, Ref ref) { return n.bind(ref.handle, rs_.addr); }));
        return {};
    }

    Result<void> await_connect() {
        uint64_t deadline = deadline_after(options().sndtimeo_ns);
        for (;;) {
            auto done = finish_connect();
            if (done.is_ok() || done.error().code() != Errno::Again) return done;
            // Linux: a connect whose SO_SNDTIMEO expires goes on in the background.
            TRY(sleep(stack::CONNECTED | stack::HANGUP, deadline, Errno::InProgress));
        }
    }

    Result<void> connect_datagram(const SockAddr& addr) {
        NetAddr to{};
        bool dissolve = addr.len >= 2 && addr.family() == 0;  // AF_UNSPEC
        if (!dissolve) to = TRY(parse_addr(addr));
        if (kind_ == SockKind::Raw) to.port = 0;
        if (!dissolve && is_unspecified(to)) to.ip[0] = 127, to.ip[3] = 1;  // Linux: "any" is the local host
        stack::record_peer(rs_, !dissolve, to);
        auto r = call([&](idl::Net& n, Ref ref) { return n.connect(ref.handle, to); });
        if (r.is_error()) {
            stack::record_peer(rs_, false, {});
            return r.error();
        }
        IrqSpinlockGuard g(g_lock);
        phase_ = dissolve ? Phase::Fresh : Phase::Connected;
        bound_ = true;  // connect binds an ephemeral port
        return {};
    }

    Result<size_t> send_datagram(SendArgs& a) {
        // Linux's ping_common_sendmsg checks the message before the address.
        if (kind_ == SockKind::Ping && (a.len < 8 || a.data[0] != ICMP_ECHO_REQUEST || a.data[1] != 0))
            return Errno::Inval;
        NetAddr to{};
        if (a.to) {
            to = TRY(parse_addr(*a.to));
            if (kind_ == SockKind::Raw || kind_ == SockKind::Ping) to.port = 0;
            if (is_unspecified(to)) to.ip[0] = 127, to.ip[3] = 1;
        } else if (phase_ != Phase::Connected) {
            return Errno::DestAddrReq;
        }
        if (a.len > MAX_DATAGRAM) return Errno::MsgSize;
        RRefBytes buf = TRY(RRefBytes::create(a.len ? uint32_t(a.len) : 1));
        __builtin_memcpy(buf.data(), a.data, a.len);
        TRY(buf.set_length(uint32_t(a.len)));
        uint64_t deadline = deadline_after(options().sndtimeo_ns);
        for (;;) {
            auto r = call([&](idl::Net& n, Ref ref) { return n.send(ref.handle, 0, to, buf); });
            if (r.is_ok()) return size_t(r.value());
            if (r.error().code() != Errno::Again) return r.error();
            if (a.nonblock) return Errno::Again;
            TRY(sleep(stack::WRITABLE, deadline, Errno::Again));
        }
    }

    const SockKind kind_;
    const uint32_t uid_;
    PollQueue queue_;
    uint32_t registered_ = 0;  // the handle g_slots has this socket under (g_lock)
    // g_sockets' link (first: of() finds the socket from it).
    struct Listed {
        ListNode link;
        InetSocket* self;
    } listed_{{}, this};
    stack::ReplayedSocket rs_{};
    bool remembered_ = false;
    bool bound_ = false;
    // Under g_lock.
    Phase phase_ = Phase::Fresh;
    uint64_t gen_ = 0;  // a connecting/connected stream's handle (not remembered)
    uint32_t handle_ = 0;
    NetAddr peer_{};  // an accepted connection's peer
    bool dead_ = false;
    int pending_ = 0;  // an error for SO_ERROR or the next call (ECONNRESET of a dead connection)
    bool shut_rd_ = false, shut_wr_ = false;
    bool connect_failed_ = false;  // Closed by a failed connect, not the end of a connection
};

Result<RefPtr<Socket>> inet_create(int type, int protocol) {
    SockKind kind;
    switch (type) {
        case sock::Stream:
            if (protocol != 0 && protocol != inet::PROTO_TCP) return Errno::ProtoNoSupport;
            kind = SockKind::Stream;
            break;
        case sock::Dgram:
            // IPPROTO_ICMP: Linux's unprivileged ping socket. Every group may make one (Linux asks
            // net.ipv4.ping_group_range, which distributions open to all groups).
            if (protocol == inet::PROTO_ICMP) {
                kind = SockKind::Ping;
                break;
            }
            if (protocol != 0 && protocol != inet::PROTO_UDP) return Errno::ProtoNoSupport;
            kind = SockKind::Datagram;
            break;
        case sock::Raw:
            if (protocol != inet::PROTO_ICMP) return Errno::ProtoNoSupport;
            if (current_ucred().uid != 0) return Errno::Perm;  // CAP_NET_RAW
            kind = SockKind::Raw;
            break;
        default:
            return Errno::SockTNoSupport;
    }
    if (!stack::net_stack()) return Errno::AfNoSupport;
    RefPtr<InetSocket> s = TRY(make_ref<InetSocket>(type, protocol, kind));
    TRY(s->open(uint8_t(protocol)));
    if (kind == SockKind::Ping) s->options().reuseaddr = true;  // as the stack made it (net.idl)
    return RefPtr<Socket>(s);
}

const SocketFamily INET_FAMILY{af::Inet, inet_create, nullptr};

// The net service's readiness hook: each changed handle's socket hears it; a new generation
// (count 0) is heard by every socket.
void readiness_changed(const uint32_t* handles, uint32_t count) {
    IrqSpinlockGuard g(g_lock);
    if (!count) {
        for (ListNode* n = g_sockets.front(); n; n = n->next) InetSocket::of(n)->notify_locked();
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t slot = (handles[i] & 0xffff) - 1;
        if (slot >= SLOTS) continue;
        InetSocket* s = g_slots[slot];
        if (s && s->has_handle_locked(handles[i])) s->notify_locked();
    }
}

// The interfaces, as the stack reports them (index 1 is lo).
constexpr uint32_t MAX_INTERFACES = 8;

Result<idl::NetIfStatus> interface_named(idl::Net& net, const char* name) {
    for (uint32_t i = 1; i < MAX_INTERFACES; i++) {
        auto st = net.if_status(i);
        if (st.is_error()) {
            if (st.error().code() == Errno::NoDev) break;
            return st.error();
        }
        if (__builtin_strncmp(reinterpret_cast<const char*>(st.value().name), name, inet::IFNAMSIZ) == 0)
            return st.release_value();
    }
    return Errno::NoDev;
}

void sockaddr_of(const uint8_t ip[4], inet::SockaddrIn& out) {
    out = {};
    out.family = af::Inet;
    __builtin_memcpy(out.addr, ip, 4);
}

bool is_zero(const uint8_t ip[4]) { return !(ip[0] | ip[1] | ip[2] | ip[3]); }

// Linux's /proc/net files print an IPv4 address as the u32 it is in memory, in hex.
uint32_t proc_addr(const uint8_t ip[4]) {
    return uint32_t(ip[0]) | uint32_t(ip[1]) << 8 | uint32_t(ip[2]) << 16 | uint32_t(ip[3]) << 24;
}

// Classful netmask for an address set without one (as Linux's SIOCSIFADDR leaves the old mask
// only when it fits; a fresh interface gets the class's).
void default_mask(const uint8_t ip[4], uint8_t mask[4]) {
    uint8_t bytes = ip[0] < 128 ? 1 : ip[0] < 192 ? 2 : 3;
    for (uint8_t i = 0; i < 4; i++) mask[i] = i < bytes ? 255 : 0;
}

idl::NetIfConfig config_of(const idl::NetIfStatus& st) {
    idl::NetIfConfig c{};
    c.up = st.flags & inet::IFF_UP;
    c.dhcp = st.dhcp;
    __builtin_memcpy(c.addr, st.addr, 4);
    __builtin_memcpy(c.netmask, st.netmask, 4);
    __builtin_memcpy(c.gateway, st.gateway, 4);
    return c;
}

// SIOCADDRT/SIOCDELRT: the stack routes by its interfaces' subnets and one default gateway per
// interface, so a route is a default route (destination and mask 0.0.0.0) through a gateway
// on an interface's subnet, or the interface named by rt_dev.
Result<void> change_route(idl::Net& net, const inet::Rtentry& rt, const char* dev, bool add) {
    if (!is_zero(rt.dst.addr) || !is_zero(rt.genmask.addr)) return Errno::NotSup;  // only default routes
    if (add && !(rt.flags & inet::RTF_GATEWAY)) return Errno::NotSup;
    for (uint32_t i = 2; i < MAX_INTERFACES; i++) {
        auto st = net.if_status(i);
        if (st.is_error()) break;
        const idl::NetIfStatus& s = st.value();
        bool match;
        if (dev[0]) {
            match = __builtin_strncmp(reinterpret_cast<const char*>(s.name), dev, inet::IFNAMSIZ) == 0;
        } else if (add) {
            match = true;
            for (int k = 0; k < 4; k++) match = match && ((rt.gateway.addr[k] ^ s.addr[k]) & s.netmask[k]) == 0;
        } else {
            match = !is_zero(s.gateway) &&
                    (!(rt.flags & inet::RTF_GATEWAY) || __builtin_memcmp(s.gateway, rt.gateway.addr, 4) == 0);
        }
        if (!match) continue;
        if (!add && is_zero(s.gateway)) return Errno::Srch;
        idl::NetIfConfig c = config_of(s);
        // A gateway goes with a static configuration (DHCP would replace it with its own).
        c.dhcp = false;
        if (add)
            __builtin_memcpy(c.gateway, rt.gateway.addr, 4);
        else
            __builtin_memset(c.gateway, 0, 4);
        return stack::configure_interface(i, c);
    }
    return add ? Errno::NetUnreach : Errno::Srch;
}

Result<int64_t> interface_ioctl(uint32_t cmd, uint64_t arg, UserIo& io) {
    idl::Net* net = stack::net_stack();
    if (!net) return Errno::NoDev;
    if (cmd == inet::SIOCGIFCONF) {
        inet::Ifconf conf;
        TRY(io.copy_in(&conf, arg, sizeof conf));
        if (conf.len < 0) return Errno::Inval;
        int32_t used = 0;
        for (uint32_t i = 1; i < MAX_INTERFACES; i++) {
            auto st = net->if_status(i);
            if (st.is_error()) break;
            // Linux lists the interfaces that have an IPv4 address.
            if (is_zero(st.value().addr)) continue;
            if (conf.buf) {
                if (used + int32_t(sizeof(inet::Ifreq)) > conf.len) break;
                inet::Ifreq r{};
                __builtin_memcpy(r.name, st.value().name, inet::IFNAMSIZ);
                sockaddr_of(st.value().addr, r.addr);
                TRY(io.copy_out(conf.buf + uint64_t(used), &r, sizeof r));
            }
            used += int32_t(sizeof(inet::Ifreq));
        }
        conf.len = used;
        TRY(io.copy_out(arg, &conf, sizeof conf));
        return 0;
    }
    if (cmd == inet::SIOCADDRT || cmd == inet::SIOCDELRT) {
        if (current_ucred().uid != 0) return Errno::Perm;
        inet::Rtentry rt;
        TRY(io.copy_in(&rt, arg, sizeof rt));
        char dev[inet::IFNAMSIZ + 1] = {};
        if (rt.dev) {
            for (uint32_t i = 0; i < inet::IFNAMSIZ; i++) {
                TRY(io.copy_in(&dev[i], rt.dev + i, 1));
                if (!dev[i]) break;
            }
            dev[inet::IFNAMSIZ] = 0;
        }
        TRY(change_route(*net, rt, dev, cmd == inet::SIOCADDRT));
        return 0;
    }
    inet::Ifreq r;
    TRY(io.copy_in(&r, arg, sizeof r));
    r.name[inet::IFNAMSIZ - 1] = 0;
    if (cmd == inet::SIOCGIFNAME) {
        auto st = net->if_status(uint32_t(r.ivalue));
        if (st.is_error() || r.ivalue <= 0) return Errno::NoDev;
        __builtin_memcpy(r.name, st.value().name, inet::IFNAMSIZ);
        TRY(io.copy_out(arg, &r, sizeof r));
        return 0;
    }
    idl::NetIfStatus st = TRY(interface_named(*net, r.name));
    bool loopback = st.flags & inet::IFF_LOOPBACK;
    switch (cmd) {
        case inet::SIOCGIFFLAGS:
            r.flags = int16_t(st.flags);
            break;
        case inet::SIOCGIFADDR:
            if (is_zero(st.addr)) return Errno::AddrNotAvail;
            sockaddr_of(st.addr, r.addr);
            break;
        case inet::SIOCGIFNETMASK:
            if (is_zero(st.addr)) return Errno::AddrNotAvail;
            sockaddr_of(st.netmask, r.addr);
            break;
        case inet::SIOCGIFBRDADDR: {
            if (is_zero(st.addr)) return Errno::AddrNotAvail;
            uint8_t b[4];
            for (int i = 0; i < 4; i++)
                b[i] = (st.flags & inet::IFF_BROADCAST) ? st.addr[i] | uint8_t(~st.netmask[i]) : 0;
            sockaddr_of(b, r.addr);
            break;
        }
        case inet::SIOCGIFHWADDR:
            __builtin_memset(&r.hwaddr, 0, sizeof r.hwaddr);
            r.hwaddr.family = loopback ? inet::ARPHRD_LOOPBACK : inet::ARPHRD_ETHER;
            __builtin_memcpy(r.hwaddr.data, st.mac, 6);
            break;
        case inet::SIOCGIFMTU:
            r.ivalue = int32_t(st.mtu);
            break;
        case inet::SIOCGIFINDEX:
            r.ivalue = int32_t(st.index);
            break;
        case inet::SIOCGIFMETRIC:
            r.ivalue = 0;
            break;
        case inet::SIOCGIFTXQLEN:
            r.ivalue = loopback ? 1000 : 1000;
            break;
        case inet::SIOCSIFFLAGS:
        case inet::SIOCSIFADDR:
        case inet::SIOCSIFNETMASK: {
            if (current_ucred().uid != 0) return Errno::Perm;
            if (loopback) return Errno::Perm;  // lo is the stack's own: 127.0.0.1/8, always up
            idl::NetIfConfig c = config_of(st);
            if (cmd == inet::SIOCSIFFLAGS) {
                bool up = r.flags & int16_t(inet::IFF_UP);
                if (up == c.up) return 0;
                c.up = up;
            } else {
                if (r.addr.family != af::Inet) return Errno::Inval;
                c.dhcp = false;  // a static address ends DHCP's
                if (cmd == inet::SIOCSIFADDR) {
                    __builtin_memcpy(c.addr, r.addr.addr, 4);
                    default_mask(c.addr, c.netmask);
                    __builtin_memset(c.gateway, 0, 4);
                } else {
                    __builtin_memcpy(c.netmask, r.addr.addr, 4);
                }
            }
            TRY(stack::configure_interface(st.index, c));
            return 0;
        }
        default:
            return Errno::Inval;
    }
    TRY(io.copy_out(arg, &r, sizeof r));
    return 0;
}

bool is_interface_ioctl(uint32_t cmd) {
    switch (cmd) {
        case inet::SIOCADDRT:
        case inet::SIOCDELRT:
        case inet::SIOCGIFCONF:
        case inet::SIOCGIFNAME:
        case inet::SIOCGIFFLAGS:
        case inet::SIOCSIFFLAGS:
        case inet::SIOCGIFADDR:
        case inet::SIOCSIFADDR:
        case inet::SIOCGIFBRDADDR:
        case inet::SIOCGIFNETMASK:
        case inet::SIOCSIFNETMASK:
        case inet::SIOCGIFMETRIC:
        case inet::SIOCGIFMTU:
        case inet::SIOCGIFHWADDR:
        case inet::SIOCGIFINDEX:
        case inet::SIOCGIFTXQLEN:
            return true;
        default:
            return false;
    }
}

Result<int64_t> InetSocket::ioctl(OpenFile& f, uint32_t cmd, uint64_t arg, UserIo& io) {
    if (is_interface_ioctl(cmd)) return interface_ioctl(cmd, arg, io);
    return Socket::ioctl(f, cmd, arg, io);
}

// A /proc line padded with spaces to Linux's width (the header's and every row's).
void padded_line(ProcText& out, const char* text, size_t width) {
    size_t n = __builtin_strlen(text);
    out.put(text, n);
    for (; n < width; n++) out.put(" ", 1);
    out.put("\n", 1);
}

}  // namespace

void format_proc_route(ProcText& out) {
    constexpr size_t WIDTH = 127;
    padded_line(out, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT", WIDTH);
    idl::Net* net = stack::net_stack();
    if (!net) return;
    char line[160];
    for (uint32_t i = 2; i < MAX_INTERFACES; i++) {
        auto st = net->if_status(i);
        if (st.is_error()) break;
        const idl::NetIfStatus& s = st.value();
        if (is_zero(s.addr) || !(s.flags & inet::IFF_UP)) continue;
        const char* name = reinterpret_cast<const char*>(s.name);
        uint8_t zero[4] = {}, subnet[4];
        for (int k = 0; k < 4; k++) subnet[k] = s.addr[k] & s.netmask[k];
        // Linux lists the default route first.
        if (!is_zero(s.gateway)) {
            snformat(line, sizeof line, "%s\t%08X\t%08X\t%04X\t0\t0\t0\t%08X\t0\t0\t0", name, proc_addr(zero),
                     proc_addr(s.gateway), inet::RTF_UP | inet::RTF_GATEWAY, proc_addr(zero));
            padded_line(out, line, WIDTH);
        }
        snformat(line, sizeof line, "%s\t%08X\t%08X\t%04X\t0\t0\t0\t%08X\t0\t0\t0", name, proc_addr(subnet),
                 proc_addr(zero), inet::RTF_UP, proc_addr(s.netmask));
        padded_line(out, line, WIDTH);
    }
}

void format_proc_sockets6(ProcText& out, bool tcp) {
    out.printf(
        "%s  local_address                         remote_address                        st tx_queue rx_queue tr "
        "tm->when retrnsmt   uid  timeout inode%s\n",
        tcp ? "  sl" : "  sl ", tcp ? "" : " ref pointer drops");
}

void format_proc_sockets(ProcText& out, bool tcp) {
    constexpr size_t WIDTH = 149;
    constexpr uint32_t MAX_ROWS = 1024;
    if (tcp)
        padded_line(out,
                    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
                    WIDTH);
    else
        out.printf(
            "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
            "pointer drops             \n");
    auto* rows = static_cast<InetSocket::Row*>(mm::kmalloc(sizeof(InetSocket::Row) * MAX_ROWS));
    if (!rows) return;
    uint32_t count = 0;
    {
        IrqSpinlockGuard g(g_lock);
        for (ListNode* n = g_sockets.front(); n && count < MAX_ROWS; n = n->next) {
            InetSocket::Row r = InetSocket::of(n)->row_locked();
            if (r.tcp_state && r.kind == (tcp ? SockKind::Stream : SockKind::Datagram)) rows[count++] = r;
        }
    }
    idl::Net* net = stack::net_stack();
    char line[200];
    for (uint32_t i = 0; net && i < count; i++) {
        const InetSocket::Row& r = rows[i];
        if (r.ref.gen != stack::generation()) continue;
        auto names = net->names(r.ref.handle);
        if (names.is_error()) continue;
        const idl::SockNames& nm = names.value();
        if (tcp) {
            snformat(line, sizeof line,
                     "%4u: %08X:%04X %08X:%04X %02X 00000000:00000000 00:00000000 00000000 %5u        0 %lu 1 "
                     "0000000000000000 100 0 0 10 0",
                     i, proc_addr(nm.local.ip), nm.local.port, proc_addr(nm.peer.ip), nm.peer.port, r.tcp_state, r.uid,
                     (unsigned long)r.ino);
            padded_line(out, line, WIDTH);
        } else {
            out.printf(
                "%5u: %08X:%04X %08X:%04X %02X 00000000:00000000 00:00000000 00000000 %5u        0 %lu 2 "
                "0000000000000000 0\n",
                i, proc_addr(nm.local.ip), nm.local.port, proc_addr(nm.peer.ip), nm.peer.port, r.tcp_state, r.uid,
                (unsigned long)r.ino);
        }
    }
    mm::kfree(rows);
}

void init_inet_sockets() {
    stack::set_readiness_hook(readiness_changed);
    register_family(&INET_FAMILY);
}

}  // namespace lamina::posix::net
