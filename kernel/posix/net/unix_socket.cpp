// AF_UNIX sockets.
//
// Objects: a UnixSocket (the FileObject, one per socket descriptor description) owns a
// UnixCore, the socket's state. Cores point at each other (peer, listener backlog) with
// counted references; those links are only made and broken under g_lock, and the
// UnixSocket's destructor (the last close) runs close_core, which breaks every link of its
// core, so reference cycles never outlive a close. Queued packets hold a reference to their
// sender's core (its send-buffer accounting) and the descriptions passed with SCM_RIGHTS.
//
// Locking: one lock (g_lock, an IrqSpinlock) for all AF_UNIX state; data is copied under it
// between kernel buffers only (the system-call layer did the user copies). A core's PollQueue
// is notified under g_lock (allowed: PollQueue locks come after object locks). References
// and packets that may be the last ones are dropped after g_lock is released, because freeing
// a packet may close a passed socket, whose close takes g_lock.
//
// Waiting: every change to a core bumps its generation and notifies its queue; a blocked call
// reads the generation of the core it waits on (its own, the peer's or the listener's, held
// by reference) before trying, then sleeps until it changes.
//
// Accounting (Linux's): each packet counts against its sender's SO_SNDBUF until the receiver
// consumes it; a sender blocks while its queued bytes reach SO_SNDBUF, and is writable for
// poll while they are at most a quarter of it. A datagram receiver also refuses more than
// MAX_DGRAM_QLEN queued datagrams from senders that are not its peer, as Linux does.
//
// Not done: SCM_CREDENTIALS reception (SO_PASSCRED is kept but adds nothing), the garbage
// collection of sockets only reachable through their own queues (a socket sent over itself
// and then closed stays allocated).
#include "kernel/posix/net/unix_socket.h"

#include <new>

#include <lamina/intrusive_list.h>
#include "kernel/mm/memory.h"
#include "kernel/posix/fd/waiting.h"
#include "kernel/posix/files.h"
#include "kernel/posix/irq_spinlock.h"
#include "kernel/posix/net/socket.h"
#include "kernel/posix/net/unix_address.h"
#include "kernel/posix/process.h"
#include "kernel/posix/vfs/ops.h"
#include "kernel/time/time.h"

namespace lamina::posix::net {

namespace {

constexpr uint32_t MAX_DGRAM_QLEN = 512;  // net.unix.max_dgram_qlen
constexpr uint32_t SOMAXCONN = 4096;
constexpr uint8_t RCV_SHUTDOWN = 1, SEND_SHUTDOWN = 2;

class UnixCore;

// Allocated with its data in one block (`new (len, std::nothrow) Packet`), freed with delete,
// which releases the sender and the passed files with it.
struct Packet {
    static void* operator new(size_t size, size_t data_len, const std::nothrow_t&) noexcept {
        return mm::kmalloc(size + (data_len ? data_len : 1));
    }
    static void operator delete(void* p, size_t, const std::nothrow_t&) noexcept { mm::kfree(p); }
    static void operator delete(void* p) noexcept { mm::kfree(p); }
    ~Packet() { delete files; }

    ListNode link;
    RefPtr<UnixCore> sender;
    PassedFiles* files = nullptr;  // owned; freed with the packet (never under g_lock)
    bool files_given = false;      // handed to a receiver already
    size_t len = 0;
    size_t off = 0;  // consumed so far (streams)
    uint32_t from_len = 0;
    uint8_t from[SOCKADDR_UN_SIZE];
    uint8_t data[];
};

enum class State : uint8_t { Unconnected, Listening, Connected };

class UnixCore final : public RefCounted {
public:
    explicit UnixCore(int type) : type(type) {}

    bool connection_oriented() const { return type != sock::Dgram; }
    bool records() const { return type != sock::Stream; }

    // Under g_lock.
    void changed() {
        __atomic_add_fetch(&generation, 1, __ATOMIC_RELEASE);
        queue.notify();
    }
    uint64_t gen() const { return __atomic_load_n(&generation, __ATOMIC_ACQUIRE); }

