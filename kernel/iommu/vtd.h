// lamina:portable
// Intel VT-d remapping hardware: registers, translation structures and invalidation
// descriptors, as the hardware reads them. Section numbers are those of the Intel
// Virtualization Technology for Directed I/O Architecture Specification, revision 4.1. Only
// legacy mode (not scalable mode) and second-level translation are described.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::iommu::vtd {

// 11.4 Register Descriptions: byte offsets in the unit's register page.
namespace reg {
inline constexpr uint32_t VER = 0x00;      // 32: version
inline constexpr uint32_t CAP = 0x08;      // 64: capability
inline constexpr uint32_t ECAP = 0x10;     // 64: extended capability
inline constexpr uint32_t GCMD = 0x18;     // 32: global command
inline constexpr uint32_t GSTS = 0x1C;     // 32: global status
inline constexpr uint32_t RTADDR = 0x20;   // 64: root table address
inline constexpr uint32_t CCMD = 0x28;     // 64: context command
inline constexpr uint32_t FSTS = 0x34;     // 32: fault status
inline constexpr uint32_t FECTL = 0x38;    // 32: fault event control
inline constexpr uint32_t FEDATA = 0x3C;   // 32: fault event data
inline constexpr uint32_t FEADDR = 0x40;   // 32: fault event address
inline constexpr uint32_t FEUADDR = 0x44;  // 32: fault event upper address
inline constexpr uint32_t IQH = 0x80;      // 64: invalidation queue head
inline constexpr uint32_t IQT = 0x88;      // 64: invalidation queue tail
inline constexpr uint32_t IQA = 0x90;      // 64: invalidation queue address
inline constexpr uint32_t ICS = 0x9C;      // 32: invalidation completion status
// Relative to ECAP.IRO * 16 (11.4.8): the IOTLB registers.
inline constexpr uint32_t IVA = 0x00;    // 64: invalidate address
inline constexpr uint32_t IOTLB = 0x08;  // 64: IOTLB invalidate
}  // namespace reg

// 11.4.2 Capability Register.
struct Capability {
    uint64_t raw;
    // Supported adjusted guest address widths: bit 1 = 39-bit (3-level), bit 2 = 48-bit (4-level).
    constexpr uint32_t sagaw() const { return uint32_t(raw >> 8) & 0x1F; }
    constexpr uint32_t mgaw() const { return (uint32_t(raw >> 16) & 0x3F) + 1; }  // bits of DMA address
    constexpr bool rwbf() const { return raw & (1ull << 4); }                     // write-buffer flush needed
    constexpr bool caching_mode() const { return raw & (1ull << 7); }             // not-present entries cached
    constexpr uint32_t domains() const { return 1u << (4 + 2 * (raw & 7)); }      // ND: 2^(4+2*ND) domain ids
    constexpr uint32_t fault_record_offset() const { return uint32_t((raw >> 24) & 0x3FF) * 16; }  // FRO
    constexpr uint32_t fault_records() const { return uint32_t((raw >> 40) & 0xFF) + 1; }          // NFR
};

// 11.4.3 Extended Capability Register.
struct ExtendedCapability {
    uint64_t raw;
    constexpr bool coherent() const { return raw & 1; }                                    // C: walks snoop the caches
    constexpr bool queued_invalidation() const { return raw & 2; }                         // QI
    constexpr bool interrupt_remapping() const { return raw & 8; }                         // IR
    constexpr bool pass_through() const { return raw & 64; }                               // PT
    constexpr uint32_t iotlb_offset() const { return uint32_t((raw >> 8) & 0x3FF) * 16; }  // IRO
};

// 11.4.4 Global Command / 11.4.5 Global Status: the same bit in each (command, status).
namespace gcmd {
inline constexpr uint32_t TE = 1u << 31;    // translation enable / TES
inline constexpr uint32_t SRTP = 1u << 30;  // set root table pointer / RTPS (one shot)
inline constexpr uint32_t WBF = 1u << 27;   // write buffer flush / WBFS (one shot)
inline constexpr uint32_t QIE = 1u << 26;   // queued invalidation enable / QIES
inline constexpr uint32_t IRE = 1u << 25;   // interrupt remapping enable / IRES
}  // namespace gcmd

// 11.4.6 Root Table Address Register: bits 11:10 select the translation table mode.
inline constexpr uint64_t RTADDR_TTM_LEGACY = 0ull << 10;

// 11.4.7.1 Context Command Register.
namespace ccmd {
inline constexpr uint64_t ICC = 1ull << 63;     // invalidate; hardware clears it when done
inline constexpr uint64_t GLOBAL = 1ull << 61;  // CIRG = 01
inline constexpr uint64_t DOMAIN = 2ull << 61;  // CIRG = 10
inline constexpr uint64_t DEVICE = 3ull << 61;  // CIRG = 11
constexpr uint64_t did(uint16_t d) { return d; }
constexpr uint64_t sid(uint16_t s) { return uint64_t(s) << 16; }
}  // namespace ccmd

// 11.4.8.1 IOTLB Invalidate Register.
namespace iotlb {
inline constexpr uint64_t IVT = 1ull << 63;     // invalidate; hardware clears it when done
inline constexpr uint64_t GLOBAL = 1ull << 60;  // IIRG = 01
inline constexpr uint64_t DOMAIN = 2ull << 60;  // IIRG = 10
inline constexpr uint64_t DRAIN = 3ull << 48;   // DR | DW: drain reads and writes first
constexpr uint64_t did(uint16_t d) { return uint64_t(d) << 32; }
}  // namespace iotlb

