// AF_INET: TCP, UDP and raw ICMP sockets over the netstack domain (kernel/net/net_service.h,
// interfaces/net.idl). Registered with the socket layer at POSIX init; socket(AF_INET, ...)
// answers EAFNOSUPPORT while the net service does not run. docs/sockets.md describes how
// they block, poll and survive a restart of the stack.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

namespace lamina::posix {
class ProcText;
}

namespace lamina::posix::net {

void init_inet_sockets();

// /proc/net/route (the routes the interfaces' configuration makes), /proc/net/tcp and
// /proc/net/udp (the AF_INET sockets of the socket layer), in Linux's layouts, which busybox
// route and netstat parse.
void format_proc_route(ProcText& out);
void format_proc_sockets(ProcText& out, bool tcp);
// /proc/net/tcp6 and udp6: their header only (no AF_INET6 yet), so netstat finds them.
void format_proc_sockets6(ProcText& out, bool tcp);

}  // namespace lamina::posix::net
