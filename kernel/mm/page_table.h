// lamina:portable
// PageTable: x86-64 four-level page-table walking (map, unmap, translate), independent of how
// physical memory is reached.
//
// Guarantees
//   - Every table page is reached through a PhysMemory accessor: the kernel passes one backed by
//     the direct map and the frame allocator, the host tests one over plain heap memory, so the
//     walking logic runs under ASan/UBSan with made-up physical addresses.
//   - map() creates missing intermediate tables; a 4 KiB change inside a 2 MiB page splits that
//     page first into 512 4 KiB entries with the same frame, permissions and cache type, so
//     every other address of the old 2 MiB page keeps its translation.
//   - Intermediate entries are permissive (present, writable, and user when a user page sits
//     below them); the leaf decides. The PAT bit is given and reported in 4 KiB position
//     (PageFlag::Pat, bit 7) whatever the page size; 2 MiB entries store it at bit 12.
//   - unmap() hands back the frame and any intermediate tables that became empty, instead of
//     freeing them: another CPU may still hold translations through them until the caller's TLB
//     shoot-down, and only then may the caller return them to the allocator. Tables directly
//     below the root (PDPTs) are never released: in the kernel half they are shared with every
//     address space, which copies the root's entries.
//   - Nothing here touches the TLB; the caller invalidates (invlpg for 4 KiB changes; after a
//     split, an invlpg of any address in the old 2 MiB page drops the large entry).
//   - Bad arguments are errors, never corruption: misaligned or non-canonical addresses, flag
//     bits outside PageFlag, physical addresses beyond 52 bits (Inval); mapping over an existing
//     mapping (Exist); unmapping or translating a hole (NoEnt); no memory for a table (NoMem,
//     with the tables created so far left in place, empty, for the next attempt).
//
// Locking
//   None inside: the owner of the address space serialises every call.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/mm/buddy.h"  // PAGE_SIZE

namespace lamina::mm {

// Leaf permission and cache bits, with their x86-64 4 KiB page-table-entry values.
namespace PageFlag {
inline constexpr uint64_t Writable = uint64_t{1} << 1;
inline constexpr uint64_t User = uint64_t{1} << 2;
inline constexpr uint64_t WriteThrough = uint64_t{1} << 3;  // PWT
inline constexpr uint64_t CacheDisable = uint64_t{1} << 4;  // PCD
inline constexpr uint64_t Pat = uint64_t{1} << 7;           // selects PAT entries 4..7
inline constexpr uint64_t Global = uint64_t{1} << 8;
inline constexpr uint64_t NoExecute = uint64_t{1} << 63;
inline constexpr uint64_t ALL = Writable | User | WriteThrough | CacheDisable | Pat | Global | NoExecute;
}  // namespace PageFlag

inline constexpr uint64_t LARGE_PAGE_SIZE = uint64_t{1} << 21;

// Raw entry bits the walker uses.
namespace pte {
inline constexpr uint64_t Present = 1;
inline constexpr uint64_t Writable = 2;
inline constexpr uint64_t User = 4;
inline constexpr uint64_t Accessed = 32;
inline constexpr uint64_t Dirty = 64;
inline constexpr uint64_t Large = 128;          // PS in a PD or PDPT entry
inline constexpr uint64_t LargePat = 1u << 12;  // PAT bit of a 2 MiB / 1 GiB entry
inline constexpr uint64_t AddressMask = 0x000F'FFFF'FFFF'F000;
inline constexpr uint64_t ENTRIES = 512;
}  // namespace pte

// How the walker reaches and obtains page-table pages.
class PhysMemory {
public:
    // The 512 entries of the table page at phys.
    virtual uint64_t* table(uint64_t phys) = 0;
    // A zeroed, page-aligned table page, or NoMem.
    virtual Result<uint64_t> alloc_table() = 0;

protected:
    ~PhysMemory() = default;
};

struct Translation {
    uint64_t phys;       // physical address of virt itself (page base + offset)
    uint64_t flags;      // PageFlag bits of the leaf entry
    uint64_t page_size;  // 4 KiB, 2 MiB or 1 GiB
};

struct Unmapped {
    uint64_t phys;                // frame that was mapped (4 KiB aligned)
    uint64_t flags;               // its PageFlag bits
    uint64_t released_tables[2];  // page-table pages now unused: free after the TLB shoot-down
    unsigned released_count;
};

class PageTable {
public:
    constexpr PageTable(PhysMemory& memory, uint64_t root_phys) : memory_(&memory), root_(root_phys) {}

