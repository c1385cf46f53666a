// A netstack instance in a host test (see host_instance.cpp): what the loaded copy's entry,
// lamina_net_host_instance, hands back.
#pragma once

#include "domains/net/net_loop.h"
#include "domains/net/platform.h"
#include "interfaces/net.h"
#include "interfaces/nic.h"

namespace lamina::net {

struct HostInstance {
    idl::Net* net;  // the exported interface (the test calls it through a NetProxy)
    NetLoop* loop;  // the loop's side: step(), next_timer_ns()
};

using HostInstanceEntry = bool (*)(NetPlatform& platform, const NetSeed& seed, idl::Nic* const* nics,
                                   unsigned nic_count, idl::NetEvents& events, HostInstance* out);
inline constexpr const char HOST_INSTANCE_ENTRY[] = "lamina_net_host_instance";

}  // namespace lamina::net
