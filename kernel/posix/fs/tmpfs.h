// lamina:portable
// tmpfs: a file system in kernel memory, used as the initial root (until the ext2 root is
// mounted), for /tmp, and (with device nodes) as devfs.
//
// Files are sparse arrays of 4 KiB pages: a page exists only once something was written into
// it, holes read as zeros, and truncation frees the pages past the new end. Every page and
// every node counts against the file system's byte limit (ENOSPC beyond it). Directories keep
// their entries in creation order with a stable position each, so getdents64 continues where
// it left off even when entries are removed in between (rm -r does exactly that). A node dies
// with its last reference: the last directory entry (its link count) and the last open file
// description both hold one, so an unlinked file that is still open keeps its data until the
// last close, and then frees it.
//
// Locking: one lock per file system (an IrqSpinlock) serializes every operation on its nodes;
// nothing is called out of the file system while it is held.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include <lamina/intrusive_list.h>
#include "kernel/posix/fd/file_object.h"
#include "kernel/posix/irq_spinlock.h"
#include "kernel/posix/vfs/inode.h"

namespace lamina::posix {

class TmpfsNode;

// What a tmpfs device node opens (devfs installs one; a plain tmpfs has none and its device
// nodes open with ENXIO, as a device without a driver does on Linux).
class DeviceOpener {
public:
    virtual Result<RefPtr<FileObject>> open_device(uint32_t rdev, const Location& loc, uint32_t oflags) = 0;

protected:
    ~DeviceOpener() = default;
};

struct TmpfsOptions {
    uint64_t max_bytes = 64ull << 20;
    uint64_t dev = 0;               // st_dev of every node
    Timespec (*clock)() = nullptr;  // for timestamps; null: all zero
    DeviceOpener* devices = nullptr;
    uint32_t root_mode = 01777;  // permission bits of the root directory
    int64_t magic = 0x01021994;  // statfs f_type (TMPFS_MAGIC)
};

class Tmpfs final : public RefCounted {
public:
    static Result<RefPtr<Tmpfs>> create(const TmpfsOptions& options);
    ~Tmpfs() override;
    RefPtr<Inode> root() const;

    uint64_t used_bytes() const { return used_; }
    uint64_t max_bytes() const { return options_.max_bytes; }
    uint64_t node_count() const { return nodes_; }

    // mknod inside the file system (devfs populates /dev with it). Name must be new.
    Result<RefPtr<Inode>> make_node(Inode& dir, const char* name, uint32_t mode, uint32_t rdev);

private:
    friend class TmpfsNode;
    explicit Tmpfs(const TmpfsOptions& o) : options_(o) {}
    Result<void> charge(uint64_t bytes);
    void uncharge(uint64_t bytes) { used_ -= bytes; }
    Timespec now() const { return options_.clock ? options_.clock() : Timespec{}; }

    TmpfsOptions options_;
    IrqSpinlock lock_;
    uint64_t used_ = 0;      // lock_
    uint64_t nodes_ = 0;     // lock_
    uint64_t next_ino_ = 2;  // lock_
    TmpfsNode* root_ = nullptr;
    ListChain all_;  // lock_: every live node, to orphan them if the file system dies first
};

}  // namespace lamina::posix
