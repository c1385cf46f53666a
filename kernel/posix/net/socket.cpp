// The family-independent socket: common SOL_SOCKET options, read/write as recv/send, fstat,
// FIONREAD, SIGPIPE, and the family table.
#include "kernel/posix/net/socket.h"

#include "kernel/posix/fd/waiting.h"
#include "kernel/posix/process.h"

namespace lamina::posix::net {

namespace {

constexpr int SIGPIPE = 13;
constexpr uint32_t S_IFSOCK = 0140000;
constexpr uint32_t FIONREAD = 0x541B;
// Linux's floors for SO_SNDBUF/SO_RCVBUF (SOCK_MIN_SNDBUF/RCVBUF) and its ceiling (wmem_max).
constexpr uint32_t MIN_SNDBUF = 4608, MIN_RCVBUF = 2304, MAX_BUF = 212992;

constexpr size_t MAX_FAMILIES = 4;
const SocketFamily* g_families[MAX_FAMILIES];

struct Timeval {
    int64_t sec, usec;
};
struct Linger {
    int32_t onoff, secs;
};

Result<int32_t> int_value(const void* val, uint32_t len) {
    if (len < sizeof(int32_t)) return Errno::Inval;
    int32_t v;
    __builtin_memcpy(&v, val, sizeof v);
    return v;
}

// SO_RCVTIMEO/SO_SNDTIMEO: a timeval; negative seconds mean none, as on Linux.
Result<int64_t> timeout_value(const void* val, uint32_t len) {
    if (len < sizeof(Timeval)) return Errno::Inval;
    Timeval tv;
    __builtin_memcpy(&tv, val, sizeof tv);
    if (tv.usec < 0 || tv.usec >= 1'000'000) return Errno::Dom;
    if (tv.sec < 0) return int64_t(0);
    return tv.sec * 1'000'000'000 + tv.usec * 1000;
}

uint32_t put(void* val, uint32_t len, const void* v, uint32_t size) {
    uint32_t n = len < size ? len : size;
    __builtin_memcpy(val, v, n);
    return n;
}

uint32_t put_int(void* val, uint32_t len, int32_t v) { return put(val, len, &v, sizeof v); }

uint32_t put_timeout(void* val, uint32_t len, int64_t ns) {
    Timeval tv{ns / 1'000'000'000, (ns % 1'000'000'000) / 1000};
    return put(val, len, &tv, sizeof tv);
}

}  // namespace

Ucred current_ucred() {
    Process* p = current_process();
    if (!p) return Ucred{0, 0, 0};
    return Ucred{int32_t(p->pid), p->cred.euid, p->cred.egid};
}

Result<void> Socket::setsockopt(int level, int name, const void* val, uint32_t len) {
    if (level != so::SolSocket) return family_setsockopt(level, name, val, len);
    TRY(set_common(name, val, len));
    return option_set(name);
}

Result<void> Socket::set_common(int name, const void* val, uint32_t len) {
    constexpr int level = so::SolSocket;
    SocketOptions& o = options_;
    auto flag = [&](bool& b) -> Result<void> {
        b = TRY(int_value(val, len)) != 0;
        return {};
    };
    switch (name) {
        case so::ReuseAddr:
            return flag(o.reuseaddr);
        case so::ReusePort:
            return flag(o.reuseport);
        case so::KeepAlive:
            return flag(o.keepalive);
        case so::Broadcast:
            return flag(o.broadcast);
        case so::PassCred:
            return flag(o.passcred);
        case so::Debug:
            return flag(o.debug);
        case so::DontRoute:
            return flag(o.dontroute);
        case so::OobInline:
            return flag(o.oobinline);
        case so::SndBuf:
        case so::RcvBuf: {
            // Linux doubles the value (for its bookkeeping overhead) and clamps it.
            int32_t v = TRY(int_value(val, len));
            uint32_t u = v < 0 ? 0 : uint32_t(v) > MAX_BUF ? MAX_BUF : uint32_t(v);
            u *= 2;
            if (name == so::SndBuf)
                o.sndbuf = u < MIN_SNDBUF ? MIN_SNDBUF : u;
            else
                o.rcvbuf = u < MIN_RCVBUF ? MIN_RCVBUF : u;
            return {};
        }
        case so::RcvLowat: {
            int32_t v = TRY(int_value(val, len));
            o.rcvlowat = v < 1 ? 1 : v;
            return {};
        }
        case so::SndLowat:
            return Errno::NoProtoOpt;
        case so::RcvTimeo:
            o.rcvtimeo_ns = TRY(timeout_value(val, len));
            return {};
        case so::SndTimeo:
            o.sndtimeo_ns = TRY(timeout_value(val, len));
            return {};
        case so::Linger: {
            if (len < sizeof(Linger)) return Errno::Inval;
            Linger l;
            __builtin_memcpy(&l, val, sizeof l);
            o.linger_onoff = l.onoff ? 1 : 0;
            o.linger_secs = l.secs;
            return {};
        }
        // Read-only options.
        case so::Type:
        case so::Error:
        case so::PeerCred:
        case so::AcceptConn:
        case so::Protocol:
        case so::Domain:
            return Errno::NoProtoOpt;
        default:
            return family_setsockopt(level, name, val, len);
    }
}

