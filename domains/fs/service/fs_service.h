// lamina:portable
// The fs domain's exported object: interfaces/fs.idl's Fs over the ext2 core, on the root
// partition of the imported block device.
//
// Which partition: the GPT entry named "root", else the first partition of type "Linux
// filesystem data" (0FC63DAF-8483-4772-8E79-3D69D8477DE4) — what images/build-image makes
// (partition 2, `sgdisk -c 2:root -t 2:8300`). A disk without a valid GPT is refused with IO
// (the reason logged), one without such a partition with NoEnt.
//
// Name-space changes (create, mkdir, symlink, link, unlink, rmdir, rename) are logged before
// they return (ext2::FileSystem::commit_changes): on ext3 a pending commit, written to the
// journal without a flush; on ext2 a write-back without a flush. The kernel keeps inode numbers across a
// restart of this domain, so an inode it was told about must still be that inode on disk
// afterwards: a create lost with the failed instance's cache would leave the kernel holding a
// number the fresh instance hands to the next new file. The disk keeps power through a fault
// of this domain, so the fresh instance's mount (after_fault) replays the pending commits and
// nothing is lost. They become durable (a power cut keeps them) at sync, fsync, or the
// kernel's commit timer (kernel/storage/fs_client.h), which calls sync() every 5 s. File data
// stays in the cache until then (a fault loses it; the kernel reports that at fsync).
//
// Every call is serialized: the ext2 core is not thread-safe, and the kernel already calls one
// at a time (its FsClient holds a mutex around each call), so a second thread arriving while a
// call is inside gets Busy instead of corrupting the cache.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/optional.h>
#include <lamina/result.h>
#include <lamina/rref.h>

#include "domains/fs/block_device.h"
#include "domains/fs/ext2/ext2.h"
#include "domains/fs/fs_log.h"
#include "domains/fs/service/block_client.h"
#include "interfaces/fs.h"

namespace lamina::fs {

class FsService final : public idl::Fs {
public:
    struct Env {
        idl::Block& block;
        ext2::Allocator& alloc;
        ext2::Clock& clock;
        FsLog* log;
        uint32_t cache_buffers;
    };
    explicit FsService(const Env& env) : env_(env), blocks_(env.block, env.log) {}
    ~FsService();

    Result<idl::FsInfo> mount(bool read_only, bool after_fault) override;
    Result<void> unmount() override;
    Result<idl::FsInfo> statfs() override;
    Result<idl::FsStat> stat(uint32_t ino) override;
    Result<idl::FsStat> setattr(uint32_t ino, const idl::FsSetAttr& attr) override;
    Result<idl::FsStat> lookup(uint32_t dir, const idl::FsName& name) override;
    Result<idl::FsStat> create(uint32_t dir, const idl::FsName& name, uint32_t mode, uint32_t uid,
                               uint32_t gid) override;
    Result<idl::FsStat> mkdir(uint32_t dir, const idl::FsName& name, uint32_t mode, uint32_t uid,
                              uint32_t gid) override;
    Result<idl::FsStat> symlink(uint32_t dir, const idl::FsName& name, const RRefBytes& target, uint32_t uid,
                                uint32_t gid) override;
    Result<void> link(uint32_t dir, const idl::FsName& name, uint32_t ino) override;
    Result<uint32_t> unlink(uint32_t dir, const idl::FsName& name, bool keep) override;
    Result<void> rmdir(uint32_t dir, const idl::FsName& name) override;
    Result<uint32_t> rename(uint32_t from_dir, const idl::FsName& from, uint32_t to_dir, const idl::FsName& to,
                            bool keep) override;
    Result<void> release(uint32_t ino) override;
    Result<RRef<idl::FsDirBatch>> readdir(uint32_t dir, uint64_t cookie, RRef<idl::FsDirBatch> batch) override;
    Result<RRefBytes> read(uint32_t ino, uint64_t offset, uint32_t len, RRefBytes buf) override;
    Result<uint64_t> write(uint32_t ino, uint64_t offset, const RRefBytes& buf) override;
    Result<void> truncate(uint32_t ino, uint64_t size) override;
    Result<RRefBytes> readlink(uint32_t ino, RRefBytes buf) override;
    Result<void> sync() override;
    Result<void> fsync(uint32_t ino) override;

    const BlockClient& blocks() const { return blocks_; }
    ext2::FileSystem* file_system() const { return fs_.get(); }

private:
    class Serial;
    Result<ext2::FileSystem*> mounted();
    Result<void> commit_namespace();
    Result<idl::FsStat> stat_of(uint32_t ino);
    idl::FsInfo info_of() const;

    Env env_;
    BlockClient blocks_;
    Optional<PartitionDevice> part_;  // made at the first mount, kept for the later ones
    ext2::FsOwner fs_;
    uint32_t busy_ = 0;  // atomic
};

}  // namespace lamina::fs
