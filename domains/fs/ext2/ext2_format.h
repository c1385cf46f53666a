// lamina:portable
// The ext2 on-disk format, revision 1 (dynamic inodes), as documented in "The Second Extended
// File System" (Dave Poirier, nongnu.org/ext2-doc) and the e2fsprogs headers' field names.
// Everything on disk is little-endian; these structs are read and written by memcpy only.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::ext2 {

constexpr uint32_t SUPERBLOCK_OFFSET = 1024;  // bytes from the start of the partition
constexpr uint16_t MAGIC = 0xEF53;
constexpr uint32_t GOOD_OLD_REV = 0;
constexpr uint32_t DYNAMIC_REV = 1;
constexpr uint32_t GOOD_OLD_INODE_SIZE = 128;
constexpr uint32_t ROOT_INO = 2;
constexpr uint32_t MIN_BLOCK_LOG = 10;  // 1 KiB
constexpr uint32_t MAX_BLOCK_LOG = 16;  // 64 KiB

// s_state
constexpr uint16_t STATE_VALID = 0x0001;  // cleanly unmounted
constexpr uint16_t STATE_ERROR = 0x0002;  // errors detected
// s_errors: what the kernel should do on an error (we always return the error)
constexpr uint16_t ERRORS_CONTINUE = 1, ERRORS_RO = 2, ERRORS_PANIC = 3;

// s_feature_compat: unknown ones may be ignored.
constexpr uint32_t COMPAT_DIR_PREALLOC = 0x0001;
constexpr uint32_t COMPAT_IMAGIC_INODES = 0x0002;
constexpr uint32_t COMPAT_HAS_JOURNAL = 0x0004;
constexpr uint32_t COMPAT_EXT_ATTR = 0x0008;
constexpr uint32_t COMPAT_RESIZE_INODE = 0x0010;  // reserved GDT blocks owned by inode 7
constexpr uint32_t COMPAT_DIR_INDEX = 0x0020;     // htree directories (readable linearly)
// s_feature_ro_compat: an unknown one forces read-only.
constexpr uint32_t RO_COMPAT_SPARSE_SUPER = 0x0001;  // backups only in groups 0, 1, 3^n, 5^n, 7^n
constexpr uint32_t RO_COMPAT_LARGE_FILE = 0x0002;    // i_size_high holds the size's top half
constexpr uint32_t RO_COMPAT_BTREE_DIR = 0x0004;
constexpr uint32_t RO_COMPAT_HUGE_FILE = 0x0008;
constexpr uint32_t RO_COMPAT_GDT_CSUM = 0x0010;
constexpr uint32_t RO_COMPAT_DIR_NLINK = 0x0020;
constexpr uint32_t RO_COMPAT_EXTRA_ISIZE = 0x0040;
constexpr uint32_t RO_COMPAT_QUOTA = 0x0100;
constexpr uint32_t RO_COMPAT_BIGALLOC = 0x0200;
constexpr uint32_t RO_COMPAT_METADATA_CSUM = 0x0400;
constexpr uint32_t RO_COMPAT_SUPPORTED = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE;
// s_feature_incompat: an unknown one refuses the mount.
constexpr uint32_t INCOMPAT_COMPRESSION = 0x0001;
constexpr uint32_t INCOMPAT_FILETYPE = 0x0002;  // directory entries carry the file type
constexpr uint32_t INCOMPAT_RECOVER = 0x0004;
constexpr uint32_t INCOMPAT_JOURNAL_DEV = 0x0008;
constexpr uint32_t INCOMPAT_META_BG = 0x0010;
constexpr uint32_t INCOMPAT_EXTENTS = 0x0040;
constexpr uint32_t INCOMPAT_64BIT = 0x0080;
constexpr uint32_t INCOMPAT_MMP = 0x0100;
constexpr uint32_t INCOMPAT_FLEX_BG = 0x0200;
constexpr uint32_t INCOMPAT_EA_INODE = 0x0400;
constexpr uint32_t INCOMPAT_DIRDATA = 0x1000;
constexpr uint32_t INCOMPAT_CSUM_SEED = 0x2000;
constexpr uint32_t INCOMPAT_LARGEDIR = 0x4000;
constexpr uint32_t INCOMPAT_INLINE_DATA = 0x8000;
constexpr uint32_t INCOMPAT_ENCRYPT = 0x10000;
constexpr uint32_t INCOMPAT_CASEFOLD = 0x20000;
constexpr uint32_t INCOMPAT_SUPPORTED = INCOMPAT_FILETYPE;

