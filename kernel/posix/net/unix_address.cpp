// lamina:portable
#include "kernel/posix/net/unix_address.h"

namespace lamina::posix::net {

namespace {
constexpr uint16_t AF_UNIX = 1;
}

Result<UnixAddress> parse_unix_address(const uint8_t* bytes, uint32_t len) {
    if (len < SUN_PATH_OFFSET || len > SOCKADDR_UN_SIZE) return Errno::Inval;
    if (uint16_t(bytes[0] | bytes[1] << 8) != AF_UNIX) return Errno::Inval;
    UnixAddress a;
    uint32_t n = len - SUN_PATH_OFFSET;
    const uint8_t* path = bytes + SUN_PATH_OFFSET;
    if (n == 0) return a;
    if (path[0] == 0) {
        a.kind = UnixAddress::Abstract;
        a.len = n - 1;
        __builtin_memcpy(a.name, path + 1, a.len);
        return a;
    }
    a.kind = UnixAddress::Path;
    while (a.len < n && path[a.len]) a.len++;
    __builtin_memcpy(a.name, path, a.len);
    a.name[a.len] = 0;
    return a;
}

uint32_t format_unix_address(const UnixAddress& a, uint8_t* out) {
    out[0] = uint8_t(AF_UNIX);
    out[1] = 0;
    switch (a.kind) {
        case UnixAddress::Unnamed:
            return SUN_PATH_OFFSET;
        case UnixAddress::Path:
            __builtin_memcpy(out + SUN_PATH_OFFSET, a.name, a.len);
            // A 108-character path has no room for the NUL: Linux reports it without one.
            if (a.len < SUN_PATH_MAX) {
                out[SUN_PATH_OFFSET + a.len] = 0;
                return SUN_PATH_OFFSET + a.len + 1;
            }
            return SUN_PATH_OFFSET + a.len;
        case UnixAddress::Abstract:
            out[SUN_PATH_OFFSET] = 0;
            __builtin_memcpy(out + SUN_PATH_OFFSET + 1, a.name, a.len);
            return SUN_PATH_OFFSET + 1 + a.len;
    }
    return SUN_PATH_OFFSET;
}

}  // namespace lamina::posix::net
