// lamina:portable
// Directories (entries in blocks, split and merged in place), links, symlinks, rename and
// path resolution.
#include "domains/fs/ext2/ext2.h"

namespace lamina::ext2 {

namespace {

constexpr uint32_t NO_OFFSET = ~0u;

bool is_dot(const char* n, size_t len) { return len == 1 && n[0] == '.'; }
bool is_dotdot(const char* n, size_t len) { return len == 2 && n[0] == '.' && n[1] == '.'; }

DirEntryHeader header_at(const uint8_t* data, uint32_t off) {
    DirEntryHeader h;
    __builtin_memcpy(&h, data + off, sizeof h);
    return h;
}
void put_header(uint8_t* data, uint32_t off, const DirEntryHeader& h) { __builtin_memcpy(data + off, &h, sizeof h); }

// Bounds the walk from a directory up to the root (rename's loop check) on a corrupt tree.
constexpr uint32_t MAX_DEPTH = 4096;

}  // namespace

struct FileSystem::Slot {
    uint64_t lblk;
    uint32_t offset;
    uint32_t prev_offset;  // NO_OFFSET: first entry in its block
    uint32_t ino;
    uint8_t type;
};

uint32_t FileSystem::rec_len_decode(uint16_t v) const {
    // 64 KiB blocks cannot say 65536 in 16 bits; ext4 writes 65535 (or 0) for it.
    if (block_size_ == 65536 && (v == 65535 || v == 0)) return 65536;
    return v;
}

uint16_t FileSystem::rec_len_encode(uint32_t v) const { return v == 65536 ? 65535 : static_cast<uint16_t>(v); }

uint8_t FileSystem::type_for(uint16_t mode) const {
    if (!(sb_.s_feature_incompat & INCOMPAT_FILETYPE)) return FT_UNKNOWN;
    switch (mode & MODE_IFMT) {
        case MODE_IFREG:
            return FT_REG_FILE;
        case MODE_IFDIR:
            return FT_DIR;
        case MODE_IFCHR:
            return FT_CHRDEV;
        case MODE_IFBLK:
            return FT_BLKDEV;
        case MODE_IFIFO:
            return FT_FIFO;
        case MODE_IFSOCK:
            return FT_SOCK;
        case MODE_IFLNK:
            return FT_SYMLINK;
        default:
            return FT_UNKNOWN;
    }
}

Result<void> FileSystem::check_name(const char* name, size_t len) {
    if (len == 0) return Errno::NoEnt;
    if (len > MAX_NAME_LEN) return Errno::NameTooLong;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '/' || name[i] == 0) return Errno::Inval;
    return {};
}

// The whole block must be a chain of well-formed entries that ends exactly at its end.
Result<void> FileSystem::check_dir_block(const uint8_t* data, uint32_t dir, uint64_t lblk) {
    uint32_t off = 0;
    while (off < block_size_) {
        if (block_size_ - off < sizeof(DirEntryHeader))
            return corrupt("directory %u block %llu: entry header at %u crosses the block end", dir,
                           static_cast<unsigned long long>(lblk), off);
        DirEntryHeader h = header_at(data, off);
        uint32_t rec = rec_len_decode(h.rec_len);
        if (rec < sizeof(DirEntryHeader) || rec % 4 || rec > block_size_ - off)
            return corrupt("directory %u block %llu: bad rec_len %u at offset %u", dir,
                           static_cast<unsigned long long>(lblk), rec, off);
        if (dir_rec_len(h.name_len) > rec)
            return corrupt("directory %u block %llu: name length %u exceeds rec_len %u at offset %u", dir,
                           static_cast<unsigned long long>(lblk), h.name_len, rec, off);
        if (h.inode != 0 && (h.inode > sb_.s_inodes_count || h.name_len == 0))
            return corrupt("directory %u block %llu: entry at %u names inode %u", dir,
                           static_cast<unsigned long long>(lblk), off, h.inode);
        // A name read_dir hands out is one a caller could have made: no NUL, no '/' (e2fsck
        // calls these illegal characters).
        if (h.inode != 0 &&
            check_name(reinterpret_cast<const char*>(data + off + sizeof(DirEntryHeader)), h.name_len).is_error())
            return corrupt("directory %u block %llu: entry at %u has a NUL or '/' in its name", dir,
                           static_cast<unsigned long long>(lblk), off);
        off += rec;
    }
    return {};
}

