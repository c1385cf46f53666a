// Bringing up storage: the fs domain over the block device, mounted as the root file system.
//
// Boot order (kernel/main.cpp): storage::init(info) after domain::init; once the block
// service is provided (the NVMe driver domain's shadow under "block"), start_root_fs() starts
// the fs domain, mounts the root partition (GPT entry "root", else the first Linux filesystem
// partition) and returns its root directory, which the VFS mounts at "/":
//
//     auto root = storage::start_root_fs();
//     if (root.is_ok()) mounts.mount_root(root.value());
//
// kernel_start starts it read-only for now (so that a QEMU killed without a shutdown leaves the
// image clean) and keeps it in root_fs(); mount_root_fs() is the integration step that makes it
// the processes' root, read-write.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/vfs/inode.h"
#include "kernel/storage/fs_client.h"

namespace lamina::boot {
struct BootInfo;
}

namespace lamina::storage {

// Remembers the boot modules (disk images the ktests use as RAM disks).
void init(const boot::BootInfo& info);

// The bytes of the boot module whose loader string's last word is disk:NAME (images/profiles:
// `disk NAME PATH`). NoEnt if there is none.
struct DiskImage {
    const uint8_t* data;
    size_t size;
};
Result<DiskImage> disk_module(const char* name);

// Starts the fs domain on the provided "block" interface and mounts its root partition
// (read-only if asked: nothing on the disk changes, not even the "mounted" mark); the client stays alive (root_fs())
// until stop_root_fs(), which a shutdown hook (power::add_shutdown_hook) also runs.
Result<RefPtr<posix::Inode>> start_root_fs(bool read_only = false);
FsClient* root_fs();
// Unmounts cleanly (for power-off) and destroys the domain.
Result<void> stop_root_fs();

// Integration: the root file system read-write (restarting it if it runs read-only) mounted
// over "/" of the kernel's name space (posix::mount_over_root: devfs, procfs and a tmpfs
// inside it); processes started afterwards see it as their root.
Result<void> mount_root_fs();

}  // namespace lamina::storage
