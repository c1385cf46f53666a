// The NIC service: the network driver domain (package "virtio_net", domains/virtio_net, or
// "ixgbe", domains/ixgbe: the first whose device the machine has) behind
// a shadow, as the network interface the rest of the system uses.
//
// What it provides (kernel/domain/interfaces.h): the interface "nic" (interfaces/nic.idl) for
// domains whose manifest imports it (the netstack). The object is an idl::NicShadow in front
// of an idl::NicProxy into the driver: when the driver faults (a panic, a CPU exception, an
// injected fault) the shadow restarts it through a domain::Recovery and replays the call that
// was in flight (every Nic method is [retry]; entries of a transfer the dead instance had
// already taken are lost with it, like frames on the wire).
//
// Recovery: the teardown of the failed instance turns bus mastering off before its buffers are
// reclaimed; the fresh instance runs its entry again (takes the device over, resets it, fills
// its receive ring with buffers of its own); replay checks it drives the same card (MAC); then
// the proxy is rebound and the failed instance torn down.
//
// Lifetime: started at boot when the image carries the package and the machine has the device
// (not under ktest/kbench, where the tests start and stop it themselves). The shadow keeps its
// address across driver restarts; stop() withdraws "nic" first.
#pragma once

#include <lamina/result.h>

#include "interfaces/nic.h"
#include "kernel/domain/recovery.h"
#include "kernel/domain/supervised.h"

namespace lamina::domain {
template <>
struct Binding<idl::Nic> {
    using Proxy = idl::NicProxy;
    using Shadow = idl::NicShadow;
    static constexpr const char* EXPORT = "nic";
    static constexpr const TypeInfo* const* TYPES[] = {idl::nic_types};
};
}  // namespace lamina::domain

namespace lamina::net {

// Creates and starts the driver domain and provides "nic". NoEnt when there is no package or
// no device, Exist when already running, what the domain's start returned otherwise.
Result<void> start_nic_service();
// Withdraws "nic" and destroys the driver domain. No importer may still be calling it.
void stop_nic_service();
bool nic_service_running();

// The shadow (what importers get), or nullptr when not running.
idl::Nic* nic_device();
// The card's counters since the service started (/proc/net/dev): the serving instance's plus
// what the instances before it had counted when last read (each instance counts from zero; what
// a crashed one counted after the last read is lost with it). NoDev when not running.
Result<idl::NicCounters> nic_counters();
domain::Domain* nic_instance();
domain::Recovery* nic_recovery();

}  // namespace lamina::net
