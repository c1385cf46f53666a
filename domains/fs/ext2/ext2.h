// lamina:portable
// ext2 revision 1, read and write, over a BlockDevice (the fs domain's partition of the NVMe
// disk; a file or memory image in the host tests).
//
// The interface works on inode numbers, as the VFS will: it resolves paths itself and calls
// lookup/create/read/write on the inodes it holds. Everything goes through the buffer cache;
// sync() (or fsync, or unmount) writes it back.
//
// Mount policy:
//  - an INCOMPAT feature other than filetype (and needs_recovery with a journal) refuses the
//    mount (Errno::NotSup, features named in the log);
//  - ext3 (has_journal): a journal needing recovery is replayed first (journal.h), even for a
//    read-only mount, as Linux does; one that cannot be replayed (unsupported journal
//    features, an external journal) refuses the mount. A clean journal with unsupported
//    features, or an external one, mounts read-only. A read-write mount journals its
//    metadata (below) and keeps needs_recovery set while mounted instead of clearing VALID;
//  - an RO_COMPAT feature other than sparse_super and large_file mounts read-only;
//  - a file system not cleanly unmounted (s_state without VALID, or with ERROR) mounts
//    read-only with a warning: writing to it could spread the damage; e2fsck it first
//    (except MountOptions::after_fault, for a missing VALID only).
//  read_only_reason() says why a mount asked for read-write came out read-only.
//
// Journaling (ext3 read-write), in ordered mode as ext3's default: every public call that
// changes the file system is one handle of the running transaction. The metadata it changes
// (inodes, bitmaps, group descriptors, the superblock, directory and indirect blocks) stays in
// the buffer cache, pinned, until the transaction commits: durably on sync/fsync, or at the
// start of the next call once the pinned buffers are more than tx_limit_ or the oldest change
// not durable is COMMIT_SECONDS old; pending (commit_changes, after every name-space change of
// the fs service) without a flush. A commit writes the dirty file data home first (ordered:
// data reaches the disk before the metadata that points at it commits) and logs the metadata
// (Journal::commit); the buffers are then ordinary dirty ones, once the commit is durable
// (a pending commit's stay pinned until then). Once the log might not take another
// transaction (and at unmount), the
// checkpoint writes everything home and empties the log. A crash at any point leaves the disk
// at the last commit once the journal is replayed. A block freed since the last checkpoint is
// not reused before the next (committed_bits_): a crash would bring back its old owner, and
// the replay its logged contents, over whatever it then held.
//
// Corrupt metadata (numbers out of range, malformed directory blocks, indirect-block cycles,
// bitmaps contradicting the layout) is reported as Errno::IO with the reason in the log; a
// read-write mount then marks the file system as having errors.
//
// Not thread-safe: the caller (the fs domain) serializes every call.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/optional.h>
#include <lamina/own.h>
#include <lamina/result.h>

#include "domains/fs/block_device.h"
#include "domains/fs/ext2/allocator.h"
#include "domains/fs/ext2/buffer_cache.h"
#include "domains/fs/ext2/ext2_format.h"
#include "domains/fs/ext2/journal.h"
#include "domains/fs/fs_log.h"