    uint64_t root() const { return root_; }

    // Maps the 4 KiB page at virt to phys. flags: PageFlag bits.
    Result<void> map(uint64_t virt, uint64_t phys, uint64_t flags);
    // Maps a 2 MiB page (both addresses 2 MiB aligned). Exist if anything, even an empty
    // 4 KiB table, already occupies that slot.
    Result<void> map_large(uint64_t virt, uint64_t phys, uint64_t flags);
    // Removes the 4 KiB mapping at virt (splitting a 2 MiB page if needed).
    Result<Unmapped> unmap(uint64_t virt);
    // Changes the flags of the 4 KiB page at virt, keeping its frame (splitting if needed).
    Result<void> protect(uint64_t virt, uint64_t flags);
    Result<Translation> translate(uint64_t virt) const;

    // Splitting a 2 MiB page allocates a table; counted for diagnostics.
    uint64_t splits() const { return splits_; }

    static constexpr bool is_canonical(uint64_t virt) {
        uint64_t top = virt >> 47;
        return top == 0 || top == 0x1FFFF;
    }

private:
    // The PT entry for virt, creating tables and splitting a 2 MiB page on the way when create.
    Result<uint64_t*> leaf_entry(uint64_t virt, bool create, uint64_t table_flags);
    Result<void> split_large(uint64_t* pd_entry);

    PhysMemory* memory_;
    uint64_t root_;
    uint64_t splits_ = 0;
};

// The kernel's own page tables (implemented in kernel/mm/memory.cpp; kernel only). The kernel
// half is shared by every address space. These functions take the kernel page-table lock and
// invalidate the TLB on every CPU themselves; flags are PageFlag bits (NoExecute is dropped on a
// CPU without NX; User is refused with Inval).
Result<void> map_kernel_page(uintptr_t virt, uint64_t phys, uint64_t flags);
// Returns the frame that was mapped; the frame is not freed (the caller owns it). Intermediate
// tables that became empty are freed after the shoot-down.
Result<uint64_t> unmap_kernel_page(uintptr_t virt);
Result<void> protect_kernel_page(uintptr_t virt, uint64_t flags);
// The same for `pages` consecutive pages with one shoot-down for them all (a shoot-down is an
// IPI to every other CPU: per page it dominates loading and tearing down a domain image).
// unmap_kernel_range sets frames[i] to the frame that was mapped at page i, 0 where none was,
// and returns once no CPU can reach them any more; the caller owns (and frees) them.
Result<void> protect_kernel_range(uintptr_t virt, size_t pages, uint64_t flags);
void unmap_kernel_range(uintptr_t virt, size_t pages, uint64_t* frames);
// Any canonical address (the lower half of the kernel's tables is empty: NoEnt).
Result<Translation> translate_kernel(uintptr_t virt);
// The CR3 value every CPU runs the kernel on.
uint64_t kernel_root_phys();
// A fresh PML4 whose higher half is the kernel's (entries 256..511 copied: they point at the
// shared kernel PDPTs, which are never freed); the lower half is empty. Owner::page_table().
// With PageTable(kernel_phys_memory(), root) the caller fills its lower half (e.g. an identity
// mapping of the AP trampoline).
Result<uint64_t> create_address_space_root();
PhysMemory& kernel_phys_memory();

}  // namespace lamina::mm
