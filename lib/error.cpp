// lamina:portable
#include <lamina/result.h>

namespace lamina {

const char* Error::name() const {
    switch (domain_) {
        case DomainError::Dead:
            return "domain dead";
        case DomainError::Faulted:
            return "domain faulted";
        case DomainError::TimedOut:
            return "domain timed out";
        case DomainError::Restarting:
            return "domain restarting";
        case DomainError::None:
            break;
    }
    switch (errno_) {
        case Errno::None:
            return "no error";
        case Errno::Perm:
            return "EPERM";
        case Errno::NoEnt:
            return "ENOENT";
        case Errno::Srch:
            return "ESRCH";
        case Errno::Intr:
            return "EINTR";
        case Errno::IO:
            return "EIO";
        case Errno::NXIO:
            return "ENXIO";
        case Errno::TooBig:
            return "E2BIG";
        case Errno::NoExec:
            return "ENOEXEC";
        case Errno::BadF:
            return "EBADF";
        case Errno::Child:
            return "ECHILD";
        case Errno::Again:
            return "EAGAIN";
        case Errno::NoMem:
            return "ENOMEM";
        case Errno::Acces:
            return "EACCES";
        case Errno::Fault:
            return "EFAULT";
        case Errno::Busy:
            return "EBUSY";
        case Errno::Exist:
            return "EEXIST";
        case Errno::XDev:
            return "EXDEV";
        case Errno::NoDev:
            return "ENODEV";
        case Errno::NotDir:
            return "ENOTDIR";
        case Errno::IsDir:
            return "EISDIR";
        case Errno::Inval:
            return "EINVAL";
        case Errno::NFile:
            return "ENFILE";
        case Errno::MFile:
            return "EMFILE";
        case Errno::NotTty:
            return "ENOTTY";
        case Errno::FBig:
            return "EFBIG";
        case Errno::NoSpc:
            return "ENOSPC";
        case Errno::SPipe:
            return "ESPIPE";
        case Errno::ROFS:
            return "EROFS";
        case Errno::MLink:
            return "EMLINK";
        case Errno::Pipe:
            return "EPIPE";
        case Errno::Dom:
            return "EDOM";
        case Errno::Range:
            return "ERANGE";
        case Errno::DeadLk:
            return "EDEADLK";
        case Errno::NoLck:
            return "ENOLCK";
        case Errno::NameTooLong:
            return "ENAMETOOLONG";
        case Errno::NoSys:
            return "ENOSYS";
        case Errno::NotEmpty:
            return "ENOTEMPTY";
        case Errno::Loop:
            return "ELOOP";
        case Errno::Overflow:
            return "EOVERFLOW";
        case Errno::NotSock:
            return "ENOTSOCK";
        case Errno::DestAddrReq:
            return "EDESTADDRREQ";
        case Errno::MsgSize:
            return "EMSGSIZE";
        case Errno::ProtoType:
            return "EPROTOTYPE";
        case Errno::NoProtoOpt:
            return "ENOPROTOOPT";
        case Errno::ProtoNoSupport:
            return "EPROTONOSUPPORT";
        case Errno::SockTNoSupport:
            return "ESOCKTNOSUPPORT";
        case Errno::NotSup:
            return "ENOTSUP";
        case Errno::AfNoSupport:
            return "EAFNOSUPPORT";
        case Errno::AddrInUse:
            return "EADDRINUSE";
        case Errno::AddrNotAvail:
            return "EADDRNOTAVAIL";
        case Errno::NetDown:
            return "ENETDOWN";
        case Errno::NetUnreach:
            return "ENETUNREACH";
        case Errno::ConnAborted:
            return "ECONNABORTED";
        case Errno::ConnReset:
            return "ECONNRESET";
        case Errno::NoBufs:
            return "ENOBUFS";
        case Errno::IsConn:
            return "EISCONN";
        case Errno::NotConn:
            return "ENOTCONN";
        case Errno::TimedOut:
            return "ETIMEDOUT";
        case Errno::ConnRefused:
            return "ECONNREFUSED";
        case Errno::HostUnreach:
            return "EHOSTUNREACH";
        case Errno::Already:
            return "EALREADY";
        case Errno::InProgress:
            return "EINPROGRESS";
    }
    return "unknown error";
}

}  // namespace lamina
