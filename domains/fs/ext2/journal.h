// lamina:portable
// The JBD2 journal of an ext3/ext4 file system (format: jbd2_format.h), kept in the journal
// inode: opening it (its superblock and block map, checked against the file system) and
// replaying it at mount.
//
// Recovery reads the log from s_start three times, as jbd2 does: a scan finds the last
// transaction whose every block is present and valid (descriptor, data, revoke and commit
// blocks with the expected sequence; every checksum the journal's features define); a second
// walk collects the revoke records of those transactions; the third writes each logged block
// to its home location unless a revoke in the same or a later transaction forbids it. A
// truncated or corrupt transaction ends the log: it and everything after it are ignored (the
// file system stays as the last valid commit left it), and the reason is logged. Only then is
// the journal marked empty (s_start = 0, s_sequence past the replayed transactions), after a
// device flush, so a crash during recovery just replays again.
//
// Not thread-safe; used by FileSystem::load only.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "domains/fs/ext2/allocator.h"
#include "domains/fs/ext2/buffer_cache.h"
#include "domains/fs/ext2/ext2_format.h"
#include "domains/fs/ext2/jbd2_format.h"
#include "domains/fs/fs_log.h"

namespace lamina::ext2 {

constexpr uint32_t JOURNAL_INO = 8;

// One block a transaction logs: its home location and the contents to put there.
struct LoggedBlock {
    uint64_t home;
    const uint8_t* data;  // block_size bytes
};

struct RecoveryStats {
    uint32_t transactions;  // committed transactions replayed
    uint32_t blocks;        // blocks written home
    uint32_t revoked;       // logged blocks skipped because a revoke record covers them
    uint32_t first_sequence, next_sequence;
};

class Journal {
public:
    // The journal in inode `in` (journal inode) of a file system of `fs_blocks` blocks of
    // cache.block_size() bytes. Errno::IO (reason logged) for a malformed journal.
    static Result<Journal> open(BufferCache& cache, const Inode& in, uint64_t fs_blocks, fs::FsLog* log);

    const jbd2::Superblock& superblock() const { return sb_; }
    bool needs_recovery() const { return sb_.s_start != 0; }
    uint32_t compat_features() const { return compat_; }
    uint32_t incompat_features() const { return incompat_; }
    // Incompatible journal features this code does not implement (0: none).
    uint32_t unsupported_incompat() const;
    // Writes the journal's committed transactions home, flushes, and marks the journal empty.
    // trust_pending: the previous writer of this log died but the disk kept power (a fault of
    // the fs domain), so its pending commits are whole and replay as commits; otherwise the
    // log ends at the first of them.
    Result<RecoveryStats> recover(Allocator& alloc, bool trust_pending = false);

    // Writing (the journal must have been empty when this object was opened: recovered, or
    // checkpointed). commit() logs one transaction holding `count` blocks, with the checksums
    // the journal's features ask for, straight to the device: descriptors and copies (after
    // the transactions committed since the last checkpoint, wrapping round the log), for the
    // log's first transaction the journal superblock pointing at it, then:
    // - durable: a flush, the pending commit blocks before it rewritten as commit blocks, its
    //   commit block, a flush. Once it returns the transaction survives a power cut.
    // - not durable: a pending commit block (jbd2_format.h), no flush: it survives a fault of
    //   the fs domain (recover with trust_pending), not a power cut, until make_durable() or a
    //   durable commit after it. Up to MAX_PENDING in a row; the next one is durable.
    // Before the log fills, the caller writes every logged block home (the latest contents)
    // and calls checkpoint(), which flushes and marks the journal empty again. Errno::NoSpc:
    // the transaction does not fit the free part of the log. `buf` is scratch of
    // 2 * block_size bytes.
    Result<void> commit(const LoggedBlock* blocks, size_t count, uint8_t* buf, bool durable = true);
    // The pending commits become commits: a flush (their blocks first), the rewrites, a flush.
    Result<void> make_durable(uint8_t* buf);
    uint32_t pending() const { return pending_count_; }
    static constexpr uint32_t MAX_PENDING = 64;
    // What make_durable() needs of a pending commit.
    struct PendingCommit {
        uint32_t lblk, sequence, crc32_sum;
    };
    // Room for MAX_PENDING records, the caller's (kept off this object, which the mount
    // moves around on the stack); without it every commit is durable.
    void set_pending_room(PendingCommit* room) { pending_ = room; }
    // home_flushed: the caller flushed after writing the blocks home (saves a flush). Busy
    // while commits are pending (make them durable first: their blocks may be home).
    Result<void> checkpoint(bool home_flushed = false);
    // Log blocks a transaction of `count` blocks needs (descriptors, copies, commit).
    uint32_t blocks_needed(size_t count) const;
    // Log blocks not holding a transaction since the last checkpoint.
    uint32_t free_blocks() const { return maxlen_ - first_ - used_; }
    // Transactions committed since the last checkpoint.
    uint32_t committed() const { return committed_; }

private:
    enum class Pass { Scan, Revoke, Replay };
    struct RevokeTable;

