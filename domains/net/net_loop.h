// The loop's side of the netstack service: what the domain's own thread (or a host test)
// drives, next to the Net interface the kernel calls.
#pragma once

#include <stdint.h>

namespace lamina::net {

class NetLoop {
public:
    // Receive batches in, loopback, due timers, transmit batches out, readiness published.
    virtual void step() = 0;
    // How long the loop may sleep (in the NIC's wait) before the next step is due.
    virtual uint64_t next_timer_ns() = 0;

protected:
    ~NetLoop() = default;
};

}  // namespace lamina::net
