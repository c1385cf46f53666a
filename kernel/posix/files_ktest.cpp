// The kernel's file name space: programs readable through the VFS from /bin, and the root
// replaced (as the ext2 root will be at integration) and put back.
#include "kernel/ktest/ktest.h"
#include "kernel/posix/files.h"
#include "kernel/posix/fs/tmpfs.h"

namespace lamina::posix {

namespace {

Errno resolve_error(const char* path) {
    sched::MutexGuard g(namespace_lock());
    Location root = namespace_root();
    PathContext ctx{mount_table(), root, root, current_credentials()};
    auto r = resolve(ctx, path, lookup::Follow);
    return r.is_error() ? r.error().code() : Errno::None;
}

Result<void> umount_path(const char* path) {
    sched::MutexGuard g(namespace_lock());
    Location root = namespace_root();
    PathContext ctx{mount_table(), root, root, current_credentials()};
    Location at = TRY(resolve(ctx, path, lookup::Follow));
    const Mount* m = at.mount;
    TRY(mount_table().umount(at));
    forget_mount(m);
    return {};
}

}  // namespace

KTEST(files, programs_load_through_the_vfs) {
    auto hello = load_executable_file("/bin/hello");
    KASSERT_TRUE(hello.is_ok());
    KEXPECT(hello.value().size > 64);
    KEXPECT_EQ(hello.value().data[1], uint8_t('E'));
    hello.value().free();
    KEXPECT(load_executable_file("/proc").error().code() == Errno::Acces);
    KEXPECT(load_executable_file("/bin/no-such-program").error().code() == Errno::NoEnt);
    KEXPECT(load_executable_file("/bin/hello/x").error().code() == Errno::NotDir);
}

KTEST(files, root_replaced_and_restored) {
    TmpfsOptions o;
    o.dev = 1000;
    auto fs = Tmpfs::create(o);
    KASSERT_TRUE(fs.is_ok());
    RefPtr<Inode> root = fs.value()->root();
    KASSERT_TRUE(root->mkdir(Name{"dev", 3}, 0755, 0, 0).is_ok());
    KASSERT_TRUE(root->mkdir(Name{"proc", 4}, 0755, 0, 0).is_ok());
    KEXPECT(resolve_error("/bin/hello") == Errno::None);
    KASSERT_TRUE(mount_over_root(root, "tmpfs", "newroot").is_ok());
    KEXPECT(namespace_root().inode->same_as(*root));
    KEXPECT(resolve_error("/bin/hello") == Errno::NoEnt);  // the boot tmpfs is underneath now
    KEXPECT(resolve_error("/proc/meminfo") == Errno::None);
    KEXPECT(resolve_error("/dev/null") == Errno::None);
    KEXPECT(resolve_error("/tmp") == Errno::NoEnt);  // the new root has none: nothing mounted
    KEXPECT(resolve_error("/..") == Errno::None);
    KEXPECT(umount_path("/").error().code() == Errno::Busy);  // /dev and /proc are inside
    KEXPECT(umount_path("/dev").is_ok());
    KEXPECT(umount_path("/proc").is_ok());
    KEXPECT(umount_path("/").is_ok());
    KEXPECT(resolve_error("/bin/hello") == Errno::None);
    KEXPECT(namespace_root().same_as(mount_table().root()));
}

}  // namespace lamina::posix
