// Provided<Interface>: a kernel service's one Supervised<Interface> (kernel/domain/supervised.h),
// offered to importers under the interface's export name. What the block service (the nvme
// driver as "block") and the NIC service (virtio_net as "nic") would otherwise both write:
//   start(options, admit)  one start or stop at a time (Busy otherwise), Exist when running;
//                          starts the domain, runs admit(supervised) (the service's check of
//                          the fresh driver: read its geometry or MAC, remember it for replay),
//                          then provides the shadow under Binding::kExport. When something else
//                          already holds that name (a test's stand-in) the driver still runs for
//                          the kernel's own use, and provided() is false. Any failure destroys
//                          the domain and returns the error.
//   stop()                 withdraws the name (if it was ours) and destroys the domain.
// A global Provided is constant-initialised, so services may start before constructors run.
#pragma once

#include <lamina/result.h>

#include "kernel/domain/interfaces.h"
#include "kernel/domain/supervised.h"
#include "kernel/sync/spinlock.h"

namespace lamina::domain {

template <typename Interface>
class Provided {
public:
    using Service = Supervised<Interface>;

    constexpr Provided() = default;
    Provided(const Provided&) = delete;
    Provided& operator=(const Provided&) = delete;

    template <typename Admit>
    Result<void> start(const typename Service::Options& options, Admit admit) {
        if (!begin()) return Errno::Busy;
        auto r = start_locked(options, admit);
        end();
        return r;
    }

    void stop() {
        if (!begin()) return;
        if (Service* s = service_) {
            if (provided_) (void)withdraw_interface(Binding<Interface>::kExport);
            service_ = nullptr;
            provided_ = false;
            delete s;
        }
        end();
    }

    bool running() const { return service_ != nullptr; }
    bool provided() const { return provided_; }
    Service* get() const { return service_; }
    Interface* shadow() const { return service_ ? &service_->shadow() : nullptr; }
    Domain* instance() const { return service_ ? service_->instance() : nullptr; }
    Recovery* recovery() const { return service_ ? &service_->recovery() : nullptr; }

private:
    template <typename Admit>
    Result<void> start_locked(const typename Service::Options& options, Admit& admit) {
        if (service_) return Errno::Exist;
        Service* s = TRY(Service::start(options));
        Result<void> admitted = admit(*s);
        Result<void> provided = admitted.is_ok() ? provide_interface(Binding<Interface>::kExport, &s->shadow())
                                                 : Result<void>(admitted.error());
        if (admitted.is_error() || (provided.is_error() && provided.error().code() != Errno::Exist)) {
            delete s;
            return admitted.is_error() ? admitted.error() : provided.error();
        }
        service_ = s;
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
    Service* service_ = nullptr;
    bool provided_ = false;
};

}  // namespace lamina::domain
