// Provided<Interface>: a kernel service's one Supervised<Interface> (kernel/domain/supervised.h),
// offered to importers under the interface's export name. What the block service (the nvme
// driver as "block") and the NIC service (virtio_net as "nic") would otherwise both write:
//   start(options, admit)  one start or stop at a time (Busy otherwise), Exist when running;
//                          starts the domain, runs admit(supervised) (the service's check of
//                          the fresh driver: read its geometry or MAC, remember it for replay),
//                          then provides the shadow under Binding::EXPORT. When something else
//                          already holds that name (a test's stand-in) the driver still runs for
//                          the kernel's own use, and provided() is false. Any failure destroys
//                          the domain (its Own goes) and returns the error. A service with its
//                          own layer over the shadow (the block service's flush ordering) passes
//                          it as `front`: importers get it instead of the bare shadow.
//   stop()                 withdraws the name (if it was ours) and destroys the domain.
#pragma once

#include <utility>

#include <lamina/own.h>
#include <lamina/result.h>

#include "kernel/domain/interfaces.h"
#include "kernel/domain/supervised.h"
#include "kernel/sync/spinlock.h"

namespace lamina::domain {

template <typename Interface>
class Provided {
public:
    using Service = Supervised<Interface>;

    Provided() = default;
    Provided(const Provided&) = delete;
    Provided& operator=(const Provided&) = delete;

    template <typename Admit>
    Result<void> start(const typename Service::Options& options, Admit admit, Interface* front = nullptr) {
        if (!begin()) return Errno::Busy;
        auto r = start_locked(options, admit, front);
        end();
        return r;
    }

    void stop() {
        if (!begin()) return;
        if (service_) {
            if (provided_) (void)withdraw_interface(Binding<Interface>::EXPORT);
            Own<Service> going = std::move(service_);  // shadow() is null from here on
            provided_ = false;
        }
        end();
    }

    bool running() const { return service_ != nullptr; }
    bool provided() const { return provided_; }
    Service* get() const { return service_.get(); }
    Interface* shadow() const { return service_ ? &service_->shadow() : nullptr; }
    Domain* instance() const { return service_ ? service_->instance() : nullptr; }
    Recovery* recovery() const { return service_ ? &service_->recovery() : nullptr; }

private:
    template <typename Admit>
    Result<void> start_locked(const typename Service::Options& options, Admit& admit, Interface* front) {
        if (service_) return Errno::Exist;
        Own<Service> s = TRY(Service::start(options));
        TRY(admit(*s));
        Result<void> provided = provide_interface(Binding<Interface>::EXPORT, front ? front : &s->shadow());
        if (provided.is_error() && provided.error().code() != Errno::Exist) return provided.error();
        service_ = std::move(s);
        provided_ = provided.is_ok();
        return {};
    }

    bool begin() {
        SpinlockGuard g(lock_);
        if (busy_) return false;
        busy_ = true;
        return true;
    }
    void end() {
        SpinlockGuard g(lock_);
        busy_ = false;
    }

    Spinlock lock_;
    bool busy_ = false;  // lock_: a start or stop is under way
    Own<Service> service_;
    bool provided_ = false;
};

}  // namespace lamina::domain
