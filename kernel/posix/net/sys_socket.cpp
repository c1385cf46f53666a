// The socket system calls: socket, socketpair, bind, listen, accept, accept4, connect,
// sendto, recvfrom, sendmsg, recvmsg, shutdown, getsockname, getpeername, setsockopt,
// getsockopt. Every user pointer and length is checked here (EFAULT, EINVAL) and turned into
// kernel-side SendArgs/RecvArgs; the families (socket.h) never touch user memory.
#include <lamina/scope_guard.h>

#include "kernel/mm/memory.h"
#include "kernel/posix/net/socket.h"
#include "kernel/posix/process.h"
#include "kernel/posix/process_hooks.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"

namespace lamina::posix {

using namespace net;

namespace {

constexpr int AF_MAX = 46;
constexpr size_t CHUNK = 64 * 1024;
// The largest message a datagram socket can take (twice wmem_max, SO_SNDBUF's ceiling).
constexpr size_t MAX_MESSAGE = 2 * 212992;
constexpr uint64_t MAX_IOV = 1024;       // UIO_MAXIOV
constexpr uint64_t MAX_CONTROL = 20480;  // net.core.optmem_max
constexpr uint32_t MAX_OPTION = 256;

struct IoVec {
    uint64_t base, len;
};
struct MsgHdr {
    uint64_t name;
    uint32_t namelen;
    uint32_t pad;
    uint64_t iov;
    uint64_t iovlen;
    uint64_t control;
    uint64_t controllen;
    int32_t flags;
    int32_t pad2;
};
static_assert(sizeof(MsgHdr) == 56);
struct CmsgHdr {
    uint64_t len;
    int32_t level;
    int32_t type;
};
static_assert(sizeof(CmsgHdr) == 16);
constexpr uint64_t cmsg_align(uint64_t n) { return (n + 7) & ~uint64_t(7); }

struct Sock {
    RefPtr<OpenFile> file;
    Socket* socket;
};

Result<Sock> socket_of(uint64_t fd) {
    if (fd > 0x7fffffff) return Errno::BadF;
    RefPtr<OpenFile> f = TRY(fd_lookup(int(fd)));
    Socket* s = f->object()->socket();
    if (!s) return Errno::NotSock;
    return Sock{static_cast<RefPtr<OpenFile>&&>(f), s};
}

Result<SockAddr> read_addr(uint64_t uaddr, uint64_t len) {
    if (int32_t(len) < 0 || uint32_t(len) > SOCKADDR_MAX) return Errno::Inval;
    SockAddr a;
    a.len = uint32_t(len);
    if (a.len) TRY(copy_from_user(a.bytes, uaddr, a.len));
    return a;
}

// Writes an address back as Linux's move_addr_to_user does: truncated to the caller's
// length, the full length written to *ulen.
Result<void> write_addr(const SockAddr& a, uint64_t uaddr, uint64_t ulen) {
    if (!uaddr) return {};
    int32_t len = TRY(UserPtr<int32_t>(ulen).read());
    if (len < 0) return Errno::Inval;
    uint32_t n = uint32_t(len) < a.len ? uint32_t(len) : a.len;
    if (n) TRY(copy_to_user(uaddr, a.bytes, n));
    return UserPtr<int32_t>(ulen).write(int32_t(a.len));
}

struct Buffer {
    uint8_t* data = nullptr;
    ~Buffer() { mm::kfree(data); }
    Result<void> alloc(size_t n) {
        data = static_cast<uint8_t*>(mm::kmalloc(n ? n : 1));
        return data ? Result<void>() : Result<void>(Errno::NoMem);
    }
};

// A message's iovecs, checked: the total, or EINVAL/EFAULT/EMSGSIZE as Linux gives.
class IoVector {
public:
    IoVector() = default;
    IoVector(const IoVector&) = delete;
    IoVector& operator=(const IoVector&) = delete;
    ~IoVector() {
        if (v != &one_) mm::kfree(v);
    }

    // sendto/recvfrom's one buffer.
    Result<void> single(uint64_t buf, uint64_t len) {
        if (len > 0x7ffff000) len = 0x7ffff000;
        if (!user_range_ok(buf, len)) return Errno::Fault;
        one_ = {buf, len};
        count = 1;
        total = len;
        return {};
    }

