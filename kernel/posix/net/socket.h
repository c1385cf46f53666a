// Sockets as file objects: the family-independent part of the socket layer. A family (AF_UNIX
// here, AF_INET from the netstack next) registers a SocketFamily whose create/pair make
// Socket objects; the system calls (sys_socket.cpp) parse user memory (addresses, iovecs,
// control messages) into the kernel-side SendArgs/RecvArgs below and never see a family's
// insides. docs/sockets.md has the picture.
//
// Contract for a family's Socket:
// - send/recv move data between kernel buffers and the socket; blocking follows
//   file_object.h (sleep, or Errno::Again when nonblocking; Errno::Intr on a signal).
//   Errno::Pipe from send is turned into SIGPIPE here (unless MSG_NOSIGNAL), not by families.
// - Addresses arrive as the caller's raw sockaddr bytes (SockAddr); the family validates them
//   (EINVAL for a short or wrong-family one, EAFNOSUPPORT as Linux says).
// - Options common to every family (SO_TYPE, SO_RCVBUF, SO_LINGER, ...) live in this base
//   class; a family sees only the ones it overrides via family_setsockopt/getsockopt.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"

namespace lamina::posix::net {

namespace af {
inline constexpr int Unix = 1, Inet = 2, Inet6 = 10;
}
namespace sock {
inline constexpr int Stream = 1, Dgram = 2, Raw = 3, SeqPacket = 5;
inline constexpr int TypeMask = 0xf;
inline constexpr int NonBlock = 04000, CloExec = 02000000;
}  // namespace sock
namespace msg {
inline constexpr int Oob = 1, Peek = 2, DontRoute = 4, CTrunc = 8, Trunc = 0x20, DontWait = 0x40, Eor = 0x80,
                     WaitAll = 0x100, NoSignal = 0x4000, CmsgCloExec = 0x40000000;
}
// setsockopt levels and SOL_SOCKET names (Linux x86-64 values).
namespace so {
inline constexpr int SolSocket = 1;
inline constexpr int Debug = 1, ReuseAddr = 2, Type = 3, Error = 4, DontRoute = 5, Broadcast = 6, SndBuf = 7,
                     RcvBuf = 8, KeepAlive = 9, OobInline = 10, Linger = 13, PassCred = 16, PeerCred = 17,
                     RcvLowat = 18, SndLowat = 19, RcvTimeo = 20, SndTimeo = 21, AcceptConn = 30, Protocol = 38,
                     Domain = 39, ReusePort = 15;
}  // namespace so
namespace scm {
inline constexpr int Rights = 1, Credentials = 2;
inline constexpr uint32_t MaxFds = 253;  // SCM_MAX_FD
}  // namespace scm
namespace shut {
inline constexpr int Rd = 0, Wr = 1, RdWr = 2;
}

// struct sockaddr_storage's size: the largest address any family takes.
inline constexpr uint32_t SOCKADDR_MAX = 128;

// A socket address as raw bytes (sa_family first), with its length.
struct SockAddr {
    uint32_t len = 0;
    uint8_t bytes[SOCKADDR_MAX] = {};
    uint16_t family() const { return len >= 2 ? uint16_t(bytes[0] | bytes[1] << 8) : 0; }
};

// struct ucred (SO_PEERCRED, SCM_CREDENTIALS).
struct Ucred {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
};
static_assert(sizeof(Ucred) == 12);

// The caller's identity, for SO_PEERCRED.
Ucred current_ucred();

// Descriptions passed with SCM_RIGHTS (kernel side: counted references).
struct PassedFiles {
    RefPtr<OpenFile> files[scm::MaxFds];
    uint32_t count = 0;
};

struct SendArgs {
    const uint8_t* data = nullptr;
    size_t len = 0;
    const SockAddr* to = nullptr;  // sendto/sendmsg's address, or null
    int flags = 0;                 // MSG_*
    bool nonblock = false;         // O_NONBLOCK or MSG_DONTWAIT
    PassedFiles* files = nullptr;  // SCM_RIGHTS; the family takes the references it keeps
};

struct RecvArgs {
    uint8_t* data = nullptr;
    size_t len = 0;
    SockAddr* from = nullptr;  // filled when not null (len 0: the sender has no address)
    int flags = 0;
    bool nonblock = false;
    int out_flags = 0;             // msg_flags back to the caller (MSG_TRUNC, MSG_CTRUNC)
    PassedFiles* files = nullptr;  // where received SCM_RIGHTS descriptions go, or null (dropped)
};

// The options every family shares, as set.
struct SocketOptions {
    uint32_t sndbuf = 212992;  // net.core.wmem_default
    uint32_t rcvbuf = 212992;
    int64_t rcvtimeo_ns = 0;  // 0: none
    int64_t sndtimeo_ns = 0;
    int32_t linger_onoff = 0, linger_secs = 0;
    bool reuseaddr = false, reuseport = false, keepalive = false, broadcast = false, passcred = false, debug = false,
         dontroute = false, oobinline = false;
    int32_t rcvlowat = 1;
};

class Socket : public FileObject {
public:
    int family() const { return family_; }
    int type() const { return type_; }
    int protocol() const { return protocol_; }
    SocketOptions& options() { return options_; }