Result<Inode> FileSystem::read_dir_inode(uint32_t dir) {
    Inode in = TRY(read_inode(dir));
    TRY(check_inode_usable(dir, in));
    if ((in.i_mode & MODE_IFMT) != MODE_IFDIR) return Errno::NotDir;
    if (in.i_size % block_size_ || in.i_size == 0)
        return corrupt("directory %u: size %u is not a positive multiple of the block size", dir, in.i_size);
    return in;
}

Result<BufferRef> FileSystem::dir_block(uint32_t dir, Inode& in, uint64_t lblk) {
    uint32_t phys = TRY(map_block(dir, in, lblk, false, nullptr));
    if (phys == 0) return corrupt("directory %u: hole at block %llu", dir, static_cast<unsigned long long>(lblk));
    BufferRef b = TRY(cache_->get(phys));
    TRY(check_dir_block(b.data(), dir, lblk));
    return b;
}

Result<bool> FileSystem::find_entry(uint32_t dir, const char* name, size_t len, Slot* slot) {
    Inode in = TRY(read_dir_inode(dir));
    uint64_t blocks = in.i_size / block_size_;
    for (uint64_t lblk = 0; lblk < blocks; lblk++) {
        BufferRef b = TRY(dir_block(dir, in, lblk));
        uint32_t prev = NO_OFFSET;
        for (uint32_t off = 0; off < block_size_;) {
            DirEntryHeader h = header_at(b.data(), off);
            if (h.inode && h.name_len == len && __builtin_memcmp(b.data() + off + 8, name, len) == 0) {
                *slot = Slot{lblk, off, prev, h.inode, h.file_type};
                return true;
            }
            prev = off;
            off += rec_len_decode(h.rec_len);
        }
    }
    return false;
}

Result<void> FileSystem::touch_dir(uint32_t dir) {
    Inode in = TRY(read_inode(dir));
    in.i_mtime = in.i_ctime = clock_.now();
    // This code does not maintain htree indexes; a directory it changes is a linear one again
    // (the index blocks look like empty entries to a linear reader).
    in.i_flags &= ~INODE_INDEX_FL;
    return write_inode(dir, in);
}

Result<void> FileSystem::add_entry(uint32_t dir, const char* name, size_t len, uint32_t ino, uint8_t type) {
    Inode in = TRY(read_dir_inode(dir));
    uint32_t need = dir_rec_len(static_cast<uint32_t>(len));
    uint64_t blocks = in.i_size / block_size_;
    DirEntryHeader e{ino, 0, static_cast<uint8_t>(len), type};
    for (uint64_t lblk = 0; lblk < blocks; lblk++) {
        BufferRef b = TRY(dir_block(dir, in, lblk));
        for (uint32_t off = 0; off < block_size_;) {
            DirEntryHeader h = header_at(b.data(), off);
            uint32_t rec = rec_len_decode(h.rec_len);
            uint32_t used = h.inode ? dir_rec_len(h.name_len) : 0;
            if (rec - used >= need) {
                uint32_t at = off;
                if (used) {
                    h.rec_len = rec_len_encode(used);
                    put_header(b.data(), off, h);
                    at = off + used;
                }
                e.rec_len = rec_len_encode(rec - used);
                put_header(b.data(), at, e);
                __builtin_memcpy(b.data() + at + 8, name, len);
                b.mark_metadata();
                return touch_dir(dir);
            }
            off += rec;
        }
    }
    if (in.i_size + uint64_t{block_size_} > 0xFFFFFFFFull) return Errno::NoSpc;
    bool created;
    uint32_t phys = TRY(map_block(dir, in, blocks, true, &created));
    {
        BufferRef b = TRY(cache_->get_zeroed(phys));
        b.mark_metadata();
        e.rec_len = rec_len_encode(block_size_);
        put_header(b.data(), 0, e);
        __builtin_memcpy(b.data() + 8, name, len);
    }
    in.i_size += block_size_;
    TRY(write_inode(dir, in));
    return touch_dir(dir);
}

