// The net service: the netstack domain (package "net", domains/net) behind a shadow, and the
// kernel's side of its readiness events.
//
// What it provides (kernel/domain/interfaces.h): "net_events", the kernel's idl::NetEvents, which
// the stack calls from inside its entries whenever sockets' states change (it records each
// handle's latest state and wakes every sleeper: never blocks, never calls into Net), and "net",
// the idl::NetShadow in front of an idl::NetProxy into the stack. The socket layer calls the
// shadow and sleeps on readiness_queue() until the state it needs is published.
//
// Recovery (a fault, an injected fault, or `domctl restart net`): the Recovery starts a fresh
// instance (it attaches the NIC and starts its loop in its entry); the replay then, in order,
// (1) starts a new stack generation: the old handles mean nothing any more, the readiness table
//     is emptied and every sleeper woken, so a call blocked on a dead connection returns (the
//     socket layer compares its socket's generation with generation() and fails it with
//     ECONNRESET/EPIPE);
// (2) re-applies each interface's configuration (configure_interface's record; eth0 starts
//     with DHCP on);
// (3) re-creates every socket remembered for replay (the socket layer remembers every socket
//     but a connecting or connected stream): socket, each option, bind to the address bound
//     before, listen with the backlog, a datagram socket's connect; each gets its new handle
//     and the new generation. A server waiting in accept keeps waiting on the replayed
//     listener.
// The shadow's calls are not serialized (the stack has its own lock): replay touches only the
// fresh instance and this service's state, under its own mutex.
//
// Lifetime: started at boot after the NIC service when the image carries the package and the
// NIC service runs (not under ktest, where the tests start and stop it themselves).
#pragma once

#include <lamina/result.h>

#include "interfaces/net.h"
#include "kernel/domain/recovery.h"
#include "kernel/domain/supervised.h"
#include "kernel/sched/wait_queue.h"

namespace lamina::domain {
template <>
struct Binding<idl::Net> {
    using Proxy = idl::NetProxy;
    using Shadow = idl::NetShadow;
    static constexpr const char* EXPORT = "net";
    static constexpr const TypeInfo* const* TYPES[] = {idl::net_types};
};
}  // namespace lamina::domain

namespace lamina::net {

// NetEvent.state bits (interfaces/net.idl).
inline constexpr uint32_t READABLE = 1, WRITABLE = 2, HANGUP = 4, ERROR = 8, CONNECTED = 16, GONE = 32;
// The interface index of eth0 (1 is lo).
inline constexpr uint32_t ETH0 = 2;

// Starts the stack domain over the NIC service's "nic" and provides "net" (eth0 on DHCP).
// NoEnt without the package or without a running NIC service, Exist when running.
Result<void> start_net_service();
// Withdraws "net" and destroys the stack. No socket may still be using it.
void stop_net_service();
bool net_service_running();

// The shadow (what the socket layer calls), or nullptr when not running.
idl::Net* net_stack();
domain::Domain* net_instance();
domain::Recovery* net_recovery();

// Counts stack instances: bumped when a fresh instance takes over (before the replay), so a
// socket made under an older generation is dead unless the replay re-created it.
uint64_t generation();

// The latest state the stack published for handle (0 if none since the handle was made) and
// its pending error; GONE for a handle of an older generation. Consistent when read inside a
// readiness_queue() wait condition (the queue's lock guards the table).
struct SockState {
    uint32_t state;
    int32_t error;
};
SockState socket_state(uint64_t generation, uint32_t handle);
// Where sleepers wait for socket_state() or generation() to change: woken on every batch of
// events and on every restart.
sched::WaitQueue& readiness_queue();
// Called after every batch of events with the handles whose state changed, and with none
// (count 0) when a new generation begins (every handle changed), outside the readiness queue's
// lock but possibly inside the stack's entries (so: record and wake, never block or call Net).
// The socket layer notifies the sockets' poll queues from it. One hook; null removes it.
using ReadinessHook = void (*)(const uint32_t* handles, uint32_t count);
void set_readiness_hook(ReadinessHook hook);

// Replaces an interface's configuration (if_configure) and keeps it for the replay.
Result<void> configure_interface(uint32_t index, const idl::NetIfConfig& config);

// What the replay re-creates of a listening or bound datagram/raw socket. The socket layer fills
// it as the calls succeed and passes it to remember(); handle and generation change under the
// service's lock at each replay (read them through current()).
struct ReplayedSocket {
    static constexpr uint32_t MAX_OPTIONS = 12;
    struct Option {
        idl::SockOpt opt;
        int32_t value;
    };
    idl::SockKind kind;
    uint8_t protocol;
    Option options[MAX_OPTIONS];
    uint32_t option_count;
    bool bound;
    idl::NetAddr addr;  // the address actually bound (an ephemeral port stays the same)
    bool listening;
    uint32_t backlog;
    bool connected;  // a datagram/raw socket's default destination (connect)
    idl::NetAddr peer;
    // The socket in the current instance.
    uint64_t generation;
    uint32_t handle;
    bool lost;  // the last replay could not re-create it: the socket layer fails it
};
// Adds a setopt to s's record (the latest value of each option is kept). NoBufs when full.
Result<void> record_option(ReplayedSocket& s, idl::SockOpt opt, int32_t value);
// The other parts of the record, under the service's lock (a replay may be reading them).
void record_bind(ReplayedSocket& s, bool bound, const idl::NetAddr& addr);
void record_listen(ReplayedSocket& s, bool listening, uint32_t backlog);
void record_peer(ReplayedSocket& s, bool connected, const idl::NetAddr& peer);
// Tracks s for replay from now on (NoBufs when the table is full) / no longer (before close).
Result<void> remember(ReplayedSocket& s);
void forget(ReplayedSocket& s);
// s's handle now (waits while a replay is under way); BadF when the last replay lost it.
struct Current {
    uint64_t generation;
    uint32_t handle;
};
Result<Current> current(ReplayedSocket& s);

}  // namespace lamina::net
