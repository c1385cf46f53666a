// The block service: the NVMe driver domain (package "nvme", domains/nvme) behind a shadow, as
// the block device the rest of the system uses.
//
// What it provides (kernel/domain/interfaces.h): the interface "block" (interfaces/block.idl)
// for domains whose manifest imports it — the whole NVMe namespace 1, 512-byte blocks; the
// partitions are the importer's business (the fs domain reads the GPT itself, domains/fs/gpt.h).
// The object is a flush-ordering layer (block_service.cpp, docs/fs.md) over an
// idl::BlockShadow in front of an idl::BlockProxy into the nvme domain: every
// call crosses the proxy (liveness, RRef moves, fault containment), and when the driver faults
// (a panic, a CPU exception, a controller fatal status or a command timeout, which the driver
// turns into a panic) the shadow restarts it through a domain::Recovery and resubmits the
// batch that was in flight (submit is [retry]): callers see neither the crash nor an error.
//
// Recovery: the fresh instance runs its entry again (it takes the device over from the failed
// instance, resets the controller, creates its queues); replay checks it serves the same
// device geometry; then the proxy is rebound and the failed instance torn down.
//
// The supervision (loading, shadow, recovery, replay) is a domain::Supervised<idl::Block>
// (kernel/domain/supervised.h); this file adds the geometry check and the "block" name.
//
// Lifetime: started at boot when the image carries the nvme package (not under ktest/kbench,
// where the tests start and stop it themselves: other tests claim the NVMe controller too).
// The shadow keeps its address across driver restarts; stop() withdraws "block" first.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "interfaces/block.h"
#include "kernel/domain/recovery.h"
#include "kernel/domain/supervised.h"

namespace lamina::domain {
template <>
struct Binding<idl::Block> {
    using Proxy = idl::BlockProxy;
    using Shadow = idl::BlockShadow;
    static constexpr const char* EXPORT = "block";
    static constexpr const TypeInfo* const* TYPES[] = {idl::block_types};
};
}  // namespace lamina::domain

namespace lamina::storage {

// Creates and starts the nvme domain and provides "block". NoEnt when no nvme package was
// loaded, Exist when already running, what the domain's start returned otherwise (IO when the
// controller did not come up). When something else already provides "block" (a test's
// stand-in), the driver still runs and serves block_device(), without taking the name.
Result<void> start_block_service();
// Withdraws "block" and destroys the driver domain (quiescing the controller). No importer may
// still be calling it.
void stop_block_service();
bool block_service_running();

// What importers get (the ordering layer over the shadow), or nullptr when not running.
idl::Block* block_device();
// Batches with writes that have entered the ordering layer and not come back, for tests.
uint32_t block_write_batches_inside();
// The current driver instance and its recovery (restarts, last recovery time), for tests.
domain::Domain* nvme_instance();
domain::Recovery* block_recovery();

}  // namespace lamina::storage
