// lamina:portable
// What the boot loader told us, copied out of the loader's structures (which live in memory the
// frame allocator will reuse) into one fixed-size record.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::boot {

enum class BootPath : uint8_t { Multiboot1, Multiboot2 };

enum class MemoryType : uint8_t { Usable, Reserved, AcpiReclaimable, AcpiNvs, Bad };

struct MemoryRegion {
    uint64_t base;
    uint64_t length;
    MemoryType type;
};

struct Module {
    uint64_t start;  // physical
    uint64_t end;    // physical, exclusive
    char name[64];   // the loader's string for the module (path and arguments)
};

struct BootInfo {
    static constexpr size_t MAX_REGIONS = 128;
    static constexpr size_t MAX_MODULES = 128;  // the test image has ~70 (packages and programs)
    static constexpr size_t MAX_CMDLINE = 1024;

    BootPath path;
    char cmdline[MAX_CMDLINE];
    char loader_name[64];
    MemoryRegion regions[MAX_REGIONS];
    size_t region_count;
    size_t regions_dropped;  // entries beyond MAX_REGIONS
    bool memory_map_from_efi;
    Module modules[MAX_MODULES];
    size_t module_count;
    // A copy of the RSDP when the loader handed one over (multiboot2 under UEFI, where the BIOS
    // area cannot be scanned).
    uint8_t rsdp[36];
    size_t rsdp_length;
    // Highest physical address the loader's structures occupy: memory below it must not be
    // reused before everything needed has been copied.
    uint64_t info_end;
};

constexpr uint32_t MULTIBOOT1_LOADER_MAGIC = 0x2BADB002;
constexpr uint32_t MULTIBOOT2_LOADER_MAGIC = 0x36d76289;

// Maps a physical range of the loader's structures for reading. Returns nullptr when the range
// cannot be mapped; the parser then fails with EINVAL.
using PhysReader = const void* (*)(uint64_t phys, size_t len, void* ctx);

// Parses the multiboot1 or multiboot2 information at info_phys according to magic. Every length
// and pointer in the loader's structures is checked against the sizes it claims.
Result<void> parse_boot_info(uint32_t magic, uint64_t info_phys, PhysReader read, void* ctx, BootInfo& out);

const char* memory_type_name(MemoryType t);

}  // namespace lamina::boot
