// The ext2 core (domains/fs/ext2) mounting and walking a corrupted image, then changing it: the
// fs domain's answer to a hostile disk must be an error or a read-only mount, never a crash, a
// hang or memory it loses.
//
// Input: a flags byte, then the first bytes of a 256 KiB image (the rest is zero; the seeds
// are mke2fs images with 1 KiB blocks, whose metadata and files sit in the first 32 KiB).
// Flags: bit 0 mounts read-only; bit 1 says the last mount died (after_fault); bits 2-3 pick
// the buffer-cache size. A read-write mount runs a fixed round of changes (create, write,
// mkdir, symlink, link, rename, truncate, unlink, rmdir, sync), unmounts, and mounts again to
// walk what was written.
#include "tests/fuzz/fuzz.h"

#include "tests/unit/ext2_test_util.h"

using namespace lamina;
using namespace lamina::ext2;
using ext2_test::MallocAllocator;
using ext2_test::MemDevice;

namespace {

constexpr size_t IMAGE_SIZE = 256 * 1024;

struct FixedClock final : Clock {
    uint32_t now() override { return 1700000000; }
};

struct Log final : fs::FsLog {
    // FUZZ_VERBOSE=1 shows the file system's messages (when replaying one input).
    bool verbose = getenv("FUZZ_VERBOSE") != nullptr;
    void line(const char* text) override {
        FUZZ_CHECK(strlen(text) < 512, "a runaway log line");
        if (verbose) fprintf(stderr, "ext2: %s\n", text);
    }
};

// Every entry below `dir`, bounded so that a directory cycle on disk cannot make a hang.
void walk(FileSystem& fs, uint32_t dir, int depth, int& budget) {
    uint64_t pos = 0;
    DirEntry e;
    static uint8_t buf[16384];
    while (budget-- > 0) {
        uint64_t before = pos;
        Result<bool> r = fs.read_dir(dir, &pos, &e);
        if (!r.is_ok() || !r.value()) return;
        FUZZ_CHECK(pos > before, "read_dir did not move forward");
        FUZZ_CHECK(e.name_len >= 1 && strlen(e.name) == e.name_len, "a malformed entry name");
        Result<Stat> st = fs.stat(e.ino);
        if (!st.is_ok()) continue;
        uint16_t type = st.value().mode & MODE_IFMT;
        if (type == MODE_IFREG) {
            for (uint64_t off = 0; off < st.value().size && off < 4 * sizeof buf; off += sizeof buf)
                if (!fs.read(e.ino, off, buf, sizeof buf).is_ok()) break;
        } else if (type == MODE_IFLNK) {
            char target[MAX_PATH_LEN];
            Result<size_t> n = fs.readlink(e.ino, target, sizeof target);
            if (n.is_ok()) FUZZ_CHECK(n.value() <= sizeof target, "readlink overran");
            (void)fs.resolve(dir, e.name, e.name_len, true);
        } else if (type == MODE_IFDIR && depth < 6 && strcmp(e.name, ".") != 0 && strcmp(e.name, "..") != 0) {
            walk(fs, e.ino, depth + 1, budget);
        }
        (void)fs.lookup(dir, e.name, e.name_len);
    }
}

void change(FileSystem& fs) {
    uint32_t root = fs.root();
    static uint8_t data[5000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = uint8_t(i * 7);
    Result<uint32_t> f = fs.create(root, "new", 3, MODE_IFREG | 0644, 0, 0);
    if (f.is_ok()) {
        (void)fs.write(f.value(), 0, data, sizeof data);
        (void)fs.write(f.value(), 70000, data, 100);  // through an indirect block
        (void)fs.truncate(f.value(), 3000);
        (void)fs.fsync(f.value());
    }
    Result<uint32_t> d = fs.mkdir(root, "newdir", 6, 0755, 0, 0);
    if (d.is_ok()) {
        (void)fs.symlink(d.value(), "s", 1, "../new", 6, 0, 0);
        if (f.is_ok()) (void)fs.link(d.value(), "hard", 4, f.value());
        (void)fs.rename(root, "new", 3, d.value(), "moved", 5);
    }
    // Changes to what the image already had.
    Result<uint32_t> a = fs.resolve(root, "/a.txt", 6, true);
    if (a.is_ok()) {
        (void)fs.write(a.value(), 2, data, 2000);
        SetAttr attr{SetAttr::MODE | SetAttr::MTIME, 0600, 0, 0, 0, 5};
        (void)fs.setattr(a.value(), attr);
    }
    (void)fs.unlink(root, "a.txt", 5);
    (void)fs.rename(root, "dir", 3, root, "dir2", 4);
    Result<uint32_t> sub = fs.resolve(root, "dir2/sub", 8, true);
    if (sub.is_ok()) (void)fs.rmdir(sub.value(), "..", 2);  // refused, whatever the image says
    (void)fs.rmdir(root, "lost+found", 10);
    (void)fs.sync();
}

void check_freed(const MallocAllocator& alloc) {
    FUZZ_CHECK(alloc.live_count == 0, "%zu allocations (%zu bytes) outlive the mount", alloc.live_count,
               alloc.live_bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    uint8_t flags = data[0];
    MemDevice dev{std::vector<uint8_t>(IMAGE_SIZE)};
    memcpy(dev.bytes.data(), data + 1, size - 1 < IMAGE_SIZE ? size - 1 : IMAGE_SIZE);
    MallocAllocator alloc;
    FixedClock clock;
    Log log;
    MountOptions opts;
    opts.read_only = flags & 1;
    opts.after_fault = flags & 2;
    const uint32_t caches[] = {64, 8, 16, 200};
    opts.cache_buffers = caches[(flags >> 2) & 3];
    {
        Result<FsOwner> m = FileSystem::mount(dev, alloc, clock, &log, opts);
        if (!m.is_ok()) {
            if (log.verbose) fprintf(stderr, "mount refused: %s\n", m.error().name());
            check_freed(alloc);
            return 0;
        }
        FsOwner fs = m.release_value();
        int budget = 300;
        walk(*fs, fs->root(), 0, budget);
        bool writable = !fs->read_only();
        if (log.verbose) fprintf(stderr, "mounted %s, %d entries left to walk\n", writable ? "rw" : "ro", budget);
        if (writable) change(*fs);
        (void)FileSystem::unmount(fs);
        check_freed(alloc);
        if (!writable) return 0;
    }
    // What the read-write mount left behind must mount (or be refused) and walk again.
    opts.after_fault = false;
    Result<FsOwner> again = FileSystem::mount(dev, alloc, clock, &log, opts);
    if (again.is_ok()) {
        int budget = 300;
        walk(*again.value(), again.value()->root(), 0, budget);
        (void)FileSystem::unmount(again.value());
    }
    check_freed(alloc);
    return 0;
}
