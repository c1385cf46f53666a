// Figures for the fs domain (bench/README.md, "fs domain"): a 64 MiB file written and read
// sequentially through the VFS inode -> FsClient -> proxy/shadow -> fs domain (ext2) -> Block
// (the RAM-disk stand-in for the NVMe driver), and 4 KiB random reads of it; the RAM disk's
// own 4 KiB random read, called directly, as the floor.
#include "kernel/domain/domain.h"
#include "kernel/domain/interfaces.h"
#include "kernel/ktest/kbench.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/storage/fs_client.h"
#include "kernel/storage/fs_inode.h"
#include "kernel/storage/ram_disk.h"
#include "kernel/storage/storage.h"
#include "kernel/storage/test_disk.h"
#include "kernel/time/time.h"

namespace lamina::storage {

namespace {

constexpr size_t FILE_SIZE = 64u << 20;
constexpr size_t CHUNK = 1u << 20;  // per VFS call (the inode splits it into 64 KiB domain calls)
constexpr unsigned RANDOM_READS = 2000;

uint64_t mib_per_s(uint64_t bytes, uint64_t ns) { return ns ? bytes * 1000000000ull / ns / (1u << 20) : 0; }

// xorshift: the same offsets every run.
uint64_t next_random(uint64_t& s) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

}  // namespace

KBENCH(fs_domain_io) {
    TestDisk test_disk;
    RamDisk* disk = test_disk.disk;
    if (!disk) {
        kprintf("kbench: fs_domain_io needs the disk:fsdisk module (test image)\n");
        return;
    }
    auto* buf = static_cast<uint8_t*>(mm::kmalloc(CHUNK));
    auto client = FsClient::start({});
    if (buf && client.is_ok()) {
        RefPtr<posix::Inode> root = client.value()->root();
        auto file = root->create(posix::Name{"big.bin", 7}, posix::mode::Regular | 0644, 0, 0);
        if (file.is_ok()) {
            for (size_t i = 0; i < CHUNK; i++) buf[i] = uint8_t(i * 13);
            RamDisk::Stats s0 = disk->stats();
            uint64_t t0 = time::now_ns();
            bool ok = true;
            for (size_t off = 0; off < FILE_SIZE && ok; off += CHUNK) {
                auto w = file.value()->write(off, buf, CHUNK);
                ok = w.is_ok() && w.value() == CHUNK;
            }
            ok = ok && static_cast<FsInode*>(file.value().get())->fsync(false).is_ok();
            uint64_t write_ns = time::now_ns() - t0;
            if (ok) kbench_ctx.report("seq_write_64MiB_fsync", mib_per_s(FILE_SIZE, write_ns), "MiB/s");
            // How the writes reached the device: requests (32 KiB at most) and batches (one
            // domain crossing each).
            RamDisk::Stats s1 = disk->stats();
            kbench_ctx.report("seq_write_block_batches", s1.batches - s0.batches, "batches");
            kbench_ctx.report("seq_write_block_requests", s1.writes - s0.writes, "requests");

            t0 = time::now_ns();
            for (size_t off = 0; off < FILE_SIZE && ok; off += CHUNK) {
                auto r = file.value()->read(off, buf, CHUNK);
                ok = r.is_ok() && r.value() == CHUNK && buf[CHUNK - 1] == uint8_t((CHUNK - 1) * 13);
            }
            uint64_t read_ns = time::now_ns() - t0;
            if (ok) kbench_ctx.report("seq_read_64MiB", mib_per_s(FILE_SIZE, read_ns), "MiB/s");
            RamDisk::Stats s2 = disk->stats();
            kbench_ctx.report("seq_read_block_batches", s2.batches - s1.batches, "batches");
            kbench_ctx.report("seq_read_block_requests", s2.reads - s1.reads, "requests");

            uint64_t seed = 0x9e3779b97f4a7c15ull;
            t0 = time::now_ns();
            for (unsigned i = 0; i < RANDOM_READS && ok; i++) {
                uint64_t off = (next_random(seed) % (FILE_SIZE / 4096)) * 4096;
                auto r = file.value()->read(off, buf, 4096);
                ok = r.is_ok() && r.value() == 4096;
            }
            uint64_t random_ns = time::now_ns() - t0;
            if (ok) kbench_ctx.report("random_read_4KiB_fs", random_ns / RANDOM_READS / 1000, "us");
            if (!ok) kprintf("kbench: fs_domain_io: an operation failed\n");
        }
        (void)client.value()->stop();
    }

    // The floor: the same RAM disk, one 4 KiB read request per call, from the kernel.
    auto batch = RRefDeque<idl::BlockRequest, 32>::create();
    auto req = RRef<idl::BlockRequest>::create();
    if (batch.is_ok() && req.is_ok()) {
        auto bytes = RRefBytes::create(4096);
        if (bytes.is_ok()) {
            req.value()->buf = std::move(bytes.value());
            RRefDeque<idl::BlockRequest, 32> b = std::move(batch.value());
            RRef<idl::BlockRequest> r = std::move(req.value());
            uint64_t seed = 0x9e3779b97f4a7c15ull;
            bool ok = true;
            uint64_t t0 = time::now_ns();
            for (unsigned i = 0; i < RANDOM_READS && ok; i++) {
                r->op = idl::BlockOp::Read;
                r->lba = (next_random(seed) % (FILE_SIZE / 4096)) * 8;
                r->blocks = 8;
                ok = b.push_back(std::move(r)).is_ok();
                auto back = disk->submit(std::move(b));
                ok = ok && back.is_ok();
                if (!ok) break;
                b = std::move(back.value());
                r = b.pop_front();
                ok = r && r->status == 0;
            }
            uint64_t ns = time::now_ns() - t0;
            if (ok) kbench_ctx.report("random_read_4KiB_block", ns / RANDOM_READS / 1000, "us");
        }
    }
    mm::kfree(buf);
}

}  // namespace lamina::storage
