// lamina:portable
// Result<T>: errors are values. Shared by the kernel, domains and host tests.
//
// An Error carries a POSIX errno-style code (so the syscall dispatcher can turn it into -errno
// in one place) or a DomainError that only the kernel's proxies may produce.
#pragma once

#include <stdint.h>
#include <new>
#include <type_traits>
#include <utility>

namespace lamina {

// errno values, numerically identical to Linux x86-64. The names drop the leading E of the C
// macros so that they cannot collide with <errno.h> in host builds.
enum class Errno : int32_t {
    None = 0,
    NotSock = 88,
    SockTNoSupport = 94,  // the socket layer's (the others in number order below)
    Perm = 1,
    NoEnt = 2,
    Srch = 3,
    Intr = 4,
    IO = 5,
    NXIO = 6,
    TooBig = 7,
    NoExec = 8,
    BadF = 9,
    Child = 10,
    Again = 11,
    NoMem = 12,
    Acces = 13,
    Fault = 14,
    Busy = 16,
    Exist = 17,
    XDev = 18,
    NoDev = 19,
    NotDir = 20,
    IsDir = 21,
    Inval = 22,
    NFile = 23,
    MFile = 24,
    NotTty = 25,
    FBig = 27,
    NoSpc = 28,
    SPipe = 29,
    ROFS = 30,
    MLink = 31,
    Pipe = 32,
    Dom = 33,
    Range = 34,
    DeadLk = 35,
    NameTooLong = 36,
    NoLck = 37,
    NoSys = 38,
    NotEmpty = 39,
    Loop = 40,
    Overflow = 75,
    DestAddrReq = 89,
    MsgSize = 90,
    ProtoType = 91,
    NoProtoOpt = 92,
    ProtoNoSupport = 93,
    NotSup = 95,
    AfNoSupport = 97,
    AddrInUse = 98,
    AddrNotAvail = 99,
    NetDown = 100,
    NetUnreach = 101,
    ConnAborted = 103,
    ConnReset = 104,
    NoBufs = 105,
    IsConn = 106,
    NotConn = 107,
    TimedOut = 110,
    ConnRefused = 111,
    HostUnreach = 113,
    Already = 114,
    InProgress = 115,
};

// Failures of a cross-domain call. Only proxies construct errors with these (see
// Error::from_domain, which is reserved to the kernel's proxy runtime).
enum class DomainError : int32_t { None = 0, Dead = 1, Faulted = 2, TimedOut = 3, Restarting = 4 };

class [[nodiscard]] Error {
public:
    constexpr Error(Errno e) : errno_(e) {}
    constexpr Errno code() const { return errno_; }
    constexpr DomainError domain_error() const { return domain_; }
    constexpr bool is_domain_error() const { return domain_ != DomainError::None; }
    constexpr bool operator==(const Error& o) const { return errno_ == o.errno_ && domain_ == o.domain_; }
    const char* name() const;

private:
    friend struct DomainErrorFactory;  // the proxy runtime's only way in
    constexpr Error(Errno e, DomainError d) : errno_(e), domain_(d) {}
    Errno errno_;
    DomainError domain_ = DomainError::None;
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(const T& v) : ok_(true) { new (&storage_) T(v); }
    Result(T&& v) : ok_(true) { new (&storage_) T(std::move(v)); }
    Result(Error e) : ok_(false), error_(e) {}
    Result(Errno e) : ok_(false), error_(e) {}
    template <typename U, typename = std::enable_if_t<
                              std::is_convertible_v<U&&, T> && !std::is_same_v<std::decay_t<U>, T> &&
                              !std::is_same_v<std::decay_t<U>, Error> && !std::is_same_v<std::decay_t<U>, Errno>>>
    Result(U&& v) : ok_(true) {
        new (&storage_) T(std::forward<U>(v));
    }
    Result(Result&& o) : ok_(o.ok_), error_(o.error_) {
        if (ok_) new (&storage_) T(std::move(o.value()));
    }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    ~Result() {
        if (ok_) value().~T();
    }

    bool is_ok() const { return ok_; }
    bool is_error() const { return !ok_; }
    Error error() const { return error_; }
    T& value() { return *std::launder(reinterpret_cast<T*>(&storage_)); }
    const T& value() const { return *std::launder(reinterpret_cast<const T*>(&storage_)); }
    T release_value() { return std::move(value()); }

private:
    bool ok_;
    Error error_ = Errno::None;
    alignas(T) unsigned char storage_[sizeof(T)];
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() : error_(Errno::None) {}
    Result(Error e) : error_(e) {}
    Result(Errno e) : error_(e) {}
    bool is_ok() const { return error_.code() == Errno::None && !error_.is_domain_error(); }
    bool is_error() const { return !is_ok(); }
    Error error() const { return error_; }
    void release_value() {}

private:
    Error error_;
};

}  // namespace lamina

// TRY(expr): evaluate a Result; on error return the error from the enclosing function,
// otherwise yield the value (GNU statement expression, as in SerenityOS's AK/Try.h).
#define TRY(expr)                                                             \
    ({                                                                        \
        auto _lamina_try_result = (expr);                                     \
        if (_lamina_try_result.is_error()) return _lamina_try_result.error(); \
        _lamina_try_result.release_value();                                   \
    })
