// The fs domain on the real disk: the test image's ext2 root partition through the block
// service (the nvme driver domain behind its shadow). A driver crash while the fs domain has
// I/O in flight is invisible to the fs and to its callers (issue 5, NVMe recovery), and what
// the fs wrote is a clean ext2: tests/system/fs_nvme_test.cpp boots this suite on a copy of the
// image without -snapshot and runs e2fsck -fn and debugfs on it afterwards.
#include "kernel/domain/domain.h"
#include "kernel/ktest/kbench.h"
#include "kernel/ktest/ktest.h"
#include "kernel/ktest/on_thread.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/sched/thread.h"
#include "kernel/posix/files.h"
#include "kernel/storage/block_service.h"
#include "kernel/storage/storage.h"
#include "kernel/storage/fs_client.h"
#include "kernel/storage/fs_inode.h"
#include "kernel/time/time.h"

namespace lamina::storage {

namespace {

using posix::Inode;
using posix::Name;

constexpr uint64_t CRASH_IN_FLIGHT = 1;  // nvme.control (domains/nvme/nvme_domain.cpp)
constexpr size_t FILE_SIZE = 256 * 1024;
// What tests/system/fs_nvme_test.cpp reads back with debugfs.
constexpr char CHECK_FILE[] = "fs-nvme-check.txt";
constexpr char CHECK_TEXT[] = "written by the fs domain through the nvme domain, across a driver crash\n";

Name name(const char* s) { return Name{s, __builtin_strlen(s)}; }

struct ScopedBlockService {
    bool started = false, ok = false;
    ScopedBlockService() {
        if (block_service_running()) {
            ok = true;
            return;
        }
        auto r = start_block_service();
        ok = started = r.is_ok();
        if (r.is_error()) kprintf("fs ktest: cannot start the block service: %s\n", r.error().name());
    }
    ~ScopedBlockService() {
        if (started) stop_block_service();
    }
};

bool crash_next_io() {
    domain::Domain* d = nvme_instance();
    if (!d) return false;
    auto fn = reinterpret_cast<domain::CallFn>(domain::find_export(d, "nvme.control"));
    uint64_t result = ~0ull;
    return fn && domain::call(d, fn, CRASH_IN_FLIGHT, &result) == DomainError::None && result == 0;
}

uint8_t byte_at(size_t i) { return uint8_t((i * 31) ^ (i >> 11)); }

}  // namespace

KTEST(fs, nvme_root_partition_survives_driver_crashes) {
    ScopedBlockService svc;
    KASSERT_TRUE(svc.ok);
    ktest::on_thread(ktest_ctx, "fs-nvme-test", [&] {
        auto* buf = static_cast<uint8_t*>(mm::kmalloc(FILE_SIZE));
        KASSERT_TRUE(buf);
        {
            auto client = FsClient::start({});
            KASSERT_TRUE(client.is_ok());
            KEXPECT(!client.value()->info().read_only);
            RefPtr<Inode> root = client.value()->root();
            // A file the image builder put there (rootfs/etc/hostname).
            auto etc = root->lookup(name("etc"));
            KASSERT_TRUE(etc.is_ok());
            auto hostname = etc.value()->lookup(name("hostname"));
            KASSERT_TRUE(hostname.is_ok());
            char text[16] = {};
            auto r = hostname.value()->read(0, text, sizeof text);
            KEXPECT(r.is_ok() && r.value() == 7 && __builtin_memcmp(text, "lamina\n", 7) == 0);

            // A file written and fsync'ed with a driver crash in the middle of its write-back.
            (void)root->unlink(name("fs-nvme-test.bin"));
            auto f = root->create(name("fs-nvme-test.bin"), posix::mode::Regular | 0644, 0, 0);
            KASSERT_TRUE(f.is_ok());
            for (size_t i = 0; i < FILE_SIZE; i++) buf[i] = byte_at(i);
            KEXPECT(f.value()->write(0, buf, FILE_SIZE).is_ok());
            KEXPECT(crash_next_io());
            domain::set_verbose_faults(false);
            KEXPECT(static_cast<FsInode*>(f.value().get())->fsync(false).is_ok());
            domain::set_verbose_faults(true);
            KEXPECT(block_recovery()->restarts() >= 1);
            KEXPECT_EQ(client.value()->restarts(), 0u);  // the fs domain never noticed
            KEXPECT(client.value()->stop().is_ok());
        }
        // Remounted (an empty cache: everything comes from the disk), read with another crash.
        auto client = FsClient::start({});
        KASSERT_TRUE(client.is_ok());
        RefPtr<Inode> root = client.value()->root();
        auto f = root->lookup(name("fs-nvme-test.bin"));
        KASSERT_TRUE(f.is_ok());
        __builtin_memset(buf, 0, FILE_SIZE);
        uint64_t restarts = block_recovery()->restarts();
        KEXPECT(crash_next_io());
        domain::set_verbose_faults(false);
        auto r = f.value()->read(0, buf, FILE_SIZE);
        domain::set_verbose_faults(true);
        KEXPECT(r.is_ok() && r.value() == FILE_SIZE);
        bool same = true;
        for (size_t i = 0; i < FILE_SIZE && same; i++) same = buf[i] == byte_at(i);
        KEXPECT(same);
        KEXPECT_EQ(block_recovery()->restarts(), restarts + 1);
        KEXPECT(root->unlink(name("fs-nvme-test.bin")).is_ok());

        // What the system test checks on the host.
        (void)root->unlink(name(CHECK_FILE));
        auto check = root->create(name(CHECK_FILE), posix::mode::Regular | 0644, 0, 0);
        KASSERT_TRUE(check.is_ok());
        KEXPECT(check.value()->write(0, CHECK_TEXT, sizeof CHECK_TEXT - 1).is_ok());
        KEXPECT(client.value()->stop().is_ok());  // unmount: clean for e2fsck
        mm::kfree(buf);
    });
}

namespace {

Errno resolve_error(const char* path) {
    sched::MutexGuard g(posix::namespace_lock());
    posix::Location root = posix::namespace_root();
    posix::PathContext ctx{posix::mount_table(), root, root, posix::current_credentials()};
    auto r = posix::resolve(ctx, path, posix::lookup::Follow);
    return r.is_error() ? r.error().code() : Errno::None;
}

Result<void> umount_path(const char* path) {
    sched::MutexGuard g(posix::namespace_lock());
    posix::Location root = posix::namespace_root();
    posix::PathContext ctx{posix::mount_table(), root, root, posix::current_credentials()};
    posix::Location at = TRY(posix::resolve(ctx, path, posix::lookup::Follow));
    const posix::Mount* m = at.mount;
    TRY(posix::mount_table().umount(at));
    posix::forget_mount(m);
    return {};
}

}  // namespace

// The integration step: the ext2 root on the NVMe disk becomes the name space's root, with
// devfs, procfs and a tmpfs inside it; programs load from its /bin; then it is all undone.
KTEST(fs, mount_root_fs_makes_the_ext2_root_the_namespace_root) {
    ScopedBlockService svc;
    KASSERT_TRUE(svc.ok);
    ktest::on_thread(ktest_ctx, "fs-nvme-test", [&] {
        KASSERT_TRUE(mount_root_fs().is_ok());
        KEXPECT(root_fs() && !root_fs()->info().read_only);
        KEXPECT(resolve_error("/etc/hostname") == Errno::None);
        KEXPECT(resolve_error("/bin/busybox") == Errno::None);
        KEXPECT(resolve_error("/proc/meminfo") == Errno::None);
        KEXPECT(resolve_error("/dev/null") == Errno::None);
        auto busybox = posix::load_executable_file("/bin/busybox");
        KEXPECT(busybox.is_ok() && busybox.value().size > 100000 && busybox.value().data[1] == uint8_t('E'));
        if (busybox.is_ok()) busybox.value().free();
        posix::StatFs st;
        posix::Location root = posix::namespace_root();
        KEXPECT(root.inode->statfs(st).is_ok() && st.f_type == 0xEF53 && st.f_bsize == 4096 && st.f_flags == 0);
        root = {};
        for (const char* p : {"/dev", "/proc", "/tmp", "/"}) KEXPECT(umount_path(p).is_ok());
        KEXPECT(resolve_error("/bin/hello") == Errno::None);  // the boot tmpfs again
        KEXPECT(stop_root_fs().is_ok());
    });
}

// The fs figures on the real disk (bench/README.md): the root partition of the 128 MiB test
// image has ~57 MiB free, so the file is 32 MiB here (64 MiB on the RAM disk: fs_kbench.cpp).
KBENCH(fs_nvme_io) {
    constexpr size_t SIZE = 32u << 20, CHUNK = 1u << 20;
    constexpr unsigned RANDOM = 1000;
    ScopedBlockService svc;
    if (!svc.ok) return;
    auto* buf = static_cast<uint8_t*>(mm::kmalloc(CHUNK));
    if (!buf) return;
    for (size_t i = 0; i < CHUNK; i++) buf[i] = byte_at(i);
    auto mib_per_s = [](uint64_t bytes, uint64_t ns) { return ns ? bytes * 1000000000ull / ns / (1u << 20) : 0; };
    bool ok = true;
    {
        auto client = FsClient::start({});
        if (client.is_error()) return mm::kfree(buf);
        RefPtr<Inode> root = client.value()->root();
        (void)root->unlink(name("fs-bench.bin"));
        auto f = root->create(name("fs-bench.bin"), posix::mode::Regular | 0644, 0, 0);
        ok = f.is_ok();
        uint64_t t0 = time::now_ns();
        for (size_t off = 0; ok && off < SIZE; off += CHUNK) {
            auto w = f.value()->write(off, buf, CHUNK);
            ok = w.is_ok() && w.value() == CHUNK;
        }
        ok = ok && static_cast<FsInode*>(f.value().get())->fsync(false).is_ok();
        if (ok) kbench_ctx.report("seq_write_32MiB_fsync", mib_per_s(SIZE, time::now_ns() - t0), "MiB/s");
        (void)client.value()->stop();
    }
    auto client = FsClient::start({});  // cold cache: reads go to the disk
    if (client.is_ok() && ok) {
        RefPtr<Inode> root = client.value()->root();
        auto f = root->lookup(name("fs-bench.bin"));
        ok = f.is_ok();
        uint64_t t0 = time::now_ns();
        for (size_t off = 0; ok && off < SIZE; off += CHUNK) {
            auto r = f.value()->read(off, buf, CHUNK);
            ok = r.is_ok() && r.value() == CHUNK && buf[CHUNK - 1] == byte_at(CHUNK - 1);
        }
        if (ok) kbench_ctx.report("seq_read_32MiB", mib_per_s(SIZE, time::now_ns() - t0), "MiB/s");
        uint64_t seed = 0x9e3779b97f4a7c15ull;
        t0 = time::now_ns();
        for (unsigned i = 0; ok && i < RANDOM; i++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            auto r = f.value()->read((seed % (SIZE / 4096)) * 4096, buf, 4096);
            ok = r.is_ok() && r.value() == 4096;
        }
        if (ok) kbench_ctx.report("random_read_4KiB_fs", (time::now_ns() - t0) / RANDOM / 1000, "us");
        (void)root->unlink(name("fs-bench.bin"));
        (void)client.value()->stop();
    }
    if (!ok) kprintf("kbench: fs_nvme_io: an operation failed\n");
    mm::kfree(buf);
}

}  // namespace lamina::storage