Result<uint32_t> Socket::getsockopt(int level, int name, void* val, uint32_t len) {
    if (level != so::SolSocket) return family_getsockopt(level, name, val, len);
    const SocketOptions& o = options_;
    // Linux refuses an int option whose buffer is shorter than an int... it truncates; but a
    // negative length is EINVAL (the caller checked).
    switch (name) {
        case so::Type:
            return put_int(val, len, type_);
        case so::Domain:
            return put_int(val, len, family_);
        case so::Protocol:
            return put_int(val, len, protocol_);
        case so::Error:
            return put_int(val, len, take_error());
        case so::AcceptConn:
            return put_int(val, len, listening() ? 1 : 0);
        case so::ReuseAddr:
            return put_int(val, len, o.reuseaddr);
        case so::ReusePort:
            return put_int(val, len, o.reuseport);
        case so::KeepAlive:
            return put_int(val, len, o.keepalive);
        case so::Broadcast:
            return put_int(val, len, o.broadcast);
        case so::PassCred:
            return put_int(val, len, o.passcred);
        case so::Debug:
            return put_int(val, len, o.debug);
        case so::DontRoute:
            return put_int(val, len, o.dontroute);
        case so::OobInline:
            return put_int(val, len, o.oobinline);
        case so::SndBuf:
            return put_int(val, len, int32_t(o.sndbuf));
        case so::RcvBuf:
            return put_int(val, len, int32_t(o.rcvbuf));
        case so::RcvLowat:
            return put_int(val, len, o.rcvlowat);
        case so::SndLowat:
            return put_int(val, len, 1);
        case so::RcvTimeo:
            return put_timeout(val, len, o.rcvtimeo_ns);
        case so::SndTimeo:
            return put_timeout(val, len, o.sndtimeo_ns);
        case so::Linger: {
            Linger l{o.linger_onoff, o.linger_secs};
            return put(val, len, &l, sizeof l);
        }
        case so::PeerCred: {
            Ucred c = peer_cred();
            return put(val, len, &c, sizeof c);
        }
        default:
            return family_getsockopt(level, name, val, len);
    }
}

Result<size_t> Socket::send_signalling(SendArgs& a) {
    auto r = send(a);
    if (r.is_error() && r.error().code() == Errno::Pipe && !(a.flags & msg::NoSignal)) raise_signal_self(SIGPIPE);
    return r;
}

Result<size_t> Socket::read(OpenFile& f, void* dst, size_t n) {
    RecvArgs a;
    a.data = static_cast<uint8_t*>(dst);
    a.len = n;
    a.nonblock = f.nonblocking();
    return recv(a);
}

Result<size_t> Socket::write(OpenFile& f, const void* src, size_t n) {
    SendArgs a;
    a.data = static_cast<const uint8_t*>(src);
    a.len = n;
    a.nonblock = f.nonblocking();
    return send_signalling(a);
}

Result<void> Socket::stat(Stat& st) {
    st = Stat{};
    st.st_mode = S_IFSOCK | 0777;
    st.st_nlink = 1;
    st.st_blksize = 4096;
    st.st_ino = uint64_t(reinterpret_cast<uintptr_t>(this) >> 4);
    return {};
}

Result<int64_t> Socket::ioctl(OpenFile&, uint32_t cmd, uint64_t arg, UserIo& io) {
    if (cmd != FIONREAD) return Errno::NotTty;
    if (listening()) return Errno::Inval;
    int32_t n = int32_t(readable_bytes());
    TRY(io.copy_out(arg, &n, sizeof n));
    return 0;
}

void register_family(const SocketFamily* f) {
    for (auto& slot : g_families) {
        if (!slot || slot->family == f->family) {
            slot = f;
            return;
        }
    }
}

const SocketFamily* find_family(int family) {
    for (const SocketFamily* f : g_families)
        if (f && f->family == family) return f;
    return nullptr;
}

}  // namespace lamina::posix::net
