// AF_UNIX: stream, datagram and seqpacket sockets inside the kernel (net/unix in Linux is the
// reference for every errno and readiness bit). Registered with the socket layer at POSIX
// init. docs/sockets.md describes the objects and the locking.
#pragma once

namespace lamina::posix::net {

void init_unix_sockets();

}  // namespace lamina::posix::net
