// lamina:portable
// GUID partition table reader (UEFI 2.10, section 5.3): finds the partition the file system
// lives on. Both the header CRC32 and the entry-array CRC32 are checked; when the primary
// header (LBA 1) is unusable the backup header (last LBA) is tried, as firmware does.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "domains/fs/block_device.h"
#include "domains/fs/fs_log.h"

namespace lamina::fs {

// A GUID in its on-disk byte order (the first three fields little-endian).
struct Guid {
    uint8_t bytes[16];
    bool operator==(const Guid&) const = default;
};

// 0FC63DAF-8483-4772-8E79-3D69D8477DE4, "Linux filesystem data".
constexpr Guid GPT_TYPE_LINUX_FS = {
    {0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4}};

struct GptPartition {
    uint32_t index;  // 1-based, as Linux numbers partitions
    Guid type;
    Guid unique;
    uint64_t first_lba;  // inclusive
    uint64_t last_lba;   // inclusive
    uint64_t attributes;
    char name[37];  // the UTF-16 name, ASCII characters kept, others as '?'
    uint64_t sector_count() const { return last_lba - first_lba + 1; }
};

// The partition named `name`, or (name == nullptr or no such name) the first partition of type
// `type`. Errno::NoEnt when none matches, Errno::IO (with a logged reason) for a corrupt table.
Result<GptPartition> gpt_find_partition(BlockDevice& dev, const Guid& type, const char* name, FsLog* log);

// The root file system: the partition named "root", else the first "Linux filesystem" one.
inline Result<GptPartition> gpt_find_root(BlockDevice& dev, FsLog* log) {
    return gpt_find_partition(dev, GPT_TYPE_LINUX_FS, "root", log);
}

}  // namespace lamina::fs