    const int type;
    State state = State::Unconnected;
    bool dead = false;
    bool embryo = false;  // made by connect, not accepted yet
    uint8_t shutdown = 0;
    int err = 0;
    uint32_t sndbuf = 212992;
    size_t wmem = 0;  // bytes of this core's packets queued at receivers
    RefPtr<UnixCore> peer;
    UnixAddress name;           // bound name (Unnamed: not bound)
    uint64_t dev = 0, ino = 0;  // the socket node of a path name
    ListNode bound_link;
    ListChain rx;  // Packets
    size_t rx_bytes = 0;
    uint32_t rx_count = 0;
    ListChain backlog;  // embryo cores (through backlog_link), each holding a reference
    ListNode backlog_link;
    uint32_t max_backlog = 0;
    Ucred cred{0, ~0u, ~0u};       // the owner's, at listen/connect/socketpair
    Ucred peer_cred{0, ~0u, ~0u};  // SO_PEERCRED
    PollQueue queue;
    uint64_t generation = 0;
};

IrqSpinlock g_lock;
ListChain g_bound;  // bound cores (through bound_link)
uint32_t g_autobind = 0;

template <typename T, ListNode T::*Link>
T* owner(ListNode* n) {
    return reinterpret_cast<T*>(reinterpret_cast<char*>(n) -
                                reinterpret_cast<size_t>(&(static_cast<T*>(nullptr)->*Link)));
}
Packet* packet_of(ListNode* n) { return owner<Packet, &Packet::link>(n); }
UnixCore* bound_of(ListNode* n) { return owner<UnixCore, &UnixCore::bound_link>(n); }
UnixCore* embryo_of(ListNode* n) { return owner<UnixCore, &UnixCore::backlog_link>(n); }

void free_packet(Packet* p) { delete p; }

void free_packets(ListChain& chain) {
    while (ListNode* n = chain.pop_front()) free_packet(packet_of(n));
}

// Takes a packet off a receive queue (under g_lock): the sender's accounting goes down and it
// hears about the room.
void unqueue(UnixCore& c, Packet* p) {
    c.rx.remove(&p->link);
    c.rx_bytes -= p->len - p->off;
    c.rx_count--;
    if (p->sender) {
        p->sender->wmem -= p->len;
        p->sender->changed();
    }
}

// Under g_lock: the bound core with this name, or null.
UnixCore* find_abstract(const UnixAddress& a) {
    for (ListNode* n = g_bound.front(); n; n = n->next) {
        UnixCore* c = bound_of(n);
        if (c->name.same_abstract(a)) return c;
    }
    return nullptr;
}

UnixCore* find_node(uint64_t dev, uint64_t ino) {
    for (ListNode* n = g_bound.front(); n; n = n->next) {
        UnixCore* c = bound_of(n);
        if (c->name.kind == UnixAddress::Path && c->dev == dev && c->ino == ino) return c;
    }
    return nullptr;
}

// The process's view of the name space for a path name.
template <typename Op>
auto with_context(Op&& op) {
    Process& p = *current_process();
    sched::MutexGuard g(namespace_lock());
    PathContext ctx{mount_table(), p.root, p.cwd, current_credentials()};
    return op(static_cast<const PathContext&>(ctx));
}

// The core a name refers to, with a reference: ECONNREFUSED when nothing is bound there
// (ENOENT for a path that does not exist, as Linux says).
Result<RefPtr<UnixCore>> lookup(const UnixAddress& a) {
    uint64_t dev = 0, ino = 0;
    if (a.kind == UnixAddress::Path) {
        Location loc = TRY(with_context([&](const PathContext& ctx) { return resolve(ctx, a.name, lookup::Follow); }));
        if ((loc.inode->mode() & mode::TypeMask) != mode::Socket) return Errno::ConnRefused;
        dev = loc.inode->dev();
        ino = loc.inode->ino();
    } else if (a.kind != UnixAddress::Abstract) {
        return Errno::Inval;
    }
    IrqSpinlockGuard g(g_lock);
    UnixCore* c = a.kind == UnixAddress::Path ? find_node(dev, ino) : find_abstract(a);
    if (!c || c->dead) return Errno::ConnRefused;
    return RefPtr<UnixCore>(c);
}

// Last close of a core's socket (or an embryo never accepted): every link is broken, queued
// data dropped, the name released, waiters woken.
void close_core(UnixCore& c) {
    RefPtr<UnixCore> peer, back;
    ListChain rx, backlog;
    {
        IrqSpinlockGuard g(g_lock);
        c.dead = true;
        peer = static_cast<RefPtr<UnixCore>&&>(c.peer);
        if (peer && c.connection_oriented()) {
            peer->shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN;
            // Unread data or a connection never accepted: the other end sees a reset.
            if (!c.rx.empty() || c.embryo) peer->err = int(Errno::ConnReset);
            if (peer->peer.get() == &c) back = static_cast<RefPtr<UnixCore>&&>(peer->peer);
            peer->changed();
        }
        while (ListNode* n = c.rx.front()) {
            unqueue(c, packet_of(n));
            rx.push_back(n);
        }
        while (ListNode* n = c.backlog.pop_front()) backlog.push_back(n);
        if (c.bound_link.linked) g_bound.remove(&c.bound_link);
        c.state = State::Unconnected;
        c.changed();
    }
    free_packets(rx);
    while (ListNode* n = backlog.pop_front()) {
        UnixCore* e = embryo_of(n);
        close_core(*e);
        e->unref();
    }
}

// Sleeps until `core`'s generation moves past `seen`, or until the deadline (0: none) of the
// caller's SO_RCVTIMEO/SO_SNDTIMEO, when it fails with Again, as Linux's sock_intr_errno-less
// timeouts do.
Result<void> wait_change(UnixCore& core, uint64_t seen, uint64_t deadline) {
    struct Changed final : WaitCondition {
        UnixCore& c;
        uint64_t seen;
        Changed(UnixCore& c, uint64_t s) : c(c), seen(s) {}
        bool satisfied() override { return c.gen() != seen; }
    } cond(core, seen);
    auto r = wait_on_until(core.queue, cond, deadline);
    if (r.is_error() && r.error().code() == Errno::TimedOut) return Errno::Again;
    return r;
}

// The deadline of a timeout option (ns; 0: none) from now.
uint64_t deadline_after(int64_t timeout_ns) { return timeout_ns > 0 ? time::now_ns() + uint64_t(timeout_ns) : 0; }

// What recvfrom reports as the sender: its bound name.
uint32_t address_of(const UnixCore& c, uint8_t* out) { return format_unix_address(c.name, out); }

Result<Packet*> make_packet(const uint8_t* data, size_t len) {
    auto* p = new (len, std::nothrow) Packet();
    if (!p) return Errno::NoMem;
    p->len = len;
    if (len) __builtin_memcpy(p->data, data, len);
    return p;
}

// Moves the caller's SCM_RIGHTS descriptions into the packet.
Result<void> attach_files(Packet* p, PassedFiles* files) {
    if (!files || !files->count) return {};
    p->files = new (std::nothrow) PassedFiles();
    if (!p->files) return Errno::NoMem;
    for (uint32_t i = 0; i < files->count; i++) p->files->files[i] = static_cast<RefPtr<OpenFile>&&>(files->files[i]);
    p->files->count = files->count;
    files->count = 0;
    return {};
}

class UnixSocket final : public Socket {
public:
    UnixSocket(RefPtr<UnixCore> core, int protocol)
        : Socket(af::Unix, core->type, protocol), core_(static_cast<RefPtr<UnixCore>&&>(core)) {}
    ~UnixSocket() override { close_core(*core_); }

