// lamina:portable
// The .dom package: one file that carries a domain's manifest and its ELF, so that a boot module
// (or a file on the ESP) is a whole domain. Built by tools/pack-domain, read by the loader.
//
// Layout (all fields little-endian):
//   [0, 64)          PackageHeader
//   manifest_offset  manifest text (manifest_size bytes, no NUL)
//   elf_offset       the ELF file (elf_size bytes; 16-byte aligned in the package)
// The sections lie in this order without overlap; total_size is the file's size. checksum is
// the CRC-32 (IEEE 802.3, as zlib computes it) of the whole file with the checksum field read
// as zero: it catches a truncated or damaged module before the ELF checks see it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/domain/loader/load_error.h"

namespace lamina::domain {

struct PackageHeader {
    char magic[8];            // PACKAGE_MAGIC
    uint32_t format_version;  // PACKAGE_FORMAT_VERSION
    uint32_t header_size;     // sizeof(PackageHeader)
    uint32_t manifest_offset;
    uint32_t manifest_size;
    uint32_t elf_offset;
    uint32_t elf_size;
    uint64_t total_size;
    uint32_t checksum;
    uint32_t flags;        // none defined: must be zero
    uint8_t reserved[16];  // must be zero
};
static_assert(sizeof(PackageHeader) == 64);
static_assert(offsetof(PackageHeader, checksum) == 40);

inline constexpr char PACKAGE_MAGIC[8] = {'L', 'A', 'M', 'I', 'N', 'A', 'D', 'M'};
inline constexpr uint32_t PACKAGE_FORMAT_VERSION = 1;
inline constexpr uint32_t PACKAGE_ELF_ALIGN = 16;
inline constexpr size_t PACKAGE_MAX_SIZE = 64u << 20;

// The parts of a package that passed the header and checksum checks; pointers into the buffer.
struct PackageView {
    const uint8_t* manifest;
    size_t manifest_size;
    const uint8_t* elf;
    size_t elf_size;
};

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);

// The checksum of a package as stored in its header (the field itself read as zero).
uint32_t package_checksum(const uint8_t* data, size_t size);

Result<PackageView> parse_package(const uint8_t* data, size_t size, LoadError& err);

// The size of the package that write_package makes from these parts.
size_t package_size(size_t manifest_size, size_t elf_size);

// Writes a package into out (package_size() bytes). Used by tools/pack-domain and the tests.
Result<void> write_package(const uint8_t* manifest, size_t manifest_size, const uint8_t* elf, size_t elf_size,
                           uint8_t* out, size_t out_size, LoadError& err);

}  // namespace lamina::domain