struct [[gnu::packed]] Superblock {
    uint32_t s_inodes_count;       // inodes in the fs, used and free
    uint32_t s_blocks_count;       // blocks in the fs, including metadata
    uint32_t s_r_blocks_count;     // blocks reserved for the superuser
    uint32_t s_free_blocks_count;  // sum of the groups' free block counts
    uint32_t s_free_inodes_count;  // sum of the groups' free inode counts
    uint32_t s_first_data_block;   // block holding the superblock: 1 for 1 KiB blocks, else 0
    uint32_t s_log_block_size;     // block size = 1024 << this
    uint32_t s_log_frag_size;      // fragments are unimplemented: equal to the block size
    uint32_t s_blocks_per_group;
    uint32_t s_frags_per_group;
    uint32_t s_inodes_per_group;
    uint32_t s_mtime;         // last mount time (Unix seconds)
    uint32_t s_wtime;         // last write time
    uint16_t s_mnt_count;     // mounts since the last check
    int16_t s_max_mnt_count;  // mounts allowed before a check (-1: no limit)
    uint16_t s_magic;         // MAGIC
    uint16_t s_state;         // STATE_*
    uint16_t s_errors;        // ERRORS_*
    uint16_t s_minor_rev_level;
    uint32_t s_lastcheck;      // time of the last check
    uint32_t s_checkinterval;  // seconds allowed between checks
    uint32_t s_creator_os;
    uint32_t s_rev_level;   // GOOD_OLD_REV or DYNAMIC_REV
    uint16_t s_def_resuid;  // who may use reserved blocks
    uint16_t s_def_resgid;
    // DYNAMIC_REV only:
    uint32_t s_first_ino;       // first inode usable for files
    uint16_t s_inode_size;      // bytes per on-disk inode (power of two, >= 128)
    uint16_t s_block_group_nr;  // group holding this copy of the superblock
    uint32_t s_feature_compat;
    uint32_t s_feature_incompat;
    uint32_t s_feature_ro_compat;
    uint8_t s_uuid[16];
    char s_volume_name[16];
    char s_last_mounted[64];
    uint32_t s_algo_bitmap;
    uint8_t s_prealloc_blocks;
    uint8_t s_prealloc_dir_blocks;
    uint16_t s_reserved_gdt_blocks;  // GDT growth room after each GDT copy (resize_inode)
    uint8_t s_journal_uuid[16];
    uint32_t s_journal_inum;
    uint32_t s_journal_dev;
    uint32_t s_last_orphan;
    uint32_t s_hash_seed[4];
    uint8_t s_def_hash_version;
    uint8_t s_jnl_backup_type;
    uint16_t s_desc_size;  // 64bit feature only
    uint32_t s_default_mount_opts;
    uint32_t s_first_meta_bg;
    uint32_t s_mkfs_time;
    uint32_t s_jnl_blocks[17];
    uint32_t s_blocks_count_hi;  // 64bit feature only
    uint32_t s_r_blocks_count_hi;
    uint32_t s_free_blocks_hi;
    uint16_t s_min_extra_isize;
    uint16_t s_want_extra_isize;
    uint32_t s_flags;
    uint8_t s_rest[1024 - 0x164];  // later ext4 fields, left untouched
};
static_assert(sizeof(Superblock) == 1024);
static_assert(offsetof(Superblock, s_magic) == 0x38);
static_assert(offsetof(Superblock, s_first_ino) == 0x54);
static_assert(offsetof(Superblock, s_reserved_gdt_blocks) == 0xCE);
static_assert(offsetof(Superblock, s_min_extra_isize) == 0x15C);
// With metadata_csum, the superblock's last 4 bytes (s_checksum) hold crc32c(~0, the bytes
// before them), without the final XOR.
constexpr uint32_t SUPERBLOCK_CHECKSUM_OFFSET = 0x3FC;

// One per block group, in the blocks after the superblock.
struct [[gnu::packed]] GroupDesc {
    uint32_t bg_block_bitmap;  // block number of the group's block bitmap
    uint32_t bg_inode_bitmap;  // block number of the group's inode bitmap
    uint32_t bg_inode_table;   // first block of the group's inode table
    uint16_t bg_free_blocks_count;
    uint16_t bg_free_inodes_count;
    uint16_t bg_used_dirs_count;  // directories among the group's inodes
    uint16_t bg_flags;            // uninit_bg/gdt_csum only
    uint8_t bg_reserved[12];
};
static_assert(sizeof(GroupDesc) == 32);

// i_mode: file type (top 4 bits) and permissions.
constexpr uint16_t MODE_IFMT = 0xF000;
constexpr uint16_t MODE_IFSOCK = 0xC000, MODE_IFLNK = 0xA000, MODE_IFREG = 0x8000, MODE_IFBLK = 0x6000,
                   MODE_IFDIR = 0x4000, MODE_IFCHR = 0x2000, MODE_IFIFO = 0x1000;