    virtual Result<void> bind(const SockAddr&) { return Errno::NotSup; }
    virtual Result<void> listen(int /*backlog*/) { return Errno::NotSup; }
    virtual Result<void> connect(OpenFile&, const SockAddr&) { return Errno::NotSup; }
    // The new connection; `peer` gets its address when not null.
    virtual Result<RefPtr<Socket>> accept(OpenFile&, SockAddr* /*peer*/) { return Errno::NotSup; }
    virtual Result<size_t> send(SendArgs&) = 0;
    virtual Result<size_t> recv(RecvArgs&) = 0;
    virtual Result<void> shutdown(int how) = 0;
    virtual Result<void> getsockname(SockAddr&) = 0;
    virtual Result<void> getpeername(SockAddr&) = 0;
    virtual bool listening() const { return false; }
    // SO_ERROR: the pending error, cleared by reading it.
    virtual int take_error() { return 0; }
    // SO_PEERCRED; ENOTCONN-like families return NoProtoOpt... Linux answers {0,-1,-1} unconnected.
    virtual Ucred peer_cred() { return Ucred{0, ~0u, ~0u}; }

    // Options the family knows beyond SOL_SOCKET's common ones: Errno::NoProtoOpt if none.
    virtual Result<void> family_setsockopt(int /*level*/, int /*name*/, const void*, uint32_t) {
        return Errno::NoProtoOpt;
    }
    virtual Result<uint32_t> family_getsockopt(int /*level*/, int /*name*/, void*, uint32_t) {
        return Errno::NoProtoOpt;
    }

    // A SOL_SOCKET option was stored in options(): the family applies it (the netstack's
    // SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER, ...). An error is setsockopt's.
    virtual Result<void> option_set(int /*name*/) { return {}; }

    // setsockopt/getsockopt with the value in kernel memory. getsockopt returns the length
    // written (at most `len`, as Linux truncates).
    Result<void> setsockopt(int level, int name, const void* val, uint32_t len);
    Result<uint32_t> getsockopt(int level, int name, void* val, uint32_t len);

    // read/write/readv/writev on a socket are recv/send without an address or flags.
    Result<size_t> read(OpenFile& f, void* dst, size_t n) override;
    Result<size_t> write(OpenFile& f, const void* src, size_t n) override;
    Result<void> stat(Stat& st) override;
    bool is_stream() const override { return true; }
    Socket* socket() override { return this; }
    Result<int64_t> ioctl(OpenFile& f, uint32_t cmd, uint64_t arg, UserIo& io) override;
    // FIONREAD's answer: bytes waiting (the next datagram's size for datagram sockets).
    virtual size_t readable_bytes() { return 0; }

    // send with SIGPIPE raised on EPIPE (unless MSG_NOSIGNAL): what every caller uses.
    Result<size_t> send_signalling(SendArgs& a);

protected:
    Socket(int family, int type, int protocol) : family_(family), type_(type), protocol_(protocol) {}

private:
    Result<void> set_common(int name, const void* val, uint32_t len);

    int family_, type_, protocol_;
    SocketOptions options_;
};

// A family's entry in the socket layer.
struct SocketFamily {
    int family;
    // type without SOCK_NONBLOCK/SOCK_CLOEXEC. EPROTONOSUPPORT/ESOCKTNOSUPPORT as Linux says.
    Result<RefPtr<Socket>> (*create)(int type, int protocol);
    // socketpair(2); null: EOPNOTSUPP.
    Result<void> (*pair)(int type, int protocol, RefPtr<Socket> out[2]);
};

// At most one entry per family; a later registration replaces the earlier one (the netstack
// registers AF_INET when it comes up).
void register_family(const SocketFamily* f);
const SocketFamily* find_family(int family);

}  // namespace lamina::posix::net