Result<uint32_t> FileSystem::remove_entry(uint32_t dir, const char* name, size_t len) {
    Slot s;
    if (!TRY(find_entry(dir, name, len, &s))) return Errno::NoEnt;
    Inode in = TRY(read_dir_inode(dir));
    BufferRef b = TRY(dir_block(dir, in, s.lblk));
    DirEntryHeader cur = header_at(b.data(), s.offset);
    if (s.prev_offset != NO_OFFSET) {
        DirEntryHeader prev = header_at(b.data(), s.prev_offset);
        prev.rec_len = rec_len_encode(rec_len_decode(prev.rec_len) + rec_len_decode(cur.rec_len));
        put_header(b.data(), s.prev_offset, prev);
    } else {
        cur.inode = 0;
        put_header(b.data(), s.offset, cur);
    }
    b.mark_metadata();
    TRY(touch_dir(dir));
    return s.ino;
}

Result<void> FileSystem::retarget_entry(uint32_t dir, const char* name, size_t len, uint32_t ino, uint8_t type) {
    Slot s;
    if (!TRY(find_entry(dir, name, len, &s))) return Errno::NoEnt;
    Inode in = TRY(read_dir_inode(dir));
    BufferRef b = TRY(dir_block(dir, in, s.lblk));
    DirEntryHeader cur = header_at(b.data(), s.offset);
    cur.inode = ino;
    cur.file_type = type;
    put_header(b.data(), s.offset, cur);
    b.mark_metadata();
    return touch_dir(dir);
}

Result<bool> FileSystem::dir_is_empty(uint32_t dir) {
    Inode in = TRY(read_dir_inode(dir));
    uint64_t blocks = in.i_size / block_size_;
    for (uint64_t lblk = 0; lblk < blocks; lblk++) {
        BufferRef b = TRY(dir_block(dir, in, lblk));
        for (uint32_t off = 0; off < block_size_;) {
            DirEntryHeader h = header_at(b.data(), off);
            const char* n = reinterpret_cast<const char*>(b.data() + off + 8);
            if (h.inode && !is_dot(n, h.name_len) && !is_dotdot(n, h.name_len)) return false;
            off += rec_len_decode(h.rec_len);
        }
    }
    return true;
}

Result<bool> FileSystem::read_dir(uint32_t dir, uint64_t* pos, DirEntry* out) {
    Inode in = TRY(read_dir_inode(dir));
    uint64_t blocks = in.i_size / block_size_;
    for (uint64_t lblk = *pos / block_size_; lblk < blocks; lblk++) {
        uint32_t from = lblk == *pos / block_size_ ? static_cast<uint32_t>(*pos % block_size_) : 0;
        BufferRef b = TRY(dir_block(dir, in, lblk));
        for (uint32_t off = 0; off < block_size_;) {
            DirEntryHeader h = header_at(b.data(), off);
            uint32_t rec = rec_len_decode(h.rec_len);
            if (h.inode && off >= from) {
                out->ino = h.inode;
                out->type = h.file_type;
                out->name_len = h.name_len;
                __builtin_memcpy(out->name, b.data() + off + 8, h.name_len);
                out->name[h.name_len] = 0;
                *pos = lblk * block_size_ + off + rec;
                return true;
            }
            off += rec;
        }
    }
    *pos = in.i_size;
    return false;
}

Result<uint32_t> FileSystem::lookup(uint32_t dir, const char* name, size_t len) {
    TRY(check_name(name, len));
    Slot s;
    if (!TRY(find_entry(dir, name, len, &s))) return Errno::NoEnt;
    if (s.ino > sb_.s_inodes_count) return corrupt("directory %u names inode %u", dir, s.ino);
    return s.ino;
}

Result<void> FileSystem::adjust_links(uint32_t ino, int delta, uint32_t* orphan) {
    Inode in = TRY(read_inode(ino));
    TRY(check_inode_usable(ino, in));
    int links = in.i_links_count + delta;
    if (links < 0) return corrupt("inode %u: link count below zero", ino);
    if (links > static_cast<int>(LINK_MAX)) return Errno::MLink;
    in.i_links_count = static_cast<uint16_t>(links);
    in.i_ctime = clock_.now();
    if (links == 0 && orphan && (in.i_mode & MODE_IFMT) != MODE_IFDIR) {
        // Linux's orphan list: the head in the superblock, the next one in i_dtime.
        in.i_dtime = sb_.s_last_orphan;
        sb_.s_last_orphan = ino;
        meta_dirty_ = true;
        *orphan = ino;
        return write_inode(ino, in);
    }
    if (links == 0) return release_inode(ino, in);
    return write_inode(ino, in);
}

