// lamina:portable
// The block map (direct, single-, double- and triple-indirect blocks), file data, truncation
// and inode attributes.
#include "domains/fs/ext2/ext2.h"

namespace lamina::ext2 {

namespace {

inline uint32_t get_u32(const uint8_t* p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}
inline void put_u32(uint8_t* p, uint32_t v) { __builtin_memcpy(p, &v, 4); }

// The part of a transfer at byte `pos` with `left` bytes to go that lies in one block.
struct BlockPiece {
    uint64_t lblk;
    uint32_t in_block;  // offset of the piece in its block
    size_t len;
};
BlockPiece piece_at(uint64_t pos, size_t left, uint32_t block_size) {
    auto in_block = static_cast<uint32_t>(pos % block_size);
    size_t len = block_size - in_block;
    return {pos / block_size, in_block, len < left ? len : left};
}

}  // namespace

uint64_t FileSystem::size_of(const Inode& in) const {
    uint64_t size = in.i_size;
    if ((in.i_mode & MODE_IFMT) == MODE_IFREG) size |= uint64_t{in.i_size_high} << 32;
    return size;
}

Result<void> FileSystem::set_size(Inode& in, uint64_t size) {
    if (size > max_file_size_) return Errno::FBig;
    in.i_size = static_cast<uint32_t>(size);
    if ((in.i_mode & MODE_IFMT) == MODE_IFREG) {
        in.i_size_high = static_cast<uint32_t>(size >> 32);
        if (size > 0x7FFFFFFFu && !(sb_.s_feature_ro_compat & RO_COMPAT_LARGE_FILE)) {
            sb_.s_feature_ro_compat |= RO_COMPAT_LARGE_FILE;
            meta_dirty_ = true;
        }
    } else if (size >> 32) {
        return Errno::FBig;
    }
    return {};
}

// Inodes whose blocks this code cannot interpret.
Result<void> FileSystem::check_inode_usable(uint32_t ino, const Inode& in) {
    if (in.i_mode == 0 || (in.i_links_count == 0 && !TRY(is_orphan(ino, in))))
        return corrupt("inode %u is not in use", ino);
    if (in.i_flags & (INODE_EXTENTS_FL | INODE_INLINE_DATA_FL))
        return corrupt("inode %u uses extents or inline data, which ext2 has not", ino);
    return {};
}

// Walks from the inode to the block holding logical block lblk. With create, missing blocks
// (indirect ones zeroed) are allocated and counted in i_blocks; *created says whether the data
// block itself is new (its buffer then holds zeros and is dirty). Returns 0 for a hole.
Result<uint32_t> FileSystem::map_block(uint32_t ino, Inode& in, uint64_t lblk, bool create, bool* created) {
    if (created) *created = false;
    uint64_t k = addr_per_block_;
    uint32_t offsets[4];
    int depth;
    if (lblk < NDIR_BLOCKS) {
        offsets[0] = static_cast<uint32_t>(lblk);
        depth = 0;
    } else if ((lblk -= NDIR_BLOCKS) < k) {
        offsets[0] = IND_BLOCK;
        offsets[1] = static_cast<uint32_t>(lblk);
        depth = 1;
    } else if ((lblk -= k) < k * k) {
        offsets[0] = DIND_BLOCK;
        offsets[1] = static_cast<uint32_t>(lblk / k);
        offsets[2] = static_cast<uint32_t>(lblk % k);
        depth = 2;
    } else if ((lblk -= k * k) < k * k * k) {
        offsets[0] = TIND_BLOCK;
        offsets[1] = static_cast<uint32_t>(lblk / (k * k));
        offsets[2] = static_cast<uint32_t>(lblk / k % k);
        offsets[3] = static_cast<uint32_t>(lblk % k);
        depth = 3;
    } else {
        return Errno::FBig;
    }
    uint32_t sectors = block_size_ / 512;
    uint32_t path[4];
    uint32_t goal = last_alloc_ino_ == ino
                        ? last_alloc_block_ + 1
                        : sb_.s_first_data_block + (ino - 1) / sb_.s_inodes_per_group * sb_.s_blocks_per_group;

    uint32_t cur = in.i_block[offsets[0]];
    if (cur == 0) {
        if (!create) return 0u;
        cur = TRY(alloc_block(goal));
        in.i_block[offsets[0]] = cur;
        in.i_blocks += sectors;
        last_alloc_ino_ = ino;
        last_alloc_block_ = cur;
        goal = cur + 1;
        BufferRef z = TRY(cache_->get_zeroed(cur));
        if (depth == 0 && created) *created = true;
    } else {
        TRY(check_data_block(cur, ino));
    }
    for (int level = 1; level <= depth; level++) {
        path[level - 1] = cur;
        BufferRef ind = TRY(cache_->get(cur));
        uint8_t* slot = ind.data() + offsets[level] * 4;
        uint32_t next = get_u32(slot);
        if (next == 0) {
            if (!create) return 0u;
            next = TRY(alloc_block(goal > cur ? goal : cur + 1));
            put_u32(slot, next);
            ind.mark_metadata();
            in.i_blocks += sectors;
            last_alloc_ino_ = ino;
            last_alloc_block_ = next;
            goal = next + 1;
            BufferRef z = TRY(cache_->get_zeroed(next));
            if (level == depth && created) *created = true;
        } else {
            TRY(check_data_block(next, ino));
            for (int a = 0; a < level; a++)
                if (path[a] == next) return corrupt("inode %u: indirect block %u refers back to itself", ino, next);
        }
        cur = next;
    }
    return cur;
}

// Frees what the subtree in *slot maps at or after index `start` (counted in data blocks
// within the subtree); the subtree's own indirect block goes too when nothing before `start`
// remains. depth 0 is a data block.
Result<void> FileSystem::free_tree(uint32_t ino, Inode& in, uint32_t* slot, int depth, uint64_t start,
                                   uint32_t* ancestors, int nanc) {
    uint32_t b = *slot;
    if (b == 0) return {};
    TRY(check_data_block(b, ino));
    uint32_t sectors = block_size_ / 512;
    if (depth > 0) {
        for (int a = 0; a < nanc; a++)
            if (ancestors[a] == b) return corrupt("inode %u: indirect block %u refers back to itself", ino, b);
        ancestors[nanc] = b;
        uint64_t span = 1;
        for (int d = 1; d < depth; d++) span *= addr_per_block_;
        BufferRef ind = TRY(cache_->get(b));
        uint64_t first = start / span;
        for (uint64_t i = first; i < addr_per_block_; i++) {
            uint8_t* p = ind.data() + i * 4;
            uint32_t entry = get_u32(p);
            if (entry == 0) continue;
            TRY(free_tree(ino, in, &entry, depth - 1, i == first ? start % span : 0, ancestors, nanc + 1));
            if (entry == 0) {
                put_u32(p, 0);
                ind.mark_metadata();
            }
        }
        if (start != 0) return {};
    } else if (start != 0) {
        return {};
    }
    TRY(free_block(b));
    *slot = 0;
    in.i_blocks = in.i_blocks >= sectors ? in.i_blocks - sectors : 0;
    return {};
}

Result<void> FileSystem::free_blocks_from(uint32_t ino, Inode& in, uint64_t first) {
    uint64_t k = addr_per_block_;
    uint32_t ancestors[4];
    // i_block sits in a packed struct: work on copies of its slots.
    auto free_slot = [&](uint32_t index, int depth, uint64_t start) -> Result<void> {
        uint32_t slot = in.i_block[index];
        auto r = free_tree(ino, in, &slot, depth, start, ancestors, 0);
        in.i_block[index] = slot;
        return r;
    };
    for (uint64_t i = first; i < NDIR_BLOCKS; i++) TRY(free_slot(static_cast<uint32_t>(i), 0, 0));
    uint64_t start = first > NDIR_BLOCKS ? first - NDIR_BLOCKS : 0;
    TRY(free_slot(IND_BLOCK, 1, start));
    start = start > k ? start - k : 0;
    TRY(free_slot(DIND_BLOCK, 2, start));
    start = start > k * k ? start - k * k : 0;
    TRY(free_slot(TIND_BLOCK, 3, start));
    return {};
}

// The last link is gone: free the blocks, the extended-attribute block's reference and the
// inode, leaving dtime set as e2fsck expects of deleted inodes.
Result<void> FileSystem::release_inode(uint32_t ino, Inode& in) {
    uint16_t type = in.i_mode & MODE_IFMT;
    bool fast_symlink = type == MODE_IFLNK && size_of(in) < sizeof(in.i_block) &&
                        in.i_blocks == (in.i_file_acl ? block_size_ / 512 : 0);
    bool has_map = type == MODE_IFREG || type == MODE_IFDIR || (type == MODE_IFLNK && !fast_symlink);
    if (has_map) TRY(free_blocks_from(ino, in, 0));
    if (in.i_file_acl) {
        TRY(check_data_block(in.i_file_acl, ino));
        bool free_it = false;
        {
            BufferRef x = TRY(cache_->get(in.i_file_acl));
            XattrHeader h;
            __builtin_memcpy(&h, x.data(), sizeof h);
            if (h.h_magic != XATTR_MAGIC || h.h_refcount == 0)
                return corrupt("inode %u: bad extended-attribute block %u", ino, in.i_file_acl);
            h.h_refcount--;
            free_it = h.h_refcount == 0;
            __builtin_memcpy(x.data(), &h, sizeof h);
            x.mark_metadata();
        }
        if (free_it) TRY(free_block(in.i_file_acl));
        in.i_file_acl = 0;
    }
    in.i_blocks = 0;
    in.i_size = 0;
    in.i_size_high = 0;
    in.i_links_count = 0;
    in.i_dtime = clock_.now();
    TRY(write_inode(ino, in));
    return free_inode(ino, type == MODE_IFDIR);
}

Result<size_t> FileSystem::read_data(uint32_t ino, Inode& in, uint64_t offset, void* buf, size_t len) {
    uint64_t size = size_of(in);
    if (offset >= size) return size_t{0};
    if (len > size - offset) len = static_cast<size_t>(size - offset);
    auto* out = static_cast<uint8_t*>(buf);
    size_t done = 0;
    while (done < len) {
        BlockPiece p = piece_at(offset + done, len - done, block_size_);
        uint32_t phys = TRY(map_block(ino, in, p.lblk, false, nullptr));
        if (phys == 0) {
            __builtin_memset(out + done, 0, p.len);
        } else {
            BufferRef b = TRY(cache_->get(phys));
            __builtin_memcpy(out + done, b.data() + p.in_block, p.len);
        }
        done += p.len;
    }
    return done;
}

Result<size_t> FileSystem::write_data(uint32_t ino, Inode& in, uint64_t offset, const void* buf, size_t len) {
    if (offset > max_file_size_ || len > max_file_size_ - offset) return Errno::FBig;
    auto* src = static_cast<const uint8_t*>(buf);
    size_t done = 0;
    Result<void> failure;
    while (done < len) {
        BlockPiece p = piece_at(offset + done, len - done, block_size_);
        bool created;
        auto phys = map_block(ino, in, p.lblk, true, &created);
        if (phys.is_error()) {
            failure = phys.error();
            break;
        }
        auto b = (created || p.len == block_size_) ? cache_->get_zeroed(phys.value()) : cache_->get(phys.value());
        if (b.is_error()) {
            failure = b.error();
            break;
        }
        __builtin_memcpy(b.value().data() + p.in_block, src + done, p.len);
        b.value().mark_dirty();
        done += p.len;
    }
    // What was written stays written (and counted in the size) even if a later block failed.
    if (offset + done > size_of(in)) TRY(set_size(in, offset + done));
    if (done == 0 && failure.is_error()) {
        TRY(write_inode(ino, in));  // blocks may have been allocated on the way
        return failure.error();
    }
    return done;
}

Result<Stat> FileSystem::stat(uint32_t ino) {
    Inode in = TRY(read_inode(ino));
    if (in.i_mode == 0 || (in.i_links_count == 0 && !TRY(is_orphan(ino, in))))
        return Errno::NoEnt;  // a stale inode number
    Stat s{};
    s.ino = ino;
    s.mode = in.i_mode;
    s.links = in.i_links_count;
    s.uid = in.i_uid | uint32_t{in.l_i_uid_high} << 16;
    s.gid = in.i_gid | uint32_t{in.l_i_gid_high} << 16;
    s.size = size_of(in);
    s.blocks = in.i_blocks;
    s.atime = in.i_atime;
    s.mtime = in.i_mtime;
    s.ctime = in.i_ctime;
    s.dtime = in.i_dtime;
    s.flags = in.i_flags;
    return s;
}

Result<void> FileSystem::setattr(uint32_t ino, const SetAttr& a) {
    TRY(require_writable());
    TRY(begin_op());
    Inode in = TRY(read_inode(ino));
    TRY(check_inode_usable(ino, in));
    if (a.mask & SetAttr::MODE) in.i_mode = static_cast<uint16_t>((in.i_mode & MODE_IFMT) | (a.mode & PERMISSION_BITS));
    if (a.mask & SetAttr::UID) {
        in.i_uid = static_cast<uint16_t>(a.uid);
        in.l_i_uid_high = static_cast<uint16_t>(a.uid >> 16);
    }
    if (a.mask & SetAttr::GID) {
        in.i_gid = static_cast<uint16_t>(a.gid);
        in.l_i_gid_high = static_cast<uint16_t>(a.gid >> 16);
    }
    if (a.mask & SetAttr::ATIME) in.i_atime = a.atime;
    if (a.mask & SetAttr::MTIME) in.i_mtime = a.mtime;
    in.i_ctime = clock_.now();
    return write_inode(ino, in);
}

Result<Inode> FileSystem::read_regular(uint32_t ino) {
    Inode in = TRY(read_inode(ino));
    TRY(check_inode_usable(ino, in));
    uint16_t type = in.i_mode & MODE_IFMT;
    if (type == MODE_IFDIR) return Errno::IsDir;
    if (type != MODE_IFREG) return Errno::Inval;
    return in;
}

Result<size_t> FileSystem::read(uint32_t ino, uint64_t offset, void* buf, size_t len) {
    if (!read_only_) TRY(begin_op());  // the access time may change
    Inode in = TRY(read_regular(ino));
    size_t n = TRY(read_data(ino, in, offset, buf, len));
    // relatime: record an access only when the last one predates the last change or a day.
    if (!read_only_ && n > 0) {
        uint32_t now = clock_.now();
        if (in.i_atime <= in.i_mtime || in.i_atime <= in.i_ctime || now - in.i_atime >= 86400) {
            in.i_atime = now;
            TRY(write_inode(ino, in));
        }
    }
    return n;
}

Result<size_t> FileSystem::write(uint32_t ino, uint64_t offset, const void* buf, size_t len) {
    TRY(require_writable());
    TRY(begin_op());
    Inode in = TRY(read_regular(ino));
    if (len == 0) return size_t{0};
    size_t n = TRY(write_data(ino, in, offset, buf, len));
    in.i_mtime = in.i_ctime = clock_.now();
    TRY(write_inode(ino, in));
    return n;
}

Result<void> FileSystem::truncate(uint32_t ino, uint64_t size) {
    TRY(require_writable());
    TRY(begin_op());
    Inode in = TRY(read_regular(ino));
    if (size > max_file_size_) return Errno::FBig;
    uint64_t old = size_of(in);
    if (size < old) {
        uint64_t keep = (size + block_size_ - 1) / block_size_;
        TRY(free_blocks_from(ino, in, keep));
        // The kept last block's tail must read as zeros if the file grows again.
        if (size % block_size_) {
            uint32_t phys = TRY(map_block(ino, in, size / block_size_, false, nullptr));
            if (phys) {
                BufferRef b = TRY(cache_->get(phys));
                uint32_t off = static_cast<uint32_t>(size % block_size_);
                __builtin_memset(b.data() + off, 0, block_size_ - off);
                b.mark_dirty();
            }
        }
    }
    TRY(set_size(in, size));
    in.i_mtime = in.i_ctime = clock_.now();
    return write_inode(ino, in);
}

Result<size_t> FileSystem::readlink(uint32_t ino, char* buf, size_t len) {
    Inode in = TRY(read_inode(ino));
    TRY(check_inode_usable(ino, in));
    if ((in.i_mode & MODE_IFMT) != MODE_IFLNK) return Errno::Inval;
    uint64_t size = size_of(in);
    if (size == 0 || size >= MAX_PATH_LEN || size >= block_size_)
        return corrupt("symlink inode %u: target length %llu", ino, static_cast<unsigned long long>(size));
    size_t n = size < len ? static_cast<size_t>(size) : len;
    bool fast = size < sizeof(in.i_block) && in.i_blocks == (in.i_file_acl ? block_size_ / 512 : 0);
    if (fast) {
        __builtin_memcpy(buf, in.i_block, n);
        return n;
    }
    return read_data(ino, in, 0, buf, n);
}

}  // namespace lamina::ext2
