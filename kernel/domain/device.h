// The device side of the domain capability table: DMA memory a driver domain owns, MSI-X
// vectors of its claimed devices with per-vector waits, and quiescing at teardown
// (DESIGN.md, "Teardown"). domain.cpp's capability functions check what the domain handed them
// and call these; the state lives here, per domain image slot.
//
// Interrupts. device_irq_setup allocates one CPU vector per MSI-X entry the driver asks for and
// points the entries at the CPU that set them up. The kernel's handler only counts the
// interrupt and wakes the vector's wait queue (no domain code runs in interrupt context);
// irq_wait_slice sleeps on that queue until the count moves past what the last wait saw, so an
// interrupt that arrives between the driver's last look at its queue and its wait is never lost.
//
// Locking: each slot's Resources::lock guards its tables (a leaf lock: taken after a Domain's
// lock, never while sleeping). Vector wait queues are woken from interrupt context.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::pci {
class PciDevice;
}

namespace lamina::domain {
struct Domain;
}

namespace lamina::domain::device {

inline constexpr size_t kMaxDmaRegions = 64;      // per domain
inline constexpr size_t kMaxDmaBytes = 4u << 20;  // per region (order 10)
inline constexpr size_t kMaxIrqs = 16;            // MSI-X entries per claimed device

// 0 or a positive errno (the capability conventions). The region is zeroed, physically
// contiguous, owned by the domain, and freed by release_dma at teardown if not before.
int32_t dma_alloc(Domain& d, size_t size, void** out, uint64_t* bus);
// Inval when [base, size) is not one of the domain's regions (a fault of the domain).
int32_t dma_free(Domain& d, void* base, size_t size);

// handle: the claim handle (1-based slot in Domain::devices). See domain_abi.h.
int32_t irq_setup(Domain& d, uint64_t handle, pci::PciDevice& dev, uint32_t count, uint32_t* granted);
// Waits at most until min(deadline_ns, now + slice_ns): 0 when an interrupt of the entry
// arrived since the last successful wait, TimedOut (110) when deadline_ns has passed, Again
// (11) when only the slice ended (the caller checks the domain is still alive and waits again).
// NoEnt for an entry that was not set up.
int32_t irq_wait_slice(Domain& d, uint64_t handle, uint32_t entry, uint64_t deadline_ns, uint64_t slice_ns);
// Interrupts that arrived on the entry (tests and statistics); 0 if not set up.
uint64_t irq_count(const Domain& d, uint64_t handle, uint32_t entry);

// Quiesces and releases one device of d: its MSI-X entries masked and vectors freed, then
// pci::release (bus mastering off, MSI-X masked, BARs unmapped). Used by teardown and when a
// fresh instance of a failed driver takes the device over.
void release_device(Domain& d, uint64_t handle, pci::PciDevice& dev);
// Frees every DMA region d still holds (after its devices are released: nothing DMAs anymore).
void release_dma(Domain& d);
// Pages in d's DMA regions now.
uint64_t dma_pages(const Domain& d);

}  // namespace lamina::domain::device
