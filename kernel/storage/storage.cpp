#include "kernel/storage/storage.h"

#include "kernel/boot/boot_info.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/files.h"
#include "kernel/power.h"

namespace lamina::storage {

namespace {
const boot::BootInfo* g_boot_info;
RefPtr<FsClient> g_root;
}  // namespace

void init(const boot::BootInfo& info) { g_boot_info = &info; }

Result<DiskImage> disk_module(const char* name) {
    if (!g_boot_info) return Errno::NoEnt;
    for (size_t i = 0; i < g_boot_info->module_count; i++) {
        const boot::Module& m = g_boot_info->modules[i];
        const char* word = m.name;
        for (const char* p = m.name; *p; p++)
            if (*p == ' ' && p[1] && p[1] != ' ') word = p + 1;
        constexpr char PREFIX[] = "disk:";
        if (__builtin_strncmp(word, PREFIX, sizeof PREFIX - 1) != 0) continue;
        word += sizeof PREFIX - 1;
        size_t n = __builtin_strlen(name);
        if (__builtin_strncmp(word, name, n) != 0 || (word[n] && word[n] != ' ')) continue;
        if (m.end <= m.start) return Errno::NoEnt;
        return DiskImage{static_cast<const uint8_t*>(mm::phys_to_virt(m.start)), size_t(m.end - m.start)};
    }
    return Errno::NoEnt;
}

Result<RefPtr<posix::Inode>> start_root_fs(bool read_only) {
    if (g_root) return Errno::Busy;
    FsClient::Options opts;
    opts.read_only = read_only;
    opts.commit_ns = FsClient::COMMIT_NS;
    g_root = TRY(FsClient::start(opts));
    static bool hooked = false;
    // reboot(2) and power-off: write everything back and leave the file system marked clean,
    // or the next boot mounts it read-only.
    if (!hooked)
        hooked = power::add_shutdown_hook([] {
            if (g_root) {
                if (auto r = stop_root_fs(); r.is_error())
                    kprintf("storage: unmounting the root file system: %s\n", r.error().name());
            }
        });
    return g_root->root();
}

FsClient* root_fs() { return g_root.get(); }

Result<void> stop_root_fs() {
    if (!g_root) return Errno::NoEnt;
    Result<void> r = g_root->stop();
    g_root = nullptr;
    return r;
}

Result<void> mount_root_fs() {
    if (g_root && g_root->info().read_only) TRY(stop_root_fs());
    RefPtr<posix::Inode> root = g_root ? g_root->root() : TRY(start_root_fs(false));
    return posix::mount_over_root(root, "ext2", "nvme0n1p2");
}

}  // namespace lamina::storage
