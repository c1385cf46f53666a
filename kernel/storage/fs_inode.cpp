#include "kernel/storage/fs_inode.h"

#include <new>
#include <utility>

namespace lamina::storage {

namespace {

Result<idl::FsName> fs_name(posix::Name n) {
    if (n.len == 0) return Errno::NoEnt;
    if (n.len > posix::MAX_NAME_LEN) return Errno::NameTooLong;
    idl::FsName out;
    out.len = uint16_t(n.len);
    __builtin_memcpy(out.bytes, n.ptr, n.len);
    return out;
}

// A call's result with domain errors made EIO.
template <typename T>
Result<T> vfs(Result<T>&& r) {
    if (r.is_error()) return to_vfs_error(r.error());
    return std::move(r);
}
inline Result<void> vfs(Result<void>&& r) {
    return r.is_error() ? Result<void>(to_vfs_error(r.error())) : Result<void>();
}

}  // namespace

Result<void> FsInode::getattr(posix::Stat& st) {
    idl::FsStat s = TRY(vfs(client_->call([&](FsClient& c) -> Result<idl::FsStat> {
        if (c.stopped()) return Errno::IO;
        return c.fs().stat(ino_);
    })));
    idl::FsInfo info = client_->info();
    __atomic_store_n(&mode_, s.mode, __ATOMIC_RELAXED);
    st = posix::Stat{};
    st.st_dev = dev();
    st.st_ino = s.ino;
    st.st_nlink = s.links;
    st.st_mode = s.mode;
    st.st_uid = s.uid;
    st.st_gid = s.gid;
    st.st_size = int64_t(s.size);
    st.st_blksize = info.block_size ? info.block_size : 4096;
    st.st_blocks = int64_t(s.blocks);
    st.st_atim = {s.atime, 0};
    st.st_mtim = {s.mtime, 0};
    st.st_ctim = {s.ctime, 0};
    return {};
}

Result<void> FsInode::setattr(const posix::SetAttr& attr) {
    using A = posix::SetAttr;
    if (attr.mask & A::Size) {
        if (attr.size < 0) return Errno::Inval;
        TRY(vfs(client_->call([&](FsClient& c) -> Result<void> {
            if (c.stopped()) return Errno::IO;
            c.forget_dir_cache();
            return c.fs().truncate(ino_, uint64_t(attr.size));
        })));
    }
    idl::FsSetAttr a{};
    if (attr.mask & A::Mode) a.mask |= 1, a.mode = attr.mode & posix::mode::PermMask;
    if (attr.mask & A::Uid) a.mask |= 2, a.uid = attr.uid;
    if (attr.mask & A::Gid) a.mask |= 4, a.gid = attr.gid;
    if (attr.mask & A::Atime) a.mask |= 8, a.atime = uint32_t(attr.atime.tv_sec);
    if (attr.mask & A::Mtime) a.mask |= 16, a.mtime = uint32_t(attr.mtime.tv_sec);
    if (a.mask == 0) return {};
    idl::FsStat s = TRY(vfs(client_->call([&](FsClient& c) -> Result<idl::FsStat> {
        if (c.stopped()) return Errno::IO;
        return c.fs().setattr(ino_, a);
    })));
    __atomic_store_n(&mode_, s.mode, __ATOMIC_RELAXED);
    return {};
}

template <typename Op>
Result<RefPtr<posix::Inode>> FsInode::made(Op&& op) {
    return client_->call([&](FsClient& c) -> Result<RefPtr<posix::Inode>> {
        if (c.stopped()) return Errno::IO;
        Result<idl::FsStat> r = op(c);
        if (r.is_error()) return to_vfs_error(r.error());
        return TRY(adopt_ref_or_nomem(new (std::nothrow) FsInode(client_, r.value())));
    });
}

Result<RefPtr<posix::Inode>> FsInode::lookup(posix::Name name) {
    if (!posix::is_dir(mode())) return Errno::NotDir;
    idl::FsName n = TRY(fs_name(name));
    return made([&](FsClient& c) -> Result<idl::FsStat> { return c.fs().lookup(ino_, n); });
}

Result<bool> FsInode::readdir(uint64_t& cookie, posix::DirEntry& out) {
    if (!posix::is_dir(mode())) return Errno::NotDir;
    idl::FsDirEntry e;
    uint64_t next = 0;
    bool more =
        TRY(vfs(client_->call([&](FsClient& c) -> Result<bool> { return c.dir_entry(ino_, cookie, e, next); })));
    if (!more) return false;
    out.ino = e.ino;
    out.type = e.kind;
    out.name_len = e.name_len;
    __builtin_memcpy(out.name, e.name, e.name_len);
    out.name[e.name_len] = 0;
    cookie = next;
    return true;
}

Result<RefPtr<posix::Inode>> FsInode::create(posix::Name name, uint32_t mode, uint32_t uid, uint32_t gid) {
    idl::FsName n = TRY(fs_name(name));
    return made([&](FsClient& c) -> Result<idl::FsStat> {
        c.forget_dir_cache();
        return c.new_inode(c.fs().create(ino_, n, mode, uid, gid));
    });
}

Result<RefPtr<posix::Inode>> FsInode::mkdir(posix::Name name, uint32_t mode, uint32_t uid, uint32_t gid) {
    idl::FsName n = TRY(fs_name(name));
    return made([&](FsClient& c) -> Result<idl::FsStat> {
        c.forget_dir_cache();
        return c.new_inode(c.fs().mkdir(ino_, n, mode, uid, gid));
    });
}

Result<RefPtr<posix::Inode>> FsInode::symlink(posix::Name name, posix::Name target, uint32_t uid, uint32_t gid) {
    idl::FsName n = TRY(fs_name(name));
    if (target.len == 0) return Errno::NoEnt;
    if (target.len >= posix::MAX_PATH_LEN) return Errno::NameTooLong;
    return made([&](FsClient& c) -> Result<idl::FsStat> {
        RRefBytes t = TRY(RRefBytes::create(uint32_t(target.len)));
        __builtin_memcpy(t.data(), target.ptr, target.len);
        TRY(t.set_length(uint32_t(target.len)));
        c.forget_dir_cache();
        return c.new_inode(c.fs().symlink(ino_, n, t, uid, gid));
    });
}

Result<uint32_t> FsInode::same_fs_ino(posix::Inode& other) const {
    if (other.dev() != dev()) return Errno::XDev;
    return uint32_t(other.ino());
}

Result<void> FsInode::link(posix::Name name, posix::Inode& target) {
    idl::FsName n = TRY(fs_name(name));
    uint32_t ino = TRY(same_fs_ino(target));
    return vfs(client_->call([&](FsClient& c) -> Result<void> {
        if (c.stopped()) return Errno::IO;
        c.forget_dir_cache();
        return c.fs().link(ino_, n, ino);
    }));
}

Result<void> FsInode::unlink(posix::Name name) {
    idl::FsName n = TRY(fs_name(name));
    return vfs(client_->call([&](FsClient& c) -> Result<void> {
        if (c.stopped()) return Errno::IO;
        c.forget_dir_cache();
        c.orphaned(TRY(c.fs().unlink(ino_, n, c.holds(ino_, n))));
        return {};
    }));
}

Result<void> FsInode::rmdir(posix::Name name) {
    idl::FsName n = TRY(fs_name(name));
    return vfs(client_->call([&](FsClient& c) -> Result<void> {
        if (c.stopped()) return Errno::IO;
        c.forget_dir_cache();
        return c.fs().rmdir(ino_, n);
    }));
}

Result<void> FsInode::rename(posix::Name from, posix::Inode& new_dir, posix::Name to) {
    idl::FsName f = TRY(fs_name(from));
    idl::FsName t = TRY(fs_name(to));
    uint32_t to_dir = TRY(same_fs_ino(new_dir));
    return vfs(client_->call([&](FsClient& c) -> Result<void> {
        if (c.stopped()) return Errno::IO;
        c.forget_dir_cache();
        c.orphaned(TRY(c.fs().rename(ino_, f, to_dir, t, c.holds(to_dir, t))));
        return {};
    }));
}

Result<size_t> FsInode::read(uint64_t offset, void* buf, size_t len) {
    if (posix::is_dir(mode())) return Errno::IsDir;
    auto* out = static_cast<uint8_t*>(buf);
    size_t done = 0;
    while (done < len) {
        uint32_t want = uint32_t(len - done < FsClient::IO_CHUNK ? len - done : FsClient::IO_CHUNK);
        size_t got = TRY(vfs(client_->call([&](FsClient& c) -> Result<size_t> {
            if (c.stopped()) return Errno::IO;
            RRefBytes* io = TRY(c.io_buffer());
            auto r = c.fs().read(ino_, offset + done, want, std::move(*io));
            if (r.is_error()) return r.error();
            *io = std::move(r.value());
            size_t n = io->length();
            if (n > want) return Errno::IO;
            __builtin_memcpy(out + done, io->data(), n);
            return n;
        })));
        done += got;
        if (got < want) break;
    }
    return done;
}

Result<size_t> FsInode::write(uint64_t offset, const void* buf, size_t len) {
    if (posix::is_dir(mode())) return Errno::IsDir;
    auto* in = static_cast<const uint8_t*>(buf);
    size_t done = 0;
    while (done < len) {
        uint32_t want = uint32_t(len - done < FsClient::IO_CHUNK ? len - done : FsClient::IO_CHUNK);
        size_t wrote = TRY(vfs(client_->call([&](FsClient& c) -> Result<size_t> {
            if (c.stopped()) return Errno::IO;
            RRefBytes* io = TRY(c.io_buffer());
            __builtin_memcpy(io->data(), in + done, want);
            TRY(io->set_length(want));
            c.note_write(ino_);
            uint64_t n = TRY(c.fs().write(ino_, offset + done, *io));
            return n > want ? Result<size_t>(Errno::IO) : Result<size_t>(size_t(n));
        })));
        done += wrote;
        if (wrote < want) break;
    }
    return done;
}

Result<size_t> FsInode::readlink(char* buf, size_t len) {
    if (!posix::is_symlink(mode())) return Errno::Inval;
    return vfs(client_->call([&](FsClient& c) -> Result<size_t> {
        if (c.stopped()) return Errno::IO;
        RRefBytes target = TRY(RRefBytes::create(uint32_t(posix::MAX_PATH_LEN)));
        auto r = c.fs().readlink(ino_, std::move(target));
        if (r.is_error()) return r.error();
        size_t n = r.value().length();
        size_t copy = n < len ? n : len;
        __builtin_memcpy(buf, r.value().data(), copy);
        return copy;
    }));
}

Result<void> FsInode::fsync(bool) {
    return vfs(client_->call([&](FsClient& c) -> Result<void> {
        if (c.stopped()) return Errno::IO;
        // Checked after the call: a restart inside it (the shadow recovering and retrying on the
        // fresh instance) loses the writes just the same.
        TRY(c.fs().fsync(ino_));
        return c.synced(ino_) ? Result<void>() : Result<void>(Errno::IO);
    }));
}

Result<void> FsInode::statfs(posix::StatFs& st) {
    idl::FsInfo info = TRY(fs_info());
    st = posix::StatFs{};
    st.f_type = 0xEF53;  // EXT2_SUPER_MAGIC
    st.f_bsize = st.f_frsize = info.block_size;
    st.f_blocks = info.blocks;
    st.f_bfree = st.f_bavail = info.free_blocks;
    st.f_files = info.inodes;
    st.f_ffree = info.free_inodes;
    st.f_fsid[0] = int32_t(dev() & 0xffffffff);
    st.f_fsid[1] = int32_t(dev() >> 32);
    st.f_namelen = info.name_max;
    st.f_flags = info.read_only ? 1 : 0;  // ST_RDONLY
    return {};
}

Result<idl::FsInfo> FsInode::fs_info() {
    return vfs(client_->call([&](FsClient& c) -> Result<idl::FsInfo> {
        if (c.stopped()) return Errno::IO;
        return c.fs().statfs();
    }));
}

}  // namespace lamina::storage
