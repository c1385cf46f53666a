// lamina:portable
// What the kernel learns about one PCI function from its configuration space: identity, class,
// interrupt pin, the decoded and sized BARs and the capability list.
//
// Configuration data comes from hardware and firmware and is not trusted: a capability list
// that loops or points into the header, a BAR whose size is not a power of two or a 64-bit BAR
// in the last slot is recorded in FunctionInfo::problems (the kernel logs it) and the bad part
// is left out, never followed.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/dev/pci/config_space.h"
#include "kernel/dev/pci/registers.h"

namespace lamina::pci {

inline constexpr unsigned MAX_BARS = 6;
inline constexpr unsigned MAX_RECORDED_CAPABILITIES = 16;

enum class BarKind : uint8_t {
    None,  // not implemented, the upper half of a 64-bit BAR, or malformed (see problems)
    Io,
    Mem32,  // includes the legacy below-1-MiB type
    Mem64,  // this BAR and the next one together
};

struct Bar {
    BarKind kind = BarKind::None;
    bool prefetchable = false;
    uint64_t address = 0;  // as the firmware assigned it; 0 if unassigned
    uint64_t size = 0;     // a power of two when kind != None

    bool is_memory() const { return kind == BarKind::Mem32 || kind == BarKind::Mem64; }
};

struct Capability {
    uint8_t id = 0;
    uint8_t offset = 0;
};

// LBS 6.8.1.
struct MsiInfo {
    bool present = false;
    uint8_t offset = 0;
    bool is_64bit = false;
    bool per_vector_mask = false;
    uint8_t vectors = 0;  // what the function can request: 1-32
};

// LBS 6.8.2. The table and PBA are checked against their BAR when BARs are sized.
struct MsixInfo {
    bool present = false;
    uint8_t offset = 0;
    uint16_t table_size = 0;  // entries, 1-2048
    uint8_t table_bar = 0;
    uint32_t table_offset = 0;
    uint8_t pba_bar = 0;
    uint32_t pba_offset = 0;
};

// PCIe 7.5.3.
struct PcieInfo {
    bool present = false;
    uint8_t offset = 0;
    uint8_t port_type = 0;  // Device/Port Type: 0 endpoint, 4 root port, 9 RC integrated endpoint...
};

// Problems found in a function's configuration data; several may be set.
enum Problem : uint32_t {
    PROBLEM_CAP_POINTER_INTO_HEADER = 1u << 0,  // a capability pointer below 0x40
    PROBLEM_CAP_POINTER_MISALIGNED = 1u << 1,   // not on a dword boundary
    PROBLEM_CAP_LOOP = 1u << 2,                 // revisits an entry or exceeds 48 entries
    PROBLEM_CAP_TOO_MANY_TO_RECORD = 1u << 3,   // more than MAX_RECORDED_CAPABILITIES (not an error)
    PROBLEM_BAR_SIZE_NOT_POWER_OF_TWO = 1u << 4,
    PROBLEM_BAR64_IN_LAST_SLOT = 1u << 5,
    PROBLEM_BAR_RESERVED_TYPE = 1u << 6,
    PROBLEM_MSIX_TABLE_OUTSIDE_BAR = 1u << 7,
    PROBLEM_MSIX_PBA_OUTSIDE_BAR = 1u << 8,
    PROBLEM_UNKNOWN_HEADER_TYPE = 1u << 9,
    PROBLEM_BRIDGE_BUS_INVALID = 1u << 10,  // secondary bus not after its own bus, or out of range
    PROBLEM_CAP_DUPLICATE = 1u << 11,       // MSI, MSI-X or PCIe twice: the first one is used
    PROBLEM_BAR_UNASSIGNED = 1u << 12,      // no address from firmware and none could be given
};
inline constexpr unsigned PROBLEM_COUNT = 13;
// A short phrase for one problem bit, for the log.
const char* problem_name(uint32_t bit);

struct FunctionInfo {
    Address address;
    uint16_t vendor = NO_VENDOR;
    uint16_t device = 0;
    uint8_t class_code = 0;
    uint8_t subclass = 0;
    uint8_t prog_if = 0;
    uint8_t revision = 0;
    uint8_t header_type = 0;  // without the multi-function bit
    bool multifunction = false;
    uint8_t interrupt_line = 0;
    uint8_t interrupt_pin = 0;  // 0 none, 1-4 INTA#-INTD#
    uint16_t command = 0;       // as found at enumeration

    uint8_t secondary_bus = 0;  // type 1 headers only
    uint8_t subordinate_bus = 0;

    Bar bars[MAX_BARS];
    unsigned bar_count = 0;  // BAR registers the header type has: 6, 2 or 1

    Capability capabilities[MAX_RECORDED_CAPABILITIES];
    unsigned capability_count = 0;
    MsiInfo msi;
    MsixInfo msix;
    PcieInfo pcie;

    uint32_t problems = 0;
    uint8_t bad_bars = 0;         // bit i: BAR i was malformed
    uint8_t bad_cap_pointer = 0;  // the offending pointer, for the log

    bool is_bridge() const { return header_type == HEADER_BRIDGE; }
    bool has_capability(CapabilityId id) const;
};

// Reads the function's header. Returns false (and leaves `out` with vendor NO_VENDOR) if there
// is no function at the address. Sizes the BARs and walks the capabilities: the BAR sizing
// briefly turns off the function's I/O and memory decoding, so this must not run while a driver
// uses the function.
bool read_function(ConfigSpace&, Address, FunctionInfo& out);

// The parts of read_function, for tests and for re-reading a function.
//
// Sizing writes all ones to each BAR with I/O and memory decoding off in the command register
// (LBS 6.2.5.1), then puts back the BAR and the command register exactly as they were.
void size_bars(ConfigSpace&, FunctionInfo&);
// Walks the list from the capabilities pointer: at most MAX_CAPABILITIES entries, each pointer
// on a dword boundary and past the header, no entry twice.
void walk_capabilities(ConfigSpace&, FunctionInfo&);
// Checks the MSI-X table and PBA against the sized BARs.
void check_msix_location(FunctionInfo&);

// "nvme", "ethernet", "host bridge"... or nullptr if the class is not one we name.
const char* class_name(uint8_t class_code, uint8_t subclass, uint8_t prog_if);

// One line describing the function, lspci-like:
//   00:01.0 1b36:0010 class 01.08.02 nvme BAR0 mem64 0xfebf0000 16 KiB, MSI-X 65 vectors
// (the segment is shown only when it is not 0). Returns the length the whole line would have.
size_t describe(const FunctionInfo&, char* buf, size_t size);

}  // namespace lamina::pci
