#ifndef LAMINA_DOMAIN  // the domain has its own entry (domains/net/domain/net_domain.cpp)
// The entry of a netstack instance loaded into a host test: the core and lwIP are linked into
// a shared object that each test instance loads as its own copy (lwIP's state is global, so a
// copy per instance is what a domain instance is on Lamina: a fresh one after a "crash" starts
// from pristine globals). The one exported symbol builds the service in this copy's storage.
#include <new>

#include "domains/net/host_instance.h"
#include "domains/net/service.h"

namespace {
alignas(lamina::net::NetService) unsigned char g_storage[sizeof(lamina::net::NetService)];
}

// Starts lwIP, adds the NICs (eth0, eth1, ...) and returns the service; nullptr if a step fails
// (the reason is logged through the platform).
extern "C" __attribute__((visibility("default"))) bool lamina_net_host_instance(
    lamina::net::NetPlatform& platform, const lamina::net::NetSeed& seed, lamina::idl::Nic* const* nics,
    unsigned nic_count, lamina::idl::NetEvents& events, lamina::net::HostInstance* out) {
    auto* service = new (g_storage) lamina::net::NetService(events);
    if (service->start(platform, seed).is_error()) return false;
    for (unsigned i = 0; i < nic_count; i++) {
        if (service->stack().add_nic(*nics[i]).is_error()) {
            platform.log("net: a NIC could not be attached");
            return false;
        }
    }
    *out = {service, service};
    return true;
}
#endif
