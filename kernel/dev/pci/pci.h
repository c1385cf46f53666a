// The PCI bus for the rest of the kernel: enumeration at boot, and handing one device at a time
// to the driver that claims it.
//
// Claiming. A driver (or a domain's loader on its behalf) calls pci::claim with a Match:
//
//     auto nvme = TRY(pci::claim(pci::Match::class_code(0x01, 0x08, 0x02), "nvme"));
//     auto regs = TRY(nvme->map_bar(0));
//     TRY(nvme->enable_memory_space());
//     TRY(nvme->enable_bus_mastering());
//
// claim returns the first matching device that nobody holds; Errno::Busy if every match is
// held, Errno::NoEnt if nothing matches. The PciDevice* is the claim handle: its config
// accessors reach only that function, map_bar maps only that function's BARs. The handle stays
// valid (the table is never freed), but after release every operation fails with Errno::Perm
// until the device is claimed again.
//
// Releasing. pci::release(device) is what domain teardown calls when a driver exits or crashes:
// it leaves the device unable to disturb the system — bus mastering off (no DMA, no MSI), MSI
// and MSI-X disabled with every MSI-X entry masked, INTx disabled — unmaps every BAR the claim
// mapped, and clears the claim. Memory and I/O decoding are left as they are.
//
// Concurrency: claim and release are serialized by a lock. The other operations belong to the
// claim holder, which must not race them with release (teardown releases after the domain's
// threads are stopped).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/dev/pci/config_space.h"
#include "kernel/dev/pci/function.h"

namespace lamina::boot {
struct BootInfo;
}

namespace lamina::pci {

inline constexpr size_t MAX_DEVICES = 64;

// What to claim: a vendor:device pair, a class triple (prog-if may be any), or an address.
struct Match {
    enum class Kind : uint8_t { Id, Class, Location };
    static constexpr int ANY_PROG_IF = -1;

    static constexpr Match id(uint16_t vendor, uint16_t device) {
        Match m;
        m.kind = Kind::Id;
        m.vendor = vendor;
        m.device = device;
        return m;
    }
    static constexpr Match class_code(uint8_t class_code, uint8_t subclass, int prog_if = ANY_PROG_IF) {
        Match m;
        m.kind = Kind::Class;
        m.class_ = class_code;
        m.subclass = subclass;
        m.prog_if = prog_if;
        return m;
    }
    static constexpr Match location(Address a) {
        Match m;
        m.kind = Kind::Location;
        m.address = a;
        return m;
    }
    bool matches(const FunctionInfo&) const;

    Kind kind = Kind::Id;
    uint16_t vendor = 0, device = 0;
    uint8_t class_ = 0, subclass = 0;
    int prog_if = ANY_PROG_IF;
    Address address;
};

class PciDevice {
public:
    const FunctionInfo& info() const { return info_; }
    Address address() const { return info_.address; }
    bool claimed() const { return owner_[0] != 0; }
    const char* owner() const { return owner_; }

    // Configuration space of this function only. Inval for an unaligned or out-of-range offset
    // (256 bytes under port I/O, 4 KiB under ECAM), Perm when not claimed.
    Result<uint8_t> config_read8(uint16_t offset);
    Result<uint16_t> config_read16(uint16_t offset);
    Result<uint32_t> config_read32(uint16_t offset);
    Result<void> config_write8(uint16_t offset, uint8_t value);
    Result<void> config_write16(uint16_t offset, uint16_t value);
    Result<void> config_write32(uint16_t offset, uint32_t value);

    // Maps a memory BAR (uncached) and returns its kernel address; a second call returns the same
    // mapping. NoEnt: no such BAR; Inval: an I/O BAR; NXIO: the firmware assigned no address.
    Result<volatile void*> map_bar(unsigned index);

    Result<void> enable_memory_space();
    Result<void> enable_io_space();
    Result<void> enable_bus_mastering();
    Result<void> disable_bus_mastering();

    // MSI-X. The table is mapped on first use (through map_bar of its BAR, which the function's
    // memory decoding must be on to reach). Entries are set masked or unmasked; the address and
    // data come from the interrupt code (irq::compose_msi). NotSup: the function has no usable
    // MSI-X; Range: index beyond the table.
    uint16_t msix_vector_count() const { return info_.msix.present ? info_.msix.table_size : 0; }
    Result<void> msix_set_entry(uint16_t index, uint64_t address, uint32_t data, bool masked);
    Result<void> msix_mask(uint16_t index);
    Result<void> msix_unmask(uint16_t index);
    Result<bool> msix_is_masked(uint16_t index);
    // Enables MSI-X (and turns MSI and INTx off, which MSI-X replaces), keeping the function mask.
    Result<void> msix_enable();
    Result<void> msix_disable();
    Result<void> msix_set_function_mask(bool masked);

private:
    friend class Bus;
    struct Mapping {
        volatile uint8_t* base = nullptr;  // page-aligned start of the mapping
        size_t length = 0;
        size_t offset = 0;  // of the BAR within the first page
    };

    Result<void> check_claimed() const;
    Result<void> check_access(uint16_t offset, unsigned width) const;
    Result<volatile uint32_t*> msix_entry(uint16_t index);
    // Read-modify-write of a 16-bit register: sets `set`, clears `clear`.
    void update16(uint16_t offset, uint16_t set, uint16_t clear);
    Result<void> change_command(uint16_t set, uint16_t clear);  // claimed devices only
    void quiesce();                                             // what release does to the hardware

    FunctionInfo info_;
    ConfigSpace* config_ = nullptr;
    char owner_[32] = {};
    Mapping mappings_[MAX_BARS];
    volatile uint8_t* msix_table_ = nullptr;
};

// Chooses ECAM when the MCFG covers a segment (port I/O otherwise), enumerates every function,
// gives addresses to BARs the firmware left unassigned (see assign.h; the memory map says where
// RAM is) and logs one line per function. After mm::init and acpi::init.
void init(const boot::BootInfo&);

// Claim and release; see the top of this file.
Result<PciDevice*> claim(const Match&, const char* owner);
Result<void> release(PciDevice*);

// The device table, for diagnostics and tests.
size_t device_count();
PciDevice* device(size_t index);
// The mechanism init chose, and the port I/O one (always present on x86, for cross-checks).
ConfigSpace* config_space();
ConfigSpace& port_config_space();
bool using_ecam();

}  // namespace lamina::pci