    UnixCore& core() { return *core_; }

    Result<void> bind(const SockAddr& addr) override {
        UnixAddress a = TRY(parse_unix_address(addr.bytes, addr.len));
        UnixCore& c = *core_;
        {
            IrqSpinlockGuard g(g_lock);
            if (c.name.kind != UnixAddress::Unnamed) return Errno::Inval;
        }
        if (a.kind == UnixAddress::Path) {
            uint32_t umask = current_process()->umask;
            RefPtr<Inode> node =
                TRY(with_context([&](const PathContext& ctx) { return vfs_mknod_socket(ctx, a.name, 0777 & ~umask); }));
            IrqSpinlockGuard g(g_lock);
            // A racing bind of the same socket won: the node stays, as Linux leaves it too.
            if (c.name.kind != UnixAddress::Unnamed) return Errno::Inval;
            c.name = a;
            c.dev = node->dev();
            c.ino = node->ino();
            g_bound.push_back(&c.bound_link);
            return {};
        }
        IrqSpinlockGuard g(g_lock);
        if (c.name.kind != UnixAddress::Unnamed) return Errno::Inval;
        if (a.kind == UnixAddress::Unnamed) {
            // Autobind: five hex digits, as Linux picks.
            a.kind = UnixAddress::Abstract;
            a.len = 5;
            do {
                uint32_t v = ++g_autobind & 0xfffff;
                for (int i = 4; i >= 0; i--, v >>= 4) a.name[i] = "0123456789abcdef"[v & 15];
            } while (find_abstract(a));
        } else if (find_abstract(a)) {
            return Errno::AddrInUse;
        }
        c.name = a;
        g_bound.push_back(&c.bound_link);
        return {};
    }

