// lamina:portable
#include "domains/fs/service/fs_service.h"

#include <new>
#include <utility>

#include "domains/fs/gpt.h"

namespace lamina::fs {

using idl::FsDirBatch;
using idl::FsInfo;
using idl::FsName;
using idl::FsStat;

// One call at a time: a caller arriving while another is inside gets Busy.
class FsService::Serial {
public:
    explicit Serial(uint32_t& flag) : flag_(flag), owned_(__atomic_exchange_n(&flag, 1, __ATOMIC_ACQUIRE) == 0) {}
    ~Serial() {
        if (owned_) __atomic_store_n(&flag_, 0, __ATOMIC_RELEASE);
    }
    bool owned() const { return owned_; }

private:
    uint32_t& flag_;
    bool owned_;
};

#define SERIAL()                \
    Serial serial_guard(busy_); \
    if (!serial_guard.owned()) return Errno::Busy

namespace {

Result<size_t> name_len(const FsName& n) {
    if (n.len == 0 || n.len > ext2::MAX_NAME_LEN) return n.len == 0 ? Errno::NoEnt : Errno::NameTooLong;
    return size_t(n.len);
}

const char* name_ptr(const FsName& n) { return reinterpret_cast<const char*>(n.bytes); }

uint8_t dtype_of(uint8_t ft) {
    switch (ft) {
        case ext2::FT_REG_FILE:
            return 8;
        case ext2::FT_DIR:
            return 4;
        case ext2::FT_CHRDEV:
            return 2;
        case ext2::FT_BLKDEV:
            return 6;
        case ext2::FT_FIFO:
            return 1;
        case ext2::FT_SOCK:
            return 12;
        case ext2::FT_SYMLINK:
            return 10;
        default:
            return 0;
    }
}

}  // namespace

FsService::~FsService() {
    fs_.reset();  // without writing back: an orderly end goes through unmount()
}

Result<ext2::FileSystem*> FsService::mounted() {
    if (!fs_.get()) return Errno::NoDev;
    return fs_.get();
}

Result<void> FsService::commit_namespace() { return fs_->commit_changes(); }

FsInfo FsService::info_of() const {
    const ext2::Superblock& sb = fs_->superblock();
    FsInfo info{};
    info.block_size = fs_->block_size();
    info.blocks = sb.s_blocks_count;
    info.free_blocks = sb.s_free_blocks_count;
    info.inodes = sb.s_inodes_count;
    info.free_inodes = sb.s_free_inodes_count;
    info.root = fs_->root();
    info.name_max = ext2::MAX_NAME_LEN;
    info.read_only = fs_->read_only();
    return info;
}

Result<FsInfo> FsService::mount(bool read_only, bool after_fault) {
    SERIAL();
    if (fs_.get()) return Errno::Busy;
    TRY(blocks_.connect());
    auto found = gpt_find_root(blocks_, env_.log);
    if (found.is_error()) {
        log_line(env_.log, "fs: no root partition (a GPT entry named \"root\" or of type Linux filesystem): %s",
                 found.error().name());
        return found.error();
    }
    const GptPartition& p = found.value();
    if (p.last_lba >= blocks_.sector_count()) {
        log_line(env_.log, "fs: partition %u ends past the disk", p.index);
        return Errno::IO;
    }
    if (!part_) part_.emplace(blocks_, p.first_lba, p.sector_count());
    ext2::MountOptions opts;
    opts.read_only = read_only;
    opts.after_fault = after_fault;
    opts.cache_buffers = env_.cache_buffers;
    fs_ = TRY(ext2::FileSystem::mount(*part_, env_.alloc, env_.clock, env_.log, opts));
    log_line(env_.log, "fs: mounted partition %u (\"%s\", %llu sectors at LBA %llu)%s%s", p.index, p.name,
             static_cast<unsigned long long>(p.sector_count()), static_cast<unsigned long long>(p.first_lba),
             fs_->read_only() ? " read-only" : "", after_fault ? " after a fault" : "");
    return info_of();
}

Result<void> FsService::unmount() {
    SERIAL();
    TRY(mounted());
    return ext2::FileSystem::unmount(fs_);
}

Result<FsInfo> FsService::statfs() {
    SERIAL();
    TRY(mounted());
    return info_of();
}

Result<FsStat> FsService::stat_of(uint32_t ino) {
    ext2::Stat s = TRY(fs_->stat(ino));
    FsStat out{};
    out.ino = s.ino;
    out.mode = s.mode;
    out.links = s.links;
    out.uid = s.uid;
    out.gid = s.gid;
    out.size = s.size;
    out.blocks = s.blocks;
    out.atime = s.atime;
    out.mtime = s.mtime;
    out.ctime = s.ctime;
    return out;
}

Result<FsStat> FsService::stat(uint32_t ino) {
    SERIAL();
    TRY(mounted());
    return stat_of(ino);
}

Result<FsStat> FsService::setattr(uint32_t ino, const idl::FsSetAttr& attr) {
    SERIAL();
    TRY(mounted());
    if (attr.mask & ~uint32_t(0x1f)) return Errno::Inval;
    ext2::SetAttr a{};
    a.mask = attr.mask;  // the same bits (mode 1, uid 2, gid 4, atime 8, mtime 16)
    a.mode = static_cast<uint16_t>(attr.mode & 07777);
    a.uid = attr.uid;
    a.gid = attr.gid;
    a.atime = attr.atime;
    a.mtime = attr.mtime;
    TRY(fs_->setattr(ino, a));
    return stat_of(ino);
}

Result<FsStat> FsService::lookup(uint32_t dir, const FsName& name) {
    SERIAL();
    TRY(mounted());
    size_t len = TRY(name_len(name));
    uint32_t ino = TRY(fs_->lookup(dir, name_ptr(name), len));
    return stat_of(ino);
}

Result<FsStat> FsService::create(uint32_t dir, const FsName& name, uint32_t mode, uint32_t uid, uint32_t gid) {
    SERIAL();
    TRY(mounted());
    size_t len = TRY(name_len(name));
    uint32_t type = mode & ext2::MODE_IFMT;
    if (type == 0) type = ext2::MODE_IFREG;
    if (type != ext2::MODE_IFREG && type != ext2::MODE_IFIFO && type != ext2::MODE_IFSOCK) return Errno::Inval;
    uint32_t ino = TRY(fs_->create(dir, name_ptr(name), len, static_cast<uint16_t>(type | (mode & 07777)), uid, gid));
    TRY(commit_namespace());
    return stat_of(ino);
}

Result<FsStat> FsService::mkdir(uint32_t dir, const FsName& name, uint32_t mode, uint32_t uid, uint32_t gid) {
    SERIAL();
    TRY(mounted());
    size_t len = TRY(name_len(name));
    uint32_t ino = TRY(fs_->mkdir(dir, name_ptr(name), len, static_cast<uint16_t>(mode & 07777), uid, gid));
    TRY(commit_namespace());
    return stat_of(ino);
}

Result<FsStat> FsService::symlink(uint32_t dir, const FsName& name, const RRefBytes& target, uint32_t uid,
                                  uint32_t gid) {
    SERIAL();
    TRY(mounted());
    size_t len = TRY(name_len(name));
    if (!target || target.length() == 0) return Errno::NoEnt;
    if (target.length() >= ext2::MAX_PATH_LEN) return Errno::NameTooLong;
    uint32_t ino = TRY(fs_->symlink(dir, name_ptr(name), len, reinterpret_cast<const char*>(target.data()),
                                    target.length(), uid, gid));
    TRY(commit_namespace());
    return stat_of(ino);
}

Result<void> FsService::link(uint32_t dir, const FsName& name, uint32_t ino) {
    SERIAL();
    TRY(mounted());
    size_t len = TRY(name_len(name));
    TRY(fs_->link(dir, name_ptr(name), len, ino));
    return commit_namespace();
}

Result<uint32_t> FsService::unlink(uint32_t dir, const FsName& name, bool keep) {
    SERIAL();
    TRY(mounted());
    size_t len = TRY(name_len(name));
    uint32_t orphan = 0;
    TRY(fs_->unlink(dir, name_ptr(name), len, keep ? &orphan : nullptr));
    TRY(commit_namespace());
    return orphan;
}

Result<void> FsService::rmdir(uint32_t dir, const FsName& name) {
    SERIAL();
    TRY(mounted());
    size_t len = TRY(name_len(name));
    TRY(fs_->rmdir(dir, name_ptr(name), len));
    return commit_namespace();
}

Result<uint32_t> FsService::rename(uint32_t from_dir, const FsName& from, uint32_t to_dir, const FsName& to,
                                   bool keep) {
    SERIAL();
    TRY(mounted());
    size_t from_len = TRY(name_len(from));
    size_t to_len = TRY(name_len(to));
    uint32_t orphan = 0;
    TRY(fs_->rename(from_dir, name_ptr(from), from_len, to_dir, name_ptr(to), to_len, keep ? &orphan : nullptr));
    TRY(commit_namespace());
    return orphan;
}

Result<void> FsService::release(uint32_t ino) {
    SERIAL();
    TRY(mounted());
    TRY(fs_->release(ino));
    return commit_namespace();
}

Result<RRef<FsDirBatch>> FsService::readdir(uint32_t dir, uint64_t cookie, RRef<FsDirBatch> batch) {
    SERIAL();
    TRY(mounted());
    if (!batch) return Errno::Inval;
    batch->count = 0;
    batch->end = false;
    uint64_t pos = cookie;
    constexpr uint32_t MAX = sizeof(batch->entries) / sizeof(batch->entries[0]);
    while (batch->count < MAX) {
        ext2::DirEntry e;
        bool more = TRY(fs_->read_dir(dir, &pos, &e));
        if (!more) {
            batch->end = true;
            break;
        }
        idl::FsDirEntry& out = batch->entries[batch->count++];
        out.ino = e.ino;
        out.kind = dtype_of(e.type);
        out.name_len = e.name_len;
        __builtin_memcpy(out.name, e.name, e.name_len);
        out.next = pos;
    }
    return batch;
}

Result<RRefBytes> FsService::read(uint32_t ino, uint64_t offset, uint32_t len, RRefBytes buf) {
    SERIAL();
    TRY(mounted());
    if (!buf) return Errno::Inval;
    size_t n = TRY(fs_->read(ino, offset, buf.data(), len < buf.capacity() ? len : buf.capacity()));
    TRY(buf.set_length(static_cast<uint32_t>(n)));
    return buf;
}

Result<uint64_t> FsService::write(uint32_t ino, uint64_t offset, const RRefBytes& buf) {
    SERIAL();
    TRY(mounted());
    if (!buf) return Errno::Inval;
    return uint64_t(TRY(fs_->write(ino, offset, buf.data(), buf.length())));
}

Result<void> FsService::truncate(uint32_t ino, uint64_t size) {
    SERIAL();
    TRY(mounted());
    return fs_->truncate(ino, size);
}

Result<RRefBytes> FsService::readlink(uint32_t ino, RRefBytes buf) {
    SERIAL();
    TRY(mounted());
    if (!buf) return Errno::Inval;
    size_t n = TRY(fs_->readlink(ino, reinterpret_cast<char*>(buf.data()), buf.capacity()));
    TRY(buf.set_length(static_cast<uint32_t>(n)));
    return buf;
}

Result<void> FsService::sync() {
    SERIAL();
    TRY(mounted());
    return fs_->sync();
}

Result<void> FsService::fsync(uint32_t ino) {
    SERIAL();
    TRY(mounted());
    return fs_->fsync(ino);
}

}  // namespace lamina::fs