    Result<void> read(uint64_t uiov, uint64_t n) {
        if (n > MAX_IOV) return Errno::MsgSize;
        if (n > 1) {
            v = static_cast<IoVec*>(mm::kmalloc(n * sizeof(IoVec)));
            if (!v) {
                v = &one_;
                return Errno::NoMem;
            }
        }
        if (n) TRY(copy_from_user(v, uiov, n * sizeof(IoVec)));
        count = n;
        for (uint64_t i = 0; i < n; i++) {
            if (int64_t(v[i].len) < 0 || total + v[i].len > 0x7ffff000) return Errno::Inval;
            total += v[i].len;
        }
        return {};
    }

    IoVec* v = &one_;
    uint64_t count = 0;
    uint64_t total = 0;

private:
    IoVec one_{};
};

// Copies `n` bytes between the kernel buffer and the iovecs, starting `skip` bytes in.
Result<void> iov_copy(const IoVector& iov, uint64_t skip, uint8_t* buf, size_t n, bool to_user) {
    for (uint64_t i = 0; i < iov.count && n; i++) {
        if (skip >= iov.v[i].len) {
            skip -= iov.v[i].len;
            continue;
        }
        size_t k = iov.v[i].len - skip < n ? size_t(iov.v[i].len - skip) : n;
        if (to_user)
            TRY(copy_to_user(iov.v[i].base + skip, buf, k));
        else
            TRY(copy_from_user(buf, iov.v[i].base + skip, k));
        buf += k;
        n -= k;
        skip = 0;
    }
    return {};
}

// SCM_RIGHTS out of sendmsg's control data (other SOL_SOCKET types: SCM_CREDENTIALS is
// accepted for the caller's own identity; others EINVAL; other levels are skipped).
Result<void> read_control(uint64_t ucontrol, uint64_t len, PassedFiles& files) {
    if (!len) return {};
    if (len > MAX_CONTROL) return Errno::NoBufs;
    Buffer buf;
    TRY(buf.alloc(len));
    TRY(copy_from_user(buf.data, ucontrol, len));
    uint64_t off = 0;
    while (off + sizeof(CmsgHdr) <= len) {
        CmsgHdr h;
        __builtin_memcpy(&h, buf.data + off, sizeof h);
        if (h.len < sizeof(CmsgHdr) || h.len > len - off) return Errno::Inval;
        uint64_t payload = h.len - sizeof(CmsgHdr);
        if (h.level == so::SolSocket) {
            if (h.type == scm::Rights) {
                uint64_t n = payload / 4;
                if (n == 0 || files.count + n > scm::MaxFds) return Errno::Inval;
                for (uint64_t i = 0; i < n; i++) {
                    int32_t fd;
                    __builtin_memcpy(&fd, buf.data + off + sizeof(CmsgHdr) + i * 4, 4);
                    files.files[files.count++] = TRY(fd_lookup(fd));
                }
            } else if (h.type == scm::Credentials) {
                if (payload != sizeof(Ucred)) return Errno::Inval;
                Ucred c;
                __builtin_memcpy(&c, buf.data + off + sizeof(CmsgHdr), sizeof c);
                // Linux's scm_check_creds: one's own pid and ids, unless privileged.
                const Cred& me = current_process()->cred;
                if (uint32_t(c.pid) != current_process()->pid && !capable(cap::SYS_ADMIN)) return Errno::Perm;
                if (c.uid != me.uid && c.uid != me.euid && c.uid != me.suid && !capable(cap::SETUID))
                    return Errno::Perm;
                if (c.gid != me.gid && c.gid != me.egid && c.gid != me.sgid && !capable(cap::SETGID))
                    return Errno::Perm;
            } else {
                return Errno::Inval;
            }
        }
        off += cmsg_align(h.len);
    }
    return {};
}

// Received descriptions into the caller's table and control buffer; returns the control
// length used. Those that do not fit are dropped and MSG_CTRUNC set.
Result<uint64_t> write_control(PassedFiles& files, uint64_t ucontrol, uint64_t len, int flags, int& out_flags) {
    if (!files.count) return uint64_t(0);
    uint64_t fit = len > sizeof(CmsgHdr) ? (len - sizeof(CmsgHdr)) / 4 : 0;
    if (fit < files.count) out_flags |= msg::CTrunc;
    uint64_t n = fit < files.count ? fit : files.count;
    if (n == 0) return uint64_t(0);
    int32_t fds[scm::MaxFds];
    bool cloexec = flags & msg::CmsgCloExec;
    for (uint64_t i = 0; i < n; i++) {
        auto fd = fd_install(files.files[i], cloexec);
        if (fd.is_error()) {
            out_flags |= msg::CTrunc;
            n = i;
            break;
        }
        fds[i] = fd.value();
    }
    if (n == 0) return uint64_t(0);
    CmsgHdr h{sizeof(CmsgHdr) + n * 4, so::SolSocket, scm::Rights};
    TRY(copy_to_user(ucontrol, &h, sizeof h));
    TRY(copy_to_user(ucontrol + sizeof h, fds, n * 4));
    uint64_t used = cmsg_align(h.len);
    return used < len ? used : len;
}

// sendmsg and sendto: the iovecs' bytes through one kernel buffer, in chunks for streams
// (each chunk a send; a partial one ends the call), whole for message sockets.
SyscallResult do_send(Sock& s, const IoVector& iov, const SockAddr* to, int flags, PassedFiles* files) {
    SendArgs a;
    a.to = to;
    a.flags = flags;
    a.nonblock = s.file->nonblocking() || (flags & msg::DontWait);
    a.files = files;
    bool stream = s.socket->type() == sock::Stream;
    if (!stream && iov.total > MAX_MESSAGE) return Errno::MsgSize;
    size_t size = stream ? (iov.total < CHUNK ? iov.total : CHUNK) : iov.total;
    Buffer buf;
    TRY(buf.alloc(size));
    uint64_t done = 0;
    do {
        size_t n = iov.total - done < size ? size_t(iov.total - done) : size;
        auto c = iov_copy(iov, done, buf.data, n, false);
        if (c.is_error()) return done ? SyscallResult(int64_t(done)) : c.error();
        a.data = buf.data;
        a.len = n;
        auto r = s.socket->send_signalling(a);
        if (r.is_error()) return done ? SyscallResult(int64_t(done)) : r.error();
        a.files = nullptr;
        done += r.value();
        if (r.value() < n) break;
    } while (done < iov.total);
    return int64_t(done);
}

SyscallResult do_recv(Sock& s, const IoVector& iov, SockAddr* from, int flags, PassedFiles* files, int& out_flags) {
    RecvArgs a;
    a.from = from;
    a.flags = flags;
    a.nonblock = s.file->nonblocking() || (flags & msg::DontWait);
    a.files = files;
    size_t size = iov.total < MAX_MESSAGE ? size_t(iov.total) : MAX_MESSAGE;
    Buffer buf;
    TRY(buf.alloc(size));
    a.data = buf.data;
    a.len = size;
    size_t n = TRY(s.socket->recv(a));
    out_flags = a.out_flags;
    size_t copy = n < size ? n : size;  // MSG_TRUNC may report more than was copied
    TRY(iov_copy(iov, 0, buf.data, copy, true));
    return int64_t(n);
}

Result<int> install_socket(RefPtr<Socket> s, int flags) {
    RefPtr<OpenFile> f = TRY(OpenFile::create(RefPtr<FileObject>(static_cast<RefPtr<Socket>&&>(s)),
                                              oflag::ReadWrite | ((flags & sock::NonBlock) ? oflag::NonBlock : 0)));
    return fd_install(static_cast<RefPtr<OpenFile>&&>(f), flags & sock::CloExec);
}

Result<const SocketFamily*> family_of(uint64_t domain) {
    if (domain >= AF_MAX) return Errno::AfNoSupport;
    const SocketFamily* f = find_family(int(domain));
    if (!f) return Errno::AfNoSupport;
    return f;
}

Result<int> split_type(uint64_t type, int& flags) {
    flags = int(type) & ~sock::TypeMask;
    if (flags & ~(sock::NonBlock | sock::CloExec)) return Errno::Inval;
    return int(type) & sock::TypeMask;
}

}  // namespace

Result<int> sys_socket(uint64_t domain, uint64_t type, uint64_t protocol) {
    int flags;
    int t = TRY(split_type(type, flags));
    const SocketFamily* f = TRY(family_of(domain));
    RefPtr<Socket> s = TRY(f->create(t, int(protocol)));
    return install_socket(static_cast<RefPtr<Socket>&&>(s), flags);
}

Result<void> sys_socketpair(uint64_t domain, uint64_t type, uint64_t protocol, uint64_t usv) {
    int flags;
    int t = TRY(split_type(type, flags));
    const SocketFamily* f = TRY(family_of(domain));
    if (!f->pair) return Errno::NotSup;
    if (!user_range_ok(usv, 8)) return Errno::Fault;
    RefPtr<Socket> pair[2];
    TRY(f->pair(t, int(protocol), pair));
    int a = TRY(install_socket(pair[0], flags));
    auto b = install_socket(pair[1], flags);
    if (b.is_error()) {
        (void)fd_close(a);
        return b.error();
    }
    int32_t fds[2] = {a, b.value()};
    if (copy_to_user(usv, fds, sizeof fds).is_error()) {
        (void)fd_close(fds[0]);
        (void)fd_close(fds[1]);
        return Errno::Fault;
    }
    return {};
}

Result<void> sys_bind(uint64_t fd, uint64_t uaddr, uint64_t len) {
    Sock s = TRY(socket_of(fd));
    SockAddr a = TRY(read_addr(uaddr, len));
    return s.socket->bind(a);
}

Result<void> sys_listen(uint64_t fd, uint64_t backlog) {
    Sock s = TRY(socket_of(fd));
    return s.socket->listen(int(backlog));
}

Result<void> sys_connect(uint64_t fd, uint64_t uaddr, uint64_t len) {
    Sock s = TRY(socket_of(fd));
    SockAddr a = TRY(read_addr(uaddr, len));
    return s.socket->connect(*s.file, a);
}

Result<int> sys_accept4(uint64_t fd, uint64_t uaddr, uint64_t ulen, uint64_t flags) {
    if (flags & ~uint64_t(sock::NonBlock | sock::CloExec)) return Errno::Inval;
    Sock s = TRY(socket_of(fd));
    if (uaddr) {
        int32_t len = TRY(UserPtr<int32_t>(ulen).read());
        if (len < 0) return Errno::Inval;
    }
    SockAddr peer;
    RefPtr<Socket> conn = TRY(s.socket->accept(*s.file, &peer));
    int nfd = TRY(install_socket(static_cast<RefPtr<Socket>&&>(conn), int(flags)));
    if (write_addr(peer, uaddr, ulen).is_error()) {
        (void)fd_close(nfd);
        return Errno::Fault;
    }
    return nfd;
}

Result<int> sys_accept(uint64_t fd, uint64_t uaddr, uint64_t ulen) { return sys_accept4(fd, uaddr, ulen, 0); }

SyscallResult sys_sendto(uint64_t fd, uint64_t buf, uint64_t len, uint64_t flags, uint64_t uaddr, uint64_t alen) {
    Sock s = TRY(socket_of(fd));
    IoVector iov;
    TRY(iov.single(buf, len));
    SockAddr to;
    if (uaddr) to = TRY(read_addr(uaddr, alen));
    return do_send(s, iov, uaddr ? &to : nullptr, int(flags), nullptr);
}

SyscallResult sys_recvfrom(uint64_t fd, uint64_t buf, uint64_t len, uint64_t flags, uint64_t uaddr, uint64_t ulen) {
    Sock s = TRY(socket_of(fd));
    IoVector iov;
    TRY(iov.single(buf, len));
    if (uaddr) {
        int32_t l = TRY(UserPtr<int32_t>(ulen).read());
        if (l < 0) return Errno::Inval;
    }
    SockAddr from;
    int out_flags = 0;
    int64_t n = TRY(do_recv(s, iov, &from, int(flags), nullptr, out_flags));
    TRY(write_addr(from, uaddr, ulen));
    return n;
}

SyscallResult sys_sendmsg(uint64_t fd, uint64_t umsg, uint64_t flags) {
    Sock s = TRY(socket_of(fd));
    MsgHdr m = TRY(UserPtr<MsgHdr>(umsg).read());
    IoVector iov;
    TRY(iov.read(m.iov, m.iovlen));
    SockAddr to;
    bool has_to = m.name && m.namelen;
    if (has_to) to = TRY(read_addr(m.name, m.namelen));
    PassedFiles* files = new (std::nothrow) PassedFiles;
    if (!files) return Errno::NoMem;
    ScopeGuard free_files([files] { delete files; });
    TRY(read_control(m.control, m.controllen, *files));
    if (files->count && s.socket->family() != af::Unix) return Errno::Inval;
    return do_send(s, iov, has_to ? &to : nullptr, int(flags), files);
}

SyscallResult sys_recvmsg(uint64_t fd, uint64_t umsg, uint64_t flags) {
    Sock s = TRY(socket_of(fd));
    MsgHdr m = TRY(UserPtr<MsgHdr>(umsg).read());
    if (int32_t(m.namelen) < 0) return Errno::Inval;
    IoVector iov;
    TRY(iov.read(m.iov, m.iovlen));
    PassedFiles* files = new (std::nothrow) PassedFiles;
    if (!files) return Errno::NoMem;
    ScopeGuard free_files([files] { delete files; });
    SockAddr from;
    int out_flags = 0;
    int64_t n = TRY(do_recv(s, iov, &from, int(flags), files, out_flags));
    uint64_t used = TRY(write_control(*files, m.control, m.controllen, int(flags), out_flags));
    m.controllen = used;
    if (m.name) {
        uint32_t k = m.namelen < from.len ? m.namelen : from.len;
        if (k) TRY(copy_to_user(m.name, from.bytes, k));
    }
    m.namelen = from.len;
    m.flags = out_flags;
    TRY(copy_to_user(umsg + __builtin_offsetof(MsgHdr, namelen), &m.namelen, 4));
    TRY(copy_to_user(umsg + __builtin_offsetof(MsgHdr, controllen), &m.controllen, 8));
    TRY(copy_to_user(umsg + __builtin_offsetof(MsgHdr, flags), &m.flags, 4));
    return n;
}

Result<void> sys_shutdown(uint64_t fd, uint64_t how) {
    Sock s = TRY(socket_of(fd));
    return s.socket->shutdown(int(how));
}

// getsockname/getpeername: the socket's own or its peer's address.
static Result<void> name_of(uint64_t fd, uint64_t uaddr, uint64_t ulen, bool peer) {
    Sock s = TRY(socket_of(fd));
    SockAddr a;
    TRY(peer ? s.socket->getpeername(a) : s.socket->getsockname(a));
    if (!uaddr) return Errno::Fault;
    return write_addr(a, uaddr, ulen);
}

Result<void> sys_getsockname(uint64_t fd, uint64_t uaddr, uint64_t ulen) { return name_of(fd, uaddr, ulen, false); }

Result<void> sys_getpeername(uint64_t fd, uint64_t uaddr, uint64_t ulen) { return name_of(fd, uaddr, ulen, true); }

Result<void> sys_setsockopt(uint64_t fd, uint64_t level, uint64_t name, uint64_t uval, uint64_t len) {
    Sock s = TRY(socket_of(fd));
    if (int32_t(len) < 0) return Errno::Inval;
    uint8_t val[MAX_OPTION] = {};
    uint32_t n = uint32_t(len) < MAX_OPTION ? uint32_t(len) : MAX_OPTION;
    if (n) TRY(copy_from_user(val, uval, n));
    return s.socket->setsockopt(int(level), int(name), val, n);
}

Result<void> sys_getsockopt(uint64_t fd, uint64_t level, uint64_t name, uint64_t uval, uint64_t ulen) {
    Sock s = TRY(socket_of(fd));
    int32_t len = TRY(UserPtr<int32_t>(ulen).read());
    if (len < 0) return Errno::Inval;
    uint8_t val[MAX_OPTION] = {};
    uint32_t cap = uint32_t(len) < MAX_OPTION ? uint32_t(len) : MAX_OPTION;
    uint32_t n = TRY(s.socket->getsockopt(int(level), int(name), val, cap));
    if (n) TRY(copy_to_user(uval, val, n));
    return UserPtr<int32_t>(ulen).write(int32_t(n));
}

}  // namespace lamina::posix