constexpr uint16_t PERMISSION_BITS = 07777;  // rwx for user/group/other, setuid, setgid, sticky

// i_block: 12 direct blocks, then one single-, one double- and one triple-indirect block.
constexpr uint32_t NDIR_BLOCKS = 12;
constexpr uint32_t IND_BLOCK = 12, DIND_BLOCK = 13, TIND_BLOCK = 14, N_BLOCKS = 15;

// i_flags we act on.
constexpr uint32_t INODE_INDEX_FL = 0x00001000;  // htree directory
constexpr uint32_t INODE_EXTENTS_FL = 0x00080000;
constexpr uint32_t INODE_INLINE_DATA_FL = 0x10000000;
constexpr uint32_t INODE_IMMUTABLE_FL = 0x00000010;
constexpr uint32_t INODE_APPEND_FL = 0x00000020;

constexpr uint32_t LINK_MAX = 32000;  // what Linux's ext2 allows

struct [[gnu::packed]] Inode {
    uint16_t i_mode;         // MODE_IF* type and permission bits
    uint16_t i_uid;          // owner, low 16 bits
    uint32_t i_size;         // size in bytes, low 32 bits
    uint32_t i_atime;        // last access (Unix seconds)
    uint32_t i_ctime;        // last inode change
    uint32_t i_mtime;        // last data change
    uint32_t i_dtime;        // deletion time; nonzero only for freed inodes
    uint16_t i_gid;          // group, low 16 bits
    uint16_t i_links_count;  // directory entries naming the inode (+1 per subdir's "..")
    uint32_t i_blocks;       // 512-byte sectors held: data, indirect and xattr blocks
    uint32_t i_flags;
    uint32_t i_osd1;
    uint32_t i_block[N_BLOCKS];  // block map, or a fast symlink's target
    uint32_t i_generation;       // for NFS file handles
    uint32_t i_file_acl;         // extended-attribute block, 0 if none
    uint32_t i_size_high;        // size's top 32 bits for regular files (large_file)
    uint32_t i_faddr;            // fragment address (unused)
    uint16_t l_i_blocks_hi;      // huge_file only
    uint16_t l_i_file_acl_high;  // 64bit only
    uint16_t l_i_uid_high;       // owner, high 16 bits
    uint16_t l_i_gid_high;       // group, high 16 bits
    uint16_t l_i_checksum_lo;    // metadata_csum only
    uint16_t l_i_reserved;
    // Inodes larger than 128 bytes continue with i_extra_isize and ext4's extra timestamps;
    // this code keeps whatever is there and zeroes it for new inodes.
};
static_assert(sizeof(Inode) == GOOD_OLD_INODE_SIZE);
static_assert(offsetof(Inode, i_block) == 40);
static_assert(offsetof(Inode, i_size_high) == 108);
static_assert(offsetof(Inode, l_i_uid_high) == 120);

// Reserved inode numbers below s_first_ino.
constexpr uint32_t BAD_INO = 1, RESIZE_INO = 7;

// A directory block is a chain of variable-length entries that covers it exactly; rec_len
// leads to the next one. An entry with inode 0 is unused space.
struct [[gnu::packed]] DirEntryHeader {
    uint32_t inode;     // 0: unused
    uint16_t rec_len;   // bytes to the next entry (multiple of 4); 64 KiB blocks: see decode
    uint8_t name_len;   // the name follows, not NUL-terminated
    uint8_t file_type;  // FT_* with the filetype feature, else the name length's high byte
};
static_assert(sizeof(DirEntryHeader) == 8);
constexpr uint32_t MAX_NAME_LEN = 255;

// file_type values
constexpr uint8_t FT_UNKNOWN = 0, FT_REG_FILE = 1, FT_DIR = 2, FT_CHRDEV = 3, FT_BLKDEV = 4, FT_FIFO = 5, FT_SOCK = 6,
                  FT_SYMLINK = 7;

// Space an entry with a name of this length needs.
constexpr uint32_t dir_rec_len(uint32_t name_len) { return (8 + name_len + 3) & ~3u; }

// Extended-attribute block header (only its reference count matters to us: freeing an inode
// drops its reference).
constexpr uint32_t XATTR_MAGIC = 0xEA020000;
struct [[gnu::packed]] XattrHeader {
    uint32_t h_magic;
    uint32_t h_refcount;
    uint32_t h_blocks;
    uint32_t h_hash;
    uint32_t h_reserved[4];
};
static_assert(sizeof(XattrHeader) == 32);

}  // namespace lamina::ext2
