// lamina:portable
// The block interface the file system sits on: whole 512-byte sectors, read and written in
// runs. The fs domain will back it with the NVMe driver's block interface; the host tests back
// it with a file or an in-memory image. A PartitionDevice narrows a device to one partition so
// that the file system never sees (or can reach) sectors outside it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::fs {

constexpr uint32_t SECTOR_SIZE = 512;

class BlockDevice {
public:
    virtual uint64_t sector_count() const = 0;
    // Both transfer `count` sectors starting at `lba`; a range past the end is Errno::Inval.
    virtual Result<void> read_sectors(uint64_t lba, uint32_t count, void* buf) = 0;
    virtual Result<void> write_sectors(uint64_t lba, uint32_t count, const void* buf) = 0;
    // Makes every completed write durable.
    virtual Result<void> flush() = 0;

protected:
    ~BlockDevice() = default;
};

// Sectors [first, first + count) of a parent device, seen as sectors [0, count).
class PartitionDevice final : public BlockDevice {
public:
    PartitionDevice(BlockDevice& parent, uint64_t first, uint64_t count)
        : parent_(parent), first_(first), count_(count) {}

    uint64_t sector_count() const override { return count_; }
    Result<void> read_sectors(uint64_t lba, uint32_t count, void* buf) override {
        if (!in_range(lba, count)) return Errno::Inval;
        return parent_.read_sectors(first_ + lba, count, buf);
    }
    Result<void> write_sectors(uint64_t lba, uint32_t count, const void* buf) override {
        if (!in_range(lba, count)) return Errno::Inval;
        return parent_.write_sectors(first_ + lba, count, buf);
    }
    Result<void> flush() override { return parent_.flush(); }

private:
    bool in_range(uint64_t lba, uint32_t count) const {
        return lba <= count_ && count <= count_ - lba;
    }
    BlockDevice& parent_;
    uint64_t first_;
    uint64_t count_;
};

}  // namespace lamina::fs