namespace lamina::ext2 {

class Clock {
public:
    virtual uint32_t now() = 0;  // Unix seconds

protected:
    ~Clock() = default;
};

struct MountOptions {
    bool read_only = false;
    uint32_t cache_buffers = 64;  // buffer-cache size in blocks (at least BufferCache::MIN_BUFFERS)
    // The previous mount was ours and died without unmounting (the fs domain restarting after
    // a fault): the missing VALID bit is expected and does not force a read-only mount. What
    // is on disk is what that mount had written back; ERROR still forces read-only. The disk
    // kept power, so that mount's pending commits (commit_changes) are whole: they replay.
    bool after_fault = false;
};

struct Stat {
    uint32_t ino;
    uint16_t mode;  // MODE_IF* | permissions
    uint16_t links;
    uint32_t uid, gid;
    uint64_t size;
    uint64_t blocks;  // 512-byte units
    uint32_t atime, mtime, ctime, dtime;
    uint32_t flags;
};

struct SetAttr {
    enum : uint32_t { MODE = 1, UID = 2, GID = 4, ATIME = 8, MTIME = 16 };
    uint32_t mask;
    uint16_t mode;  // permission bits only; the type never changes
    uint32_t uid, gid;
    uint32_t atime, mtime;
};

struct DirEntry {
    uint32_t ino;
    uint8_t type;  // FT_*
    uint8_t name_len;
    char name[MAX_NAME_LEN + 1];  // NUL-terminated
};

constexpr uint32_t MAX_PATH_LEN = 4096;
constexpr uint32_t SYMLINK_MAX_FOLLOW = 40;  // as Linux: more is ELOOP

class FileSystem;

// Gives a file system's memory back to the Allocator it was mounted with.
struct FileSystemDelete {
    void operator()(FileSystem* fs) const;
};

// Unique owner of a mounted file system: dropping it frees the memory without writing anything
// back (use unmount() for an orderly end).
using FsOwner = Own<FileSystem, FileSystemDelete>;

class FileSystem {
public:
    static Result<FsOwner> mount(fs::BlockDevice& dev, Allocator& alloc, Clock& clock, fs::FsLog* log,
                                 const MountOptions& opts);
    // Writes everything back, marks the file system clean (if it was mounted read-write and no
    // error was found) and frees the owner's memory even when writing fails.
    static Result<void> unmount(FsOwner& owner);

    bool read_only() const { return read_only_; }
    const char* read_only_reason() const { return ro_reason_; }
    uint32_t block_size() const { return block_size_; }
    const Superblock& superblock() const { return sb_; }
    const BufferCache::Stats& cache_stats() const { return cache_->stats(); }
    // A read-write ext3 mount: metadata goes through the journal.
    bool journaled() const { return cache_->journaling(); }
    uint32_t commits() const { return commits_; }  // transactions committed by this mount
    uint32_t root() const { return ROOT_INO; }

    Result<Stat> stat(uint32_t ino);
    Result<void> setattr(uint32_t ino, const SetAttr& attr);

    // Directories. Names are byte strings of 1..255 bytes without '/' or NUL.
    Result<uint32_t> lookup(uint32_t dir, const char* name, size_t len);
    Result<uint32_t> create(uint32_t dir, const char* name, size_t len, uint16_t mode, uint32_t uid,
                            uint32_t gid);  // mode: MODE_IFREG/FIFO/SOCK | perms
    Result<uint32_t> mkdir(uint32_t dir, const char* name, size_t len, uint16_t perms, uint32_t uid, uint32_t gid);
    Result<uint32_t> symlink(uint32_t dir, const char* name, size_t len, const char* target, size_t target_len,
                             uint32_t uid, uint32_t gid);
    Result<void> link(uint32_t dir, const char* name, size_t len, uint32_t ino);
    // unlink and rename (over an existing name) with `orphan`: a file whose last name goes is
    // not freed but put on the orphan list (s_last_orphan, chained through i_dtime, as ext3
    // and Linux do) with no links, still readable and writable, and *orphan is its number (0
    // when nothing was orphaned); release() frees it once its last user is done. A mount
    // (not after_fault) frees what is left on the list. Without `orphan` it is freed at once.
    Result<void> unlink(uint32_t dir, const char* name, size_t len, uint32_t* orphan = nullptr);
    Result<void> rmdir(uint32_t dir, const char* name, size_t len);
    Result<void> rename(uint32_t old_dir, const char* old_name, size_t old_len, uint32_t new_dir, const char* new_name,
                        size_t new_len, uint32_t* orphan = nullptr);
    // Takes an orphan off the list and frees it with its blocks. Inval if ino is no orphan.
    Result<void> release(uint32_t ino);
    // Frees every orphan on the list (what mount does unless after_fault).
    Result<void> free_orphans();
    // The next used entry at or after byte offset *pos (0 to start); *pos moves past it.
    // Returns false at the end of the directory.
    Result<bool> read_dir(uint32_t dir, uint64_t* pos, DirEntry* out);

