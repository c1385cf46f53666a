// lamina:portable
// The JBD2 journal's on-disk format: the journal that ext3 and ext4 keep in inode 8 (or on an
// external device, which Lamina does not support), as Linux's jbd2 and e2fsprogs write it
// (Documentation/filesystems/ext4/journal.rst in the Linux tree, "Journal (jbd2)"; section
// names below refer to it).
//
// Unlike the rest of ext2/3/4, every field of the journal is BIG-endian: use be32()/be16().
// The journal is a circular log of blocks s_first..s_maxlen-1 of the journal inode; each
// transaction is one or more descriptor blocks (each followed by the data blocks its tags
// describe), revoke blocks, and one commit block, all carrying the transaction's sequence.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::ext2::jbd2 {

inline uint32_t be32(uint32_t v) { return __builtin_bswap32(v); }
inline uint16_t be16(uint16_t v) { return __builtin_bswap16(v); }
inline uint64_t be64(uint64_t v) { return __builtin_bswap64(v); }

constexpr uint32_t MAGIC = 0xC03B3998;  // h_magic

// h_blocktype ("Block Header")
constexpr uint32_t DESCRIPTOR_BLOCK = 1;
constexpr uint32_t COMMIT_BLOCK = 2;
constexpr uint32_t SUPERBLOCK_V1 = 3;
constexpr uint32_t SUPERBLOCK_V2 = 4;
constexpr uint32_t REVOKE_BLOCK = 5;
// Not JBD2's: Lamina's pending commit (ext2/journal.h), a commit block written without the
// flushes that make a transaction durable. jbd2 and e2fsck end the log at a block type they do
// not know, so for them the log ends there; the fs domain's own mount after a fault (the disk
// never lost power, so every write it made is there) replays through it. Rewritten as
// COMMIT_BLOCK, after a flush, when the transaction is made durable.
constexpr uint32_t LAMINA_PENDING_COMMIT_BLOCK = 0x4c50;

struct [[gnu::packed]] Header {
    uint32_t h_magic;
    uint32_t h_blocktype;
    uint32_t h_sequence;  // the transaction this block belongs to (0 in the superblock)
};
static_assert(sizeof(Header) == 12);

// s_feature_compat
constexpr uint32_t COMPAT_CHECKSUM = 0x1;  // commit blocks carry a CRC32 of the transaction (v1)
// s_feature_incompat: a journal with one we do not know is neither replayed nor written.
constexpr uint32_t INCOMPAT_REVOKE = 0x1;        // revoke blocks
constexpr uint32_t INCOMPAT_64BIT = 0x2;         // tags and revoke records hold 64-bit blocks
constexpr uint32_t INCOMPAT_ASYNC_COMMIT = 0x4;  // commit written without waiting for the data
constexpr uint32_t INCOMPAT_CSUM_V2 = 0x8;       // crc32c checksums, 16-bit tag checksums
constexpr uint32_t INCOMPAT_CSUM_V3 = 0x10;      // crc32c checksums, 32-bit tag checksums
constexpr uint32_t INCOMPAT_FAST_COMMIT = 0x20;  // ext4 fast-commit area after the log
constexpr uint32_t INCOMPAT_SUPPORTED =
    INCOMPAT_REVOKE | INCOMPAT_64BIT | INCOMPAT_ASYNC_COMMIT | INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3;

constexpr uint8_t CHECKSUM_CRC32C = 4;  // s_checksum_type with CSUM_V2/V3
constexpr uint32_t MAX_USERS = 48;

