#include "kernel/domain/recovery.h"

#include <lamina/scope_guard.h>

#include "kernel/domain/internal.h"
#include "kernel/lib/log.h"
#include "kernel/sched/mutex.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::domain {

namespace {

uint32_t policy_max(const Domain* d) {
    const Manifest& m = d->package.manifest;
    return m.restart == RestartPolicy::Never ? 0 : m.restart_max;
}

// Holds the calls lock unless the thread holds it already (a shadow's recovery inside a call).
class CallsLock {
public:
    explicit CallsLock(sched::Mutex* m) : m_(m && !m->is_held_by_current() ? m : nullptr) {
        if (m_) m_->lock();
    }
    ~CallsLock() {
        if (m_) m_->unlock();
    }
    CallsLock(const CallsLock&) = delete;
    CallsLock& operator=(const CallsLock&) = delete;

private:
    sched::Mutex* m_;
};

size_t held_devices(Domain& d) {
    SpinlockGuard g(d.resources.lock);
    size_t n = 0;
    for (pci::PciDevice* p : d.resources.devices) n += p != nullptr;
    return n;
}

}  // namespace

Result<void> Recovery::drain(Domain* old, uint64_t quiesce_ns) {
    __atomic_store_n(&old->draining, true, __ATOMIC_SEQ_CST);
    // call_thunk counts a caller inside before it reads `draining`, both seq_cst: a caller
    // either sees the flag or is seen here.
    uint64_t deadline = time::now_ns() + quiesce_ns;
    while (__atomic_load_n(&old->threads_inside, __ATOMIC_SEQ_CST) != 0) {
        if (time::now_ns() > deadline) {
            __atomic_store_n(&old->draining, false, __ATOMIC_RELEASE);
            kprintf("domain %s: the calls in flight did not finish within %lu ms\n", package_,
                    (unsigned long)(quiesce_ns / 1'000'000));
            return Errno::TimedOut;
        }
        sched::yield();
    }
    return {};
}

void Recovery::after_failed_replace(Domain* old, size_t devices) {
    if (held_devices(*old) == devices) {  // untouched: it serves again
        __atomic_store_n(&old->draining, false, __ATOMIC_RELEASE);
        return;
    }
    // The replacement took a device over before it failed, and the device has been reset since:
    // the old instance cannot drive it any more. A fresh instance of the running package takes
    // its place, as after a crash.
    kprintf("domain %s: the replacement failed after taking its device over: restarting %u.%u\n", package_,
            old->package.manifest.version_major, old->package.manifest.version_minor);
    if (auto r = replace(DomainError::None); r.is_error()) {
        // Calls fault on the unmapped device and the shadow's recovery tries again.
        __atomic_store_n(&old->draining, false, __ATOMIC_RELEASE);
        kprintf("domain %s: the restart failed too (%s)\n", package_, r.error().name());
    }
}