    Journal(BufferCache& cache, fs::FsLog* log) : cache_(&cache), log_(log) {}
    // The file-system block holding block `lblk` of the journal.
    Result<uint64_t> map(uint32_t lblk);
    Result<BufferRef> read(uint32_t lblk);
    // Walks the log from s_start; Scan sets end_sequence_ and counts revoke records, the
    // others stop at end_sequence_.
    Result<void> walk(Pass pass, RevokeTable* revokes, RecoveryStats& stats);
    bool has(uint32_t incompat) const { return incompat_ & incompat; }
    uint32_t tag_bytes() const;
    bool checksummed() const { return has(jbd2::INCOMPAT_CSUM_V2 | jbd2::INCOMPAT_CSUM_V3); }
    // Where descriptor and revoke contents end: before the checksum tail, if any.
    uint32_t payload_end() const {
        return block_size_ - (checksummed() ? static_cast<uint32_t>(sizeof(jbd2::BlockTail)) : 0);
    }
    bool tail_ok(const uint8_t* block) const;
    bool commit_ok(const uint8_t* block, uint32_t crc32_sum) const;
    bool data_ok(const uint8_t* tag, const uint8_t* data, uint32_t sequence) const;
    Result<void> mark_empty(uint32_t next_sequence);
    // Tags one descriptor block holds.
    uint32_t tags_per_descriptor() const;
    Result<void> write_log_block(uint32_t lblk, const uint8_t* data);
    // Log blocks queued for one BlockDevice::write_runs call; the data must stay put until
    // send() (which add() calls itself when the queue is full).
    class LogWrites {
    public:
        explicit LogWrites(Journal& j) : journal_(j) {}
        Result<void> add(uint32_t lblk, const uint8_t* data);
        Result<void> send();

    private:
        static constexpr size_t MAX = 16;
        Journal& journal_;
        fs::SectorRun runs_[MAX] = {};
        size_t count_ = 0;
    };
    // A commit block (COMMIT_BLOCK or LAMINA_PENDING_COMMIT_BLOCK) into buf.
    void commit_block(uint8_t* buf, uint32_t type, uint32_t sequence, uint32_t crc32_sum) const;
    // Every pending commit block rewritten as a commit block, in log order (no flush).
    Result<void> rewrite_pending(uint8_t* buf);
    Result<void> write_superblock();
    void set_tail(uint8_t* block) const;

    BufferCache* cache_;
    fs::FsLog* log_;
    jbd2::Superblock sb_{};
    uint32_t i_block_[N_BLOCKS] = {};
    uint32_t block_size_ = 0;
    uint32_t maxlen_ = 0, first_ = 0;
    uint64_t fs_blocks_ = 0;
    uint32_t compat_ = 0, incompat_ = 0;  // features (none in a version-1 superblock)
    uint32_t seed_ = 0;                   // crc32c(~0, s_uuid)
    uint32_t end_sequence_ = 0;
    uint32_t committed_ = 0;  // transactions committed since the last checkpoint
    uint32_t used_ = 0;       // log blocks they fill
    uint32_t head_ = 0;       // where the next one goes
    uint32_t revoke_records_ = 0;
    bool trust_pending_ = false;
    PendingCommit* pending_ = nullptr;  // the pending commits since the last durable one
    uint32_t pending_count_ = 0;
};

}  // namespace lamina::ext2
