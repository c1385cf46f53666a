// A block device in memory implementing interfaces/block.idl: the stand-in for the NVMe
// driver's shadow in the fs ktests and benchmarks (provided to domains as "block").
//
// Sparse: 4 KiB pages are allocated on first write; an unwritten page reads from the initial
// image (a boot module, read-only) or as zeros past it. So a 128 MiB disk made from a 4 MiB
// image costs only what is written.
//
// Called by the fs domain through the interface registry (kernel code running on the domain's
// behalf, no proxy in between): submit() checks and takes over the batch the way a proxy
// would, works on it, and hands it back.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "interfaces/block.h"
#include "kernel/sync/spinlock.h"

namespace lamina::storage {

class RamDisk final : public idl::Block {
public:
    static constexpr uint32_t BLOCK_SIZE = 512;
    static constexpr uint32_t MAX_BLOCKS = 256;  // per request: 128 KiB

    // size_bytes: a multiple of 4096, at least the image. The image must outlive the disk.
    static Result<RamDisk*> create(const uint8_t* image, size_t image_size, uint64_t size_bytes);
    ~RamDisk();
    RamDisk(const RamDisk&) = delete;
    RamDisk& operator=(const RamDisk&) = delete;

    Result<idl::BlockInfo> info() override;
    Result<RRefDeque<idl::BlockRequest, 32>> submit(RRefDeque<idl::BlockRequest, 32> batch) override;

    // Kernel-side access for tests and the image checks.
    void read(uint64_t offset, void* buf, size_t len);
    Result<void> write(uint64_t offset, const void* buf, size_t len);

    // A second disk holding what this one holds now: what a power cut at this moment would
    // leave of a disk that loses nothing it acknowledged. Writes must not be in flight.
    Result<RamDisk*> copy();

    // Test hook: the next batch holding a write (after `skip` such batches) is carried out but
    // comes back as a wild pointer, so that the caller's code faults on it (an fs domain fault
    // in the middle of a write-back, or at any chosen write of a journal commit).
    void sabotage_next_write(uint32_t skip = 0) { __atomic_store_n(&sabotage_, skip + 1, __ATOMIC_RELEASE); }
    void cancel_sabotage() { __atomic_store_n(&sabotage_, 0u, __ATOMIC_RELEASE); }

    struct Stats {
        uint64_t batches, reads, writes, flushes, pages;
    };
    Stats stats() const;

private:
    RamDisk() = default;
    uint8_t* page_for_write(uint64_t index);  // nullptr when out of memory
    bool take_sabotage();                     // counts a write batch down to the sabotaged one

    const uint8_t* image_ = nullptr;
    size_t image_size_ = 0;
    uint64_t size_ = 0;
    uint8_t** pages_ = nullptr;  // size_ / 4096 entries; lock_
    uint32_t sabotage_ = 0;      // atomic: write batches until the sabotaged one (0: none)
    mutable Spinlock lock_;      // pages_ and stats_; a leaf
    Stats stats_{};
};

}  // namespace lamina::storage
