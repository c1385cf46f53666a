// The stack's interfaces and loop step (see stack.h).
#include "domains/net/stack.h"

#include <string.h>

extern "C" {
#include "lwip/dhcp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
}

namespace lamina::net {
namespace {

// Linux's IFF_* values, as SIOCGIFFLAGS reports them.
constexpr uint32_t IFF_UP = 0x1, IFF_BROADCAST = 0x2, IFF_LOOPBACK = 0x8, IFF_RUNNING = 0x40;

ip4_addr_t to_lwip(const uint8_t ip[4]) {
    ip4_addr_t a;
    IP4_ADDR(&a, ip[0], ip[1], ip[2], ip[3]);
    return a;
}

void from_lwip(const ip4_addr_t* a, uint8_t out[4]) {
    uint32_t v = ip4_addr_get_u32(a);  // network order in memory
    memcpy(out, &v, 4);
}

}  // namespace

Result<void> Stack::start(NetPlatform& platform, const NetSeed& seed) {
    if (started_) return Errno::Busy;
    port::install(platform, seed);
    lwip_init();
    started_ = true;
    return {};
}

Result<uint32_t> Stack::add_nic(idl::Nic& nic) {
    if (nic_count_ == MAX_NICS) return Errno::NoSpc;
    TRY(nics_[nic_count_].attach(nic, static_cast<uint8_t>(nic_count_)));
    nic_count_++;
    return LOOPBACK_INDEX + nic_count_;
}

struct netif* Stack::lwip_netif(uint32_t index) {
    if (index == LOOPBACK_INDEX) {
        struct netif* n;
        NETIF_FOREACH(n) {
            if (n->name[0] == 'l' && n->name[1] == 'o') return n;
        }
        return nullptr;
    }
    if (index < LOOPBACK_INDEX + 1 || index > LOOPBACK_INDEX + nic_count_) return nullptr;
    return &nics_[index - LOOPBACK_INDEX - 1].lwip();
}

Result<void> Stack::configure(uint32_t index, const idl::NetIfConfig& config) {
    struct netif* n = lwip_netif(index);
    if (n == nullptr) return Errno::NoDev;
    if (index == LOOPBACK_INDEX) {
        // lo keeps 127.0.0.1/8; only up/down changes.
        if (config.up)
            netif_set_up(n);
        else
            netif_set_down(n);
        return {};
    }
    uint32_t nic = index - LOOPBACK_INDEX - 1;
    if (dhcp_[nic]) {
        dhcp_release_and_stop(n);
        dhcp_[nic] = false;
    }
    if (config.dhcp) {
        netif_set_addr(n, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4);
    } else {
        ip4_addr_t addr = to_lwip(config.addr), mask = to_lwip(config.netmask), gw = to_lwip(config.gateway);
        if (!ip4_addr_isany_val(addr) && !ip4_addr_netmask_valid(ip4_addr_get_u32(&mask))) return Errno::Inval;
        netif_set_addr(n, &addr, &mask, &gw);
    }
    if (!config.up) {
        netif_set_down(n);
        return {};
    }
    netif_set_up(n);
    if (config.dhcp || !ip4_addr_isany_val(*netif_ip4_gw(n))) netif_set_default(n);
    if (config.dhcp) {
        if (dhcp_start(n) != ERR_OK) return Errno::NoMem;
        dhcp_[nic] = true;
    }
    return {};
}

Result<idl::NetIfStatus> Stack::status(uint32_t index) {
    struct netif* n = lwip_netif(index);
    if (n == nullptr) return Errno::NoDev;
    idl::NetIfStatus s{};
    s.index = index;
    s.mtu = n->mtu;
    from_lwip(netif_ip4_addr(n), s.addr);
    from_lwip(netif_ip4_netmask(n), s.netmask);
    from_lwip(netif_ip4_gw(n), s.gateway);
    if (netif_is_up(n)) s.flags |= IFF_UP;
    if (netif_is_up(n) && netif_is_link_up(n)) s.flags |= IFF_RUNNING;
    if (index == LOOPBACK_INDEX) {
        memcpy(s.name, "lo", 2);
        s.flags |= IFF_LOOPBACK;
        s.mtu = 65536;  // what Linux reports for lo (lwIP's own lo has no real limit)
        return s;
    }
    uint32_t nic = index - LOOPBACK_INDEX - 1;
    const NicInterface& i = nics_[nic];
    s.name[0] = 'e';
    s.name[1] = 't';
    s.name[2] = 'h';
    s.name[3] = static_cast<uint8_t>('0' + nic);
    memcpy(s.mac, i.info().mac, 6);
    s.flags |= IFF_BROADCAST;
    s.dhcp = dhcp_[nic];
    s.dhcp_bound = dhcp_[nic] && dhcp_supplied_address(n);
    const NicCounters& c = i.counters();
    s.rx_frames = c.rx_frames;
    s.rx_bytes = c.rx_bytes;
    s.tx_frames = c.tx_frames;
    s.tx_bytes = c.tx_bytes;
    s.rx_dropped = c.rx_dropped;
    s.tx_dropped = c.tx_dropped;
    s.rx_copied = c.rx_copied;
    return s;
}

void Stack::step() {
    for (uint32_t i = 0; i < nic_count_; i++) {
        // Bounded: a flood must not keep the loop from its timers and the kernel's requests.
        for (int round = 0; round < 8; round++) {
            auto more = nics_[i].exchange();
            nics_[i].input();
            if (more.is_error() || !more.value()) break;
        }
        nics_[i].update_link();
    }
    netif_poll_all();
    sys_check_timeouts();
    flush();
}

void Stack::flush() {
    // Loopback frames are delivered here too: a send on lo reaches the receiving socket within
    // the same request, as it would on Linux.
    netif_poll_all();
    for (uint32_t i = 0; i < nic_count_; i++)
        if (nics_[i].has_output()) (void)nics_[i].exchange();
}

uint64_t Stack::next_timer_ns() {
    for (uint32_t i = 0; i < nic_count_; i++)
        if (nics_[i].has_input()) return 0;
    u32_t ms = sys_timeouts_sleeptime();
    return ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? UINT64_MAX : uint64_t{ms} * 1000000;
}

}  // namespace lamina::net
