// lwIP's port functions for NO_SYS=1 (sys_now, diagnostics, assertions, random numbers, the
// initial-sequence-number hook), over the instance's NetPlatform.
#include <stdarg.h>

#include "domains/net/platform.h"
#include <lamina/format.h>

extern "C" {
#include "lwip/ip_addr.h"
#include "lwip/sys.h"
#include "lwip_hooks.h"
}

namespace lamina::net::port {
namespace {

NetPlatform* g_platform = nullptr;
uint64_t g_rng[4];      // xoshiro256** state
uint64_t g_isn_key[2];  // SipHash key for sequence numbers

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// SplitMix64: spreads a seed word over a whole state word (xoshiro must not start all-zero).
uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t next_random() {
    uint64_t result = rotl(g_rng[1] * 5, 7) * 9;
    uint64_t t = g_rng[1] << 17;
    g_rng[2] ^= g_rng[0];
    g_rng[3] ^= g_rng[1];
    g_rng[1] ^= g_rng[2];
    g_rng[0] ^= g_rng[3];
    g_rng[2] ^= t;
    g_rng[3] = rotl(g_rng[3], 45);
    return result;
}

// SipHash-2-4 of two 64-bit words (RFC 6528 asks for a keyed pseudo-random function of the
// connection's addresses and ports; SipHash is a PRF made for short inputs).
uint64_t siphash(const uint64_t key[2], uint64_t m0, uint64_t m1) {
    uint64_t v0 = key[0] ^ 0x736f6d6570736575ull, v1 = key[1] ^ 0x646f72616e646f6dull;
    uint64_t v2 = key[0] ^ 0x6c7967656e657261ull, v3 = key[1] ^ 0x7465646279746573ull;
    auto round = [&] {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    };
    const uint64_t words[3] = {m0, m1, uint64_t{16} << 56};  // the last block carries the length
    for (uint64_t m : words) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++) round();
    return v0 ^ v1 ^ v2 ^ v3;
}

}  // namespace

void install(NetPlatform& platform, const NetSeed& seed) {
    g_platform = &platform;
    uint64_t x = seed.words[0] ^ rotl(seed.words[1], 17);
    for (uint64_t& w : g_rng) w = splitmix(x);
    uint64_t y = seed.words[2] ^ rotl(seed.words[3], 29);
    g_isn_key[0] = splitmix(y);
    g_isn_key[1] = splitmix(y);
}

NetPlatform& platform() { return *g_platform; }

uint32_t now_ms() { return static_cast<uint32_t>(g_platform->now_ns() / 1000000); }

}  // namespace lamina::net::port

using namespace lamina::net;

extern "C" u32_t sys_now(void) { return port::now_ms(); }

extern "C" void lamina_net_diag(const char* fmt, ...) {
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    lamina::vsnformat(line, sizeof line, fmt, ap);
    va_end(ap);
    port::platform().log(line);
}

extern "C" void lamina_net_assert(const char* message, const char* file, int line) {
    char text[256];
    lamina::snformat(text, sizeof text, "lwIP assertion failed: %s at %s:%d", message, file, line);
    port::platform().fatal(text);
    __builtin_unreachable();  // fatal is [[noreturn]], which GCC does not trust through a virtual call
}

extern "C" uint32_t lamina_net_random(void) { return static_cast<uint32_t>(port::next_random() >> 32); }

// RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4-microsecond
// timer. The key is fresh in every instance, so a restarted stack starts its connections at
// unrelated sequence numbers (segments of the dead instance's connections fall outside them).
extern "C" u32_t lamina_net_tcp_isn(const ip_addr_t* local_ip, u16_t local_port, const ip_addr_t* remote_ip,
                                    u16_t remote_port) {
    uint64_t m0 = (uint64_t{ip_addr_get_ip4_u32(local_ip)} << 32) | ip_addr_get_ip4_u32(remote_ip);
    uint64_t m1 = (uint64_t{local_port} << 16) | remote_port;
    uint64_t f = port::siphash(port::g_isn_key, m0, m1);
    uint64_t m = port::platform().now_ns() / 4000;
    return static_cast<u32_t>(f + m);
}
