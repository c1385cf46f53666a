// The VFS's inodes of the fs domain's file system: each names a file by its inode number and
// sends every operation to the domain through its FsClient (one call each, under the client's
// mutex). Domain errors (a fault, a restart, a stopped client) are EIO here.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "interfaces/fs.h"
#include "kernel/posix/vfs/inode.h"
#include "kernel/storage/fs_client.h"

namespace lamina::storage {

class FsInode final : public posix::Inode {
public:
    // Under the client's mutex (FsClient::hold).
    FsInode(RefPtr<FsClient> client, const idl::FsStat& st) : client_(std::move(client)), ino_(st.ino), mode_(st.mode) {
        held_.ino = ino_;
        client_->hold(held_);
    }
    ~FsInode() override { client_->drop(held_); }

    uint64_t dev() const override { return client_->dev(); }
    uint64_t ino() const override { return ino_; }
    uint32_t mode() const override { return __atomic_load_n(&mode_, __ATOMIC_RELAXED); }
    Result<void> getattr(posix::Stat& st) override;
    Result<void> setattr(const posix::SetAttr& attr) override;

    Result<RefPtr<posix::Inode>> lookup(posix::Name name) override;
    Result<bool> readdir(uint64_t& cookie, posix::DirEntry& out) override;
    Result<RefPtr<posix::Inode>> create(posix::Name name, uint32_t mode, uint32_t uid, uint32_t gid) override;
    Result<RefPtr<posix::Inode>> mkdir(posix::Name name, uint32_t mode, uint32_t uid, uint32_t gid) override;
    Result<RefPtr<posix::Inode>> symlink(posix::Name name, posix::Name target, uint32_t uid, uint32_t gid) override;
    Result<void> link(posix::Name name, posix::Inode& target) override;
    Result<void> unlink(posix::Name name) override;
    Result<void> rmdir(posix::Name name) override;
    Result<void> rename(posix::Name from, posix::Inode& new_dir, posix::Name to) override;

    Result<size_t> read(uint64_t offset, void* buf, size_t len) override;
    Result<size_t> write(uint64_t offset, const void* buf, size_t len) override;
    Result<size_t> readlink(char* buf, size_t len) override;

    // fsync(2)/fdatasync(2). EIO when the fs domain restarted after a fault since this file was
    // last written and before those writes were made durable: they may be lost (they lived in
    // the failed instance's cache), and a fresh instance with nothing dirty must not report them
    // durable. Reported once, as Linux reports a writeback error, through whichever descriptor
    // (or FsInode) asks first: the client keeps the record (FsClient::note_write).
    Result<void> fsync(bool data_only) override;
    // statfs(2): ext2's magic and the file system's counts.
    Result<void> statfs(posix::StatFs& st) override;
    Result<idl::FsInfo> fs_info();

private:
    // Runs op(client) -> Result<FsStat> in a call and makes the inode it names, inside the
    // call so that no unlink can orphan the inode before it is held.
    template <typename Op>
    Result<RefPtr<posix::Inode>> made(Op&& op);
    // The other inode of a link or rename: EXDEV unless it is ours.
    Result<uint32_t> same_fs_ino(posix::Inode& other) const;

    RefPtr<FsClient> client_;
    uint32_t ino_;
    uint32_t mode_;  // atomic; refreshed by getattr and setattr
    HeldIno held_;
};

}  // namespace lamina::storage
