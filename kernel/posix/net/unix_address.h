// lamina:portable
// struct sockaddr_un as Linux reads and writes it (net/unix/af_unix.c: unix_validate_addr,
// unix_mkname_bsd): a path on the file system (NUL-terminated within the given length, or at
// it), an abstract name (sun_path[0] == 0: every byte up to the length counts, NULs included),
// or nothing (just sun_family: bind's request for an automatic abstract name).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::posix::net {

inline constexpr uint32_t SUN_PATH_OFFSET = 2;
inline constexpr uint32_t SUN_PATH_MAX = 108;
inline constexpr uint32_t SOCKADDR_UN_SIZE = SUN_PATH_OFFSET + SUN_PATH_MAX;

struct UnixAddress {
    enum Kind : uint8_t { Unnamed, Path, Abstract };
    Kind kind = Unnamed;
    // Path: the characters without the NUL. Abstract: the name after the leading NUL.
    uint32_t len = 0;
    char name[SUN_PATH_MAX + 1] = {};

    bool same_abstract(const UnixAddress& o) const {
        return kind == Abstract && o.kind == Abstract && len == o.len && __builtin_memcmp(name, o.name, len) == 0;
    }
};

// EINVAL for a length outside [2, 110] or a family other than AF_UNIX; a length of exactly 2
// is Unnamed (bind autobinds, connect refuses it: the caller decides).
Result<UnixAddress> parse_unix_address(const uint8_t* bytes, uint32_t len);

// The sockaddr_un getsockname/getpeername/recvfrom report (out holds SOCKADDR_UN_SIZE bytes);
// returns its length: 2 unnamed, 2 + len + 1 for a path (with its NUL), 2 + 1 + len abstract.
uint32_t format_unix_address(const UnixAddress& a, uint8_t* out);

}  // namespace lamina::posix::net
