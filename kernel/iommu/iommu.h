// The IOMMU (Intel VT-d, found through the ACPI DMAR table): confines each driver domain's
// devices to the memory the domain was given for DMA (docs/iommu.md).
//
// Each driver domain that claims a device gets one address space: a second-level page table
// (with its own VT-d domain id) that every device the domain claimed translates through. The
// space maps, at IOVA = physical address, exactly the domain's DMA regions and the exchange-heap
// pages it handed to its devices; everything else faults, and the fault is charged to the
// domain. Devices no driver domain holds have no context entry: their DMA is blocked.
//
// Without remapping hardware every call here is a no-op that succeeds, and bus addresses stay
// physical addresses, as before.
//
// Locking: one lock (never held while sleeping); fault records are read by a kernel thread the
// unit's fault interrupt wakes.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::iommu {

// Finds the units (ACPI DMAR), sets up their root tables and enables translation (every
// device blocked until a driver domain claims it). Logs once either way. After mm, irq, pci.
void init();
bool enabled();

// A PCI function of segment 0, as the IOMMU identifies its requests.
struct DeviceId {
    uint8_t bus, device, function;
};

// The device now belongs to the domain `owner`: it translates through the owner's space (made
// at the first attach). NoMem; NoEnt when no unit covers the device.
Result<void> attach(uint32_t owner, DeviceId dev);
// The device's context entry is removed and the caches invalidated: from the return on, the
// device reaches nothing. Call after the device was quiesced (bus mastering off).
void detach(uint32_t owner, DeviceId dev);
// Teardown, after every device of the owner is detached: the space and its tables are freed.
void destroy_space(uint32_t owner);

// [phys, phys + bytes) (whole pages) becomes reachable by the owner's devices at IOVA = phys,
// or not any more (the IOTLB invalidated before unmap returns). map: NoMem for the tables.
Result<void> map(uint32_t owner, uint64_t phys, size_t bytes);
void unmap(uint32_t owner, uint64_t phys, size_t bytes);

// Exchange-heap grants: the pages under object's [phys, phys + bytes) were handed to the owner's
// device. They stay mapped until revoke_stale finds that still_held(context, object) is false
// (the object left the owner: moved on, freed, loan ended). NoSpc when the grant table is full.
// still_held runs under the IOMMU's lock: it may take only locks taken before it, never this one.
Result<void> grant(uint32_t owner, const void* object, uint64_t phys, size_t bytes);
void revoke_stale(uint32_t owner, bool (*still_held)(void* context, const void* object), void* context);
// Whether the owner has grants outstanding (cheap: decides whether revoke_stale is worth it).
bool has_grants(uint32_t owner);

// What the fault thread reports for a DMA the hardware refused; owner 0 for a device no domain
// holds. Set once by the domain code: it makes the fault the owning domain's.
struct Fault {
    DeviceId device;
    uint64_t address;
    uint8_t reason;
    bool write;
    uint32_t owner;
};
void set_fault_handler(void (*handler)(const Fault&));
// Faults recorded since boot (tests).
uint64_t fault_count();

// For tests: whether the owner's space maps the page at phys.
bool is_mapped(uint32_t owner, uint64_t phys);

}  // namespace lamina::iommu
