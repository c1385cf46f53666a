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

// `count` sectors at `lba` from `data`: one piece of a gathered write.
struct SectorRun {
    uint64_t lba;
    uint32_t count;
    const void* data;
};

// `count` sectors at `lba` into `data`: one piece of a scattered read.
struct SectorRunIn {
    uint64_t lba;
    uint32_t count;
    void* data;
};

class BlockDevice {
public:
    virtual uint64_t sector_count() const = 0;
    // Both transfer `count` sectors starting at `lba`; a range past the end is Errno::Inval.
    virtual Result<void> read_sectors(uint64_t lba, uint32_t count, void* buf) = 0;
    virtual Result<void> write_sectors(uint64_t lba, uint32_t count, const void* buf) = 0;
    // Makes every completed write durable.
    virtual Result<void> flush() = 0;
    // Writes several runs (the buffer cache's write-back), as one batch where the device can
    // send many requests at once; this default writes them in turn. On an error some runs may
    // have been written.
    virtual Result<void> write_runs(const SectorRun* runs, size_t count) {
        for (size_t i = 0; i < count; i++) TRY(write_sectors(runs[i].lba, runs[i].count, runs[i].data));
        return {};
    }
    // The same for reads (the buffer cache's read-ahead).
    virtual Result<void> read_runs(const SectorRunIn* runs, size_t count) {
        for (size_t i = 0; i < count; i++) TRY(read_sectors(runs[i].lba, runs[i].count, runs[i].data));
        return {};
    }

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
    Result<void> write_runs(const SectorRun* runs, size_t count) override {
        return shifted(runs, count, [&](const SectorRun* moved, size_t n) { return parent_.write_runs(moved, n); });
    }
    Result<void> read_runs(const SectorRunIn* runs, size_t count) override {
        return shifted(runs, count, [&](const SectorRunIn* moved, size_t n) { return parent_.read_runs(moved, n); });
    }

private:
    // Checks every run against the partition and hands them on, moved to the parent's sectors,
    // in groups (so no allocation).
    template <typename Run, typename Forward>
    Result<void> shifted(const Run* runs, size_t count, Forward forward) {
        constexpr size_t GROUP = 32;
        Run moved[GROUP];
        for (size_t at = 0; at < count; at += GROUP) {
            size_t n = count - at < GROUP ? count - at : GROUP;
            for (size_t i = 0; i < n; i++) {
                if (!in_range(runs[at + i].lba, runs[at + i].count)) return Errno::Inval;
                moved[i] = {first_ + runs[at + i].lba, runs[at + i].count, runs[at + i].data};
            }
            TRY(forward(moved, n));
        }
        return {};
    }

    bool in_range(uint64_t lba, uint32_t count) const { return lba <= count_ && count <= count_ - lba; }
    BlockDevice& parent_;
    uint64_t first_;
    uint64_t count_;
};

}  // namespace lamina::fs
