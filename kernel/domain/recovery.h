// Recovery behind a generated shadow (ShadowRecovery): on a fault, create a fresh instance from
// the same package (so with the same manifest and capabilities), start it, hand over to it
// (the service replays what the fresh instance needs and points the shadow's proxy at it), and
// only then destroy the failed instance. Restarts are limited to `max` within `window_ns` (the
// manifest's restart policy by default; `never` allows none); beyond that recover() fails and
// the shadow returns Restarting. Services normally get one through domain::Supervised
// (supervised.h), which supplies the hand-over.
//
// The calls lock. A service that serializes its calls into the domain with a mutex names it
// here. A shadow recovers inside such a call, so with it held; an operator's restart (/proc/
// domctl) takes it before anything else. Either way the hand-over runs with it held: no call is
// inside the old instance while it is replaced, and none enters it afterwards. Taking it before
// the busy flag also means a call that faults during an operator's restart waits for the lock
// rather than for the restart it would otherwise wait for while holding the lock.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/proxy_runtime.h>
#include <lamina/result.h>

#include "kernel/domain/loader/manifest.h"

namespace lamina::sched {
class Mutex;
}

namespace lamina::domain {

struct Domain;

class Recovery final : public proxy_rt::ShadowRecovery {
public:
    // Makes the fresh instance serve in place of the current one: replays what it needs, then
    // points the shadow's proxy at it. An error leaves the shadow bound to the old instance;
    // the fresh one is destroyed.
    using Handover = Result<void> (*)(void* context, Domain* fresh);

    // The manifest's restart policy.
    Recovery(Domain* instance, Handover handover, void* context, sched::Mutex* calls = nullptr);
    Recovery(Domain* instance, Handover handover, void* context, sched::Mutex* calls, uint32_t max, uint64_t window_ns);

    // Registers itself as instance's recovery (Domain::recovery), so that /proc/domctl's
    // restart finds it; unregisters on destruction.
    ~Recovery();
    Recovery(const Recovery&) = delete;
    Recovery& operator=(const Recovery&) = delete;

    // Replaces the failed instance. Calls from several threads are serialized: one that waited
    // for another's recovery finds the fresh instance running and returns at once.
    Result<void> recover(DomainError why) override;
    // Replaces a healthy instance (/proc/domctl restart): counted in restarts, not against the
    // budget (an operator asked for it). Busy if a restart is under way. An instance without a
    // calls lock drains first (see update()).
    Result<void> restart();
    // Live update (update.h): fresh, created from a new package and not yet started, replaces
    // the healthy instance the same way — started, handed over to (the same replay as after a
    // crash), then the old one destroyed. Waits at most quiesce_ns for the calls in flight to
    // finish (the calls lock) and returns TimedOut beyond. Whatever fails, fresh is destroyed
    // and the old instance keeps serving. Not counted in restarts.
    // Without a calls lock (a driver, called from several threads at once), the old instance
    // drains instead: new calls get Dead and their shadows wait in recover() for the new
    // instance, and the update waits for the calls inside to leave; a driver's fresh instance
    // then takes its devices over from the drained one (capabilities.cpp). If the new version
    // fails after taking a device over, the old one cannot drive it any more: a fresh instance
    // of the old package replaces it (counted as a restart).
    Result<void> update(Domain* fresh, uint64_t quiesce_ns);
    Domain* instance() const { return instance_; }
    uint64_t restarts() const { return restarts_; }
    uint64_t updates() const { return updates_; }
    uint64_t last_recovery_ns() const { return last_recovery_ns_; }

private:
    static constexpr size_t MAX_TRACKED = 1000;                    // the manifest's upper bound for max
    static constexpr uint64_t RESTART_QUIESCE_NS = 2'000'000'000;  // an operator's restart of a driver

    // Replaces the instance by fresh (nullptr: a new instance of the same package). Destroys
    // fresh if it fails.
    Result<void> replace(DomainError why, Domain* fresh = nullptr);
    Result<void> within_budget();
    // Turns new calls away from old and waits at most quiesce_ns for the calls inside to leave.
    Result<void> drain(Domain* old, uint64_t quiesce_ns);
    // After a replacement of the drained old instance failed: old serves again if it still holds
    // its `devices`, else a fresh instance of its package replaces it.
    void after_failed_replace(Domain* old, size_t devices);

    Domain* instance_;
    char package_[Manifest::MAX_NAME + 1];
    Handover handover_;
    void* context_;
    sched::Mutex* calls_;
    uint32_t max_;
    uint64_t window_ns_;
    uint64_t restarts_ = 0;
    uint64_t updates_ = 0;
    uint64_t last_recovery_ns_ = 0;
    uint64_t recent_[MAX_TRACKED] = {};  // times of the last restarts, a ring
    size_t recent_next_ = 0;
    bool busy_ = false;  // atomic: a recovery or restart is under way
};

}  // namespace lamina::domain
