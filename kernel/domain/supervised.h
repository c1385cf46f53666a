// Supervised<Interface>: a domain that exports Interface, kept running for a kernel service.
// The one way a service loads a domain, calls it and recovers it; the block service (the nvme
// driver) and FsClient (the fs domain) use it, and so will the NIC and netstack services.
//
// The contract, in order of what happens:
//   start()  registers the interface's exchange types (idempotent), creates the domain from its
//            boot package, runs its entry, and finds the object it published under the
//            Binding's export name. Any failure destroys the domain and is logged with its
//            reason; the error is returned (what create refused; the entry's own errno when it
//            returned < 0; IO when it faulted; NoEnt when it published nothing).
//   calls    go through shadow() (what the service hands to importers, and uses itself): a
//            fault inside the domain makes the shadow recover it and retry [retry] methods.
//            proxy() reaches the current instance without recovery (start-up probes, and the
//            replay hook's look at the old instance).
//   recovery on a fault (or an operator's `domctl restart`), Recovery creates and starts a fresh
//            instance from the same package, then hands over: replay(context, fresh) runs
//            with a proxy straight to the fresh instance (the shadow's still points at the old
//            one, which may be Running for an operator's restart) and re-posts whatever state
//            the fresh instance needs — remount a file system, check the disk geometry,
//            re-post receive buffers or listening sockets. If it succeeds the shadow's proxy is
//            rebound to the fresh instance and the old one destroyed; if it fails the fresh
//            one is destroyed and the shadow gives up (the call returns Restarting).
//   the calls lock (Options::calls): a service that serializes its calls into the domain
//            with a mutex names it. Recovery then runs the replay and the rebind with it held,
//            taking it itself for an operator's restart (a shadow's recovery runs inside a
//            call, which holds it already). So replay may use the service's state guarded by
//            that mutex, and no call is inside the old instance while it is replaced. A
//            service whose calls run concurrently (a NIC's receive and transmit paths) leaves
//            it null: its replay must then only touch the fresh instance and its own
//            thread-safe state.
//   report   restarts(), last_recovery_ns() and instance() (the instance serving now).
//   stop     destroying the Supervised destroys the instance serving now (teardown quiesces
//            its devices and reclaims everything). Withdraw what was provided first: nobody
//            may still be calling it.
//
// Binding<Interface> names what idlc generated for the interface; a service specializes it once
// next to where it uses the interface:
//   template <> struct domain::Binding<idl::Block> {
//       using Proxy = idl::BlockProxy;
//       using Shadow = idl::BlockShadow;
//       static constexpr const char* EXPORT = "block";
//       static constexpr const TypeInfo* const* TYPES[] = {idl::block_types};
//   };
// TYPES lists the null-terminated type tables of the interface's header and of the headers it
// imports (fs.idl's types include block.idl's).
#pragma once

#include <new>

#include <lamina/own.h>
#include <lamina/result.h>
#include <lamina/rref.h>
#include <lamina/scope_guard.h>

#include "kernel/domain/domain.h"
#include "kernel/domain/recovery.h"

namespace lamina::sched {
class Mutex;
}

namespace lamina::domain {

template <typename Interface>
struct Binding;

// The non-generic half of start(): registers the type tables, then creates and starts the
// package and checks it published export_name; destroys it and logs why on any failure.
Result<Domain*> start_supervised(const char* package, const char* export_name, const TypeInfo* const* const* types,
                                 size_t type_lists);

template <typename Interface>
class Supervised {
    using B = Binding<Interface>;

public:
    using Proxy = typename B::Proxy;
    using Shadow = typename B::Shadow;
    using Replay = Result<void> (*)(void* context, Proxy& fresh);

    struct Options {
        const char* package;            // the boot package (package name in its manifest)
        Replay replay = nullptr;        // what a fresh instance needs before it serves
        void* context = nullptr;        // replay's first argument
        sched::Mutex* calls = nullptr;  // the service's calls lock (see above), or none
    };

    static Result<Own<Supervised>> start(const Options& options) {
        Domain* d = TRY(start_supervised(options.package, B::EXPORT, B::TYPES, sizeof(B::TYPES) / sizeof(B::TYPES[0])));
        ScopeGuard drop([&] { destroy(d); });
        auto s = TRY(adopt_own_or_nomem(new (std::nothrow) Supervised(d, *export_of(d), options)));
        drop.dismiss();
        return s;
    }

    ~Supervised() { destroy(recovery_.instance()); }
    Supervised(const Supervised&) = delete;
    Supervised& operator=(const Supervised&) = delete;

    Shadow& shadow() { return shadow_; }
    Proxy& proxy() { return proxy_; }
    Recovery& recovery() { return recovery_; }
    Domain* instance() const { return recovery_.instance(); }
    uint64_t restarts() const { return recovery_.restarts(); }
    uint64_t last_recovery_ns() const { return recovery_.last_recovery_ns(); }

private:
    Supervised(Domain* d, Interface& exported, const Options& options)
        : options_(options),
          proxy_(d->record, exported),
          recovery_(d, handover, this, options.calls),
          shadow_(proxy_, recovery_) {}

    static Interface* export_of(Domain* d) { return static_cast<Interface*>(find_export(d, B::EXPORT)); }

    // Recovery's hand-over, with the calls lock held: replay, then rebind.
    static Result<void> handover(void* self, Domain* fresh) {
        auto* s = static_cast<Supervised*>(self);
        Interface* exported = export_of(fresh);
        if (!exported) return Errno::NoEnt;
        if (s->options_.replay) {
            Proxy direct(fresh->record, *exported);
            TRY(s->options_.replay(s->options_.context, direct));
        }
        s->proxy_.rebind(fresh->record, *exported);
        return {};
    }

    Options options_;
    Proxy proxy_;
    Recovery recovery_;
    Shadow shadow_;
};

}  // namespace lamina::domain
