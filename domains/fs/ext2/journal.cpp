// lamina:portable
#include "domains/fs/ext2/journal.h"

#include "domains/fs/crc32.h"

namespace lamina::ext2 {

using namespace jbd2;

namespace {

uint32_t load_be32(const uint8_t* p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return be32(v);
}

void store_be32(uint8_t* p, uint32_t v) {
    v = be32(v);
    __builtin_memcpy(p, &v, 4);
}

// Transaction ids wrap: a is after b.
bool tid_after(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }

}  // namespace

// Block number -> latest transaction that revoked it, open addressing.
struct Journal::RevokeTable {
    struct Entry {
        uint64_t block;  // ~0: empty
        uint32_t sequence;
    };
    Entry* entries = nullptr;
    uint32_t capacity = 0;  // a power of two, at least twice the records

    uint32_t slot(uint64_t block) const {
        return static_cast<uint32_t>((block * 0x9E3779B97F4A7C15ull) >> 32) & (capacity - 1);
    }
    void add(uint64_t block, uint32_t sequence) {
        for (uint32_t i = slot(block);; i = (i + 1) & (capacity - 1)) {
            Entry& e = entries[i];
            if (e.block == ~0ull) {
                e = {block, sequence};
                return;
            }
            if (e.block == block) {
                if (tid_after(sequence, e.sequence)) e.sequence = sequence;
                return;
            }
        }
    }
    // Whether a revoke at or after `sequence` covers the block.
    bool revoked(uint64_t block, uint32_t sequence) const {
        for (uint32_t i = slot(block);; i = (i + 1) & (capacity - 1)) {
            const Entry& e = entries[i];
            if (e.block == ~0ull) return false;
            if (e.block == block) return !tid_after(sequence, e.sequence);
        }
    }
};

Result<Journal> Journal::open(BufferCache& cache, const Inode& in, uint64_t fs_blocks, fs::FsLog* log) {
    Journal j(cache, log);
    j.block_size_ = cache.block_size();
    j.fs_blocks_ = fs_blocks;
    if ((in.i_mode & MODE_IFMT) != MODE_IFREG || in.i_links_count == 0) {
        fs::log_line(log, "journal: inode %u is not a regular file (mode 0%o)", JOURNAL_INO, in.i_mode);
        return Errno::IO;
    }
    if (in.i_flags & (INODE_EXTENTS_FL | INODE_INLINE_DATA_FL)) {
        fs::log_line(log, "journal: inode %u uses extents or inline data (unsupported)", JOURNAL_INO);
        return Errno::NotSup;
    }
    __builtin_memcpy(j.i_block_, in.i_block, sizeof j.i_block_);
    uint64_t size = (uint64_t{in.i_size_high} << 32) | in.i_size;
    uint64_t inode_blocks = size / j.block_size_;

    {
        BufferRef b = TRY(j.read(0));
        __builtin_memcpy(&j.sb_, b.data(), sizeof j.sb_);
    }
    const jbd2::Superblock& sb = j.sb_;
    uint32_t type = be32(sb.s_header.h_blocktype);
    if (be32(sb.s_header.h_magic) != jbd2::MAGIC || (type != SUPERBLOCK_V1 && type != SUPERBLOCK_V2)) {
        fs::log_line(log, "journal: no journal superblock (magic 0x%08x, type %u)", be32(sb.s_header.h_magic), type);
        return Errno::IO;
    }
    // Version 1 has no feature fields: it has no features.
    if (type == SUPERBLOCK_V2) {
        j.compat_ = be32(sb.s_feature_compat);
        j.incompat_ = be32(sb.s_feature_incompat);
    }
    // The checksum first: with one, any damage below is reported as what it is.
    if (j.checksummed()) {
        if (sb.s_checksum_type != CHECKSUM_CRC32C) {
            fs::log_line(log, "journal: checksum type %u (only crc32c)", sb.s_checksum_type);
            return Errno::IO;
        }
        jbd2::Superblock copy = sb;
        copy.s_checksum = 0;
        if (fs::crc32c_raw(~0u, &copy, sizeof copy) != be32(sb.s_checksum)) {
            fs::log_line(log, "journal: superblock checksum mismatch");
            return Errno::IO;
        }
        j.seed_ = fs::crc32c_raw(~0u, sb.s_uuid, sizeof sb.s_uuid);
    }
    j.maxlen_ = be32(sb.s_maxlen);
    j.first_ = be32(sb.s_first);
    uint32_t start = be32(sb.s_start);
    if (be32(sb.s_blocksize) != j.block_size_) {
        fs::log_line(log, "journal: block size %u differs from the file system's %u", be32(sb.s_blocksize),
                     j.block_size_);
        return Errno::IO;
    }
    if (j.maxlen_ > inode_blocks || j.first_ == 0 || j.first_ >= j.maxlen_ ||
        (start != 0 && (start < j.first_ || start >= j.maxlen_))) {
        fs::log_line(log, "journal: bad geometry: %u blocks from %u, start %u, in an inode of %llu blocks", j.maxlen_,
                     j.first_, start, static_cast<unsigned long long>(inode_blocks));
        return Errno::IO;
    }
    return j;
}

uint32_t Journal::unsupported_incompat() const { return incompat_ & ~jbd2::INCOMPAT_SUPPORTED; }

uint32_t Journal::tag_bytes() const {
    if (has(INCOMPAT_CSUM_V3)) return sizeof(BlockTag3);
    uint32_t n = 8;
    if (has(jbd2::INCOMPAT_64BIT)) n += 4;
    if (has(INCOMPAT_CSUM_V2)) n += 2;
    return n;
}

Result<uint64_t> Journal::map(uint32_t lblk) {
    uint32_t per = block_size_ / 4;
    auto check = [&](uint64_t b) -> Result<uint64_t> {
        if (b == 0 || b >= fs_blocks_) {
            fs::log_line(log_, "journal: block %u of the journal maps to %llu (outside the file system)", lblk,
                         static_cast<unsigned long long>(b));
            return Errno::IO;
        }
        return b;
    };
    if (lblk < NDIR_BLOCKS) return check(i_block_[lblk]);
    uint64_t rest = lblk - NDIR_BLOCKS;
    // Depth 1, 2 or 3 of indirection, and the index at each level.
    int depth;
    uint64_t span = per;
    for (depth = 1; depth <= 3 && rest >= span; depth++) {
        rest -= span;
        span *= per;
    }
    if (depth > 3) return check(0);
    uint64_t block = TRY(check(i_block_[IND_BLOCK + depth - 1]));
    for (int level = depth; level >= 1; level--) {
        span /= per;
        auto index = static_cast<uint32_t>(rest / span);
        rest %= span;
        BufferRef ind = TRY(cache_->get(block));
        uint32_t next;
        __builtin_memcpy(&next, ind.data() + size_t{index} * 4, 4);
        block = TRY(check(next));
    }
    return block;
}

Result<BufferRef> Journal::read(uint32_t lblk) {
    uint64_t b = TRY(map(lblk));
    return cache_->get(b);
}

bool Journal::tail_ok(const uint8_t* block) const {
    if (!checksummed()) return true;
    uint32_t stored = load_be32(block + block_size_ - sizeof(BlockTail));
    uint32_t crc = fs::crc32c_raw(seed_, block, block_size_ - sizeof(BlockTail));
    const uint32_t zero = 0;
    return fs::crc32c_raw(crc, &zero, sizeof zero) == stored;
}

bool Journal::commit_ok(const uint8_t* block, uint32_t crc32_sum) const {
    CommitHeader h;
    __builtin_memcpy(&h, block, sizeof h);
    if (checksummed()) {
        uint32_t stored = be32(h.h_chksum[0]);
        const size_t at = offsetof(CommitHeader, h_chksum);
        const uint32_t zero = 0;
        uint32_t crc = fs::crc32c_raw(seed_, block, at);
        crc = fs::crc32c_raw(crc, &zero, sizeof zero);
        crc = fs::crc32c_raw(crc, block + at + 4, block_size_ - at - 4);
        return crc == stored;
    }
    if ((compat_ & COMPAT_CHECKSUM) && h.h_chksum_type == CHECKSUM_CRC32 && h.h_chksum_size == 4)
        return be32(h.h_chksum[0]) == crc32_sum;
    return true;
}

bool Journal::data_ok(const uint8_t* tag, const uint8_t* data, uint32_t sequence) const {
    if (!checksummed()) return true;
    uint32_t seq = be32(sequence);
    uint32_t crc = fs::crc32c_raw(seed_, &seq, sizeof seq);
    crc = fs::crc32c_raw(crc, data, block_size_);
    if (has(INCOMPAT_CSUM_V3)) return load_be32(tag + offsetof(BlockTag3, t_checksum)) == crc;
    uint16_t stored;
    __builtin_memcpy(&stored, tag + offsetof(BlockTag, t_checksum), 2);
    return be16(stored) == static_cast<uint16_t>(crc);
}

Result<void> Journal::walk(Pass pass, RevokeTable* revokes, RecoveryStats& stats) {
    const uint32_t log_blocks = maxlen_ - first_;
    uint32_t pos = be32(sb_.s_start);
    uint32_t sequence = be32(sb_.s_sequence);
    uint32_t visited = 0;
    uint32_t crc32_sum = ~0u;      // COMPAT_CHECKSUM's running sum over the transaction
    uint32_t pending_revokes = 0;  // revoke records of the open transaction (Scan)
    bool open = false;             // a block of transaction `sequence` was seen, not its commit
    const bool scan = pass == Pass::Scan;
    auto next = [&]() -> Result<BufferRef> {
        if (visited++ >= log_blocks) return Errno::Range;  // the log went all the way round
        uint32_t at = pos;
        pos = pos + 1 == maxlen_ ? first_ : pos + 1;
        return read(at);
    };
    // Scan: the log ends here, for `why` (no end is expected in the later passes).
    auto stop = [&](const char* why) -> Result<void> {
        if (!scan) {
            fs::log_line(log_, "journal: transaction %u changed between passes: %s", sequence,
                         why ? why : "the log ended early");
            return Errno::IO;
        }
        if (why) fs::log_line(log_, "journal: log ends at transaction %u: %s", sequence, why);
        return {};
    };
    if (scan) end_sequence_ = sequence;
    for (;;) {
        if (!scan && sequence == end_sequence_) return {};
        auto got = next();
        if (got.is_error()) {
            if (got.error() == Errno::Range) return stop("the log wraps onto itself");
            return got.error();
        }
        BufferRef b = got.release_value();
        Header h;
        __builtin_memcpy(&h, b.data(), sizeof h);
        if (be32(h.h_magic) != jbd2::MAGIC || be32(h.h_sequence) != sequence) {
            // The end of the log: the next block belongs to no transaction.
            return stop(open ? "no commit block (an incomplete transaction)" : nullptr);
        }
        open = true;
        switch (be32(h.h_blocktype)) {
            case DESCRIPTOR_BLOCK: {
                if (scan && !tail_ok(b.data())) return stop("descriptor checksum mismatch");
                if (scan) crc32_sum = fs::crc32_be_raw(crc32_sum, b.data(), block_size_);
                const uint32_t tb = tag_bytes();
                const uint32_t end = payload_end();
                for (uint32_t off = sizeof(Header); off + tb <= end;) {
                    const uint8_t* tag = b.data() + off;
                    uint64_t target = load_be32(tag);
                    uint32_t flags;
                    if (has(INCOMPAT_CSUM_V3)) {
                        flags = load_be32(tag + offsetof(BlockTag3, t_flags));
                        if (has(jbd2::INCOMPAT_64BIT))
                            target |= uint64_t{load_be32(tag + offsetof(BlockTag3, t_blocknr_high))} << 32;
                    } else {
                        uint16_t f;
                        __builtin_memcpy(&f, tag + offsetof(BlockTag, t_flags), 2);
                        flags = be16(f);
                        if (has(jbd2::INCOMPAT_64BIT))
                            target |= uint64_t{load_be32(tag + offsetof(BlockTag, t_blocknr_high))} << 32;
                    }
                    auto data_got = next();
                    if (data_got.is_error()) {
                        if (data_got.error() == Errno::Range) return stop("the log wraps onto itself");
                        return data_got.error();
                    }
                    BufferRef data = data_got.release_value();
                    if (scan) {
                        if (target >= fs_blocks_) return stop("a logged block lies outside the file system");
                        if (!data_ok(tag, data.data(), sequence)) return stop("data block checksum mismatch");
                        crc32_sum = fs::crc32_be_raw(crc32_sum, data.data(), block_size_);
                    } else if (pass == Pass::Replay) {
                        if (revokes->revoked(target, sequence)) {
                            stats.revoked++;
                        } else {
                            BufferRef home = TRY(cache_->get_zeroed(target));
                            __builtin_memcpy(home.data(), data.data(), block_size_);
                            if (flags & TAG_ESCAPE) store_be32(home.data(), jbd2::MAGIC);
                            stats.blocks++;
                        }
                    }
                    off += tb;
                    if (!(flags & TAG_SAME_UUID)) off += UUID_SIZE;
                    if (flags & TAG_LAST) break;
                }
                break;
            }
            case LAMINA_PENDING_COMMIT_BLOCK:
                if (!trust_pending_)
                    return stop(scan ? "a pending commit (not durable; ignored after a power cut)" : nullptr);
                [[fallthrough]];
            case COMMIT_BLOCK:
                if (scan) {
                    if (!commit_ok(b.data(), crc32_sum)) return stop("commit block checksum mismatch");
                    revoke_records_ += pending_revokes;
                    pending_revokes = 0;
                    end_sequence_ = sequence + 1;
                } else if (pass == Pass::Replay) {
                    stats.transactions++;
                }
                crc32_sum = ~0u;
                open = false;
                sequence++;
                break;
            case REVOKE_BLOCK: {
                if (!has(INCOMPAT_REVOKE)) return stop("a revoke block in a journal without revoke");
                if (scan && !tail_ok(b.data())) return stop("revoke block checksum mismatch");
                RevokeHeader rh;
                __builtin_memcpy(&rh, b.data(), sizeof rh);
                uint32_t count = be32(rh.r_count);
                uint32_t rec = has(jbd2::INCOMPAT_64BIT) ? 8 : 4;
                uint32_t limit = payload_end();
                if (count < sizeof rh || count > limit || (count - sizeof rh) % rec)
                    return stop("malformed revoke block");
                if (scan) {
                    pending_revokes += (count - static_cast<uint32_t>(sizeof rh)) / rec;
                } else if (pass == Pass::Revoke) {
                    for (uint32_t off = sizeof rh; off < count; off += rec) {
                        uint64_t block = load_be32(b.data() + off);
                        if (rec == 8) block = block << 32 | load_be32(b.data() + off + 4);
                        revokes->add(block, sequence);
                    }
                }
                break;
            }
            default:
                return stop("unknown block type");
        }
    }
}

Result<RecoveryStats> Journal::recover(Allocator& alloc, bool trust_pending) {
    trust_pending_ = trust_pending;
    if (uint32_t bad = unsupported_incompat()) {
        fs::log_line(log_, "journal: cannot replay: unsupported journal features 0x%x", bad);
        return Errno::NotSup;
    }
    RecoveryStats stats{};
    stats.first_sequence = be32(sb_.s_sequence);
    if (!needs_recovery()) {
        stats.next_sequence = stats.first_sequence;
        return stats;
    }
    revoke_records_ = 0;
    TRY(walk(Pass::Scan, nullptr, stats));
    RevokeTable revokes;
    revokes.capacity = 16;
    while (revokes.capacity < 2 * uint64_t{revoke_records_}) revokes.capacity *= 2;
    size_t bytes = sizeof(RevokeTable::Entry) * revokes.capacity;
    revokes.entries = static_cast<RevokeTable::Entry*>(alloc.allocate(bytes, alignof(RevokeTable::Entry)));
    if (!revokes.entries) return Errno::NoMem;
    for (uint32_t i = 0; i < revokes.capacity; i++) revokes.entries[i] = {~0ull, 0};
    Result<void> r = walk(Pass::Revoke, &revokes, stats);
    if (r.is_ok()) r = walk(Pass::Replay, &revokes, stats);
    alloc.release(revokes.entries, bytes);
    TRY(r);
    // The replayed blocks must be durable before the journal forgets them.
    TRY(cache_->sync());
    TRY(mark_empty(end_sequence_));
    stats.next_sequence = end_sequence_;
    fs::log_line(log_, "journal: replayed %u transactions (%u..%u): %u blocks, %u revoked", stats.transactions,
                 stats.first_sequence, end_sequence_, stats.blocks, stats.revoked);
    return stats;
}

Result<void> Journal::mark_empty(uint32_t next_sequence) {
    sb_.s_start = 0;
    sb_.s_sequence = be32(next_sequence);
    TRY(write_superblock());
    return cache_->device().flush();
}

Result<void> Journal::write_superblock() {
    if (checksummed()) {
        sb_.s_checksum = 0;
        sb_.s_checksum = be32(fs::crc32c_raw(~0u, &sb_, sizeof sb_));
    }
    // The superblock is the first 1024 bytes of journal block 0; the rest of the block is kept.
    BufferRef b = TRY(read(0));
    __builtin_memcpy(b.data(), &sb_, sizeof sb_);
    uint64_t block = b.block();
    Result<void> r = cache_->device().write_sectors(block * (block_size_ / fs::SECTOR_SIZE),
                                                    block_size_ / fs::SECTOR_SIZE, b.data());
    return r;
}

Result<void> Journal::LogWrites::add(uint32_t lblk, const uint8_t* data) {
    uint64_t block = TRY(journal_.map(lblk));
    journal_.cache_->forget(block);  // a copy read during recovery would be stale
    const uint32_t spb = journal_.block_size_ / fs::SECTOR_SIZE;
    runs_[count_++] = {block * spb, spb, data};
    return count_ == MAX ? send() : Result<void>{};
}

Result<void> Journal::LogWrites::send() {
    if (!count_) return {};
    size_t n = count_;
    count_ = 0;
    return journal_.cache_->device().write_runs(runs_, n);
}

Result<void> Journal::write_log_block(uint32_t lblk, const uint8_t* data) {
    uint64_t block = TRY(map(lblk));
    cache_->forget(block);  // a copy read during recovery would be stale
    return cache_->device().write_sectors(block * (block_size_ / fs::SECTOR_SIZE), block_size_ / fs::SECTOR_SIZE, data);
}

void Journal::set_tail(uint8_t* block) const {
    if (!checksummed()) return;
    uint32_t at = block_size_ - static_cast<uint32_t>(sizeof(BlockTail));
    store_be32(block + at, 0);
    store_be32(block + at, fs::crc32c_raw(seed_, block, block_size_));
}

uint32_t Journal::tags_per_descriptor() const {
    // The first tag carries the UUID, the others SAME_UUID.
    return (payload_end() - static_cast<uint32_t>(sizeof(Header)) - UUID_SIZE) / tag_bytes();
}

uint32_t Journal::blocks_needed(size_t count) const {
    uint32_t per = tags_per_descriptor();
    return static_cast<uint32_t>(count + (count + per - 1) / per + 1);
}

Result<void> Journal::commit(const LoggedBlock* blocks, size_t count, uint8_t* buf, bool durable) {
    // A log that needs recovery and was not written by this object is recovery's to empty.
    if (needs_recovery() && !committed_) return Errno::Busy;
    if (unsupported_incompat()) return Errno::NotSup;
    if (count == 0) return Errno::Inval;
    const uint32_t need = blocks_needed(count);
    if (count > maxlen_ || need > free_blocks()) return Errno::NoSpc;
    for (size_t i = 0; i < count; i++)
        if (blocks[i].home >= fs_blocks_ || (!has(jbd2::INCOMPAT_64BIT) && blocks[i].home >> 32)) return Errno::Inval;
    // Appended after the transactions since the checkpoint, wrapping round the log.
    const uint32_t sequence = be32(sb_.s_sequence) + committed_;
    const uint32_t tb = tag_bytes();
    uint8_t* escaped = buf + block_size_;
    uint32_t pos = committed_ ? head_ : first_;
    auto advance = [&]() {
        uint32_t at = pos;
        pos = pos + 1 == maxlen_ ? first_ : pos + 1;
        return at;
    };
    uint32_t crc32_sum = ~0u;
    LogWrites queue(*this);
    auto header = [&](uint8_t* block, uint32_t type) {
        __builtin_memset(block, 0, block_size_);
        store_be32(block, jbd2::MAGIC);
        store_be32(block + 4, type);
        store_be32(block + 8, sequence);
    };
    // The log block content of blocks[i]: escaped when it starts with the magic number.
    auto log_copy = [&](size_t i, bool& escape) -> const uint8_t* {
        escape = load_be32(blocks[i].data) == jbd2::MAGIC;
        if (!escape) return blocks[i].data;
        __builtin_memcpy(escaped, blocks[i].data, block_size_);
        store_be32(escaped, 0);
        return escaped;
    };
    for (size_t i = 0; i < count;) {
        size_t n = count - i < tags_per_descriptor() ? count - i : tags_per_descriptor();
        header(buf, DESCRIPTOR_BLOCK);
        uint32_t off = sizeof(Header);
        for (size_t k = 0; k < n; k++) {
            bool escape;
            const uint8_t* data = log_copy(i + k, escape);
            uint32_t flags = (k ? TAG_SAME_UUID : 0) | (k + 1 == n ? TAG_LAST : 0) | (escape ? TAG_ESCAPE : 0);
            uint8_t* tag = buf + off;
            uint64_t home = blocks[i + k].home;
            store_be32(tag, static_cast<uint32_t>(home));
            uint32_t seq_be = be32(sequence);
            uint32_t csum = fs::crc32c_raw(fs::crc32c_raw(seed_, &seq_be, 4), data, block_size_);
            if (has(INCOMPAT_CSUM_V3)) {
                store_be32(tag + offsetof(BlockTag3, t_flags), flags);
                store_be32(tag + offsetof(BlockTag3, t_blocknr_high), static_cast<uint32_t>(home >> 32));
                store_be32(tag + offsetof(BlockTag3, t_checksum), csum);
            } else {
                uint16_t f = be16(static_cast<uint16_t>(flags));
                __builtin_memcpy(tag + offsetof(BlockTag, t_flags), &f, 2);
                if (has(jbd2::INCOMPAT_64BIT))
                    store_be32(tag + offsetof(BlockTag, t_blocknr_high), static_cast<uint32_t>(home >> 32));
                if (has(INCOMPAT_CSUM_V2)) {
                    uint16_t c = be16(static_cast<uint16_t>(csum));
                    __builtin_memcpy(tag + offsetof(BlockTag, t_checksum), &c, 2);
                }
            }
            off += tb;
            if (k == 0) {
                __builtin_memcpy(buf + off, sb_.s_uuid, UUID_SIZE);
                off += UUID_SIZE;
            }
        }
        set_tail(buf);
        crc32_sum = fs::crc32_be_raw(crc32_sum, buf, block_size_);
        // The descriptor and its copies go in device batches (a round trip each, not one per
        // block), sent before buf or the escaped copy is reused.
        TRY(queue.add(advance(), buf));
        for (size_t k = 0; k < n; k++) {
            bool escape;
            const uint8_t* data = log_copy(i + k, escape);
            crc32_sum = fs::crc32_be_raw(crc32_sum, data, block_size_);
            TRY(queue.add(advance(), data));
            if (escape) TRY(queue.send());
        }
        TRY(queue.send());
        i += n;
    }
    // Recovery starts from the superblock's s_start: it must point at the log's first
    // transaction before the commit block can make it count.
    if (!committed_) {
        sb_.s_start = be32(first_);
        TRY(write_superblock());
    }
    const uint32_t commit_at = advance();
    if (!durable && pending_ && pending_count_ < MAX_PENDING) {
        // No flush: a pending commit block, which only a mount after a fault trusts.
        commit_block(buf, LAMINA_PENDING_COMMIT_BLOCK, sequence, crc32_sum);
        TRY(write_log_block(commit_at, buf));
        pending_[pending_count_++] = {commit_at, sequence, crc32_sum};
    } else {
        // This transaction's blocks (and the pending ones' before them) are durable before
        // any commit block can make them count; the pending ones become commits first, in
        // log order, as a replay reads no further than the first block it does not know.
        TRY(cache_->device().flush());
        TRY(rewrite_pending(buf));
        commit_block(buf, COMMIT_BLOCK, sequence, crc32_sum);
        TRY(write_log_block(commit_at, buf));
        TRY(cache_->device().flush());
    }
    committed_++;
    used_ += need;
    head_ = pos;
    return {};
}

void Journal::commit_block(uint8_t* buf, uint32_t type, uint32_t sequence, uint32_t crc32_sum) const {
    __builtin_memset(buf, 0, block_size_);
    store_be32(buf, jbd2::MAGIC);
    store_be32(buf + 4, type);
    store_be32(buf + 8, sequence);
    if (checksummed()) {
        store_be32(buf + offsetof(CommitHeader, h_chksum), fs::crc32c_raw(seed_, buf, block_size_));
    } else if (compat_ & COMPAT_CHECKSUM) {
        buf[offsetof(CommitHeader, h_chksum_type)] = CHECKSUM_CRC32;
        buf[offsetof(CommitHeader, h_chksum_size)] = 4;
        store_be32(buf + offsetof(CommitHeader, h_chksum), crc32_sum);
    }
}

Result<void> Journal::rewrite_pending(uint8_t* buf) {
    for (uint32_t i = 0; i < pending_count_; i++) {
        commit_block(buf, COMMIT_BLOCK, pending_[i].sequence, pending_[i].crc32_sum);
        TRY(write_log_block(pending_[i].lblk, buf));
    }
    pending_count_ = 0;
    return {};
}

Result<void> Journal::make_durable(uint8_t* buf) {
    if (!pending_count_) return {};
    TRY(cache_->device().flush());
    TRY(rewrite_pending(buf));
    return cache_->device().flush();
}

Result<void> Journal::checkpoint(bool home_flushed) {
    if (!committed_) return {};
    // The blocks home hold pending transactions' contents: without their commits a replay
    // would not complete them. The caller makes them durable first.
    if (pending_count_) return Errno::Busy;
    // The blocks the caller wrote home must be durable before the journal forgets them.
    if (!home_flushed) TRY(cache_->device().flush());
    TRY(mark_empty(be32(sb_.s_sequence) + committed_));
    committed_ = 0;
    used_ = 0;
    head_ = first_;
    return {};
}

}  // namespace lamina::ext2