    Result<void> listen(int backlog) override {
        UnixCore& c = *core_;
        if (!c.connection_oriented()) return Errno::NotSup;
        IrqSpinlockGuard g(g_lock);
        if (c.state == State::Connected || c.name.kind == UnixAddress::Unnamed) return Errno::Inval;
        c.max_backlog = uint32_t(backlog) > SOMAXCONN ? SOMAXCONN : uint32_t(backlog);
        if (c.state != State::Listening) c.cred = current_ucred();
        c.state = State::Listening;
        c.changed();
        return {};
    }

    bool listening() const override { return core_->state == State::Listening; }

    Result<void> connect(OpenFile& f, const SockAddr& addr) override {
        UnixCore& c = *core_;
        if (!c.connection_oriented()) return connect_dgram(addr);
        UnixAddress a = TRY(parse_unix_address(addr.bytes, addr.len));
        if (a.kind == UnixAddress::Unnamed) return Errno::Inval;
        {
            IrqSpinlockGuard g(g_lock);
            if (c.state == State::Connected) return Errno::IsConn;
            if (c.state == State::Listening) return Errno::Inval;
        }
        RefPtr<UnixCore> server = TRY(lookup(a));
        if (server->type != c.type) return Errno::ProtoType;
        // The embryo the listener's accept will hand out, connected to us from the start.
        RefPtr<UnixCore> embryo = TRY(make_ref<UnixCore>(c.type));
        UnixCore* e = embryo.get();
        uint64_t deadline = deadline_after(options().sndtimeo_ns);
        for (;;) {
            uint64_t seen = server->gen();
            {
                IrqSpinlockGuard g(g_lock);
                if (c.state == State::Connected) return Errno::IsConn;
                if (server->dead || server->state != State::Listening) return Errno::ConnRefused;
                if (server->backlog.size() <= server->max_backlog) {
                    Ucred me = current_ucred();
                    e->embryo = true;
                    e->state = State::Connected;
                    e->name = server->name;
                    e->peer = core_;
                    e->peer_cred = me;
                    e->cred = server->cred;
                    e->sndbuf = server->sndbuf;
                    c.peer = embryo;
                    c.peer_cred = server->cred;
                    c.cred = me;
                    c.state = State::Connected;
                    e->ref();  // the backlog's
                    server->backlog.push_back(&e->backlog_link);
                    server->changed();
                    c.changed();
                    return {};
                }
            }
            if (f.nonblocking()) return Errno::Again;
            TRY(wait_change(*server, seen, deadline));
        }
    }

    Result<void> connect_dgram(const SockAddr& addr) {
        UnixCore& c = *core_;
        RefPtr<UnixCore> old;
        // AF_UNSPEC dissolves the association.
        if (addr.len >= 2 && addr.family() == 0) {
            IrqSpinlockGuard g(g_lock);
            old = static_cast<RefPtr<UnixCore>&&>(c.peer);
            c.changed();
            return {};
        }
        UnixAddress a = TRY(parse_unix_address(addr.bytes, addr.len));
        if (a.kind == UnixAddress::Unnamed) return Errno::Inval;
        RefPtr<UnixCore> target = TRY(lookup(a));
        if (target->type != c.type) return Errno::ProtoType;
        IrqSpinlockGuard g(g_lock);
        if (target->dead) return Errno::ConnRefused;
        old = static_cast<RefPtr<UnixCore>&&>(c.peer);
        c.peer = target;
        c.changed();
        return {};
    }

