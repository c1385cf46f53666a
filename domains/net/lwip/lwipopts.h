/* lwIP's configuration for Lamina's net domain (lwIP 2.1.3, src/include/lwip/opt.h lists every
 * option and its default). One stack per domain instance, driven by the domain's own event loop:
 * NO_SYS=1 and the raw API only; the BSD socket layer is the kernel's (interfaces/net.idl).
 *
 * Sizes are for throughput on a 1500-byte MTU (virtio-net in QEMU, ixgbe at 10 Gb/s) with a few
 * hundred connections. The arithmetic behind each is next to it. Memory: the static pools come
 * to about 12 MiB of the domain's private heap (its .bss), most of it the send-side heap. */
#ifndef LAMINA_LWIPOPTS_H
#define LAMINA_LWIPOPTS_H

/* ---- system ------------------------------------------------------------------------------ */
#define NO_SYS 1               /* no threads in the stack: the domain's loop calls it */
#define LWIP_TIMERS 1          /* sys_check_timeouts() from the loop */
#define SYS_LIGHTWEIGHT_PROT 0 /* every entry is serialized by the caller */
#define LWIP_SOCKET 0          /* the kernel has the socket layer */
#define LWIP_NETCONN 0
#define LWIP_NETIF_API 0
#define LWIP_IPV6 0  /* AF_INET6 is EAFNOSUPPORT for now (issue 13) */
#define LWIP_STATS 0 /* the interfaces count for themselves */
#define LWIP_PROVIDE_ERRNO 0

/* ---- memory -------------------------------------------------------------------------------- */
#define MEM_LIBC_MALLOC                                      \
    0 /* lwIP's own heap: a static array, so a dead instance \
         leaves nothing behind in another allocator */
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT 8
/* The heap holds PBUF_RAM pbufs: TCP segments waiting for acknowledgement (copied in by
 * tcp_write), UDP/raw datagrams being sent and frames queued on the loopback interface. 64
 * connections with full 256 KiB send buffers would need 16 MiB; 8 MiB lets 32 of them stream at
 * once, and a full heap only makes tcp_write report "try later" (EAGAIN to the socket). */
#define MEM_SIZE (8 * 1024 * 1024)
/* Received frames normally arrive as custom pbufs over the NIC's own buffers (zero copy:
 * domains/net/nic_netif.cpp). The pool backs the copy fallback, used when the NIC's buffers run
 * short, so it is twice a 256-descriptor receive ring; a buffer holds a full frame and its
 * headroom. */
#define PBUF_POOL_SIZE 512
#define PBUF_POOL_BUFSIZE 1600
/* Custom pbufs (the zero-copy receive wrappers) live beside the NIC buffers they wrap, not in
 * a pool. MEMP_NUM_PBUF counts PBUF_REF/ROM headers: IP fragmentation and reassembly. */
#define MEMP_NUM_PBUF 128
#define LWIP_SUPPORT_CUSTOM_PBUF 1

/* ---- interfaces and link layer -------------------------------------------------------------- */
#define LWIP_ETHERNET 1
#define LWIP_ARP 1
#define ARP_TABLE_SIZE 64 /* the gateway plus the hosts of a small LAN */
#define ARP_QUEUEING 1    /* frames wait for the ARP reply instead of being dropped */
#define MEMP_NUM_ARP_QUEUE 64
#define ETHARP_SUPPORT_STATIC_ENTRIES 1
#define ETH_PAD_SIZE 0
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_NETIF_HOSTNAME 1        /* "lamina", sent in DHCP requests */
#define LWIP_NETIF_LOOPBACK 1        /* frames to an interface's own address loop back */
#define LWIP_HAVE_LOOPIF 1           /* lo, 127.0.0.1 */
#define LWIP_LOOPBACK_MAX_PBUFS 1024 /* a full 256 KiB window in flight on lo, and then some */
#define LWIP_NETIF_TX_SINGLE_PBUF 0

