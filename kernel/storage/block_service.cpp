#include "kernel/storage/block_service.h"

#include <new>

#include "kernel/domain/domain.h"
#include "kernel/domain/interfaces.h"
#include "kernel/lib/log.h"
#include "kernel/sync/spinlock.h"

namespace lamina::storage {

namespace {

constexpr const char* kPackage = "nvme";
constexpr const char* kInterface = "block";

struct Service;
Result<void> rebind(void* context, domain::Domain* fresh);
Result<void> replay(void* context, domain::Domain* fresh);

struct Service {
    idl::BlockInfo geometry;
    idl::BlockProxy proxy;
    domain::Recovery recovery;
    idl::BlockShadow shadow;
    bool provided = false;  // "block" is ours in the interface registry

    Service(domain::Domain* d, idl::Block& exported, const idl::BlockInfo& info)
        : geometry(info), proxy(d->record, exported), recovery(d, rebind, replay, this), shadow(proxy, recovery) {}
};

// Guards start/stop (a mutex would do; both are rare and never nest).
Spinlock g_lock;
bool g_busy;  // g_lock: a start or stop is under way
Service* g_service;

idl::Block* export_of(domain::Domain* d) { return static_cast<idl::Block*>(domain::find_export(d, kInterface)); }

Result<void> rebind(void* context, domain::Domain* fresh) {
    auto* s = static_cast<Service*>(context);
    idl::Block* exported = export_of(fresh);
    if (!exported) return Errno::NoEnt;
    s->proxy.rebind(fresh->record, *exported);
    return {};
}

// The fresh instance has already reset the controller and built its queues in its entry; what
// remains is to make sure it drives the same disk.
Result<void> replay(void* context, domain::Domain* fresh) {
    auto* s = static_cast<Service*>(context);
    idl::Block* exported = export_of(fresh);
    if (!exported) return Errno::NoEnt;
    idl::BlockProxy probe(fresh->record, *exported);
    idl::BlockInfo info = TRY(probe.info());
    if (info.block_size != s->geometry.block_size || info.block_count != s->geometry.block_count) {
        kprintf("block: the restarted driver sees another disk (%u x %lu, was %u x %lu)\n", info.block_size,
                (unsigned long)info.block_count, s->geometry.block_size, (unsigned long)s->geometry.block_count);
        return Errno::NoDev;
    }
    return {};
}

bool begin() {
    SpinlockGuard g(g_lock);
    if (g_busy) return false;
    g_busy = true;
    return true;
}

void end() {
    SpinlockGuard g(g_lock);
    g_busy = false;
}

Result<void> start_locked() {
    if (g_service) return Errno::Exist;
    static bool types_registered = false;
    if (!types_registered) {
        TRY(domain::exchange_register_types(idl::block_types, sizeof(idl::block_types) / sizeof(idl::block_types[0]) - 1));
        types_registered = true;
    }
    domain::Domain* d = TRY(domain::create(kPackage));
    auto started = domain::start(d);
    if (started.is_error() || started.value() < 0) {
        kprintf("block: the nvme driver did not start (%s)\n",
                started.is_error() ? started.error().name() : Error(Errno(int32_t(-started.value()))).name());
        domain::destroy(d);
        return started.is_error() ? started.error() : Error(Errno(int32_t(-started.value())));
    }
    idl::Block* exported = export_of(d);
    if (!exported) {
        kprintf("block: the nvme driver published no '%s'\n", kInterface);
        domain::destroy(d);
        return Errno::NoEnt;
    }
    idl::BlockProxy probe(d->record, *exported);
    auto info = probe.info();
    if (info.is_error()) {
        domain::destroy(d);
        return info.error();
    }
    auto* s = new (std::nothrow) Service(d, *exported, info.value());
    if (!s) {
        domain::destroy(d);
        return Errno::NoMem;
    }
    auto provided = domain::provide_interface(kInterface, &s->shadow);
    if (provided.is_error() && provided.error().code() != Errno::Exist) {
        domain::destroy(d);
        delete s;
        return provided.error();
    }
    s->provided = provided.is_ok();
    g_service = s;
    if (s->provided)
        kprintf("block: '%s' is the nvme driver (domain %u): %lu blocks of %u bytes\n", kInterface, d->id,
                (unsigned long)info.value().block_count, info.value().block_size);
    else  // a stand-in (the fs tests' RAM disk) holds the name: serve block_device() only
        kprintf("block: '%s' is provided by something else; the nvme driver (domain %u) serves only the kernel\n",
                kInterface, d->id);
    return {};
}

}  // namespace

Result<void> start_block_service() {
    if (!begin()) return Errno::Busy;
    auto r = start_locked();
    end();
    return r;
}

void stop_block_service() {
    if (!begin()) return;
    if (Service* s = g_service) {
        if (s->provided) (void)domain::withdraw_interface(kInterface);
        g_service = nullptr;
        domain::destroy(s->recovery.instance());
        delete s;
    }
    end();
}

bool block_service_running() { return g_service != nullptr; }
idl::Block* block_device() { return g_service ? &g_service->shadow : nullptr; }
domain::Domain* nvme_instance() { return g_service ? g_service->recovery.instance() : nullptr; }
domain::Recovery* block_recovery() { return g_service ? &g_service->recovery : nullptr; }

}  // namespace lamina::storage
