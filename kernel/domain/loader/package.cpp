// lamina:portable
#include "kernel/domain/loader/package.h"

namespace lamina::domain {

namespace {

constexpr uint32_t CRC_POLY = 0xedb88320;  // IEEE 802.3, reflected

struct CrcTable {
    uint32_t entry[256];
    constexpr CrcTable() : entry() {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC_POLY : c >> 1;
            entry[i] = c;
        }
    }
};
constexpr CrcTable kCrcTable;

constexpr size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
    crc = ~crc;
    for (size_t i = 0; i < size; i++) crc = kCrcTable.entry[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t package_checksum(const uint8_t* data, size_t size) {
    constexpr size_t off = offsetof(PackageHeader, checksum);
    const uint8_t zero[4] = {};
    if (size < off + 4) return crc32(data, size);
    uint32_t crc = crc32(data, off);
    crc = crc32(zero, 4, crc);
    return crc32(data + off + 4, size - off - 4, crc);
}

Result<PackageView> parse_package(const uint8_t* data, size_t size, LoadError& err) {
    if (size < sizeof(PackageHeader))
        return err.fail(Errno::Inval, "package: %zu bytes, shorter than its %zu-byte header", size,
                        sizeof(PackageHeader));
    PackageHeader h;
    __builtin_memcpy(&h, data, sizeof(h));
    if (__builtin_memcmp(h.magic, PACKAGE_MAGIC, sizeof(h.magic)) != 0)
        return err.fail(Errno::Inval, "package: bad magic (not a .dom package)");
    if (h.format_version != PACKAGE_FORMAT_VERSION)
        return err.fail(Errno::Inval, "package: format version %u, this loader reads %u", h.format_version,
                        PACKAGE_FORMAT_VERSION);
    if (h.header_size != sizeof(PackageHeader))
        return err.fail(Errno::Inval, "package: header size %u, expected %zu", h.header_size, sizeof(PackageHeader));
    if (h.total_size != size)
        return err.fail(Errno::Inval, "package: header says %llu bytes, the file has %zu (truncated?)",
                        (unsigned long long)h.total_size, size);
    if (size > PACKAGE_MAX_SIZE)
        return err.fail(Errno::FBig, "package: %zu bytes, more than the %zu-byte limit", size, PACKAGE_MAX_SIZE);
    uint32_t sum = package_checksum(data, size);
    if (sum != h.checksum)
        return err.fail(Errno::Inval, "package: checksum mismatch (stored %08x, computed %08x): damaged file",
                        h.checksum, sum);
    if (h.flags != 0) return err.fail(Errno::Inval, "package: unknown flags %#x", h.flags);
    for (uint8_t b : h.reserved)
        if (b) return err.fail(Errno::Inval, "package: reserved header bytes are not zero");
    // 64-bit sums: the 32-bit fields cannot overflow them.
    uint64_t manifest_end = uint64_t(h.manifest_offset) + h.manifest_size;
    uint64_t elf_end = uint64_t(h.elf_offset) + h.elf_size;
    if (h.manifest_offset < sizeof(PackageHeader) || manifest_end > h.elf_offset || elf_end > size)
        return err.fail(Errno::Inval,
                        "package: sections out of order or out of bounds "
                        "(manifest %u+%u, elf %u+%u, file %zu)",
                        h.manifest_offset, h.manifest_size, h.elf_offset, h.elf_size, size);
    if (h.elf_offset % PACKAGE_ELF_ALIGN)
        return err.fail(Errno::Inval, "package: ELF at offset %u is not %u-byte aligned", h.elf_offset,
                        PACKAGE_ELF_ALIGN);
    if (h.manifest_size == 0) return err.fail(Errno::Inval, "package: no manifest");
    if (h.elf_size == 0) return err.fail(Errno::Inval, "package: no ELF");
    return PackageView{data + h.manifest_offset, h.manifest_size, data + h.elf_offset, h.elf_size};
}

size_t package_size(size_t manifest_size, size_t elf_size) {
    return align_up(sizeof(PackageHeader) + manifest_size, PACKAGE_ELF_ALIGN) + elf_size;
}

Result<void> write_package(const uint8_t* manifest, size_t manifest_size, const uint8_t* elf, size_t elf_size,
                           uint8_t* out, size_t out_size, LoadError& err) {
    if (manifest_size > PACKAGE_MAX_SIZE || elf_size > PACKAGE_MAX_SIZE ||
        package_size(manifest_size, elf_size) > PACKAGE_MAX_SIZE)
        return err.fail(Errno::FBig, "package: more than the %zu-byte limit", PACKAGE_MAX_SIZE);
    size_t total = package_size(manifest_size, elf_size);
    if (out_size != total)
        return err.fail(Errno::Inval, "package: output buffer is %zu bytes, need %zu", out_size, total);
    PackageHeader h = {};
    __builtin_memcpy(h.magic, PACKAGE_MAGIC, sizeof(h.magic));
    h.format_version = PACKAGE_FORMAT_VERSION;
    h.header_size = sizeof(PackageHeader);
    h.manifest_offset = sizeof(PackageHeader);
    h.manifest_size = uint32_t(manifest_size);
    h.elf_offset = uint32_t(align_up(sizeof(PackageHeader) + manifest_size, PACKAGE_ELF_ALIGN));
    h.elf_size = uint32_t(elf_size);
    h.total_size = total;
    __builtin_memset(out, 0, total);
    __builtin_memcpy(out, &h, sizeof(h));
    if (manifest_size) __builtin_memcpy(out + h.manifest_offset, manifest, manifest_size);
    if (elf_size) __builtin_memcpy(out + h.elf_offset, elf, elf_size);
    h.checksum = package_checksum(out, total);
    __builtin_memcpy(out + offsetof(PackageHeader, checksum), &h.checksum, sizeof(h.checksum));
    return {};
}

}  // namespace lamina::domain
