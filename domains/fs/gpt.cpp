// lamina:portable
#include "domains/fs/gpt.h"

#include "domains/fs/crc32.h"

namespace lamina::fs {

namespace {

// UEFI 2.10 table 5.5 (GPT header) and 5.6 (partition entry).
struct [[gnu::packed]] GptHeader {
    char signature[8];  // "EFI PART"
    uint32_t revision;
    uint32_t header_size;  // bytes covered by header_crc
    uint32_t header_crc;   // computed with this field zero
    uint32_t reserved;
    uint64_t my_lba;
    uint64_t alternate_lba;
    uint64_t first_usable_lba;
    uint64_t last_usable_lba;
    uint8_t disk_guid[16];
    uint64_t entries_lba;
    uint32_t entry_count;
    uint32_t entry_size;
    uint32_t entries_crc;
};
static_assert(sizeof(GptHeader) == 92);

struct [[gnu::packed]] GptEntry {
    uint8_t type[16];  // all zero: unused entry
    uint8_t unique[16];
    uint64_t first_lba;
    uint64_t last_lba;
    uint64_t attributes;
    uint16_t name[36];  // UTF-16LE, NUL-padded
};
static_assert(sizeof(GptEntry) == 128);

// A disk with more entries than this is not one we made; refusing bounds the scan.
constexpr uint32_t MAX_ENTRIES = 4096;

bool names_equal(const uint16_t* utf16, const char* ascii) {
    size_t i = 0;
    for (; i < 36 && ascii[i]; i++)
        if (utf16[i] != static_cast<uint8_t>(ascii[i])) return false;
    return i == 36 || utf16[i] == 0;
}

Result<GptPartition> scan(BlockDevice& dev, uint64_t header_lba, const Guid& type, const char* name, FsLog* log) {
    uint8_t sector[SECTOR_SIZE];
    TRY(dev.read_sectors(header_lba, 1, sector));
    GptHeader h;
    __builtin_memcpy(&h, sector, sizeof h);
    const char* which = header_lba == 1 ? "primary" : "backup";
    if (__builtin_memcmp(h.signature, "EFI PART", 8) != 0) {
        log_line(log, "gpt: %s header: no 'EFI PART' signature", which);
        return Errno::IO;
    }
    if (h.header_size < sizeof(GptHeader) || h.header_size > SECTOR_SIZE) {
        log_line(log, "gpt: %s header: bad header size %u", which, h.header_size);
        return Errno::IO;
    }
    uint32_t want = h.header_crc;
    __builtin_memset(sector + 16, 0, 4);
    if (crc32(sector, h.header_size) != want) {
        log_line(log, "gpt: %s header: CRC32 mismatch", which);
        return Errno::IO;
    }
    uint64_t n = dev.sector_count();
    if (h.my_lba != header_lba) {
        log_line(log, "gpt: %s header: claims to be at LBA %llu", which, static_cast<unsigned long long>(h.my_lba));
        return Errno::IO;
    }
    if (h.first_usable_lba > h.last_usable_lba || h.last_usable_lba >= n) {
        log_line(log, "gpt: %s header: usable range outside the disk", which);
        return Errno::IO;
    }
    if (h.entry_size < 128 || h.entry_size > SECTOR_SIZE || (h.entry_size & (h.entry_size - 1))) {
        log_line(log, "gpt: %s header: unsupported entry size %u", which, h.entry_size);
        return Errno::IO;
    }
    if (h.entry_count == 0 || h.entry_count > MAX_ENTRIES) {
        log_line(log, "gpt: %s header: unreasonable entry count %u", which, h.entry_count);
        return Errno::IO;
    }
    uint32_t per_sector = SECTOR_SIZE / h.entry_size;
    uint64_t array_sectors = (h.entry_count + per_sector - 1) / per_sector;
    if (h.entries_lba < 2 || h.entries_lba >= n || array_sectors > n - h.entries_lba) {
        log_line(log, "gpt: %s header: entry array outside the disk", which);
        return Errno::IO;
    }

    // One pass: the CRC covers exactly entry_count * entry_size bytes; a match found on the way
    // is only trusted once the whole array's CRC is right.
    uint32_t crc = 0;
    bool found = false;
    bool found_by_name = false;
    GptPartition best{};
    for (uint32_t i = 0; i < h.entry_count; i++) {
        uint32_t slot = i % per_sector;
        if (slot == 0) TRY(dev.read_sectors(h.entries_lba + i / per_sector, 1, sector));
        const uint8_t* raw = sector + slot * h.entry_size;
        crc = crc32_update(crc, raw, h.entry_size);
        GptEntry e;
        __builtin_memcpy(&e, raw, sizeof e);
        Guid t;
        __builtin_memcpy(t.bytes, e.type, 16);
        if (t == Guid{}) continue;
        uint16_t ename[36];
        __builtin_memcpy(ename, e.name, sizeof ename);
        bool by_name = name && names_equal(ename, name);
        bool by_type = t == type;
        if (!(by_name || by_type) || found_by_name || (found && !by_name)) continue;
        found = true;
        found_by_name = by_name;
        best.index = i + 1;
        best.type = t;
        __builtin_memcpy(best.unique.bytes, e.unique, 16);
        best.first_lba = e.first_lba;
        best.last_lba = e.last_lba;
        best.attributes = e.attributes;
        for (int k = 0; k < 36; k++) best.name[k] = ename[k] < 0x80 ? static_cast<char>(ename[k]) : '?';
        best.name[36] = 0;
    }
    if (crc != h.entries_crc) {
        log_line(log, "gpt: %s header: partition entry array CRC32 mismatch", which);
        return Errno::IO;
    }
    if (!found) return Errno::NoEnt;
    if (best.first_lba > best.last_lba || best.first_lba < h.first_usable_lba || best.last_lba > h.last_usable_lba) {
        log_line(log, "gpt: partition %u: sectors %llu-%llu outside the usable range", best.index,
                 static_cast<unsigned long long>(best.first_lba), static_cast<unsigned long long>(best.last_lba));
        return Errno::IO;
    }
    return best;
}

}  // namespace

Result<GptPartition> gpt_find_partition(BlockDevice& dev, const Guid& type, const char* name, FsLog* log) {
    if (dev.sector_count() < 3) return Errno::IO;
    auto primary = scan(dev, 1, type, name, log);
    if (primary.is_ok() || primary.error().code() == Errno::NoEnt) return primary;
    log_line(log, "gpt: primary table unusable, trying the backup at the last LBA");
    return scan(dev, dev.sector_count() - 1, type, name, log);
}

}  // namespace lamina::fs
