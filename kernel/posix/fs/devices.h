// lamina:portable
// devfs: a tmpfs holding device nodes, whose opener turns a node's device number into the
// device's file object. The memory devices live here (/dev/null, /dev/zero, /dev/full,
// /dev/random, /dev/urandom); the terminal devices (/dev/console, /dev/tty) come from the
// kernel through a hook, since they sit on the serial driver.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/fs/tmpfs.h"
#include "kernel/posix/vfs/mount.h"

namespace lamina::posix {

// Linux's device numbers in st_rdev's encoding (major << 8 | minor, for small numbers).
constexpr uint32_t make_dev(uint32_t major, uint32_t minor) {
    return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}
namespace devno {
inline constexpr uint32_t Null = make_dev(1, 3), Zero = make_dev(1, 5), Full = make_dev(1, 7), Random = make_dev(1, 8),
                          URandom = make_dev(1, 9), Tty = make_dev(5, 0), Console = make_dev(5, 1);
}

// A device opened through its node: fstat describes the node, fchmod & co. reach it.
class DeviceFile : public FileObject {
public:
    explicit DeviceFile(Location loc) : loc_(static_cast<Location&&>(loc)) {}
    Result<void> stat(Stat& st) override { return loc_.inode ? loc_.inode->getattr(st) : FileObject::stat(st); }
    const Location* location() const override { return loc_.inode ? &loc_ : nullptr; }

private:
    Location loc_;
};

struct DevfsHooks {
    // Fills buf with random bytes (/dev/random and /dev/urandom).
    void (*fill_random)(void* buf, size_t n) = nullptr;
    // /dev/console and /dev/tty.
    Result<RefPtr<FileObject>> (*open_terminal)(uint32_t rdev, const Location& loc, uint32_t oflags) = nullptr;
};

class DevfsOpener final : public DeviceOpener {
public:
    explicit DevfsOpener(const DevfsHooks& hooks) : hooks_(hooks) {}
    Result<RefPtr<FileObject>> open_device(uint32_t rdev, const Location& loc, uint32_t oflags) override;

private:
    DevfsHooks hooks_;
};

// The standard nodes in the root of a devfs: console, tty, null, zero, full, random, urandom.
Result<void> populate_devfs(Tmpfs& fs);

}  // namespace lamina::posix
