// lamina:portable
// The block buffer cache: a fixed number of block-sized buffers, found by block number through
// a hash table, recycled least-recently-used first. Modified buffers are marked dirty and
// written back on sync(), or when they are evicted; both write groups of up to WRITE_GROUP
// buffers in one BlockDevice::write_runs call.
//
// Journaling (ext3, set_journaling): a buffer holding metadata changed since the last commit
// is marked with mark_metadata() and belongs to the running transaction. It is neither written
// home nor evicted until the file system has logged it (for_each_metadata, then
// metadata_committed): writing it earlier could put half an operation on the disk with
// nothing in the journal to complete or undo it. Other dirty buffers (file data) are written
// back freely, and all of them before a commit (ordered mode: write_unlogged). A commit that
// is not durable yet (a pending one, journal.h) leaves its buffers pinned the same way until
// it is (metadata_durable): home before their commit block, they would be half an operation
// again after a power cut.
//
// A BufferRef pins its buffer (it cannot be evicted while referenced). The file-system code
// never holds more than a handful at a time (an indirect-block path, a bitmap, an inode-table
// block and a directory block), so the cache needs at least MIN_BUFFERS buffers.
//
// Not thread-safe: the file system serializes all calls into it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "domains/fs/block_device.h"
#include "domains/fs/ext2/allocator.h"
#include "domains/fs/fs_log.h"

namespace lamina::ext2 {

class BufferCache;

struct Buffer {
    uint64_t block;
    uint8_t* data;
    uint32_t pins;
    bool valid;  // data holds the block (read from disk, or fully written)
    bool dirty;
    bool metadata;     // dirty metadata of the running transaction (journaling only)
    bool pending;      // logged by a commit that is not durable yet (journaling only)
    Buffer* lru_prev;  // the LRU list holds every buffer; head is the most recently used
    Buffer* lru_next;
    Buffer* hash_next;
};

class BufferRef {
public:
    BufferRef() = default;
    BufferRef(BufferCache* cache, Buffer* b) : cache_(cache), buf_(b) {}
    BufferRef(BufferRef&& o) : cache_(o.cache_), buf_(o.buf_) { o.buf_ = nullptr; }
    BufferRef& operator=(BufferRef&& o);
    BufferRef(const BufferRef&) = delete;
    BufferRef& operator=(const BufferRef&) = delete;
    ~BufferRef() { reset(); }

    uint8_t* data() const { return buf_->data; }
    uint64_t block() const { return buf_->block; }
    void mark_dirty() { buf_->dirty = true; }
    // The block is file-system metadata: with journaling it waits for the commit.
    void mark_metadata();
    void reset();
    explicit operator bool() const { return buf_ != nullptr; }

private:
    BufferCache* cache_ = nullptr;
    Buffer* buf_ = nullptr;
};

class BufferCache {
public:
    static constexpr uint32_t MIN_BUFFERS = 16;
    // Dirty buffers written back in one device call (BlockDevice::write_runs), by sync() and
    // when an eviction has to write (write-behind from the LRU tail).
    static constexpr uint32_t WRITE_GROUP = 32;
    // A miss right after the block last read from disk reads the following uncached blocks
    // too (up to READ_AHEAD in all, into clean unpinned buffers) in one BlockDevice::read_runs
    // call: sequential reads then cost one device call per READ_AHEAD blocks. ext2 keeps a
    // file's blocks mostly contiguous, so physical read-ahead follows the file.
    static constexpr uint32_t READ_AHEAD = 32;

    struct Stats {
        uint64_t hits, misses, reads, writes, evictions;
        uint64_t read_ahead;  // blocks read ahead (included in reads)
    };

    // Allocates `count` buffers of block_size bytes (a multiple of 512) from alloc.
    // The device is addressed in blocks of block_size bytes from sector 0.
    static Result<BufferCache*> create(fs::BlockDevice& dev, Allocator& alloc, uint32_t block_size, uint32_t count,
                                       fs::FsLog* log);
    // Writes nothing back (call sync() first); frees all memory.
    static void destroy(BufferCache* cache);

    // The block's buffer, read from disk if not cached.
    Result<BufferRef> get(uint64_t block);
    // The block's buffer filled with zeros and marked dirty, without reading the disk: for
    // blocks just allocated.
    Result<BufferRef> get_zeroed(uint64_t block);
    // Writes every dirty buffer back (but those waiting for a commit), then flushes the device.
    Result<void> sync();
    // Drops a cached block without writing it (it was freed).
    void forget(uint64_t block);

    // Journaling (see above). Turning it off leaves no metadata waiting: commit first.
    void set_journaling(bool on) { journaling_ = on; }
    bool journaling() const { return journaling_; }
    // Buffers waiting for the commit.
    uint32_t metadata_count() const { return metadata_count_; }
    // f(block, data) for each buffer waiting for the commit.
    template <typename F>
    void for_each_metadata(F f) const {
        for (Buffer* b = lru_head_; b; b = b->lru_next)
            if (b->metadata) f(b->block, static_cast<const uint8_t*>(b->data));
    }
    // They are in the journal now: durable, ordinary dirty buffers, written back as any;
    // else pending until metadata_durable().
    void metadata_committed(bool durable);
    void metadata_durable();
    // Buffers of pending commits.
    uint32_t pending_count() const { return pending_count_; }
    // Writes back every dirty buffer not waiting for the commit, without a flush.
    Result<void> write_unlogged();
    uint32_t buffer_count() const { return count_; }

    uint32_t block_size() const { return block_size_; }
    const Stats& stats() const { return stats_; }
    // The device under the cache, for writes that must bypass it (the journal's log, whose
    // order against the cache's write-back matters); forget() such blocks.
    fs::BlockDevice& device() const { return dev_; }

private:
    friend class BufferRef;
    friend class Allocator;
    ~BufferCache();
    BufferCache(fs::BlockDevice& dev, Allocator& alloc, uint32_t block_size, uint32_t count, fs::FsLog* log)
        : dev_(dev), alloc_(alloc), block_size_(block_size), count_(count), log_(log) {}
    Result<Buffer*> lookup_or_claim(uint64_t block, bool& hit);
    Result<void> write_group(Buffer* const* group, uint32_t n);
    Buffer* find(uint64_t block) const;
    // Reads b (claimed, not valid) and, when the access looks sequential, blocks after it.
    Result<void> fill(Buffer* b);
    Result<void> write_behind(Buffer* victim);
    void unpin(Buffer* b);
    void set_metadata(Buffer* b);
    // Evictable, or written back by write-behind and sync.
    static bool free_to_write(const Buffer* b) { return !b->metadata && !b->pending; }
    void lru_remove(Buffer* b);
    void lru_push_front(Buffer* b);
    void hash_remove(Buffer* b);
    uint32_t bucket(uint64_t block) const {
        return static_cast<uint32_t>((block * 0x9E3779B97F4A7C15ull) >> 40) % nbuckets_;
    }

    fs::BlockDevice& dev_;
    Allocator& alloc_;
    uint32_t block_size_;
    uint32_t count_;
    fs::FsLog* log_;
    Buffer* buffers_ = nullptr;
    uint8_t* memory_ = nullptr;
    Buffer** buckets_ = nullptr;
    uint32_t nbuckets_ = 0;
    Buffer* lru_head_ = nullptr;
    Buffer* lru_tail_ = nullptr;
    Stats stats_{};
    uint64_t last_read_ = ~0ull;  // the last block read from the device (sequential detection)
    bool journaling_ = false;
    uint32_t metadata_count_ = 0;
    uint32_t pending_count_ = 0;
};

}  // namespace lamina::ext2
