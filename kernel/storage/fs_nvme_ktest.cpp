// The fs domain on the real disk: the test image's ext2 root partition through the block
// service (the nvme driver domain behind its shadow). A driver crash while the fs domain has
// I/O in flight is invisible to the fs and to its callers (issue 5, NVMe recovery), and what
// the fs wrote is a clean ext2: tests/system/fs_nvme_test.cpp boots this suite on a copy of the
// image without -snapshot and runs e2fsck -fn and debugfs on it afterwards.
#include "kernel/domain/domain.h"
#include "kernel/ktest/ktest.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/sched/thread.h"
#include "kernel/storage/block_service.h"
#include "kernel/storage/fs_client.h"
#include "kernel/storage/fs_inode.h"

namespace lamina::storage {

namespace {

using posix::Inode;
using posix::Name;

constexpr uint64_t kCrashInFlight = 1;  // nvme.control (domains/nvme/nvme_domain.cpp)
constexpr size_t kFileSize = 256 * 1024;
// What tests/system/fs_nvme_test.cpp reads back with debugfs.
constexpr char kCheckFile[] = "fs-nvme-check.txt";
constexpr char kCheckText[] = "written by the fs domain through the nvme domain, across a driver crash\n";

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
    return fn && domain::call(d, fn, kCrashInFlight, &result) == DomainError::None && result == 0;
}

uint8_t byte_at(size_t i) { return uint8_t((i * 31) ^ (i >> 11)); }

template <typename Fn>
void on_thread(ktest::Context& ktest_ctx, Fn fn) {
    auto thunk = [](void* p) { (*static_cast<Fn*>(p))(); };
    auto t = sched::Thread::create("fs-nvme-test", thunk, &fn);
    KASSERT_TRUE(t.is_ok());
    KEXPECT(t.value()->join() == sched::ExitReason::Returned);
}

}  // namespace

KTEST(fs, nvme_root_partition_survives_driver_crashes) {
    ScopedBlockService svc;
    KASSERT_TRUE(svc.ok);
    on_thread(ktest_ctx, [&] {
        auto* buf = static_cast<uint8_t*>(mm::kmalloc(kFileSize));
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
            for (size_t i = 0; i < kFileSize; i++) buf[i] = byte_at(i);
            KEXPECT(f.value()->write(0, buf, kFileSize).is_ok());
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
        __builtin_memset(buf, 0, kFileSize);
        uint64_t restarts = block_recovery()->restarts();
        KEXPECT(crash_next_io());
        domain::set_verbose_faults(false);
        auto r = f.value()->read(0, buf, kFileSize);
        domain::set_verbose_faults(true);
        KEXPECT(r.is_ok() && r.value() == kFileSize);
        bool same = true;
        for (size_t i = 0; i < kFileSize && same; i++) same = buf[i] == byte_at(i);
        KEXPECT(same);
        KEXPECT_EQ(block_recovery()->restarts(), restarts + 1);
        KEXPECT(root->unlink(name("fs-nvme-test.bin")).is_ok());

        // What the system test checks on the host.
        (void)root->unlink(name(kCheckFile));
        auto check = root->create(name(kCheckFile), posix::mode::Regular | 0644, 0, 0);
        KASSERT_TRUE(check.is_ok());
        KEXPECT(check.value()->write(0, kCheckText, sizeof kCheckText - 1).is_ok());
        KEXPECT(client.value()->stop().is_ok());  // unmount: clean for e2fsck
        mm::kfree(buf);
    });
}

}  // namespace lamina::storage
