// lamina:portable
// Mounting, the superblock and group descriptors, bitmaps and the inode table.
#include <new>
#include <utility>

#include "domains/fs/crc32.h"
#include "domains/fs/ext2/ext2.h"
#include <lamina/format.h>

namespace lamina::ext2 {

void FileSystemDelete::operator()(FileSystem* fs) const { fs->alloc_.destroy(fs); }

namespace {

struct FeatureName {
    uint32_t bit;
    const char* name;
};

constexpr FeatureName INCOMPAT_NAMES[] = {
    {INCOMPAT_COMPRESSION, "compression"},
    {INCOMPAT_FILETYPE, "filetype"},
    {INCOMPAT_RECOVER, "needs_recovery"},
    {INCOMPAT_JOURNAL_DEV, "journal_dev"},
    {INCOMPAT_META_BG, "meta_bg"},
    {INCOMPAT_EXTENTS, "extent"},
    {INCOMPAT_64BIT, "64bit"},
    {INCOMPAT_MMP, "mmp"},
    {INCOMPAT_FLEX_BG, "flex_bg"},
    {INCOMPAT_EA_INODE, "ea_inode"},
    {INCOMPAT_DIRDATA, "dirdata"},
    {INCOMPAT_CSUM_SEED, "metadata_csum_seed"},
    {INCOMPAT_LARGEDIR, "large_dir"},
    {INCOMPAT_INLINE_DATA, "inline_data"},
    {INCOMPAT_ENCRYPT, "encrypt"},
    {INCOMPAT_CASEFOLD, "casefold"},
};
constexpr FeatureName RO_COMPAT_NAMES[] = {
    {RO_COMPAT_SPARSE_SUPER, "sparse_super"}, {RO_COMPAT_LARGE_FILE, "large_file"},
    {RO_COMPAT_BTREE_DIR, "btree_dir"},       {RO_COMPAT_HUGE_FILE, "huge_file"},
    {RO_COMPAT_GDT_CSUM, "uninit_bg"},        {RO_COMPAT_DIR_NLINK, "dir_nlink"},
    {RO_COMPAT_EXTRA_ISIZE, "extra_isize"},   {RO_COMPAT_QUOTA, "quota"},
    {RO_COMPAT_BIGALLOC, "bigalloc"},         {RO_COMPAT_METADATA_CSUM, "metadata_csum"},
};

// "extent 64bit 0x100000" for the bits of `mask`.
template <size_t N>
void name_features(uint32_t mask, const FeatureName (&names)[N], char* buf, size_t size) {
    size_t used = 0;
    buf[0] = 0;
    for (uint32_t bit = 1; bit; bit <<= 1) {
        if (!(mask & bit)) continue;
        const char* name = nullptr;
        for (const auto& n : names)
            if (n.bit == bit) name = n.name;
        char one[24];
        if (name)
            snformat(one, sizeof one, "%s%s", used ? " " : "", name);
        else
            snformat(one, sizeof one, "%s0x%x", used ? " " : "", bit);
        used += snformat(buf + used, used < size ? size - used : 0, "%s", one);
        if (used >= size) return;
    }
}

bool is_power_of(uint32_t n, uint32_t base) {
    while (n > 1 && n % base == 0) n /= base;
    return n == 1;
}

}  // namespace

Error FileSystem::corrupt(const char* fmt, ...) {
    char buf[200];
    va_list ap;
    va_start(ap, fmt);
    vsnformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fs::log_line(log_, "ext2: corrupt file system: %s", buf);
    errors_found_ = true;
    return Errno::IO;
}

Result<void> FileSystem::require_writable() {
    if (read_only_) return Errno::ROFS;
    return {};
}

Result<FsOwner> FileSystem::mount(fs::BlockDevice& dev, Allocator& alloc, Clock& clock, fs::FsLog* log,
                                  const MountOptions& opts) {
    FileSystem* fs = alloc.create<FileSystem>(dev, alloc, clock, log);
    if (!fs) return Errno::NoMem;
    FsOwner owner = adopt_own<FileSystem, FileSystemDelete>(fs);
    TRY(owner->load(opts));
    return owner;
}

FileSystem::~FileSystem() {
    if (committed_bits_) {
        drop_committed_bits();
        alloc_.release(committed_bits_, sizeof(uint8_t*) * group_count_);
    }
    if (logged_) alloc_.release(logged_, sizeof(LoggedBlock) * cache_->buffer_count());
    if (journal_buf_) alloc_.release(journal_buf_, 2 * size_t{block_size_});
    alloc_.destroy(pending_room_);
    if (cache_) BufferCache::destroy(cache_);
    if (groups_) alloc_.release(groups_, sizeof(GroupDesc) * group_count_);
}

Result<void> FileSystem::load(const MountOptions& opts) {
    uint8_t raw[1024];
    if (dev_.sector_count() < 4) {
        fs::log_line(log_, "ext2: device too small for a superblock");
        return Errno::Inval;
    }
    TRY(dev_.read_sectors(SUPERBLOCK_OFFSET / fs::SECTOR_SIZE, 2, raw));
    __builtin_memcpy(&sb_, raw, sizeof sb_);

    if (sb_.s_magic != MAGIC) {
        fs::log_line(log_, "ext2: no ext2 superblock (magic 0x%04x)", sb_.s_magic);
        return Errno::Inval;
    }
    if (sb_.s_rev_level != DYNAMIC_REV) {
        fs::log_line(log_, "ext2: revision %u unsupported (only revision 1)", sb_.s_rev_level);
        return Errno::NotSup;
    }
    // needs_recovery belongs to a journal, which load_journal replays.
    uint32_t supported = INCOMPAT_SUPPORTED | (has_journal() ? INCOMPAT_RECOVER : 0);
    if (uint32_t bad = sb_.s_feature_incompat & ~supported) {
        char names[160];
        name_features(bad, INCOMPAT_NAMES, names, sizeof names);
        fs::log_line(log_, "ext2: unsupported incompatible features: %s", names);
        return Errno::NotSup;
    }
    if (sb_.s_log_block_size > MAX_BLOCK_LOG - MIN_BLOCK_LOG)
        return corrupt("block size 1024 << %u", sb_.s_log_block_size);
    block_size_ = 1024u << sb_.s_log_block_size;
    addr_per_block_ = block_size_ / 4;
    uint32_t bits_per_block = block_size_ * 8;
    uint64_t dev_blocks = dev_.sector_count() / (block_size_ / fs::SECTOR_SIZE);
    if (sb_.s_first_data_block != (block_size_ == 1024 ? 1u : 0u))
        return corrupt("first data block %u with %u-byte blocks", sb_.s_first_data_block, block_size_);
    if (sb_.s_blocks_count <= sb_.s_first_data_block + 2 || sb_.s_blocks_count > dev_blocks)
        return corrupt("%u blocks on a device of %llu", sb_.s_blocks_count,
                       static_cast<unsigned long long>(dev_blocks));
    if (sb_.s_blocks_per_group < 8 || sb_.s_blocks_per_group > bits_per_block || sb_.s_blocks_per_group % 8)
        return corrupt("%u blocks per group", sb_.s_blocks_per_group);
    if (sb_.s_inodes_per_group == 0 || sb_.s_inodes_per_group > bits_per_block || sb_.s_inodes_per_group % 8)
        return corrupt("%u inodes per group", sb_.s_inodes_per_group);
    inode_size_ = sb_.s_inode_size;
    if (inode_size_ < GOOD_OLD_INODE_SIZE || inode_size_ > block_size_ || (inode_size_ & (inode_size_ - 1)))
        return corrupt("inode size %u", inode_size_);
    group_count_ = (sb_.s_blocks_count - sb_.s_first_data_block + sb_.s_blocks_per_group - 1) / sb_.s_blocks_per_group;
    if (uint64_t{group_count_} * sb_.s_inodes_per_group != sb_.s_inodes_count)
        return corrupt("%u inodes but %u groups of %u", sb_.s_inodes_count, group_count_, sb_.s_inodes_per_group);
    if (sb_.s_first_ino < 11 || sb_.s_first_ino >= sb_.s_inodes_count)
        return corrupt("first inode %u", sb_.s_first_ino);
    if (sb_.s_free_blocks_count > sb_.s_blocks_count || sb_.s_free_inodes_count > sb_.s_inodes_count)
        return corrupt("free counts exceed totals");
    inode_table_blocks_ =
        static_cast<uint32_t>((uint64_t{sb_.s_inodes_per_group} * inode_size_ + block_size_ - 1) / block_size_);
    gdt_blocks_ = (group_count_ + block_size_ / sizeof(GroupDesc) - 1) / (block_size_ / sizeof(GroupDesc));
    if (uint64_t{sb_.s_first_data_block} + 1 + gdt_blocks_ + sb_.s_reserved_gdt_blocks > sb_.s_blocks_per_group)
        return corrupt("group descriptors (%u blocks) do not fit the first group", gdt_blocks_);

    // The largest logical block the map reaches, and i_blocks' 32-bit count of sectors.
    uint64_t k = addr_per_block_;
    uint64_t map_blocks = NDIR_BLOCKS + k + k * k + k * k * k;
    uint64_t by_map = map_blocks * block_size_;
    uint64_t by_iblocks = (uint64_t{1} << 32) * 512 - uint64_t{block_size_} * (k * k + k + 1);
    max_file_size_ = by_map < by_iblocks ? by_map : by_iblocks;
    max_file_size_ -= max_file_size_ % block_size_;

    read_only_ = opts.read_only;
    if (!read_only_ && (sb_.s_feature_ro_compat & ~RO_COMPAT_SUPPORTED)) {
        char names[160];
        name_features(sb_.s_feature_ro_compat & ~RO_COMPAT_SUPPORTED, RO_COMPAT_NAMES, names, sizeof names);
        fs::log_line(log_, "ext2: mounting read-only: unsupported read-only features: %s", names);
        read_only_ = true;
        ro_reason_ = "unsupported read-only-compatible features";
    }
    bool unclean = !(sb_.s_state & STATE_VALID) && !opts.after_fault;
    if (!read_only_ && (unclean || (sb_.s_state & STATE_ERROR))) {
        fs::log_line(log_, "ext2: warning: file system %s; mounting read-only (run e2fsck)",
                     (sb_.s_state & STATE_ERROR) ? "has errors" : "was not cleanly unmounted");
        read_only_ = true;
        ro_reason_ = "not cleanly unmounted or has errors";
    }

    uint32_t buffers = opts.cache_buffers < BufferCache::MIN_BUFFERS ? BufferCache::MIN_BUFFERS : opts.cache_buffers;
    cache_ = TRY(BufferCache::create(dev_, alloc_, block_size_, buffers, log_));

    if (has_journal() && TRY(load_journal(opts.after_fault))) {
        // The replay may have rewritten anything, the superblock included: start again from
        // what is on disk now (the journal is empty, so this happens once).
        BufferCache::destroy(cache_);
        cache_ = nullptr;
        if (replayed_) return corrupt("journal still needs recovery after replaying it");
        replayed_ = true;
        return load(opts);
    }

    groups_ = static_cast<GroupDesc*>(alloc_.allocate(sizeof(GroupDesc) * group_count_, alignof(GroupDesc)));
    if (!groups_) return Errno::NoMem;
    uint32_t per_block = block_size_ / sizeof(GroupDesc);
    for (uint32_t i = 0; i < gdt_blocks_; i++) {
        BufferRef b = TRY(cache_->get(sb_.s_first_data_block + 1 + i));
        uint32_t n = group_count_ - i * per_block < per_block ? group_count_ - i * per_block : per_block;
        __builtin_memcpy(&groups_[i * per_block], b.data(), n * sizeof(GroupDesc));
    }
    uint64_t free_blocks = 0, free_inodes = 0;
    for (uint32_t g = 0; g < group_count_; g++) {
        TRY(check_group(g));
        free_blocks += groups_[g].bg_free_blocks_count;
        free_inodes += groups_[g].bg_free_inodes_count;
    }
    // The groups are authoritative (the superblock's sums may lag, as Linux writes them lazily).
    sb_.s_free_blocks_count = static_cast<uint32_t>(free_blocks);
    sb_.s_free_inodes_count = static_cast<uint32_t>(free_inodes);

    Inode root = TRY(read_inode(ROOT_INO));
    if ((root.i_mode & MODE_IFMT) != MODE_IFDIR || root.i_links_count == 0)
        return corrupt("root inode is not a directory");

    if (!read_only_) {
        // Mounted: without a journal the state loses VALID until unmount; with one the
        // journal says so (needs_recovery), and a crash needs no e2fsck, only the replay.
        if (journal_)
            sb_.s_feature_incompat |= INCOMPAT_RECOVER;
        else
            sb_.s_state &= static_cast<uint16_t>(~STATE_VALID);
        sb_.s_mnt_count++;
        sb_.s_mtime = clock_.now();
        meta_dirty_ = true;
        TRY(write_super_and_groups());
        TRY(cache_->sync());
        if (journal_) TRY(start_journaling());
        // Files unlinked while open when the last mount ended. After a fault the kernel still
        // holds them (it keeps its open files through a restart) and releases them itself.
        if (sb_.s_last_orphan && !opts.after_fault) {
            TRY(free_orphans());
            TRY(sync());
        }
    }
    return {};
}

Result<bool> FileSystem::load_journal(bool after_fault) {
    if (sb_.s_journal_inum != JOURNAL_INO || sb_.s_journal_dev != 0) {
        if (sb_.s_feature_incompat & INCOMPAT_RECOVER) {
            fs::log_line(log_, "ext3: the journal (inode %u, device 0x%x) is not inode %u: cannot replay it",
                         sb_.s_journal_inum, sb_.s_journal_dev, JOURNAL_INO);
            return Errno::NotSup;
        }
        if (!read_only_) {
            fs::log_line(log_, "ext3: mounting read-only: external or misplaced journal (inode %u, device 0x%x)",
                         sb_.s_journal_inum, sb_.s_journal_dev);
            read_only_ = true;
            ro_reason_ = "external journal unsupported";
        }
        return false;
    }
    // The journal inode, found through group 0's descriptor as it is on disk now: the groups
    // are loaded only after the replay, which may hold newer copies of them.
    GroupDesc g0;
    {
        BufferRef b = TRY(cache_->get(sb_.s_first_data_block + 1));
        __builtin_memcpy(&g0, b.data(), sizeof g0);
    }
    uint64_t byte = uint64_t{JOURNAL_INO - 1} * inode_size_;
    uint64_t table_block = g0.bg_inode_table + byte / block_size_;
    if (g0.bg_inode_table == 0 || table_block >= sb_.s_blocks_count)
        return corrupt("group 0: inode table at %u outside the file system", g0.bg_inode_table);
    Inode in;
    {
        BufferRef b = TRY(cache_->get(table_block));
        __builtin_memcpy(&in, b.data() + byte % block_size_, sizeof in);
    }
    Journal journal = TRY(Journal::open(*cache_, in, sb_.s_blocks_count, log_));
    if (journal.needs_recovery()) {
        // Replayed even for a read-only mount, as Linux does: without it the metadata on disk
        // is not consistent.
        TRY(journal.recover(alloc_, after_fault));
        uint32_t sb_block = block_size_ == 1024 ? 1 : 0;
        uint32_t sb_off = block_size_ == 1024 ? 0 : SUPERBLOCK_OFFSET;
        BufferRef b = TRY(cache_->get(sb_block));
        Superblock on_disk;
        __builtin_memcpy(&on_disk, b.data() + sb_off, sizeof on_disk);
        on_disk.s_feature_incompat &= ~INCOMPAT_RECOVER;
        if (on_disk.s_feature_ro_compat & RO_COMPAT_METADATA_CSUM) {
            // Keep the superblock valid for the tools (this mount is read-only: nothing else of
            // a metadata_csum file system is written).
            uint32_t sum = fs::crc32c_raw(~0u, &on_disk, SUPERBLOCK_CHECKSUM_OFFSET);
            __builtin_memcpy(reinterpret_cast<uint8_t*>(&on_disk) + SUPERBLOCK_CHECKSUM_OFFSET, &sum, 4);
        }
        __builtin_memcpy(b.data() + sb_off, &on_disk, sizeof on_disk);
        b.mark_dirty();
        b.reset();
        TRY(cache_->sync());
        return true;
    }
    // An empty journal: nothing to recover, whatever the flag says (a read-write mount writes
    // the cleared flag back).
    sb_.s_feature_incompat &= ~INCOMPAT_RECOVER;
    if (uint32_t bad = journal.unsupported_incompat(); bad && !read_only_) {
        fs::log_line(log_, "ext3: mounting read-only: unsupported journal features 0x%x", bad);
        read_only_ = true;
        ro_reason_ = "unsupported journal features";
    }
    if (!read_only_) journal_.emplace(std::move(journal));
    return false;
}

Result<void> FileSystem::start_journaling() {
    const uint32_t buffers = cache_->buffer_count();
    logged_ = static_cast<LoggedBlock*>(alloc_.allocate(sizeof(LoggedBlock) * buffers, alignof(LoggedBlock)));
    journal_buf_ = static_cast<uint8_t*>(alloc_.allocate(2 * size_t{block_size_}, 16));
    committed_bits_ = static_cast<uint8_t**>(alloc_.allocate(sizeof(uint8_t*) * group_count_, alignof(uint8_t*)));
    pending_room_ = alloc_.create<PendingRoom>();
    if (!logged_ || !journal_buf_ || !committed_bits_ || !pending_room_) return Errno::NoMem;
    journal_->set_pending_room(pending_room_->commits);
    for (uint32_t g = 0; g < group_count_; g++) committed_bits_[g] = nullptr;
    // A transaction must fit the cache (its metadata stays there until the commit) and the
    // log, with room for the call that crosses the limit.
    const jbd2::Superblock& jsb = journal_->superblock();
    uint32_t log_blocks = jbd2::be32(jsb.s_maxlen) - jbd2::be32(jsb.s_first);
    tx_limit_ = buffers / 4 < log_blocks / 4 ? buffers / 4 : log_blocks / 4;
    tx_start_ = clock_.now();
    cache_->set_journaling(true);
    fs::log_line(log_, "ext3: journaling metadata (ordered data): %u-block log, commits at %u blocks or %u s",
                 log_blocks, tx_limit_, COMMIT_SECONDS);
    return {};
}

Result<void> FileSystem::begin_op() {
    changed_ = true;
    if (!journaled()) return {};
    // Pinned: the running transaction's buffers and those of commits not durable yet.
    uint32_t pinned = cache_->metadata_count() + cache_->pending_count();
    if (pinned == 0 && !meta_dirty_ && !journal_->pending()) {
        tx_start_ = clock_.now();
        return {};
    }
    if (pinned >= tx_limit_ || clock_.now() - tx_start_ >= COMMIT_SECONDS) return commit(true);
    return {};
}

Result<void> FileSystem::commit(bool durable) {
    TRY(write_super_and_groups());
    if (cache_->metadata_count() == 0) {
        if (!durable) return {};
        if (!journal_->pending()) return cache_->sync();
        // The data first: make_durable's first flush covers it.
        TRY(cache_->write_unlogged());
        return make_durable();
    }
    // Ordered mode: the data the new metadata points at reaches the disk first (the journal
    // flushes before it writes a durable commit block; a pending one becomes durable only
    // after a flush too).
    TRY(cache_->write_unlogged());
    size_t n = 0;
    cache_->for_each_metadata([&](uint64_t block, const uint8_t* data) { logged_[n++] = {block, data}; });
    auto logged = journal_->commit(logged_, n, journal_buf_, durable);
    if (logged.is_error()) {
        fs::log_line(log_, "ext3: committing a transaction of %zu blocks failed (%s)", n, logged.error().name());
        return logged.error();
    }
    // The journal makes a commit durable by itself once MAX_PENDING are waiting.
    const bool now_durable = journal_->pending() == 0;
    cache_->metadata_committed(now_durable);
    commits_++;
    if (now_durable) tx_start_ = clock_.now();
    // Checkpoint once the log might not take the next transaction (at most the whole cache).
    if (journal_->free_blocks() < journal_->blocks_needed(cache_->buffer_count())) return checkpoint();
    return {};
}

Result<void> FileSystem::make_durable() {
    if (!journal_->pending()) return {};
    TRY(journal_->make_durable(journal_buf_));
    cache_->metadata_durable();
    tx_start_ = clock_.now();
    return {};
}

Result<void> FileSystem::commit_changes() {
    if (read_only_) return {};
    if (journaled()) return commit(false);
    // ext2: written in place, on the device, without the flush (a power cut needs e2fsck on
    // ext2 anyway; a fault of the fs domain finds the writes there).
    TRY(write_super_and_groups());
    return cache_->write_unlogged();
}

Result<void> FileSystem::checkpoint() {
    if (!journal_->committed()) return {};
    TRY(make_durable());
    // Right after a commit every buffer holds committed contents: all of them home, a flush
    // (sync ends with one), and the log is empty.
    TRY(cache_->sync());
    TRY(journal_->checkpoint(true));
    drop_committed_bits();
    return {};
}

Result<void> FileSystem::keep_committed_bits(uint32_t g) {
    if (!journaled() || committed_bits_[g]) return {};
    auto* copy = static_cast<uint8_t*>(alloc_.allocate(block_size_, 16));
    if (!copy) return Errno::NoMem;
    BufferRef bm = TRY(cache_->get(groups_[g].bg_block_bitmap));
    __builtin_memcpy(copy, bm.data(), block_size_);
    committed_bits_[g] = copy;
    return {};
}

void FileSystem::drop_committed_bits() {
    for (uint32_t g = 0; g < group_count_; g++) {
        if (committed_bits_[g]) alloc_.release(committed_bits_[g], block_size_);
        committed_bits_[g] = nullptr;
    }
}

bool FileSystem::committed_in_use(uint32_t g, uint32_t index) const {
    const uint8_t* bits = committed_bits_ ? committed_bits_[g] : nullptr;
    return bits && (bits[index >> 3] & (1u << (index & 7)));
}

bool FileSystem::group_has_super(uint32_t g) const {
    if (g <= 1 || !(sb_.s_feature_ro_compat & RO_COMPAT_SPARSE_SUPER)) return true;
    return is_power_of(g, 3) || is_power_of(g, 5) || is_power_of(g, 7);
}

Result<void> FileSystem::check_group(uint32_t g) {
    const GroupDesc& d = groups_[g];
    uint64_t first = sb_.s_first_data_block + uint64_t{g} * sb_.s_blocks_per_group;
    uint64_t end = first + sb_.s_blocks_per_group;
    if (end > sb_.s_blocks_count) end = sb_.s_blocks_count;
    uint64_t meta_end = first + (group_has_super(g) ? 1 + gdt_blocks_ + sb_.s_reserved_gdt_blocks : 0);
    auto inside = [&](uint64_t b, uint64_t n) { return b >= meta_end && b + n <= end; };
    if (!inside(d.bg_block_bitmap, 1))
        return corrupt("group %u: block bitmap at %u outside the group", g, d.bg_block_bitmap);
    if (!inside(d.bg_inode_bitmap, 1))
        return corrupt("group %u: inode bitmap at %u outside the group", g, d.bg_inode_bitmap);
    if (!inside(d.bg_inode_table, inode_table_blocks_))
        return corrupt("group %u: inode table at %u outside the group", g, d.bg_inode_table);
    if (d.bg_block_bitmap == d.bg_inode_bitmap ||
        (d.bg_block_bitmap >= d.bg_inode_table && d.bg_block_bitmap < d.bg_inode_table + inode_table_blocks_) ||
        (d.bg_inode_bitmap >= d.bg_inode_table && d.bg_inode_bitmap < d.bg_inode_table + inode_table_blocks_))
        return corrupt("group %u: bitmaps and inode table overlap", g);
    if (d.bg_free_blocks_count > end - first || d.bg_free_inodes_count > sb_.s_inodes_per_group ||
        d.bg_used_dirs_count > sb_.s_inodes_per_group)
        return corrupt("group %u: counts out of range", g);
    return {};
}

bool FileSystem::is_metadata_block(uint64_t b) const {
    if (b < sb_.s_first_data_block || b >= sb_.s_blocks_count) return true;
    uint32_t g = static_cast<uint32_t>((b - sb_.s_first_data_block) / sb_.s_blocks_per_group);
    uint64_t first = sb_.s_first_data_block + uint64_t{g} * sb_.s_blocks_per_group;
    if (group_has_super(g) && b < first + 1 + gdt_blocks_ + sb_.s_reserved_gdt_blocks) return true;
    const GroupDesc& d = groups_[g];
    return b == d.bg_block_bitmap || b == d.bg_inode_bitmap ||
           (b >= d.bg_inode_table && b < uint64_t{d.bg_inode_table} + inode_table_blocks_);
}

Result<void> FileSystem::check_data_block(uint64_t b, uint32_t ino) {
    if (b >= sb_.s_blocks_count)
        return corrupt("inode %u: block %llu past the end (%u blocks)", ino, static_cast<unsigned long long>(b),
                       sb_.s_blocks_count);
    if (is_metadata_block(b))
        return corrupt("inode %u: block %llu is file-system metadata", ino, static_cast<unsigned long long>(b));
    return {};
}

Result<BufferRef> FileSystem::inode_block(uint32_t ino, uint32_t& offset) {
    if (ino == 0 || ino > sb_.s_inodes_count) return corrupt("inode number %u out of range", ino);
    uint32_t g = (ino - 1) / sb_.s_inodes_per_group;
    uint64_t byte = uint64_t{(ino - 1) % sb_.s_inodes_per_group} * inode_size_;
    offset = static_cast<uint32_t>(byte % block_size_);
    return cache_->get(groups_[g].bg_inode_table + byte / block_size_);
}

Result<Inode> FileSystem::read_inode(uint32_t ino) {
    uint32_t offset;
    BufferRef b = TRY(inode_block(ino, offset));
    Inode in;
    __builtin_memcpy(&in, b.data() + offset, sizeof in);
    return in;
}

Result<void> FileSystem::write_inode(uint32_t ino, const Inode& in) {
    TRY(require_writable());
    uint32_t offset;
    BufferRef b = TRY(inode_block(ino, offset));
    __builtin_memcpy(b.data() + offset, &in, sizeof in);
    b.mark_metadata();
    return {};
}

Result<void> FileSystem::clear_bitmap_bit(uint32_t bitmap_block, uint32_t index, const char* what, uint32_t number) {
    BufferRef bm = TRY(cache_->get(bitmap_block));
    uint8_t& byte = bm.data()[index >> 3];
    const auto bit = static_cast<uint8_t>(1u << (index & 7));
    if (!(byte & bit)) return corrupt("freeing %s %u, which is already free", what, number);
    byte &= static_cast<uint8_t>(~bit);
    bm.mark_metadata();
    return {};
}

Result<uint32_t> FileSystem::alloc_block(uint32_t goal) {
    TRY(require_writable());
    if (sb_.s_free_blocks_count == 0) return Errno::NoSpc;
    if (goal < sb_.s_first_data_block || goal >= sb_.s_blocks_count) goal = sb_.s_first_data_block;
    uint32_t bpg = sb_.s_blocks_per_group;
    uint32_t g0 = (goal - sb_.s_first_data_block) / bpg;
    bool freed_here = false;
    for (uint32_t n = 0; n < group_count_; n++) {
        uint32_t g = (g0 + n) % group_count_;
        GroupDesc& d = groups_[g];
        if (d.bg_free_blocks_count == 0) continue;
        uint32_t first = sb_.s_first_data_block + g * bpg;
        uint32_t count = sb_.s_blocks_count - first < bpg ? sb_.s_blocks_count - first : bpg;
        uint32_t start = (n == 0 && goal >= first) ? goal - first : 0;
        bool freed_in_group = false;
        BufferRef bm = TRY(cache_->get(d.bg_block_bitmap));
        uint8_t* bits = bm.data();
        // Two sweeps: from the goal to the end, then from the start to the goal.
        for (int sweep = 0; sweep < 2; sweep++) {
            uint32_t lo = sweep == 0 ? start : 0, hi = sweep == 0 ? count : start;
            for (uint32_t i = lo; i < hi; i++) {
                if ((i & 7) == 0 && bits[i >> 3] == 0xFF && i + 8 <= hi) {
                    i += 7;
                    continue;
                }
                if (bits[i >> 3] & (1u << (i & 7))) continue;
                if (committed_in_use(g, i)) {
                    freed_in_group = true;
                    continue;
                }
                uint32_t b = first + i;
                if (is_metadata_block(b))
                    return corrupt("block bitmap of group %u says metadata block %u is free", g, b);
                bits[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
                bm.mark_metadata();
                d.bg_free_blocks_count--;
                sb_.s_free_blocks_count--;
                meta_dirty_ = true;
                return b;
            }
        }
        if (freed_in_group) {  // its free blocks were freed by the running transaction
            freed_here = true;
            continue;
        }
        return corrupt("group %u: %u free blocks counted but none in its bitmap", g, d.bg_free_blocks_count);
    }
    // What is left was freed by this transaction and becomes usable once it commits.
    if (freed_here) return Errno::NoSpc;
    return corrupt("superblock counts %u free blocks but no group has any", sb_.s_free_blocks_count);
}

Result<void> FileSystem::free_block(uint32_t b) {
    TRY(require_writable());
    TRY(check_data_block(b, 0));
    uint32_t g = (b - sb_.s_first_data_block) / sb_.s_blocks_per_group;
    uint32_t i = (b - sb_.s_first_data_block) % sb_.s_blocks_per_group;
    GroupDesc& d = groups_[g];
    TRY(keep_committed_bits(g));
    TRY(clear_bitmap_bit(d.bg_block_bitmap, i, "block", b));
    if (committed_bits_ && committed_bits_[g]) committed_bits_[g][i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
    d.bg_free_blocks_count++;
    sb_.s_free_blocks_count++;
    meta_dirty_ = true;
    cache_->forget(b);
    return {};
}

Result<uint32_t> FileSystem::alloc_inode(uint32_t parent, bool dir) {
    TRY(require_writable());
    if (sb_.s_free_inodes_count == 0) return Errno::NoSpc;
    uint32_t ipg = sb_.s_inodes_per_group;
    uint32_t g0 = parent ? (parent - 1) / ipg : 0;
    if (dir) {
        // Spread directories: the group with the most free inodes among those with free blocks
        // above average (a light version of Linux's Orlov allocator).
        uint32_t avg = sb_.s_free_blocks_count / group_count_;
        uint32_t best = g0, best_free = 0;
        for (uint32_t g = 0; g < group_count_; g++) {
            const GroupDesc& d = groups_[g];
            if (d.bg_free_inodes_count > best_free && d.bg_free_blocks_count >= avg) {
                best = g;
                best_free = d.bg_free_inodes_count;
            }
        }
        g0 = best;
    }
    for (uint32_t n = 0; n < group_count_; n++) {
        uint32_t g = (g0 + n) % group_count_;
        GroupDesc& d = groups_[g];
        if (d.bg_free_inodes_count == 0) continue;
        BufferRef bm = TRY(cache_->get(d.bg_inode_bitmap));
        uint8_t* bits = bm.data();
        uint32_t start = g == 0 ? sb_.s_first_ino - 1 : 0;
        for (uint32_t i = start; i < ipg; i++) {
            if (bits[i >> 3] & (1u << (i & 7))) continue;
            uint32_t ino = g * ipg + i + 1;
            Inode old = TRY(read_inode(ino));
            if (old.i_links_count != 0 && old.i_dtime == 0 && old.i_mode != 0)
                return corrupt("inode bitmap says inode %u is free but it is in use", ino);
            bits[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
            bm.mark_metadata();
            d.bg_free_inodes_count--;
            if (dir) d.bg_used_dirs_count++;
            sb_.s_free_inodes_count--;
            meta_dirty_ = true;
            return ino;
        }
        return corrupt("group %u: %u free inodes counted but none in its bitmap", g, d.bg_free_inodes_count);
    }
    return corrupt("superblock counts %u free inodes but no group has any", sb_.s_free_inodes_count);
}

Result<void> FileSystem::free_inode(uint32_t ino, bool dir) {
    TRY(require_writable());
    if (ino < sb_.s_first_ino || ino > sb_.s_inodes_count) return corrupt("freeing reserved or bad inode %u", ino);
    uint32_t g = (ino - 1) / sb_.s_inodes_per_group;
    uint32_t i = (ino - 1) % sb_.s_inodes_per_group;
    GroupDesc& d = groups_[g];
    TRY(clear_bitmap_bit(d.bg_inode_bitmap, i, "inode", ino));
    d.bg_free_inodes_count++;
    if (dir && d.bg_used_dirs_count) d.bg_used_dirs_count--;
    sb_.s_free_inodes_count++;
    meta_dirty_ = true;
    return {};
}

Result<void> FileSystem::write_super_and_groups() {
    if (read_only_ || !meta_dirty_) return {};
    sb_.s_wtime = clock_.now();
    uint32_t sb_block = block_size_ == 1024 ? 1 : 0;
    uint32_t sb_off = block_size_ == 1024 ? 0 : SUPERBLOCK_OFFSET;
    {
        BufferRef b = TRY(cache_->get(sb_block));
        __builtin_memcpy(b.data() + sb_off, &sb_, sizeof sb_);
        b.mark_metadata();
    }
    uint32_t per_block = block_size_ / sizeof(GroupDesc);
    for (uint32_t i = 0; i < gdt_blocks_; i++) {
        BufferRef b = TRY(cache_->get(sb_.s_first_data_block + 1 + i));
        uint32_t n = group_count_ - i * per_block < per_block ? group_count_ - i * per_block : per_block;
        __builtin_memcpy(b.data(), &groups_[i * per_block], n * sizeof(GroupDesc));
        b.mark_metadata();
    }
    meta_dirty_ = false;
    return {};
}

Result<void> FileSystem::sync() {
    // Nothing since the last sync: no flush either (the fs service's timer calls this).
    if (read_only_ || (!changed_ && !meta_dirty_ && !(journaled() && journal_->pending()))) return {};
    if (journaled()) {
        TRY(commit(true));
    } else {
        TRY(write_super_and_groups());
        TRY(cache_->sync());
    }
    changed_ = false;
    return {};
}

Result<void> FileSystem::fsync(uint32_t ino) {
    // The cache does not track which buffers belong to which inode; writing all of them back
    // is correct, if more than needed.
    if (ino == 0 || ino > sb_.s_inodes_count) return Errno::Inval;
    return sync();
}

Result<void> FileSystem::unmount(FsOwner& owner) {
    FileSystem* fs = owner.get();
    if (!fs) return Errno::Inval;
    Result<void> r;
    if (!fs->read_only_) {
        if (fs->errors_found_)
            fs->sb_.s_state |= STATE_ERROR;
        else
            fs->sb_.s_state |= STATE_VALID;
        fs->meta_dirty_ = true;
        r = fs->sync();
        if (r.is_ok() && fs->journaled()) r = fs->checkpoint();
        if (r.is_ok() && fs->journaled()) {
            // The journal is empty: the superblock says so in place, as Linux does at unmount.
            fs->cache_->set_journaling(false);
            fs->sb_.s_feature_incompat &= ~INCOMPAT_RECOVER;
            fs->meta_dirty_ = true;
            r = fs->write_super_and_groups();
            if (r.is_ok()) r = fs->cache_->sync();
        }
    }
    owner.reset();
    return r;
}

}  // namespace lamina::ext2