Result<bool> FileSystem::is_orphan(uint32_t ino, const Inode& in) {
    if (in.i_links_count != 0 || in.i_mode == 0 || ino < sb_.s_first_ino || ino > sb_.s_inodes_count) return false;
    uint32_t i = (ino - 1) % sb_.s_inodes_per_group;
    BufferRef bm = TRY(cache_->get(groups_[(ino - 1) / sb_.s_inodes_per_group].bg_inode_bitmap));
    return (bm.data()[i >> 3] & (1u << (i & 7))) != 0;
}

Result<void> FileSystem::release(uint32_t ino) {
    TRY(require_writable());
    TRY(begin_op());
    if (ino < sb_.s_first_ino || ino > sb_.s_inodes_count) return Errno::Inval;
    Inode in = TRY(read_inode(ino));
    if (!TRY(is_orphan(ino, in))) return Errno::Inval;
    // Unchain it: the list is singly linked, so find whoever points at it.
    uint32_t prev = 0, cur = sb_.s_last_orphan;
    for (uint32_t n = 0; cur != ino; n++) {
        if (cur == 0) return corrupt("orphan inode %u is not on the orphan list", ino);
        if (n == sb_.s_inodes_count || cur < sb_.s_first_ino || cur > sb_.s_inodes_count)
            return corrupt("orphan list broken at inode %u", cur);
        prev = cur;
        cur = TRY(read_inode(cur)).i_dtime;
    }
    if (prev == 0) {
        sb_.s_last_orphan = in.i_dtime;
        meta_dirty_ = true;
    } else {
        Inode p = TRY(read_inode(prev));
        p.i_dtime = in.i_dtime;
        TRY(write_inode(prev, p));
    }
    return release_inode(ino, in);
}

Result<void> FileSystem::free_orphans() {
    for (uint32_t n = 0; sb_.s_last_orphan != 0; n++) {
        uint32_t ino = sb_.s_last_orphan;
        if (n == sb_.s_inodes_count || ino < sb_.s_first_ino || ino > sb_.s_inodes_count)
            return corrupt("orphan list broken at inode %u", ino);
        Inode in = TRY(read_inode(ino));
        if (!TRY(is_orphan(ino, in))) return corrupt("inode %u on the orphan list is no orphan", ino);
        fs::log_line(log_, "ext2: freeing orphan inode %u", ino);
        TRY(release(ino));
    }
    return {};
}

Result<void> FileSystem::clear_inode_slot(uint32_t ino) {
    uint32_t g = (ino - 1) / sb_.s_inodes_per_group;
    uint64_t byte = uint64_t{(ino - 1) % sb_.s_inodes_per_group} * inode_size_;
    BufferRef b = TRY(cache_->get(groups_[g].bg_inode_table + byte / block_size_));
    __builtin_memset(b.data() + byte % block_size_, 0, inode_size_);
    b.mark_metadata();
    return {};
}

Result<uint32_t> FileSystem::new_inode(uint32_t dir, uint16_t mode, uint32_t uid, uint32_t gid, Inode* out) {
    uint32_t ino = TRY(alloc_inode(dir, (mode & MODE_IFMT) == MODE_IFDIR));
    Inode old = TRY(read_inode(ino));
    TRY(clear_inode_slot(ino));
    Inode in{};
    in.i_mode = mode;
    in.i_uid = static_cast<uint16_t>(uid);
    in.l_i_uid_high = static_cast<uint16_t>(uid >> 16);
    in.i_gid = static_cast<uint16_t>(gid);
    in.l_i_gid_high = static_cast<uint16_t>(gid >> 16);
    in.i_atime = in.i_ctime = in.i_mtime = clock_.now();
    in.i_links_count = 1;
    in.i_generation = old.i_generation + 1;  // a new identity for NFS-style handles
    *out = in;
    return ino;
}

