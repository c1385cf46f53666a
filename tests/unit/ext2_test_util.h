// Helpers shared by the ext2 and GPT host tests: memory-backed block devices, a malloc
// allocator, a log collector, temporary directories, and running e2fsprogs.
#pragma once

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "domains/fs/block_device.h"
#include "domains/fs/ext2/ext2.h"

namespace ext2_test {

using lamina::Errno;
using lamina::Result;

// An image held in memory; sectors past the end are refused like a real device would.
class MemDevice final : public lamina::fs::BlockDevice {
public:
    std::vector<uint8_t> bytes;
    uint64_t writes = 0;

    MemDevice() = default;
    explicit MemDevice(std::vector<uint8_t> b) : bytes(std::move(b)) {}
    static MemDevice load(const std::string& path) {
        std::ifstream f(path, std::ios::binary);
        return MemDevice(std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {}));
    }
    void save(const std::string& path) const {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    uint64_t sector_count() const override { return bytes.size() / 512; }
    Result<void> read_sectors(uint64_t lba, uint32_t count, void* buf) override {
        if (lba > sector_count() || count > sector_count() - lba) return Errno::Inval;
        memcpy(buf, bytes.data() + lba * 512, size_t{count} * 512);
        return {};
    }
    Result<void> write_sectors(uint64_t lba, uint32_t count, const void* buf) override {
        if (lba > sector_count() || count > sector_count() - lba) return Errno::Inval;
        memcpy(bytes.data() + lba * 512, buf, size_t{count} * 512);
        writes++;
        return {};
    }
    Result<void> flush() override { return {}; }
};

// Every allocation is a separate malloc, so ASan sees any overrun; counts what is live.
class MallocAllocator final : public lamina::ext2::Allocator {
public:
    size_t live_bytes = 0;
    size_t live_count = 0;
    void* allocate(size_t size, size_t align) override {
        void* p = nullptr;
        if (posix_memalign(&p, align < sizeof(void*) ? sizeof(void*) : align, size)) return nullptr;
        live_bytes += size;
        live_count++;
        return p;
    }
    void release(void* p, size_t size) override {
        live_bytes -= size;
        live_count--;
        free(p);
    }
};

class WallClock final : public lamina::ext2::Clock {
public:
    uint32_t now() override { return static_cast<uint32_t>(time(nullptr)); }
};

class CollectLog final : public lamina::fs::FsLog {
public:
    std::vector<std::string> lines;
    bool echo = false;
    void line(const char* text) override {
        lines.emplace_back(text);
        if (echo) fprintf(stderr, "  log: %s\n", text);
    }
    bool contains(const std::string& s) const {
        for (auto& l : lines)
            if (l.find(s) != std::string::npos) return true;
        return false;
    }
    std::string all() const {
        std::string s;
        for (auto& l : lines) s += l + "\n";
        return s;
    }
};

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/lamina-ext2-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() {
        std::string cmd = "rm -rf '" + path + "'";
        if (system(cmd.c_str())) {
        }
    }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

struct CommandResult {
    int status;
    std::string output;
};

// Runs a shell command, capturing stdout and stderr.
inline CommandResult run(const std::string& cmd) {
    std::string full = cmd + " 2>&1";
    FILE* p = popen(full.c_str(), "r");
    CommandResult r{-1, {}};
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

inline void write_file(const std::string& path, const std::string& content) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << content;
}

// Deterministic content: byte i of a file with this seed.
inline std::string pattern(size_t size, uint32_t seed) {
    std::string s(size, '\0');
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        s[i] = static_cast<char>(x >> 16);
    }
    return s;
}

// mke2fs an image of `size` (e.g. "16M") from `dir` (empty for none) into memory.
inline MemDevice make_image(const TempDir& tmp, uint32_t block_size, const std::string& size,
                            const std::string& dir = "", const std::string& extra = "") {
    std::string img = tmp / "fs.img";
    unlink(img.c_str());
    std::string cmd = "mke2fs -q -F -t ext2 -b " + std::to_string(block_size) + " " + extra + " " +
                      (dir.empty() ? "" : "-d '" + dir + "' ") + "'" + img + "' " + size;
    auto r = run(cmd);
    if (r.status != 0) {
        fprintf(stderr, "%s\n%s\n", cmd.c_str(), r.output.c_str());
        return MemDevice();
    }
    return MemDevice::load(img);
}

// e2fsck -fn on the image; returns its exit status (0: clean) and output.
inline CommandResult fsck(const TempDir& tmp, const MemDevice& dev) {
    std::string img = tmp / "check.img";
    dev.save(img);
    return run("e2fsck -fn '" + img + "'");
}

// debugfs -R 'request' on the image.
inline std::string debugfs(const TempDir& tmp, const MemDevice& dev, const std::string& request, bool save = true) {
    std::string img = tmp / "check.img";
    if (save) dev.save(img);
    std::string out_path = tmp / "debugfs.out";
    std::string cmd = "debugfs -R '" + request + "' '" + img + "' > '" + out_path + "' 2>/dev/null";
    if (system(cmd.c_str())) {
    }
    std::ifstream f(out_path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace ext2_test