    Result<RefPtr<Socket>> accept(OpenFile& f, SockAddr* peer) override {
        UnixCore& c = *core_;
        if (!c.connection_oriented()) return Errno::NotSup;
        uint64_t deadline = deadline_after(options().rcvtimeo_ns);
        for (;;) {
            uint64_t seen = c.gen();
            UnixCore* e = nullptr;
            {
                IrqSpinlockGuard g(g_lock);
                if (c.state != State::Listening) return Errno::Inval;
                if (ListNode* n = c.backlog.pop_front()) {
                    e = embryo_of(n);
                    e->embryo = false;
                    if (peer) peer->len = e->peer ? address_of(*e->peer, peer->bytes) : SUN_PATH_OFFSET;
                    c.changed();
                }
            }
            if (e) {
                RefPtr<UnixCore> core = adopt_ref(e);  // the backlog's reference
                auto* s = new (std::nothrow) UnixSocket(core, protocol());
                if (!s) {
                    close_core(*e);
                    return Errno::NoMem;
                }
                return RefPtr<Socket>(adopt_ref(s));
            }
            if (f.nonblocking()) return Errno::Again;
            TRY(wait_change(c, seen, deadline));
        }
    }

    Result<size_t> send(SendArgs& a) override {
        UnixCore& c = *core_;
        if (c.connection_oriented()) {
            if (a.to) {
                IrqSpinlockGuard g(g_lock);
                return c.state == State::Connected ? Errno::IsConn : Errno::NotSup;
            }
            return c.records() ? send_record(a) : send_stream(a);
        }
        return send_dgram(a);
    }

    // Errors every connected send checks first (under g_lock).
    Result<UnixCore*> connected_peer() {
        UnixCore& c = *core_;
        if (c.state != State::Connected) return Errno::NotConn;
        if (c.shutdown & SEND_SHUTDOWN) return Errno::Pipe;
        UnixCore* p = c.peer.get();
        if (!p || p->dead || (p->shutdown & RCV_SHUTDOWN)) return Errno::Pipe;
        return p;
    }

    Result<size_t> send_stream(SendArgs& a) {
        UnixCore& c = *core_;
        size_t done = 0;
        uint64_t deadline = deadline_after(options().sndtimeo_ns);
        while (done < a.len || (a.len == 0 && done == 0)) {
            if (a.len == 0) return size_t(0);
            uint64_t seen = c.gen();
            // At most what fits in the send buffer, in one packet.
            size_t room;
            {
                IrqSpinlockGuard g(g_lock);
                auto p = connected_peer();
                if (p.is_error()) return done ? Result<size_t>(done) : p.error();
                room = c.wmem < c.sndbuf ? c.sndbuf - c.wmem : 0;
            }
            if (room) {
                size_t n = a.len - done < room ? a.len - done : room;
                Packet* pk = TRY(make_packet(a.data + done, n));
                auto attached = attach_files(pk, done == 0 ? a.files : nullptr);
                if (attached.is_error()) {
                    free_packet(pk);
                    return done ? Result<size_t>(done) : attached.error();
                }
                Packet* dropped = nullptr;
                {
                    IrqSpinlockGuard g(g_lock);
                    auto p = connected_peer();
                    if (p.is_error()) {
                        dropped = pk;
                    } else {
                        queue_packet(*p.value(), pk);
                        done += n;
                    }
                }
                if (dropped) {
                    free_packet(dropped);
                    return done ? Result<size_t>(done) : Result<size_t>(Errno::Pipe);
                }
                continue;
            }
            if (a.nonblock) return done ? Result<size_t>(done) : Result<size_t>(Errno::Again);
            auto w = wait_change(c, seen, deadline);
            if (w.is_error()) return done ? Result<size_t>(done) : w.error();
        }
        return done;
    }

    // Under g_lock: the packet joins `to`'s receive queue, counted against its sender (us).
    void queue_packet(UnixCore& to, Packet* pk) {
        UnixCore& c = *core_;
        pk->sender = core_;
        pk->from_len = address_of(c, pk->from);
        c.wmem += pk->len;
        to.rx.push_back(&pk->link);
        to.rx_bytes += pk->len;
        to.rx_count++;
        to.changed();
    }

