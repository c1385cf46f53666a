// lamina:portable
// Validation of a domain's ELF: everything the loader will later read or write is checked here,
// once, so that loading a validated image cannot go out of bounds whatever the file says.
//
// What a domain ELF must be (see docs/domains.md, "Packages and loading"): ELF64, little-endian, x86-64, ET_DYN;
// PT_LOAD segments page-consistent (vaddr and offset equal modulo the page size), sorted, not
// sharing pages, never writable and executable, within DOMAIN_MAX_IMAGE of address 0; one
// PT_DYNAMIC inside a loaded segment; no interpreter, TLS, DT_NEEDED, static constructors,
// DT_TEXTREL or executable stack; no undefined symbols; only RELATIVE, 64, GLOB_DAT and
// JUMP_SLOT relocations, all against the package's own symbols and all into writable
// segments; exactly one exported symbol, the function DOMAIN_ENTRY_SYMBOL in executable code.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/domain_abi.h>
#include <lamina/page.h>

#include "kernel/domain/loader/load_error.h"

namespace lamina::domain {

inline constexpr char DOMAIN_ENTRY_SYMBOL[] = LAMINA_DOMAIN_ENTRY_SYMBOL;
inline constexpr uint64_t ELF_PAGE_SIZE = PAGE_SIZE;
inline constexpr size_t MAX_LOAD_SEGMENTS = 8;
inline constexpr uint64_t DOMAIN_MAX_IMAGE = 256ull << 20;
inline constexpr size_t MAX_SYMBOLS = 1u << 20;
inline constexpr size_t MAX_RELOCATIONS = 1u << 22;

// Page permissions, as the memory provider takes them.
enum : uint32_t { kProtRead = 1, kProtWrite = 2, kProtExec = 4 };

struct ElfSegment {
    uint64_t vaddr;  // link-time address of the first byte
    uint64_t memsz;
    uint64_t offset;  // in the ELF file
    uint64_t filesz;
    uint32_t prot;  // kProt* bits
};

// A table inside the file: `count` entries of fixed size at file offset `offset`.
struct FileTable {
    uint64_t offset = 0;
    uint64_t count = 0;
};

// A validated ELF. Addresses are link-time virtual addresses; file offsets index `data`.
struct ElfImage {
    const uint8_t* data = nullptr;
    size_t size = 0;
    uint64_t image_start = 0;  // page-aligned: the first loaded page
    uint64_t image_end = 0;    // page-aligned: past the last loaded page
    ElfSegment segments[MAX_LOAD_SEGMENTS] = {};
    size_t segment_count = 0;
    uint64_t relro_start = 0;  // page-aligned range made read-only after relocation
    uint64_t relro_end = 0;    //   (empty when start == end)
    FileTable relocations[2];  // DT_RELA and DT_JMPREL
    FileTable dynsym;
    uint64_t dynstr_offset = 0;
    uint64_t dynstr_size = 0;
    FileTable symtab;  // .symtab if the file has one, else the dynamic symbols
    uint64_t symtab_strings_offset = 0;
    uint64_t symtab_strings_size = 0;
    uint64_t entry = 0;  // link-time address of DOMAIN_ENTRY_SYMBOL
};

Result<ElfImage> validate_elf(const uint8_t* data, size_t size, LoadError& err);

}  // namespace lamina::domain
