/* lwIP hooks (LWIP_HOOK_FILENAME in lwipopts.h), defined in domains/net/lwip_port.cpp. */
#ifndef LAMINA_LWIP_HOOKS_H
#define LAMINA_LWIP_HOOKS_H

#include "lwip/ip_addr.h"

#ifdef __cplusplus
extern "C" {
#endif
/* RFC 6528 initial sequence number for a new connection. */
u32_t lamina_net_tcp_isn(const ip_addr_t* local_ip, u16_t local_port, const ip_addr_t* remote_ip, u16_t remote_port);
#ifdef __cplusplus
}
#endif

#endif