    // One packet per call: seqpacket and datagram messages. Blocks (or EAGAIN) while the send
    // buffer is full or, for datagrams, while the receiver's queue is.
    Result<size_t> send_message(SendArgs& a, UnixCore* target_hint) {
        UnixCore& c = *core_;
        if (a.len > c.sndbuf - 32) return Errno::MsgSize;
        Packet* pk = TRY(make_packet(a.data, a.len));
        auto attached = attach_files(pk, a.files);
        if (attached.is_error()) {
            free_packet(pk);
            return attached.error();
        }
        RefPtr<UnixCore> target(target_hint);
        RefPtr<UnixCore> dropped_peer, waiting_ref;
        uint64_t deadline = deadline_after(options().sndtimeo_ns);
        for (;;) {
            // What to sleep on when the message cannot go yet: our own core (send buffer
            // full) or the receiver's (its queue full), with the generation read under the
            // lock, so no change after the decision is missed.
            UnixCore* waiting_on = nullptr;
            uint64_t seen = 0;
            Errno r = Errno::Again;     // None: sent
            RefPtr<UnixCore> released;  // dropped at the end of the pass, after the lock
            {
                IrqSpinlockGuard g(g_lock);
                UnixCore* to = nullptr;
                if (c.connection_oriented()) {
                    auto p = connected_peer();
                    if (p.is_error())
                        r = p.error().code();
                    else
                        to = p.value();
                } else if (target) {
                    to = target.get();
                } else if (!c.peer) {
                    r = Errno::NotConn;
                } else {
                    to = c.peer.get();
                }
                if (to && !c.connection_oriented()) {
                    if (to->dead) {
                        // The peer is gone: refused once, then not connected.
                        if (c.peer.get() == to) dropped_peer = static_cast<RefPtr<UnixCore>&&>(c.peer);
                        r = Errno::ConnRefused;
                        to = nullptr;
                    } else if (to->peer && to->peer.get() != &c) {
                        r = Errno::Perm;
                        to = nullptr;
                    } else if (to->shutdown & RCV_SHUTDOWN) {
                        r = Errno::Pipe;
                        to = nullptr;
                    } else if (to->peer.get() != &c && to->rx_count >= MAX_DGRAM_QLEN) {
                        waiting_on = to;
                        to = nullptr;
                    }
                }
                if (to) {
                    if (c.wmem + a.len > c.sndbuf && c.wmem) {
                        waiting_on = &c;
                    } else {
                        queue_packet(*to, pk);
                        pk = nullptr;
                        r = Errno::None;
                    }
                }
                if (waiting_on) {
                    seen = waiting_on->gen();
                    // Our reference keeps the receiver's core (and its queue) alive while we
                    // sleep on it; swapped, so an old one is dropped after the lock.
                    RefPtr<UnixCore> hold(waiting_on);
                    hold.swap(waiting_ref);
                    released = static_cast<RefPtr<UnixCore>&&>(hold);
                }
            }
            if (!waiting_on || a.nonblock) {
                if (pk) free_packet(pk);
                if (r == Errno::None) return a.len;
                return r;
            }
            auto w = wait_change(*waiting_on, seen, deadline);
            if (w.is_error()) {
                free_packet(pk);
                return w.error();
            }
        }
    }

    Result<size_t> send_record(SendArgs& a) { return send_message(a, nullptr); }

    Result<size_t> send_dgram(SendArgs& a) {
        if (!a.to) return send_message(a, nullptr);
        UnixAddress to = TRY(parse_unix_address(a.to->bytes, a.to->len));
        if (to.kind == UnixAddress::Unnamed) return Errno::Inval;
        RefPtr<UnixCore> target = TRY(lookup(to));
        if (target->type != core_->type) return Errno::ProtoType;
        return send_message(a, target.get());
    }

    enum class Next : uint8_t { Stop, Again, Wait };