// 11.4.9.1 Fault Status Register.
namespace fsts {
inline constexpr uint32_t PFO = 1u << 0;                                // primary fault overflow (write 1 to clear)
inline constexpr uint32_t PPF = 1u << 1;                                // primary pending fault (a record has F set)
inline constexpr uint32_t IQE = 1u << 4;                                // invalidation queue error
inline constexpr uint32_t ITE = 1u << 6;                                // invalidation time-out error
constexpr uint32_t fault_index(uint32_t v) { return (v >> 8) & 0xFF; }  // FRI
}  // namespace fsts

inline constexpr uint32_t FECTL_IM = 1u << 31;  // 11.4.9.2: fault interrupt masked

// 11.4.14 Fault Recording Registers: 128 bits each, from Capability::fault_record_offset().
struct [[gnu::packed]] FaultRecord {
    uint64_t lo;  // FI (63:12): the page of the faulting request
    uint64_t hi;
    constexpr uint64_t address() const { return lo & ~0xFFFull; }
    constexpr uint16_t source_id() const { return uint16_t(hi); }   // bus << 8 | dev << 3 | fn
    constexpr uint8_t reason() const { return uint8_t(hi >> 32); }  // FR (Appendix A)
    constexpr bool read() const { return (hi >> 62) & 1; }          // T1: 1 read, 0 write
    constexpr bool fault() const { return (hi >> 63) & 1; }         // F (write 1 to clear)
};
static_assert(sizeof(FaultRecord) == 16);
inline constexpr uint64_t FAULT_RECORD_F = 1ull << 63;

// 9.1 Root Entry (legacy mode): one per bus, pointing at its context table.
struct [[gnu::packed]] RootEntry {
    uint64_t lo;  // P (0), context-table pointer (63:12)
    uint64_t hi;  // reserved
};
static_assert(sizeof(RootEntry) == 16);
inline constexpr size_t ROOT_ENTRIES = 256;

// 9.3 Context Entry (legacy mode): one per device/function of a bus.
struct [[gnu::packed]] ContextEntry {
    uint64_t lo;  // P (0), FPD (1), TT (3:2), second-level page table pointer (63:12)
    uint64_t hi;  // AW (2:0), DID (23:8)
};
static_assert(sizeof(ContextEntry) == 16);
inline constexpr size_t CONTEXT_ENTRIES = 256;
inline constexpr uint64_t ENTRY_PRESENT = 1;
inline constexpr uint64_t CONTEXT_TT_UNTRANSLATED = 0ull << 2;                  // second-level tables, no ATS
constexpr uint64_t context_aw(unsigned levels) { return levels == 4 ? 2 : 1; }  // 48 or 39 bits
constexpr uint64_t context_did(uint16_t did) { return uint64_t(did) << 8; }

// 9.8 Second-Level Paging Entries: 512 8-byte entries per 4 KiB table, 9 bits of address per
// level. Non-leaf and 4 KiB leaf entries share the layout used here.
inline constexpr uint64_t SL_READ = 1ull << 0;
inline constexpr uint64_t SL_WRITE = 1ull << 1;
inline constexpr uint64_t SL_ADDRESS = 0x000FFFFFFFFFF000ull;
inline constexpr size_t SL_ENTRIES = 512;

// 6.5.2 Invalidation descriptors (128-bit, legacy mode), low qword's type in bits 3:0.
struct [[gnu::packed]] Descriptor {
    uint64_t lo;
    uint64_t hi;
};
static_assert(sizeof(Descriptor) == 16);
namespace desc {
inline constexpr uint64_t CONTEXT = 0x1;               // 6.5.2.1 context-cache invalidate
inline constexpr uint64_t CONTEXT_GLOBAL = 1ull << 4;  // G = 01
inline constexpr uint64_t IOTLB = 0x2;                 // 6.5.2.2 IOTLB invalidate
inline constexpr uint64_t IOTLB_GLOBAL = 1ull << 4;    // G = 01
inline constexpr uint64_t IOTLB_DOMAIN = 2ull << 4;    // G = 10
inline constexpr uint64_t IOTLB_DRAIN = 3ull << 6;     // DR | DW
constexpr uint64_t did(uint16_t d) { return uint64_t(d) << 16; }
inline constexpr uint64_t WAIT = 0x5;           // 6.5.2.8 invalidation wait
inline constexpr uint64_t WAIT_SW = 1ull << 5;  // write status data to the address
constexpr uint64_t wait_data(uint32_t v) { return uint64_t(v) << 32; }
}  // namespace desc
// 11.4.10.3 Invalidation Queue Address Register: base (63:12), DW (11) = 0 for 128-bit
// descriptors, QS (2:0): 2^QS pages of 256 descriptors. IQT/IQH hold the index << 4.
inline constexpr uint32_t QUEUE_DESCRIPTORS = 256;  // QS = 0
inline constexpr uint32_t IQT_SHIFT = 4;

// Appendix A: the fault reasons a driver domain's device causes.
inline constexpr uint8_t FAULT_ROOT_NOT_PRESENT = 0x1;
inline constexpr uint8_t FAULT_CONTEXT_NOT_PRESENT = 0x2;
inline constexpr uint8_t FAULT_BEYOND_WIDTH = 0x4;
inline constexpr uint8_t FAULT_NO_WRITE = 0x5;
inline constexpr uint8_t FAULT_NO_READ = 0x6;
inline constexpr uint8_t FAULT_PAGE_NOT_PRESENT = 0x7;

constexpr uint16_t source_id(uint8_t bus, uint8_t device, uint8_t function) {
    return uint16_t(bus << 8 | device << 3 | function);
}

}  // namespace lamina::iommu::vtd