Recovery::Recovery(Domain* instance, Handover handover, void* context, sched::Mutex* calls)
    : Recovery(instance, handover, context, calls, policy_max(instance),
               uint64_t(instance->package.manifest.restart_window_s) * 1'000'000'000ull) {}

Recovery::Recovery(Domain* instance, Handover handover, void* context, sched::Mutex* calls, uint32_t max,
                   uint64_t window_ns)
    : instance_(instance),
      handover_(handover),
      context_(context),
      calls_(calls),
      max_(max < MAX_TRACKED ? max : uint32_t(MAX_TRACKED)),
      window_ns_(window_ns) {
    __builtin_memcpy(package_, instance->name, sizeof(package_));
    SpinlockGuard g(g_domains_lock);
    instance->recovery = this;
}

Recovery::~Recovery() {
    // Only live domains are looked at: the instance may have been destroyed already.
    SpinlockGuard g(g_domains_lock);
    for (Domain* d : g_slots)
        if (is_live(d) && d->recovery == this) d->recovery = nullptr;
}

// The max-th most recent restart must lie outside the window.
Result<void> Recovery::within_budget() {
    if (max_ == 0) return Errno::Perm;
    uint64_t oldest = recent_[recent_next_];  // the slot max_ restarts ago (0: unused)
    if (restarts_ >= max_ && time::now_ns() - oldest < window_ns_) {
        kprintf("domain %s: %u restarts within %lu s: giving up\n", package_, max_,
                (unsigned long)(window_ns_ / 1'000'000'000ull));
        return Errno::Again;
    }
    return {};
}

Result<void> Recovery::recover(DomainError why) {
    CallsLock calls(calls_);
    // One recovery at a time; a thread that waited for another's finds the fresh instance
    // running, and its call may go again.
    while (__atomic_exchange_n(&busy_, true, __ATOMIC_ACQUIRE)) sched::yield();
    ScopeGuard done([&] { __atomic_store_n(&busy_, false, __ATOMIC_RELEASE); });
    if (instance_->get_state() == State::Running) return {};
    TRY(within_budget());
    uint64_t now = time::now_ns();
    TRY(replace(why));
    recent_[recent_next_] = now;
    recent_next_ = (recent_next_ + 1) % max_;
    return {};
}

Result<void> Recovery::restart() {
    CallsLock calls(calls_);
    if (__atomic_exchange_n(&busy_, true, __ATOMIC_ACQUIRE)) return Errno::Busy;
    ScopeGuard done([&] { __atomic_store_n(&busy_, false, __ATOMIC_RELEASE); });
    if (calls_) return replace(DomainError::None);
    Domain* old = instance_;
    if (old->get_state() != State::Running) return Errno::Busy;  // a recovery's turn first
    TRY(drain(old, RESTART_QUIESCE_NS));
    size_t devices = held_devices(*old);
    auto r = replace(DomainError::None);
    if (r.is_error()) after_failed_replace(old, devices);
    return r;
}

Result<void> Recovery::update(Domain* fresh, uint64_t quiesce_ns) {
    ScopeGuard drop_fresh([&] { destroy(fresh); });
    // The calls lock, bounded: the calls in flight finish, and no new one enters the old
    // instance; one that waits for the lock goes to whichever instance serves when it gets it.
    sched::Mutex* held = nullptr;
    if (calls_ && !calls_->is_held_by_current()) {
        uint64_t deadline = time::now_ns() + quiesce_ns;
        while (!calls_->try_lock()) {
            if (time::now_ns() > deadline) {
                kprintf("domain %s: update: the calls in flight did not finish within %lu ms\n", package_,
                        (unsigned long)(quiesce_ns / 1'000'000));
                return Errno::TimedOut;
            }
            sched::yield();
        }
        held = calls_;
    }
    ScopeGuard unlock([&] {
        if (held) held->unlock();
    });
    if (__atomic_exchange_n(&busy_, true, __ATOMIC_ACQUIRE)) return Errno::Busy;
    ScopeGuard done([&] { __atomic_store_n(&busy_, false, __ATOMIC_RELEASE); });
    Domain* old = instance_;
    if (old->get_state() != State::Running) return Errno::Busy;  // a recovery's turn first
    // Without a calls lock (a driver called from several threads at once), the old instance
    // drains instead; callers turned away wait in recover() for the new one (busy_ is ours).
    if (!calls_) TRY(drain(old, quiesce_ns));
    size_t devices = held_devices(*old);
    drop_fresh.dismiss();  // replace() owns it now
    auto r = replace(DomainError::None, fresh);
    if (r.is_error() && !calls_) after_failed_replace(old, devices);
    return r;
}

// A fresh instance (of the same package, or the update's), started, handed over to; then the
// old one goes.
Result<void> Recovery::replace(DomainError why, Domain* prepared) {
    uint64_t t0 = time::now_ns();
    Domain* old = instance_;
    bool updating = prepared != nullptr;
    const char* what = updating ? "the new version" : "the fresh instance";
    __atomic_store_n(&old->restarting, true, __ATOMIC_RELEASE);
    ScopeGuard still_old([&] { __atomic_store_n(&old->restarting, false, __ATOMIC_RELEASE); });
    Domain* fresh = updating ? prepared : TRY(create_like(old));
    ScopeGuard drop_fresh([&] { destroy(fresh); });
    auto started = start(fresh);
    if (started.is_error() || started.value() < 0) {
        kprintf("domain %s: %s did not start\n", package_, what);
        return Errno::IO;
    }
    if (updating) TRY(same_interface_types(*old, *fresh));
    if (auto r = handover_(context_, fresh); r.is_error()) {
        kprintf("domain %s: %s could not take over: %s\n", package_, what, r.error().name());
        // An update's failure is the new package's (ENOENT would read as "no such domain").
        return updating ? Result<void>(Errno::IO) : r;
    }
    drop_fresh.dismiss();
    still_old.dismiss();  // old goes below, restarting to the end
    instance_ = fresh;
    fresh->counters.restarts = old->counters.restarts + (updating ? 0 : 1);
    fresh->counters.updates = old->counters.updates + (updating ? 1 : 0);
    {
        SpinlockGuard g(g_domains_lock);
        fresh->recovery = this;
        old->recovery = nullptr;
    }
    destroy(old);
    if (updating) {
        updates_++;
        kprintf("domain %s: updated to version %u.%u (id %u, update %lu, %lu us)\n", package_,
                fresh->package.manifest.version_major, fresh->package.manifest.version_minor, fresh->id,
                (unsigned long)fresh->counters.updates, (unsigned long)((time::now_ns() - t0) / 1000));
        return {};
    }
    restarts_++;
    last_recovery_ns_ = time::now_ns() - t0;
    if (verbose_faults())
        kprintf("domain %s: restarted %s (id %u, restart %lu, %lu us)\n", package_,
                why == DomainError::None       ? "on request"
                : why == DomainError::TimedOut ? "after a timeout"
                : why == DomainError::Dead     ? "after its death"
                                               : "after a fault",
                fresh->id, (unsigned long)fresh->counters.restarts, (unsigned long)(last_recovery_ns_ / 1000));
    return {};
}

}  // namespace lamina::domain