    Result<size_t> recv(RecvArgs& a) override {
        UnixCore& c = *core_;
        size_t done = 0;
        uint64_t deadline = deadline_after(options().rcvtimeo_ns);
        for (;;) {
            uint64_t seen = c.gen();
            Next next = Next::Wait;
            Error failed = Errno::None;
            Packet* freed = nullptr;
            {
                IrqSpinlockGuard g(g_lock);
                if (c.connection_oriented() && c.state != State::Connected && c.rx.empty())
                    return c.records() ? Errno::NotConn : Errno::Inval;
                if (c.rx.empty()) {
                    bool nonblock = a.nonblock || (a.flags & msg::DontWait);
                    if (done) {
                        if (!(a.flags & msg::WaitAll) || (c.shutdown & RCV_SHUTDOWN) || c.err || nonblock)
                            next = Next::Stop;
                    } else if (c.err) {
                        failed = Errno(c.err);
                        c.err = 0;
                        next = Next::Stop;
                    } else if (c.shutdown & RCV_SHUTDOWN) {
                        next = Next::Stop;
                    } else if (nonblock) {
                        failed = Errno::Again;
                        next = Next::Stop;
                    }
                } else if (c.records()) {
                    freed = take_record(c, a, done);
                    next = Next::Stop;
                } else {
                    next = take_stream(c, a, done, freed);
                }
            }
            if (freed) free_packet(freed);
            if (next == Next::Stop) {
                if (failed.code() != Errno::None) return failed;
                return done;
            }
            if (next == Next::Again) continue;
            auto w = wait_change(c, seen, deadline);
            if (w.is_error()) return done ? Result<size_t>(done) : w.error();
        }
    }

    // Under g_lock: one message into a (MSG_TRUNC when it did not fit; with MSG_TRUNC in the
    // flags the result is the whole length). Returns the packet to free (none with MSG_PEEK).
    Packet* take_record(UnixCore& c, RecvArgs& a, size_t& result) {
        Packet* p = packet_of(c.rx.front());
        size_t n = p->len < a.len ? p->len : a.len;
        __builtin_memcpy(a.data, p->data, n);
        if (n < p->len) a.out_flags |= msg::Trunc;
        result = (a.flags & msg::Trunc) ? p->len : n;
        if (a.from) {
            a.from->len = p->from_len;
            __builtin_memcpy(a.from->bytes, p->from, p->from_len);
        }
        if (a.flags & msg::Peek) return nullptr;
        give_files(p, a);
        unqueue(c, p);
        c.changed();
        return p;
    }

    // Hands over (or drops, when the caller gave no room) a packet's descriptions.
    static void give_files(Packet* p, RecvArgs& a) {
        if (!p->files || p->files_given) return;
        p->files_given = true;
        if (a.files) {
            for (uint32_t i = 0; i < p->files->count && a.files->count < scm::MaxFds; i++)
                a.files->files[a.files->count++] = static_cast<RefPtr<OpenFile>&&>(p->files->files[i]);
        } else {
            a.out_flags |= msg::CTrunc;
        }
    }

    // Under g_lock: bytes from the stream's packets. Descriptions go with the first bytes of
    // their packet, and a read never spans them: it stops before a packet that carries some
    // once data was read, and after the bytes that brought them (as Linux keeps them apart).
    // A fully consumed packet comes back in `freed` (one per pass: the caller frees it outside
    // the lock and calls again when more is wanted).
    Next take_stream(UnixCore& c, RecvArgs& a, size_t& done, Packet*& freed) {
        bool peek = a.flags & msg::Peek;
        for (ListNode* n = c.rx.front(); n && done < a.len; n = n->next) {
            Packet* p = packet_of(n);
            bool had_files = p->files && !p->files_given;
            if (had_files && done) return Next::Stop;
            size_t k = p->len - p->off < a.len - done ? p->len - p->off : a.len - done;
            __builtin_memcpy(a.data + done, p->data + p->off, k);
            done += k;
            if (peek) {
                if (had_files) return Next::Stop;
                continue;
            }
            give_files(p, a);
            p->off += k;
            c.rx_bytes -= k;
            if (p->off == p->len) {
                unqueue(c, p);
                freed = p;
            }
            c.changed();
            return had_files || done >= a.len ? Next::Stop : Next::Again;
        }
        return Next::Stop;
    }

    Result<void> shutdown(int how) override {
        if (how < shut::Rd || how > shut::RdWr) return Errno::Inval;
        UnixCore& c = *core_;
        IrqSpinlockGuard g(g_lock);
        // Linux's AF_UNIX accepts shutdown on any socket, connected or not.
        uint8_t mine = how == shut::Rd ? RCV_SHUTDOWN : how == shut::Wr ? SEND_SHUTDOWN : RCV_SHUTDOWN | SEND_SHUTDOWN;
        c.shutdown |= mine;
        c.changed();
        if (c.connection_oriented() && c.peer) {
            // The peer's mirror: our reads stopping are its writes failing, and the reverse.
            uint8_t theirs = ((mine & RCV_SHUTDOWN) ? SEND_SHUTDOWN : 0) | ((mine & SEND_SHUTDOWN) ? RCV_SHUTDOWN : 0);
            c.peer->shutdown |= theirs;
            c.peer->changed();
        }
        return {};
    }

