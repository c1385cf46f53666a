// Host benchmark: the cost of ext3's journal (domains/fs/ext2 in ordered mode) against ext2 on
// a metadata-heavy workload: 2000 files created with 100 bytes each, renamed, then unlinked,
// through the ext2 core on in-memory images made by mke2fs (4 KiB blocks, the fs domain's
// 512-buffer cache). Two ways: a sync after every call (what the fs service does for name-space
// changes, which it makes synchronous), and one sync at the end. Figures: µs per call, and the
// device work per call (4 KiB blocks written, flushes), which is what a real disk charges for:
// the in-memory device makes writes cheap and flushes free.
#include <stdio.h>

#include <chrono>
#include <string>

#include "domains/fs/ext2/ext2.h"
#include "tests/unit/ext2_test_util.h"
#include "tests/unit/host_domains.cpp"  // the host exchange heap, which the portable fs service code needs to link

namespace ext2 = lamina::ext2;

namespace {

constexpr int FILES = 2000;

// Counts what the file system asks of the device.
class CountingDevice final : public lamina::fs::BlockDevice {
public:
    explicit CountingDevice(ext2_test::MemDevice& dev) : dev_(dev) {}
    uint64_t sector_count() const override { return dev_.sector_count(); }
    lamina::Result<void> read_sectors(uint64_t lba, uint32_t count, void* buf) override {
        return dev_.read_sectors(lba, count, buf);
    }
    lamina::Result<void> write_sectors(uint64_t lba, uint32_t count, const void* buf) override {
        sectors_written += count;
        return dev_.write_sectors(lba, count, buf);
    }
    lamina::Result<void> flush() override {
        flushes++;
        return {};
    }
    uint64_t sectors_written = 0, flushes = 0;

private:
    ext2_test::MemDevice& dev_;
};

struct Figures {
    double us_per_call;
    double blocks_per_call;
    double flushes_per_call;
};

// Runs the workload; us_per_call -1 on a failure (reported).
Figures run(const char* type, bool sync_each) {
    ext2_test::MemDevice mem;
    {
        ext2_test::TempDir tmp;
        bool journal = std::string(type) == "ext3";
        mem = ext2_test::make_image(tmp, 4096, "128M", "", journal ? "-O has_journal" : "");
    }
    CountingDevice dev(mem);
    ext2_test::MallocAllocator alloc;
    ext2_test::WallClock clock;
    ext2_test::CollectLog log;
    auto mounted = ext2::FileSystem::mount(dev, alloc, clock, &log, {.cache_buffers = 512});
    if (mounted.is_error()) {
        fprintf(stderr, "ext3_bench: mounting %s failed:\n%s", type, log.all().c_str());
        return {-1, 0, 0};
    }
    ext2::FileSystem& fs = *mounted.value();
    dev.sectors_written = dev.flushes = 0;
    std::string data(100, 'x');
    bool ok = true;
    auto step = [&](lamina::Result<void> r) {
        ok = ok && r.is_ok();
        if (sync_each) ok = ok && fs.sync().is_ok();
    };
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < FILES; i++) {
        std::string name = "f" + std::to_string(i);
        auto ino = fs.create(fs.root(), name.data(), name.size(), ext2::MODE_IFREG | 0644, 0, 0);
        ok = ok && ino.is_ok() && fs.write(ino.value(), 0, data.data(), data.size()).is_ok();
        step({});
    }
    for (int i = 0; i < FILES; i++) {
        std::string from = "f" + std::to_string(i), to = "g" + std::to_string(i);
        step(fs.rename(fs.root(), from.data(), from.size(), fs.root(), to.data(), to.size()));
    }
    for (int i = 0; i < FILES; i++) {
        std::string name = "g" + std::to_string(i);
        step(fs.unlink(fs.root(), name.data(), name.size()));
    }
    ok = ok && fs.sync().is_ok();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ok = ok && ext2::FileSystem::unmount(mounted.value()).is_ok();
    if (!ok) {
        fprintf(stderr, "ext3_bench: the %s workload failed:\n%s", type, log.all().c_str());
        return {-1, 0, 0};
    }
    constexpr double CALLS = 3.0 * FILES;
    return {seconds / CALLS * 1e6, dev.sectors_written / 8.0 / CALLS, dev.flushes / CALLS};
}

}  // namespace

int main() {
    printf("ext3_bench: %d files created (100 bytes), renamed, unlinked: %d calls\n", FILES, 3 * FILES);
    printf("| sync | fs | us/call | 4 KiB blocks written/call | flushes/call |\n|---|---|---|---|---|\n");
    for (bool sync_each : {true, false}) {
        for (const char* type : {"ext2", "ext3"}) {
            Figures f = run(type, sync_each);
            if (f.us_per_call < 0) return 1;
            printf("| %s | %s | %.1f | %.2f | %.2f |\n", sync_each ? "every call" : "at the end", type, f.us_per_call,
                   f.blocks_per_call, f.flushes_per_call);
        }
    }
    return 0;
}
