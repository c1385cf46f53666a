// AF_INET: TCP, UDP and raw ICMP sockets over the netstack domain (kernel/net/net_service.h,
// interfaces/net.idl). Registered with the socket layer at POSIX init; socket(AF_INET, ...)
// answers EAFNOSUPPORT while the net service does not run. docs/sockets.md describes how
// they block, poll and survive a restart of the stack.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

namespace lamina::posix::net {

void init_inet_sockets();

}  // namespace lamina::posix::net
