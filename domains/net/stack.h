// The stack: lwIP started once per instance, its interfaces (lo, then one per imported NIC),
// their configuration (static or DHCP), and the event loop's step.
//
// A step, in order: receive batches from every NIC into lwIP; frames queued on the loopback
// interface; lwIP's due timers (TCP retransmission and delayed ACKs, ARP, DHCP, reassembly);
// then everything lwIP queued for sending goes out, one batch per NIC. The caller (the domain's
// loop, or a host test) sleeps until the NIC's wait() reports work or next_timer_ns() passes.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "domains/net/nic_netif.h"
#include "domains/net/platform.h"
#include "interfaces/net.h"
#include "interfaces/nic.h"

namespace lamina::net {

class Stack {
public:
    static constexpr uint32_t MAX_NICS = 4;
    static constexpr uint32_t LOOPBACK_INDEX = 1;

    Stack() = default;
    Stack(const Stack&) = delete;

    // Installs the platform and starts lwIP (lo is up with 127.0.0.1/8). Once per instance.
    Result<void> start(NetPlatform& platform, const NetSeed& seed);
    // A NIC becomes the next interface (index 2, 3, ...; named eth0, eth1, ...), down until
    // configured.
    Result<uint32_t> add_nic(idl::Nic& nic);

    Result<void> configure(uint32_t index, const idl::NetIfConfig& config);
    Result<idl::NetIfStatus> status(uint32_t index);

    void step();
    // Sends what lwIP has queued (also called after each socket request, so a send does not
    // wait for the next step).
    void flush();
    // Nanoseconds until lwIP's next timer is due (the loop's sleep bound).
    uint64_t next_timer_ns();

private:
    struct netif* lwip_netif(uint32_t index);

    NicInterface nics_[MAX_NICS];
    uint32_t nic_count_ = 0;
    bool dhcp_[MAX_NICS] = {};
    bool started_ = false;
};

}  // namespace lamina::net
