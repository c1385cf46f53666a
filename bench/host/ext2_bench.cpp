// Host benchmark for the ext2 implementation (domains/fs/ext2): sequential write and read of a
// 64 MiB file and 4 KiB random reads through the file system, on an in-memory image made by
// mke2fs (4 KiB blocks), with the raw in-memory block device as the baseline in the same run.
// Figures: MB/s for sequential transfers, µs per 4 KiB random read.
#include <stdio.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "domains/fs/ext2/ext2.h"
#include "tests/unit/ext2_test_util.h"  // the tests' memory device, allocator, clock and mke2fs
#include "tests/unit/host_domains.cpp"  // the host exchange heap, which the portable fs service code needs to link

namespace ext2 = lamina::ext2;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

constexpr size_t FILE_SIZE = 64 << 20;
constexpr size_t CHUNK = 64 << 10;
constexpr int RANDOM_READS = 20000;

}  // namespace

int main() {
    ext2_test::MemDevice dev;
    {
        ext2_test::TempDir tmp;
        dev = ext2_test::make_image(tmp, 4096, "128M");
    }
    if (dev.bytes.empty()) {
        fprintf(stderr, "ext2_bench: mke2fs failed\n");
        return 1;
    }

    std::vector<uint8_t> buf(CHUNK, 0xA5);
    std::mt19937 rng(1);
    // Baseline: the device itself, over the same amount of data (at the image's far half so
    // that it does not touch the file system's metadata).
    uint64_t base_lba = dev.sector_count() / 2;
    auto t0 = std::chrono::steady_clock::now();
    for (size_t off = 0; off < FILE_SIZE; off += CHUNK)
        (void)dev.write_sectors(base_lba + off / 512, CHUNK / 512, buf.data());
    double raw_write = FILE_SIZE / seconds_since(t0) / 1e6;
    t0 = std::chrono::steady_clock::now();
    for (size_t off = 0; off < FILE_SIZE; off += CHUNK)
        (void)dev.read_sectors(base_lba + off / 512, CHUNK / 512, buf.data());
    double raw_read = FILE_SIZE / seconds_since(t0) / 1e6;
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < RANDOM_READS; i++)
        (void)dev.read_sectors(base_lba + (rng() % (FILE_SIZE / 4096)) * 8, 8, buf.data());
    double raw_rand = seconds_since(t0) / RANDOM_READS * 1e6;

    ext2_test::MallocAllocator alloc;
    ext2_test::WallClock clock;
    auto m = ext2::FileSystem::mount(dev, alloc, clock, nullptr, {.read_only = false, .cache_buffers = 1024});
    if (m.is_error()) {
        fprintf(stderr, "ext2_bench: mount failed\n");
        return 1;
    }
    ext2::FsOwner fs = m.release_value();
    uint32_t ino = fs->create(fs->root(), "big", 3, 0644, 0, 0).value();
    t0 = std::chrono::steady_clock::now();
    for (size_t off = 0; off < FILE_SIZE; off += CHUNK)
        if (fs->write(ino, off, buf.data(), CHUNK).is_error()) return 1;
    if (fs->sync().is_error()) return 1;
    double fs_write = FILE_SIZE / seconds_since(t0) / 1e6;
    t0 = std::chrono::steady_clock::now();
    for (size_t off = 0; off < FILE_SIZE; off += CHUNK)
        if (fs->read(ino, off, buf.data(), CHUNK).is_error()) return 1;
    double fs_read = FILE_SIZE / seconds_since(t0) / 1e6;
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < RANDOM_READS; i++)
        if (fs->read(ino, (rng() % (FILE_SIZE / 4096)) * 4096, buf.data(), 4096).is_error()) return 1;
    double fs_rand = seconds_since(t0) / RANDOM_READS * 1e6;
    auto stats = fs->cache_stats();
    if (ext2::FileSystem::unmount(fs).is_error()) return 1;

    printf("ext2 (4 KiB blocks, 1024-buffer cache, in-memory image), 64 MiB file, 64 KiB calls\n");
    printf("  %-28s %10s %10s %8s\n", "", "ext2", "raw dev", "ratio");
    printf("  %-28s %8.0f MB/s %6.0f MB/s %7.2fx\n", "sequential write (+sync)", fs_write, raw_write,
           fs_write / raw_write);
    printf("  %-28s %8.0f MB/s %6.0f MB/s %7.2fx\n", "sequential read", fs_read, raw_read, fs_read / raw_read);
    printf("  %-28s %8.2f us   %6.2f us   %7.2fx\n", "4 KiB random read", fs_rand, raw_rand, fs_rand / raw_rand);
    printf("  cache: %llu hits, %llu misses, %llu evictions\n", (unsigned long long)stats.hits,
           (unsigned long long)stats.misses, (unsigned long long)stats.evictions);
    return 0;
}