Result<uint32_t> FileSystem::create(uint32_t dir, const char* name, size_t len, uint16_t mode, uint32_t uid,
                                    uint32_t gid) {
    TRY(require_writable());
    TRY(begin_op());
    TRY(check_name(name, len));
    uint16_t type = mode & MODE_IFMT;
    if (type == 0) type = MODE_IFREG;
    if (type != MODE_IFREG && type != MODE_IFIFO && type != MODE_IFSOCK) return Errno::Inval;
    TRY(read_dir_inode(dir));
    Slot s;
    if (TRY(find_entry(dir, name, len, &s))) return Errno::Exist;
    Inode in;
    uint32_t ino = TRY(new_inode(dir, static_cast<uint16_t>(type | (mode & PERMISSION_BITS)), uid, gid, &in));
    TRY(write_inode(ino, in));
    auto added = add_entry(dir, name, len, ino, type_for(in.i_mode));
    if (added.is_error()) {
        (void)release_inode(ino, in);
        return added.error();
    }
    return ino;
}

Result<uint32_t> FileSystem::mkdir(uint32_t dir, const char* name, size_t len, uint16_t perms, uint32_t uid,
                                   uint32_t gid) {
    TRY(require_writable());
    TRY(begin_op());
    TRY(check_name(name, len));
    Inode parent = TRY(read_dir_inode(dir));
    if (parent.i_links_count >= LINK_MAX) return Errno::MLink;
    Slot s;
    if (TRY(find_entry(dir, name, len, &s))) return Errno::Exist;
    Inode in;
    uint32_t ino = TRY(new_inode(dir, static_cast<uint16_t>(MODE_IFDIR | (perms & PERMISSION_BITS)), uid, gid, &in));
    in.i_links_count = 2;  // its name and its own "."
    auto filled = [&]() -> Result<void> {
        bool created;
        uint32_t phys = TRY(map_block(ino, in, 0, true, &created));
        BufferRef b = TRY(cache_->get_zeroed(phys));
        b.mark_metadata();
        DirEntryHeader dot{ino, 12, 1, type_for(MODE_IFDIR)};
        DirEntryHeader dotdot{dir, rec_len_encode(block_size_ - 12), 2, type_for(MODE_IFDIR)};
        put_header(b.data(), 0, dot);
        b.data()[8] = '.';
        put_header(b.data(), 12, dotdot);
        b.data()[20] = '.';
        b.data()[21] = '.';
        in.i_size = block_size_;
        return write_inode(ino, in);
    }();
    if (filled.is_ok()) filled = add_entry(dir, name, len, ino, type_for(MODE_IFDIR));
    if (filled.is_error()) {
        in.i_links_count = 0;
        (void)release_inode(ino, in);
        return filled.error();
    }
    TRY(adjust_links(dir, +1));  // the new ".."
    return ino;
}

Result<uint32_t> FileSystem::symlink(uint32_t dir, const char* name, size_t len, const char* target, size_t target_len,
                                     uint32_t uid, uint32_t gid) {
    TRY(require_writable());
    TRY(begin_op());
    TRY(check_name(name, len));
    if (target_len == 0) return Errno::NoEnt;
    if (target_len >= MAX_PATH_LEN || target_len >= block_size_) return Errno::NameTooLong;
    TRY(read_dir_inode(dir));
    Slot s;
    if (TRY(find_entry(dir, name, len, &s))) return Errno::Exist;
    Inode in;
    uint32_t ino = TRY(new_inode(dir, MODE_IFLNK | 0777, uid, gid, &in));
    Result<void> r;
    if (target_len < sizeof(in.i_block)) {
        // Fast symlink: the target lives in i_block, NUL-terminated, with no block.
        __builtin_memcpy(in.i_block, target, target_len);
        in.i_size = static_cast<uint32_t>(target_len);
    } else {
        auto w = write_data(ino, in, 0, target, target_len);
        if (w.is_error()) r = w.error();
    }
    if (r.is_ok()) r = write_inode(ino, in);
    if (r.is_ok()) r = add_entry(dir, name, len, ino, type_for(MODE_IFLNK));
    if (r.is_error()) {
        (void)release_inode(ino, in);
        return r.error();
    }
    return ino;
}