/* ---- IPv4 ---------------------------------------------------------------------------------- */
#define LWIP_IPV4 1
#define IP_FORWARD 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_REASS_MAX_PBUFS 64 /* a 64 KiB datagram in 1500-byte fragments is 45 */
#define MEMP_NUM_REASSDATA 8
#define IP_DEFAULT_TTL 64 /* Linux's default */
#define LWIP_ICMP 1       /* echo replies */
#define LWIP_RAW 1        /* raw ICMP sockets (ping) */
#define MEMP_NUM_RAW_PCB 16
#define LWIP_DHCP 1           /* QEMU's user network hands out 10.0.2.15 */
#define DHCP_DOES_ARP_CHECK 0 /* the address is usable as soon as it is bound */
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0 /* name resolution is musl's, over UDP sockets */
#define LWIP_BROADCAST_PING 0
#define IP_SOF_BROADCAST 1 /* sending to a broadcast address needs SO_BROADCAST */
#define IP_SOF_BROADCAST_RECV                                 \
    0 /* receiving does not: Linux delivers broadcasts to any \
         socket bound to the port */

/* ---- UDP ----------------------------------------------------------------------------------- */
#define LWIP_UDP 1
#define MEMP_NUM_UDP_PCB 128 /* DHCP's own plus the kernel's datagram sockets */

/* ---- TCP ----------------------------------------------------------------------------------- */
#define LWIP_TCP 1
#define TCP_MSS 1460 /* 1500 - 20 (IP) - 20 (TCP) */
/* Window scaling (RFC 7323): a 16-bit window caps a connection at 64 KiB per round trip. With
 * a shift of 3 the window may reach 512 KiB; 256 KiB keeps a 10 Gb/s link busy at 200 us of
 * round trip, and a loopback or QEMU connection is never window-bound at that size. */
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 3
#define TCP_WND (256 * 1024)
/* Send buffer: as large as the window, so the peer's window can be filled before the first
 * acknowledgement; the queue length is the segments it takes at one MSS each, times two for
 * small writes. */
#define TCP_SND_BUF (256 * 1024)
#define TCP_SND_QUEUELEN (2 * TCP_SND_BUF / TCP_MSS)
#define TCP_SNDLOWAT                                              \
    (32 * 1024) /* writable again with 32 KiB free (lwIP wants it \
                   4 MSS below 64 KiB) */
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 4)
#define MEMP_NUM_TCP_SEG 4096   /* sixteen full send queues */
#define TCP_OVERSIZE TCP_MSS    /* tcp_write fills whole segments, one pbuf each */
#define TCP_QUEUE_OOSEQ 1       /* keep segments that arrive out of order */
#define TCP_OOSEQ_MAX_PBUFS 256 /* per connection: a window's worth of frames */
#define LWIP_TCP_SACK_OUT 1     /* tell the sender what arrived past a hole (RFC 2018) */
#define LWIP_TCP_MAX_SACK_NUM 4
#define LWIP_TCP_KEEPALIVE 1 /* SO_KEEPALIVE, with per-socket idle/interval/count */
#define LWIP_TCP_TIMESTAMPS 0
#define TCP_LISTEN_BACKLOG 1           /* listen(2)'s backlog is honoured */
#define TCP_DEFAULT_LISTEN_BACKLOG 128 /* SOMAXCONN; fits lwIP's u8_t */
/* Hundreds of connections, each of which spends 2 MSL in TIME_WAIT after an active close: a
 * server closing 100 connections per second keeps about 120 of them (lwIP's MSL is 60 s, but it
 * recycles the oldest TIME_WAIT PCB when the pool runs out, as Linux does past tw_buckets). */
#define MEMP_NUM_TCP_PCB 512
#define MEMP_NUM_TCP_PCB_LISTEN 64
#define SO_REUSE 1 /* SO_REUSEADDR: rebind while old connections linger */
#define SO_REUSE_RXTOALL 0
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0
#define LWIP_ALTCP 0
#define TCP_MAXRTX 12
#define TCP_SYNMAXRTX 6

/* Checksums: computed and checked in software; the NIC's offloads are used by the driver
 * interface (NetPacket flags), not by lwIP. */
#define LWIP_CHECKSUM_ON_COPY 1 /* tcp_write folds the checksum into its copy */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_ICMP 1

/* ---- randomness (domains/net/lwip_port.cpp) ------------------------------------------------- */
/* Initial sequence numbers (RFC 6528: a keyed hash of the connection's addresses and ports plus
 * a clock), and random first local ports and DHCP transaction ids, all from a seed the kernel
 * gives each instance: a restarted stack never reuses its predecessor's numbers. */
#define LWIP_RAND() lamina_net_random()
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 1
#define LWIP_HOOK_FILENAME "lwip_hooks.h"
#define LWIP_HOOK_TCP_ISN lamina_net_tcp_isn

/* Debug output stays off: lwIP tests LWIP_DEBUG with #ifdef, so it is not defined at all. */

#endif