    // Files.
    Result<size_t> read(uint32_t ino, uint64_t offset, void* buf, size_t len);
    Result<size_t> write(uint32_t ino, uint64_t offset, const void* buf, size_t len);
    Result<void> truncate(uint32_t ino, uint64_t size);
    Result<size_t> readlink(uint32_t ino, char* buf, size_t len);

    // Resolves a path from `start` (absolute paths from the root), following symlinks in the
    // middle always and in the last component when follow_last.
    Result<uint32_t> resolve(uint32_t start, const char* path, size_t len, bool follow_last);

    // Everything durable: on the disk so that it survives a power cut. Nothing to do (no
    // write, no flush) when no call changed anything since the last sync.
    Result<void> sync();
    Result<void> fsync(uint32_t ino);
    // The changes so far logged without waiting for the disk: a pending commit (journal.h), no
    // flush. They survive a fault of the fs domain (the next mount with after_fault replays
    // them), not a power cut before the next sync. Without a journal: everything written
    // back, no flush.
    Result<void> commit_changes();

    uint64_t max_file_size() const { return max_file_size_; }

private:
    friend class Allocator;
    friend struct FileSystemDelete;
    ~FileSystem();

    struct InodeRef;  // an inode's on-disk location
    struct MapPath;
    FileSystem(fs::BlockDevice& dev, Allocator& alloc, Clock& clock, fs::FsLog* log)
        : dev_(dev), alloc_(alloc), clock_(clock), log_(log) {}

    // ext2_fs.cpp: mount, superblock, group descriptors, bitmaps, inodes.
    Result<void> load(const MountOptions& opts);
    Result<void> check_group(uint32_t g);
    bool has_journal() const { return sb_.s_feature_compat & COMPAT_HAS_JOURNAL; }
    // Opens the journal (ext3/ext4) before the groups are read; true when it replayed the
    // journal and the mount must start again from the disk.
    Result<bool> load_journal(bool after_fault);
    [[gnu::format(printf, 2, 3)]] Error corrupt(const char* fmt, ...);
    bool group_has_super(uint32_t g) const;
    bool is_metadata_block(uint64_t b) const;
    Result<void> check_data_block(uint64_t b, uint32_t ino);
    // The cached block holding inode `ino`, and the inode's byte offset in it.
    Result<BufferRef> inode_block(uint32_t ino, uint32_t& offset);
    Result<Inode> read_inode(uint32_t ino);
    Result<void> write_inode(uint32_t ino, const Inode& in);
    // Clears bit `index` of the bitmap in `bitmap_block`; a bit already clear is corruption,
    // reported as freeing `what` `number`.
    Result<void> clear_bitmap_bit(uint32_t bitmap_block, uint32_t index, const char* what, uint32_t number);
    Result<uint32_t> alloc_block(uint32_t goal);
    Result<void> free_block(uint32_t b);
    Result<uint32_t> alloc_inode(uint32_t parent, bool dir);
    Result<void> free_inode(uint32_t ino, bool dir);
    Result<void> write_super_and_groups();
    Result<void> require_writable();
    // Journaling (see above). begin_op() starts each public call that may change metadata.
    Result<void> begin_op();
    // Logs the running transaction; durable: so that it survives a power cut (else pending,
    // see commit_changes).
    Result<void> commit(bool durable);
    // The pending commits durable, their buffers free to go home.
    Result<void> make_durable();
    Result<void> checkpoint();
    Result<void> start_journaling();
    // Before a block of group g is freed: its bitmap as the last checkpoint left it, with the
    // blocks freed since added, kept until the next checkpoint.
    Result<void> keep_committed_bits(uint32_t g);
    void drop_committed_bits();
    bool committed_in_use(uint32_t g, uint32_t index) const;