Result<void> FileSystem::link(uint32_t dir, const char* name, size_t len, uint32_t ino) {
    TRY(require_writable());
    TRY(begin_op());
    TRY(check_name(name, len));
    TRY(read_dir_inode(dir));
    Inode in = TRY(read_inode(ino));
    TRY(check_inode_usable(ino, in));
    if ((in.i_mode & MODE_IFMT) == MODE_IFDIR) return Errno::Perm;
    if (in.i_links_count >= LINK_MAX) return Errno::MLink;
    if (in.i_links_count == 0) return Errno::NoEnt;  // an orphan gets no new name, as on Linux
    Slot s;
    if (TRY(find_entry(dir, name, len, &s))) return Errno::Exist;
    TRY(add_entry(dir, name, len, ino, type_for(in.i_mode)));
    return adjust_links(ino, +1);
}

Result<void> FileSystem::unlink(uint32_t dir, const char* name, size_t len, uint32_t* orphan) {
    if (orphan) *orphan = 0;
    TRY(require_writable());
    TRY(begin_op());
    TRY(check_name(name, len));
    if (is_dot(name, len) || is_dotdot(name, len)) return Errno::IsDir;
    Slot s;
    if (!TRY(find_entry(dir, name, len, &s))) return Errno::NoEnt;
    Inode child = TRY(read_inode(s.ino));
    TRY(check_inode_usable(s.ino, child));
    if ((child.i_mode & MODE_IFMT) == MODE_IFDIR) return Errno::IsDir;
    TRY(remove_entry(dir, name, len));
    return adjust_links(s.ino, -1, orphan);
}

Result<void> FileSystem::rmdir(uint32_t dir, const char* name, size_t len) {
    TRY(require_writable());
    TRY(begin_op());
    TRY(check_name(name, len));
    if (is_dot(name, len)) return Errno::Inval;
    if (is_dotdot(name, len)) return Errno::NotEmpty;
    Slot s;
    if (!TRY(find_entry(dir, name, len, &s))) return Errno::NoEnt;
    if (s.ino == ROOT_INO) return Errno::Busy;
    TRY(read_dir_inode(s.ino));
    if (!TRY(dir_is_empty(s.ino))) return Errno::NotEmpty;
    TRY(remove_entry(dir, name, len));
    Inode child = TRY(read_inode(s.ino));
    child.i_links_count = 0;  // its name and its "." go together
    TRY(release_inode(s.ino, child));
    return adjust_links(dir, -1);  // its ".." is gone
}

Result<void> FileSystem::rename(uint32_t old_dir, const char* old_name, size_t old_len, uint32_t new_dir,
                                const char* new_name, size_t new_len, uint32_t* orphan) {
    if (orphan) *orphan = 0;
    TRY(require_writable());
    TRY(begin_op());
    TRY(check_name(old_name, old_len));
    TRY(check_name(new_name, new_len));
    if (is_dot(old_name, old_len) || is_dotdot(old_name, old_len) || is_dot(new_name, new_len) ||
        is_dotdot(new_name, new_len))
        return Errno::Busy;
    Slot src;
    if (!TRY(find_entry(old_dir, old_name, old_len, &src))) return Errno::NoEnt;
    TRY(read_dir_inode(new_dir));
    Inode src_in = TRY(read_inode(src.ino));
    TRY(check_inode_usable(src.ino, src_in));
    bool src_dir = (src_in.i_mode & MODE_IFMT) == MODE_IFDIR;

    if (src_dir && old_dir != new_dir) {
        // The new parent must not be the directory itself or inside it.
        uint32_t cur = new_dir;
        for (uint32_t depth = 0;; depth++) {
            if (cur == src.ino) return Errno::Inval;
            if (cur == ROOT_INO) break;
            if (depth == MAX_DEPTH) return corrupt("directory %u: no way up to the root", new_dir);
            Slot up;
            if (!TRY(find_entry(cur, "..", 2, &up))) return corrupt("directory %u has no '..'", cur);
            cur = up.ino;
        }
    }

    Slot dst;
    bool replacing = TRY(find_entry(new_dir, new_name, new_len, &dst));
    bool dst_dir = false;
    if (replacing) {
        if (dst.ino == src.ino) return {};  // two names of one inode: nothing to do
        Inode dst_in = TRY(read_inode(dst.ino));
        TRY(check_inode_usable(dst.ino, dst_in));
        dst_dir = (dst_in.i_mode & MODE_IFMT) == MODE_IFDIR;
        if (dst_dir && !src_dir) return Errno::IsDir;
        if (!dst_dir && src_dir) return Errno::NotDir;
        if (dst_dir && !TRY(dir_is_empty(dst.ino))) return Errno::NotEmpty;
        TRY(retarget_entry(new_dir, new_name, new_len, src.ino, type_for(src_in.i_mode)));
        if (dst_dir) {
            Inode d = TRY(read_inode(dst.ino));
            d.i_links_count = 0;
            TRY(release_inode(dst.ino, d));
            TRY(adjust_links(new_dir, -1));  // the replaced directory's ".."
        } else {
            TRY(adjust_links(dst.ino, -1, orphan));
        }
    } else {
        if (src_dir && old_dir != new_dir) {
            Inode nd = TRY(read_inode(new_dir));
            if (nd.i_links_count >= LINK_MAX) return Errno::MLink;
        }
        TRY(add_entry(new_dir, new_name, new_len, src.ino, type_for(src_in.i_mode)));
    }
    TRY(remove_entry(old_dir, old_name, old_len));
    if (src_dir && old_dir != new_dir) {
        TRY(retarget_entry(src.ino, "..", 2, new_dir, type_for(MODE_IFDIR)));
        TRY(adjust_links(old_dir, -1));
        TRY(adjust_links(new_dir, +1));
    }
    Inode moved = TRY(read_inode(src.ino));
    moved.i_ctime = clock_.now();
    return write_inode(src.ino, moved);
}

