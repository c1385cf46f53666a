// lamina:portable
// The file system's sectors over an imported block interface (interfaces/block.idl): every
// read, write and flush becomes one batch of requests sent with Block::submit, each request
// carrying an exchange-heap buffer the driver DMAs into or out of. Requests and their buffers
// are kept between calls (they come back with the batch), so steady-state I/O allocates nothing.
//
// A run of sectors is split into requests of at most CHUNK_SECTORS (and the device's
// max_blocks) and up to 32 of them go in one batch, i.e. one domain crossing per 32 chunks.
//
// Only 512-byte logical blocks are supported (QEMU's NVMe default): with 4096-byte blocks
// the 1 KiB ext2 blocks and the GPT's 512-byte LBAs would need read-modify-write; connect()
// refuses such a device with NotSup.
//
// Not thread-safe: the fs domain serializes calls.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>
#include <lamina/rref.h>

#include "domains/fs/block_device.h"
#include "domains/fs/fs_log.h"
#include "interfaces/block.h"

namespace lamina::fs {

class BlockClient final : public BlockDevice {
public:
    static constexpr uint32_t CHUNK_SECTORS = 64;  // 32 KiB per request
    static constexpr uint32_t BATCH = 32;          // RRefDeque<BlockRequest, 32>

    BlockClient(idl::Block& dev, FsLog* log) : dev_(dev), log_(log) {}

    // Asks the device for its geometry. NotSup for a block size other than 512.
    Result<void> connect();

    uint64_t sector_count() const override { return info_.block_count; }
    Result<void> read_sectors(uint64_t lba, uint32_t count, void* buf) override;
    Result<void> write_sectors(uint64_t lba, uint32_t count, const void* buf) override;
    Result<void> flush() override;
    // Gathered I/O: the runs (up to 32 at a time) sorted by LBA, adjacent ones merged into
    // requests of up to a chunk, as few batches as that takes: the buffer cache's 32 dirty or
    // read-ahead blocks of 4 KiB go to the driver as 4 requests of 32 KiB in one crossing when
    // they are contiguous on disk. A write batch's requests must not overlap (the driver may
    // reorder them).
    Result<void> write_runs(const SectorRun* runs, size_t count) override;
    Result<void> read_runs(const SectorRunIn* runs, size_t count) override;

    struct Stats {
        uint64_t submits, requests, sectors_read, sectors_written;
    };
    const Stats& stats() const { return stats_; }

private:
    Result<void> transfer(idl::BlockOp op, uint64_t lba, uint32_t count, uint8_t* buf);
    // A request with a buffer of chunk_bytes() from the pool, or a new one.
    Result<RRef<idl::BlockRequest>> take_request();
    // batch_ exists and is empty.
    Result<void> ready_batch();
    // Sends batch_ and puts the requests back in the pool, in submission order, into done[].
    Result<uint32_t> submit(RRef<idl::BlockRequest>* done);
    uint32_t chunk_sectors() const;
    // Checks the completed requests of one batch (statuses; for reads, places and sizes, and
    // copies the data to read_base + (lba - first_lba) sectors) and pools them again.
    Result<void> complete(RRef<idl::BlockRequest>* done, uint32_t n, idl::BlockOp op, uint8_t* read_base,
                          uint64_t first_lba, uint64_t sectors);
    // Fills batch_ with requests for runs[i..] (sorted by LBA), merging pieces that continue
    // each other into requests of up to a chunk; copy(to, run, first_sector, sectors) fills a
    // write's buffer. i and done_in_run say where the next batch starts.
    template <typename Run, typename Copy>
    Result<void> fill_merged(idl::BlockOp op, const Run* runs, size_t n, size_t& i, uint32_t& done_in_run, Copy copy);

    idl::Block& dev_;
    FsLog* log_;
    idl::BlockInfo info_{};
    RRefDeque<idl::BlockRequest, BATCH> batch_;
    RRef<idl::BlockRequest> pool_[BATCH];
    uint32_t pooled_ = 0;
    Stats stats_{};
};

}  // namespace lamina::fs