    // ext2_file.cpp: block map, data, truncation.
    Result<uint32_t> map_block(uint32_t ino, Inode& in, uint64_t lblk, bool create, bool* created);
    Result<void> free_blocks_from(uint32_t ino, Inode& in, uint64_t first_lblk);
    Result<void> free_tree(uint32_t ino, Inode& in, uint32_t* slot, int depth, uint64_t start, uint32_t* ancestors,
                           int nanc);
    Result<void> release_inode(uint32_t ino, Inode& in);  // links reached 0
    Result<void> set_size(Inode& in, uint64_t size);
    uint64_t size_of(const Inode& in) const;
    Result<size_t> read_data(uint32_t ino, Inode& in, uint64_t offset, void* buf, size_t len);
    Result<size_t> write_data(uint32_t ino, Inode& in, uint64_t offset, const void* buf, size_t len);
    Result<void> check_inode_usable(uint32_t ino, const Inode& in);
    // The inode of a regular file for read, write or truncate: EISDIR for a directory, EINVAL
    // for anything else that is not a regular file.
    Result<Inode> read_regular(uint32_t ino);

    // ext2_dir.cpp: directory blocks.
    struct Slot;
    Result<bool> find_entry(uint32_t dir, const char* name, size_t len, Slot* slot);
    Result<void> add_entry(uint32_t dir, const char* name, size_t len, uint32_t ino, uint8_t type);
    Result<uint32_t> remove_entry(uint32_t dir, const char* name, size_t len);
    Result<void> retarget_entry(uint32_t dir, const char* name, size_t len, uint32_t ino, uint8_t type);
    Result<bool> dir_is_empty(uint32_t dir);
    Result<void> check_dir_block(const uint8_t* data, uint32_t dir, uint64_t lblk);
    Result<void> adjust_links(uint32_t ino, int delta, uint32_t* orphan = nullptr);
    // An inode with no links still allocated in its bitmap: on the orphan list.
    Result<bool> is_orphan(uint32_t ino, const Inode& in);
    Result<Inode> read_dir_inode(uint32_t dir);
    Result<BufferRef> dir_block(uint32_t dir, Inode& in, uint64_t lblk);
    Result<void> clear_inode_slot(uint32_t ino);
    uint32_t rec_len_decode(uint16_t v) const;
    uint16_t rec_len_encode(uint32_t v) const;
    Result<uint32_t> new_inode(uint32_t dir, uint16_t mode, uint32_t uid, uint32_t gid, Inode* out);
    Result<void> check_name(const char* name, size_t len);
    Result<void> touch_dir(uint32_t dir);
    uint8_t type_for(uint16_t mode) const;

    fs::BlockDevice& dev_;
    Allocator& alloc_;
    Clock& clock_;
    fs::FsLog* log_;
    BufferCache* cache_ = nullptr;
    Superblock sb_{};
    GroupDesc* groups_ = nullptr;  // in memory; written back by sync
    uint32_t group_count_ = 0;
    uint32_t block_size_ = 0;
    uint32_t addr_per_block_ = 0;  // block numbers per indirect block
    uint32_t inode_size_ = 0;
    uint32_t inode_table_blocks_ = 0;
    uint32_t gdt_blocks_ = 0;
    uint64_t max_file_size_ = 0;
    bool read_only_ = false;
    bool meta_dirty_ = false;
    bool errors_found_ = false;
    bool replayed_ = false;  // this mount replayed the journal
    const char* ro_reason_ = nullptr;
    uint32_t last_alloc_ino_ = 0;  // allocation hint: where that inode's last block went
    uint32_t last_alloc_block_ = 0;

    static constexpr uint32_t COMMIT_SECONDS = 5;  // as ext3's default commit interval
    Optional<Journal> journal_;                    // a read-write ext3 mount's journal
    LoggedBlock* logged_ = nullptr;                // a transaction's blocks (one per cache buffer)
    uint8_t* journal_buf_ = nullptr;               // Journal::commit's scratch: two blocks
    struct PendingRoom {
        Journal::PendingCommit commits[Journal::MAX_PENDING];
    };
    PendingRoom* pending_room_ = nullptr;  // the journal's records of its pending commits
    uint8_t** committed_bits_ = nullptr;   // per group, or null (keep_committed_bits)
    uint32_t tx_limit_ = 0;                // metadata blocks that make the next call commit first
    uint32_t tx_start_ = 0;                // when the running transaction began (Unix seconds)
    uint32_t commits_ = 0;
    bool changed_ = false;  // a call that may change something ran since the last sync
};

}  // namespace lamina::ext2
