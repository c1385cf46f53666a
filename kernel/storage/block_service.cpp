#include "kernel/storage/block_service.h"

#include "kernel/domain/provided.h"
#include "kernel/lib/log.h"

namespace lamina::storage {

namespace {

// The disk the driver served when the service started: a restarted driver must serve the same.
idl::BlockInfo g_geometry;
domain::Provided<idl::Block> g_service;

// The fresh instance has already reset the controller and built its queues in its entry; what
// remains is to make sure it drives the same disk.
Result<void> replay(void*, idl::BlockProxy& fresh) {
    const idl::BlockInfo& was = g_geometry;
    idl::BlockInfo info = TRY(fresh.info());
    if (info.block_size != was.block_size || info.block_count != was.block_count) {
        kprintf("block: the restarted driver sees another disk (%u x %lu, was %u x %lu)\n", info.block_size,
                (unsigned long)info.block_count, was.block_size, (unsigned long)was.block_count);
        return Errno::NoDev;
    }
    return {};
}

}  // namespace

Result<void> start_block_service() {
    TRY(g_service.start({"nvme", replay}, [](domain::Supervised<idl::Block>& nvme) -> Result<void> {
        g_geometry = TRY(nvme.proxy().info());
        return {};
    }));
    const idl::BlockInfo& info = g_geometry;
    if (g_service.provided())
        kprintf("block: 'block' is the nvme driver (domain %u): %lu blocks of %u bytes\n", g_service.instance()->id,
                (unsigned long)info.block_count, info.block_size);
    else  // a stand-in (the fs tests' RAM disk) holds the name: serve block_device() only
        kprintf("block: 'block' is provided by something else; the nvme driver (domain %u) serves only the kernel\n",
                g_service.instance()->id);
    return {};
}

void stop_block_service() { g_service.stop(); }
bool block_service_running() { return g_service.running(); }
idl::Block* block_device() { return g_service.shadow(); }
domain::Domain* nvme_instance() { return g_service.instance(); }
domain::Recovery* block_recovery() { return g_service.recovery(); }

}  // namespace lamina::storage