// "Super Block": the first block of the journal.
struct [[gnu::packed]] Superblock {
    Header s_header;
    uint32_t s_blocksize;       // journal block size: the file system's
    uint32_t s_maxlen;          // blocks in the journal
    uint32_t s_first;           // first block of the log (after the superblock)
    uint32_t s_sequence;        // first transaction expected in the log
    uint32_t s_start;           // block of the log's first transaction; 0: the journal is empty
    uint32_t s_errno;           // an error the journal recorded (negative errno)
    uint32_t s_feature_compat;  // V2 superblock only, from here on
    uint32_t s_feature_incompat;
    uint32_t s_feature_ro_compat;
    uint8_t s_uuid[16];
    uint32_t s_nr_users;  // file systems sharing the journal (external journals)
    uint32_t s_dynsuper;
    uint32_t s_max_transaction;
    uint32_t s_max_trans_data;
    uint8_t s_checksum_type;  // CHECKSUM_CRC32C with CSUM_V2/V3
    uint8_t s_padding2[3];
    uint32_t s_num_fc_blks;  // fast-commit blocks
    uint32_t s_head;         // FAST_COMMIT's head of the log
    uint32_t s_padding[40];
    uint32_t s_checksum;  // crc32c(~0, this block with s_checksum = 0) with CSUM_V2/V3
    uint8_t s_users[16 * MAX_USERS];
};
static_assert(sizeof(Superblock) == 1024);
static_assert(offsetof(Superblock, s_feature_compat) == 0x24);
static_assert(offsetof(Superblock, s_uuid) == 0x30);
static_assert(offsetof(Superblock, s_checksum_type) == 0x50);
static_assert(offsetof(Superblock, s_checksum) == 0xFC);

// "Descriptor Block": after the header, tags up to the end of the block (less a BlockTail with
// CSUM_V2/V3), the last one flagged TAG_LAST. Each tag but a TAG_SAME_UUID one is followed by
// 16 bytes of UUID. The data blocks follow the descriptor in tag order.
constexpr uint32_t TAG_ESCAPE = 0x1;     // the data block began with MAGIC, stored as 0
constexpr uint32_t TAG_SAME_UUID = 0x2;  // no UUID follows the tag
constexpr uint32_t TAG_DELETED = 0x4;    // unused by jbd2
constexpr uint32_t TAG_LAST = 0x8;       // the descriptor's last tag

// With CSUM_V3.
struct [[gnu::packed]] BlockTag3 {
    uint32_t t_blocknr;
    uint32_t t_flags;
    uint32_t t_blocknr_high;  // with INCOMPAT_64BIT
    uint32_t t_checksum;      // crc32c(uuid seed, be32 sequence, the data block)
};
static_assert(sizeof(BlockTag3) == 16);

// Without CSUM_V3. Its size is journal_tag_bytes(): 8 bytes, +4 for t_blocknr_high with
// INCOMPAT_64BIT; CSUM_V2 adds 2 bytes after that (16-bit checksums live in t_checksum).
struct [[gnu::packed]] BlockTag {
    uint32_t t_blocknr;
    uint16_t t_checksum;  // low 16 bits of the CSUM_V3 formula, with CSUM_V2
    uint16_t t_flags;
    uint32_t t_blocknr_high;
};
static_assert(sizeof(BlockTag) == 12);
constexpr uint32_t UUID_SIZE = 16;

// The last 4 bytes of descriptor and revoke blocks with CSUM_V2/V3:
// crc32c(uuid seed, the block with the tail zeroed).
struct [[gnu::packed]] BlockTail {
    uint32_t t_checksum;
};
static_assert(sizeof(BlockTail) == 4);

// "Commit Block". With CSUM_V2/V3, h_chksum[0] = crc32c(uuid seed, the block with h_chksum[0]
// zeroed). With COMPAT_CHECKSUM alone, h_chksum_type CHECKSUM_CRC32 and h_chksum[0] the
// big-endian CRC32 (seeded ~0) of the transaction's descriptor and data blocks.
constexpr uint8_t CHECKSUM_CRC32 = 1;
constexpr uint32_t CHECKSUM_BYTES = 32;
struct [[gnu::packed]] CommitHeader {
    Header h;
    uint8_t h_chksum_type;
    uint8_t h_chksum_size;
    uint8_t h_padding[2];
    uint32_t h_chksum[CHECKSUM_BYTES / 4];
    uint64_t h_commit_sec;
    uint32_t h_commit_nsec;
};
static_assert(sizeof(CommitHeader) == 60);
static_assert(offsetof(CommitHeader, h_chksum) == 16);

// "Revoke Block": r_count bytes (header included) of block numbers, 4 bytes each (8 with
// INCOMPAT_64BIT), that earlier transactions must not replay.
struct [[gnu::packed]] RevokeHeader {
    Header r_header;
    uint32_t r_count;
};
static_assert(sizeof(RevokeHeader) == 16);

}  // namespace lamina::ext2::jbd2
