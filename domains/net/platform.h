// What the netstack core needs from wherever it runs (the net domain over its capabilities,
// the host tests over the host): a monotonic clock, a log, a way to fail, and a random seed.
//
// lwIP keeps its whole state in globals, so one address space holds one stack: the core
// installs its platform once (lwip_port.cpp), and a restart is a fresh domain instance (a fresh
// copy of those globals), never a second stack beside the first.
#pragma once

#include <stdint.h>

namespace lamina::net {

class NetPlatform {
public:
    virtual uint64_t now_ns() = 0;
    virtual void log(const char* line) = 0;
    // An invariant inside the stack broke: the instance must not go on.
    [[noreturn]] virtual void fatal(const char* line) = 0;

protected:
    ~NetPlatform() = default;
};

// 256 bits from the kernel's (or the host's) random source, different for every instance:
// they seed lwIP's random numbers (first ephemeral ports, DHCP transaction ids) and key the
// initial-sequence-number hash.
struct NetSeed {
    uint64_t words[4];
};

namespace port {
// Makes the platform the one lwIP's port functions use, and seeds them. Before lwip_init().
void install(NetPlatform& platform, const NetSeed& seed);
NetPlatform& platform();
uint32_t now_ms();
}  // namespace port

}  // namespace lamina::net