    Result<void> getsockname(SockAddr& out) override {
        IrqSpinlockGuard g(g_lock);
        out.len = address_of(*core_, out.bytes);
        return {};
    }

    Result<void> getpeername(SockAddr& out) override {
        IrqSpinlockGuard g(g_lock);
        UnixCore& c = *core_;
        if (!c.peer || (c.connection_oriented() && c.state != State::Connected)) return Errno::NotConn;
        out.len = address_of(*c.peer, out.bytes);
        return {};
    }

    int take_error() override {
        IrqSpinlockGuard g(g_lock);
        int e = core_->err;
        core_->err = 0;
        return e;
    }

    Ucred peer_cred() override {
        IrqSpinlockGuard g(g_lock);
        return core_->peer_cred;
    }

    size_t readable_bytes() override {
        IrqSpinlockGuard g(g_lock);
        UnixCore& c = *core_;
        if (c.records()) return c.rx.empty() ? 0 : packet_of(c.rx.front())->len;
        return c.rx_bytes;
    }

    Result<void> option_set(int name) override {
        if (name == so::SndBuf) {
            IrqSpinlockGuard g(g_lock);
            core_->sndbuf = options().sndbuf;
        }
        return {};
    }

    // Linux's unix_poll and unix_dgram_poll.
    uint32_t poll(OpenFile&) override {
        IrqSpinlockGuard g(g_lock);
        UnixCore& c = *core_;
        uint32_t ev = 0;
        if (c.err) ev |= pollev::Err;
        if (c.shutdown == (RCV_SHUTDOWN | SEND_SHUTDOWN)) ev |= pollev::Hup;
        if (c.shutdown & RCV_SHUTDOWN) ev |= pollev::RdHup | pollev::In | pollev::RdNorm;
        if (!c.rx.empty() || !c.backlog.empty()) ev |= pollev::In | pollev::RdNorm;
        if (c.connection_oriented() && c.state == State::Unconnected) ev |= pollev::Hup;
        if (c.state == State::Listening) return ev;
        bool writable = c.wmem * 4 <= c.sndbuf;
        if (!c.connection_oriented() && c.peer && !c.peer->dead && c.peer->peer.get() != &c &&
            c.peer->rx_count >= MAX_DGRAM_QLEN)
            writable = false;
        if (writable) ev |= pollev::Out | pollev::WrNorm | pollev::WrBand;
        return ev;
    }

    PollQueue* poll_queue() override { return &core_->queue; }

private:
    RefPtr<UnixCore> core_;
};

Result<RefPtr<UnixSocket>> make_socket(int type, int protocol) {
    RefPtr<UnixCore> core = TRY(make_ref<UnixCore>(type));
    return make_ref<UnixSocket>(core, protocol);
}

Result<RefPtr<Socket>> unix_create(int type, int protocol) {
    if (protocol != 0 && protocol != af::Unix) return Errno::ProtoNoSupport;
    if (type != sock::Stream && type != sock::Dgram && type != sock::SeqPacket) return Errno::SockTNoSupport;
    return RefPtr<Socket>(TRY(make_socket(type, protocol)));
}

Result<void> unix_pair(int type, int protocol, RefPtr<Socket> out[2]) {
    RefPtr<UnixSocket> a = TRY(make_socket(type, protocol));
    RefPtr<UnixSocket> b = TRY(make_socket(type, protocol));
    Ucred me = current_ucred();
    {
        IrqSpinlockGuard g(g_lock);
        UnixCore& ca = a->core();
        UnixCore& cb = b->core();
        ca.peer = RefPtr<UnixCore>(&cb);
        cb.peer = RefPtr<UnixCore>(&ca);
        ca.state = cb.state = State::Connected;
        ca.cred = cb.cred = ca.peer_cred = cb.peer_cred = me;
    }
    out[0] = a;
    out[1] = b;
    return {};
}

const SocketFamily UNIX_FAMILY{af::Unix, unix_create, unix_pair};

}  // namespace

void init_unix_sockets() { register_family(&UNIX_FAMILY); }

}  // namespace lamina::posix::net
