#include "kernel/storage/block_service.h"

#include "kernel/domain/interfaces.h"
#include "kernel/domain/supervised.h"
#include "kernel/lib/log.h"
#include "kernel/sync/spinlock.h"

namespace lamina::domain {
template <>
struct Binding<idl::Block> {
    using Proxy = idl::BlockProxy;
    using Shadow = idl::BlockShadow;
    static constexpr const char* kExport = "block";
    static constexpr const TypeInfo* const* kTypes[] = {idl::block_types};
};
}  // namespace lamina::domain

namespace lamina::storage {

namespace {

using Nvme = domain::Supervised<idl::Block>;
constexpr const char* kInterface = "block";

struct Service {
    Nvme* nvme = nullptr;
    idl::BlockInfo geometry{};
    bool provided = false;  // "block" is ours in the interface registry
};

// Guards start/stop (a mutex would do; both are rare and never nest).
Spinlock g_lock;
bool g_busy;  // g_lock: a start or stop is under way
Service g_service;

// The fresh instance has already reset the controller and built its queues in its entry; what
// remains is to make sure it drives the same disk.
Result<void> replay(void* context, idl::BlockProxy& fresh) {
    const idl::BlockInfo& was = static_cast<Service*>(context)->geometry;
    idl::BlockInfo info = TRY(fresh.info());
    if (info.block_size != was.block_size || info.block_count != was.block_count) {
        kprintf("block: the restarted driver sees another disk (%u x %lu, was %u x %lu)\n", info.block_size,
                (unsigned long)info.block_count, was.block_size, (unsigned long)was.block_count);
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
    if (g_service.nvme) return Errno::Exist;
    Nvme* nvme = TRY(Nvme::start({"nvme", replay, &g_service}));
    auto info = nvme->proxy().info();
    auto provided = info.is_ok() ? domain::provide_interface(kInterface, &nvme->shadow()) : Result<void>(info.error());
    if (provided.is_error() && provided.error().code() != Errno::Exist) {
        delete nvme;
        return provided.error();
    }
    g_service = {nvme, info.value(), provided.is_ok()};
    if (g_service.provided)
        kprintf("block: '%s' is the nvme driver (domain %u): %lu blocks of %u bytes\n", kInterface,
                nvme->instance()->id, (unsigned long)info.value().block_count, info.value().block_size);
    else  // a stand-in (the fs tests' RAM disk) holds the name: serve block_device() only
        kprintf("block: '%s' is provided by something else; the nvme driver (domain %u) serves only the kernel\n",
                kInterface, nvme->instance()->id);
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
    if (g_service.nvme) {
        if (g_service.provided) (void)domain::withdraw_interface(kInterface);
        Nvme* nvme = g_service.nvme;
        g_service = {};
        delete nvme;
    }
    end();
}

bool block_service_running() { return g_service.nvme != nullptr; }
idl::Block* block_device() { return g_service.nvme ? &g_service.nvme->shadow() : nullptr; }
domain::Domain* nvme_instance() { return g_service.nvme ? g_service.nvme->instance() : nullptr; }
domain::Recovery* block_recovery() { return g_service.nvme ? &g_service.nvme->recovery() : nullptr; }

}  // namespace lamina::storage
