// lamina:portable
// The domain loader's core: from the bytes of a .dom package to a relocated image in memory.
// It touches memory only through a MemoryProvider, so the same code runs in the kernel (backed
// by the domain's private pages and page tables) and in the host tests (backed by a buffer).
//
//   validate_package   header, checksum, manifest and ELF (see elf_image.h for the ELF rules)
//   load_image         allocate, zero, copy segments, relocate, set page permissions
//
// Every refusal fills a LoadError with a one-line reason.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/domain/loader/elf_image.h"
#include "kernel/domain/loader/load_error.h"
#include "kernel/domain/loader/manifest.h"
#include "kernel/domain/loader/symbol_table.h"

namespace lamina::domain {

class MemoryProvider {
public:
    struct Region {
        uintptr_t base;   // page-aligned address the image will run at
        uint8_t* window;  // where the loader writes it (equal to base in the kernel)
    };

    // `pages` contiguous pages, writable by the loader through the window.
    virtual Result<Region> allocate(size_t pages) = 0;
    // Final permissions (kProt* bits; 0 = no access) of `pages` pages from run address `addr`.
    virtual Result<void> protect(uintptr_t addr, size_t pages, uint32_t prot) = 0;
    // Gives back a region when loading fails after allocate().
    virtual void release(const Region& region, size_t pages) = 0;

protected:
    ~MemoryProvider() = default;
};

struct ValidatedPackage {
    Manifest manifest;
    ElfImage elf;
};

Result<void> validate_package(const uint8_t* data, size_t size, ValidatedPackage& out, LoadError& err);

struct LoadedSegment {
    uintptr_t start;  // run address, page-aligned
    size_t size;      // bytes, a whole number of pages
    uint32_t prot;
};

struct LoadedImage {
    uintptr_t base = 0;   // run address of the first image page
    size_t size = 0;      // bytes, whole pages
    uintptr_t bias = 0;   // run address minus link-time address
    uintptr_t entry = 0;  // run address of DOMAIN_ENTRY_SYMBOL
    // Every page of the image in address order with its final permissions (relro split off,
    // gaps between segments listed with no access).
    LoadedSegment segments[2 * MAX_LOAD_SEGMENTS + 1] = {};
    size_t segment_count = 0;
    SymbolTable symbols;  // points into the ELF bytes: keep the package alive
};

// Loads a validated image. The ELF bytes must stay unchanged between validation and loading.
Result<LoadedImage> load_image(const ElfImage& elf, MemoryProvider& memory, LoadError& err);

}  // namespace lamina::domain
