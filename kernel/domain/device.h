// The device side of the capability table: DMA memory a driver domain owns, MSI-X vectors of
// its claimed devices with per-vector waits, and quiescing a device at teardown (docs/domains.md,
// "Teardown"). capabilities.cpp checks what the domain handed it and calls these; the state
// lives in the domain's Resources (resources.h).
//
// Interrupts. irq_setup allocates one CPU vector per MSI-X entry the driver asks for and points
// the entries at the CPU that set them up. The kernel's handler only counts the interrupt and
// wakes the vector's wait queue (no domain code runs in interrupt context); irq_wait_slice
// sleeps on that queue until the count moves past what the last wait saw, so an interrupt that
// arrives between the driver's last look at its queue and its wait is never lost.
//
// Locking: the domain's Resources::lock guards its tables (never held while sleeping). Vector
// wait queues are woken from interrupt context.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/domain/resources.h"

namespace lamina::domain::device {

struct DmaBuffer {
    void* base;
    uint64_t bus;  // the physical address (the IOMMU maps IOVA = physical)
};

// A zeroed, physically contiguous region owned by the domain, freed at teardown (after its
// devices are released) if not before. Inval for a size of 0 or above MAX_DMA_BYTES; NoMem.
Result<DmaBuffer> dma_alloc(Domain& d, size_t size);
// Inval when [base, size) is not one of the domain's regions (a fault of the domain).
Result<void> dma_free(Domain& d, void* base, size_t size);

// handle: the claim handle (see domain_abi.h). The number of entries set up (at most count).
// Exist when set up already, NotSup without MSI-X, NoSpc without free vectors.
Result<uint32_t> irq_setup(Domain& d, uint64_t handle, pci::PciDevice& dev, uint32_t count);
// Waits at most until min(deadline_ns, now + slice_ns): ok when an interrupt of the entry
// arrived since the last successful wait, TimedOut when deadline_ns has passed, Again when only
// the slice ended (the caller checks the domain is still alive and waits again). NoEnt for an
// entry that was not set up.
Result<void> irq_wait_slice(Domain& d, uint64_t handle, uint32_t entry, uint64_t deadline_ns, uint64_t slice_ns);
// Interrupts that arrived on the entry (tests and statistics); 0 if not set up.
uint64_t irq_count(const Domain& d, uint64_t handle, uint32_t entry);

// The IOMMU side (kernel/iommu): a device d claimed translates through d's space from attach
// on (NoMem, NoEnt when no unit covers it); exchange-heap pages handed to d's devices are
// mapped by grant_exchange and unmapped by revoke_exchange once the objects left d (called
// after an object moves, is freed or a loan ends). No-ops without an IOMMU.
Result<void> attach(Domain& d, pci::PciDevice& dev);
Result<void> grant_exchange(Domain& d, const void* object, uint64_t phys, size_t bytes);
void revoke_exchange(uint32_t owner);

// Quiesces and releases one device of d: its MSI-X entries masked and vectors freed, then
// pci::release (bus mastering off, MSI-X masked, BARs unmapped). Used by teardown and when a
// fresh instance of a failed driver takes the device over.
void release_device(Domain& d, uint64_t handle, pci::PciDevice& dev);
// Pages in d's DMA regions now.
uint64_t dma_pages(const Domain& d);

}  // namespace lamina::domain::device
