// The GPT reader (domains/fs/gpt) on a hostile disk: the first 34 sectors come from the input
// (protective MBR, both headers' primary copy and the entry array), the rest of a 512 KiB disk is
// zero but for a copy of the input at the end (where the backup header and array live). The
// header CRCs are recomputed when the input asks (its first byte), so that mutations reach the
// entry checks behind them. A partition found must lie inside the disk.
#include "tests/fuzz/fuzz.h"

#include <vector>

#include "domains/fs/crc32.h"
#include "domains/fs/gpt.h"

using namespace lamina;
using namespace lamina::fs;

namespace {

class Disk final : public BlockDevice {
public:
    std::vector<uint8_t> bytes;
    explicit Disk(size_t size) : bytes(size) {}
    uint64_t sector_count() const override { return bytes.size() / SECTOR_SIZE; }
    Result<void> read_sectors(uint64_t lba, uint32_t count, void* buf) override {
        if (lba > sector_count() || count > sector_count() - lba) return Errno::Inval;
        memcpy(buf, bytes.data() + lba * SECTOR_SIZE, size_t{count} * SECTOR_SIZE);
        return {};
    }
    Result<void> write_sectors(uint64_t, uint32_t, const void*) override {
        FUZZ_CHECK(false, "the GPT reader wrote to the disk");
        return Errno::Inval;
    }
    Result<void> flush() override { return {}; }
};

struct Log final : FsLog {
    void line(const char* text) override { FUZZ_CHECK(strlen(text) < 512, "a runaway log line"); }
};

uint32_t load32(const uint8_t* p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

// UEFI 2.10 section 5.3.2: the header CRC covers HeaderSize bytes with its own field zero; the
// array CRC covers NumberOfPartitionEntries * SizeOfPartitionEntry bytes at PartitionEntryLBA.
void fix_header(std::vector<uint8_t>& disk, uint64_t lba) {
    uint8_t* h = disk.data() + lba * SECTOR_SIZE;
    uint64_t entries_lba;
    memcpy(&entries_lba, h + 72, 8);
    uint64_t array = uint64_t{load32(h + 80)} * load32(h + 84);
    if (entries_lba < disk.size() / SECTOR_SIZE && array <= disk.size() - entries_lba * SECTOR_SIZE) {
        uint32_t c = crc32(disk.data() + entries_lba * SECTOR_SIZE, array);
        memcpy(h + 88, &c, 4);
    }
    uint32_t header_size = load32(h + 12);
    if (header_size >= 92 && header_size <= SECTOR_SIZE) {
        memset(h + 16, 0, 4);
        uint32_t c = crc32(h, header_size);
        memcpy(h + 16, &c, 4);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    uint8_t flags = data[0];
    data++, size--;
    Disk disk(512u << 10);
    size_t head = size < 34 * SECTOR_SIZE ? size : 34 * SECTOR_SIZE;
    memcpy(disk.bytes.data(), data, head);
    // The backup: the input's sectors 1..33 reversed into the disk's last 33 sectors, header last.
    uint64_t last = disk.sector_count() - 1;
    if (head > SECTOR_SIZE)
        memcpy(disk.bytes.data() + last * SECTOR_SIZE, data + SECTOR_SIZE,
               head < 2 * SECTOR_SIZE ? head - SECTOR_SIZE : SECTOR_SIZE);
    if (head > 2 * SECTOR_SIZE)
        memcpy(disk.bytes.data() + (last - 32) * SECTOR_SIZE, data + 2 * SECTOR_SIZE, head - 2 * SECTOR_SIZE);
    if (flags & 1) fix_header(disk.bytes, 1);
    if (flags & 2) fix_header(disk.bytes, last);
    Log log;
    const char* names[] = {"root", nullptr, ""};
    Result<GptPartition> p = gpt_find_partition(disk, GPT_TYPE_LINUX_FS, names[(flags >> 2) % 3], &log);
    if (p.is_ok()) {
        const GptPartition& part = p.value();
        FUZZ_CHECK(part.first_lba <= part.last_lba && part.last_lba < disk.sector_count(),
                   "partition %lu..%lu outside a disk of %lu sectors", part.first_lba, part.last_lba,
                   disk.sector_count());
        FUZZ_CHECK(memchr(part.name, 0, sizeof part.name) != nullptr, "an unterminated name");
    }
    return 0;
}