namespace {

// Two MAX_PATH_LEN buffers from the allocator for the duration of a resolve.
class PathBuffers {
public:
    explicit PathBuffers(Allocator& a) : alloc_(a) {
        a_ = static_cast<char*>(a.allocate(MAX_PATH_LEN, 1));
        b_ = static_cast<char*>(a.allocate(MAX_PATH_LEN, 1));
    }
    ~PathBuffers() {
        if (a_) alloc_.release(a_, MAX_PATH_LEN);
        if (b_) alloc_.release(b_, MAX_PATH_LEN);
    }
    bool ok() const { return a_ && b_; }
    char*& path() { return a_; }
    char*& scratch() { return b_; }

private:
    Allocator& alloc_;
    char* a_;
    char* b_;
};

}  // namespace

Result<uint32_t> FileSystem::resolve(uint32_t start, const char* path, size_t len, bool follow_last) {
    if (len == 0) return Errno::NoEnt;
    if (len >= MAX_PATH_LEN) return Errno::NameTooLong;
    PathBuffers bufs(alloc_);
    if (!bufs.ok()) return Errno::NoMem;
    __builtin_memcpy(bufs.path(), path, len);
    size_t end = len, pos = 0;
    uint32_t cur = path[0] == '/' ? ROOT_INO : start;
    uint32_t follows = 0;
    for (;;) {
        char* p = bufs.path();
        while (pos < end && p[pos] == '/') pos++;
        if (pos == end) break;
        size_t comp = pos;
        while (pos < end && p[pos] != '/') pos++;
        size_t comp_len = pos - comp;
        size_t after = pos;
        while (after < end && p[after] == '/') after++;
        bool last = after == end;
        bool trailing_slash = last && pos < end;
        uint32_t child = TRY(lookup(cur, p + comp, comp_len));
        Inode in = TRY(read_inode(child));
        TRY(check_inode_usable(child, in));
        if ((in.i_mode & MODE_IFMT) == MODE_IFLNK && (!last || follow_last || trailing_slash)) {
            if (++follows > SYMLINK_MAX_FOLLOW) return Errno::Loop;
            char* s = bufs.scratch();
            size_t tlen = TRY(readlink(child, s, MAX_PATH_LEN - 1));
            size_t rest = end - pos;
            if (tlen + rest >= MAX_PATH_LEN) return Errno::NameTooLong;
            __builtin_memcpy(s + tlen, p + pos, rest);  // the rest starts with '/' (or is empty)
            if (s[0] == '/') cur = ROOT_INO;
            char* t = bufs.path();
            bufs.path() = bufs.scratch();
            bufs.scratch() = t;
            end = tlen + rest;
            pos = 0;
            continue;
        }
        if (!last || trailing_slash) {
            if ((in.i_mode & MODE_IFMT) != MODE_IFDIR) return Errno::NotDir;
        }
        cur = child;
    }
    return cur;
}

}  // namespace lamina::ext2
