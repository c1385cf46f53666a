// The Linux x86-64 user ABI of AF_INET sockets and the network ioctls: structures as programs
// pass them (sizes static_asserted against glibc/musl's), and the constants' values.
// References: ip(7), tcp(7), netdevice(7), route(8)'s SIOCADDRT (struct rtentry in
// <net/route.h>), Linux include/uapi/linux/{in.h,tcp.h,sockios.h,if.h,route.h}.
#pragma once

#include <stdint.h>

namespace lamina::posix::net::inet {

// Protocol numbers (IANA; <netinet/in.h>), also the setsockopt levels IPPROTO_IP/TCP.
inline constexpr int PROTO_IP = 0, PROTO_ICMP = 1, PROTO_TCP = 6, PROTO_UDP = 17;
// IPPROTO_IP options (ip(7)).
inline constexpr int IP_TOS = 1, IP_TTL = 2;
// IPPROTO_TCP options (tcp(7)).
inline constexpr int TCP_NODELAY = 1, TCP_MAXSEG = 2, TCP_CORK = 3, TCP_KEEPIDLE = 4, TCP_KEEPINTVL = 5,
                     TCP_KEEPCNT = 6;

// struct sockaddr_in (ip(7)): port and address in network byte order.
struct SockaddrIn {
    uint16_t family;
    uint8_t port[2];
    uint8_t addr[4];
    uint8_t zero[8];
};
static_assert(sizeof(SockaddrIn) == 16);

// netdevice(7) ioctls (include/uapi/linux/sockios.h).
inline constexpr uint32_t SIOCADDRT = 0x890B, SIOCDELRT = 0x890C, SIOCGIFCONF = 0x8912, SIOCGIFFLAGS = 0x8913,
                          SIOCSIFFLAGS = 0x8914, SIOCGIFADDR = 0x8915, SIOCSIFADDR = 0x8916, SIOCGIFBRDADDR = 0x8919,
                          SIOCGIFNETMASK = 0x891B, SIOCSIFNETMASK = 0x891C, SIOCGIFMETRIC = 0x891D, SIOCGIFMTU = 0x8921,
                          SIOCGIFHWADDR = 0x8927, SIOCGIFINDEX = 0x8933, SIOCGIFTXQLEN = 0x8942, SIOCGIFNAME = 0x8910;
inline constexpr uint32_t IFNAMSIZ = 16;
inline constexpr uint16_t ARPHRD_ETHER = 1, ARPHRD_LOOPBACK = 772;
inline constexpr uint32_t IFF_UP = 1, IFF_BROADCAST = 2, IFF_LOOPBACK = 8, IFF_RUNNING = 0x40, IFF_MULTICAST = 0x1000;

// struct ifreq: a name, then a union whose largest member (struct ifmap) makes it 40 bytes.
struct Ifreq {
    char name[IFNAMSIZ];
    union {
        SockaddrIn addr;  // ifr_addr, ifr_netmask, ifr_broadaddr (as sockaddr_in)
        struct {
            uint16_t family;  // ARPHRD_*
            uint8_t data[14];
        } hwaddr;
        int16_t flags;
        int32_t ivalue;  // ifr_ifindex, ifr_mtu, ifr_metric, ifr_qlen
        uint8_t pad[24];
    };
};
static_assert(sizeof(Ifreq) == 40);

// struct ifconf (SIOCGIFCONF): a buffer of ifreqs; with a null buffer, the length needed.
struct Ifconf {
    int32_t len;
    int32_t pad;
    uint64_t buf;
};
static_assert(sizeof(Ifconf) == 16);

// struct rtentry (<net/route.h>), SIOCADDRT/SIOCDELRT's argument.
struct Rtentry {
    uint64_t pad1;
    SockaddrIn dst;
    SockaddrIn gateway;
    SockaddrIn genmask;
    uint16_t flags;
    int16_t pad2;
    uint64_t pad3;
    uint64_t tos_class;  // rt_tos, rt_class, padding
    int16_t metric;
    int16_t pad4[3];
    uint64_t dev;  // char*: the interface's name, or null
    uint64_t mtu;
    uint64_t window;
    uint16_t irtt;
    uint16_t pad5[3];
};
static_assert(sizeof(Rtentry) == 120);
inline constexpr uint16_t RTF_UP = 1, RTF_GATEWAY = 2, RTF_HOST = 4;

}  // namespace lamina::posix::net::inet
