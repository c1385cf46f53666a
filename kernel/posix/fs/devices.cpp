// lamina:portable
#include "kernel/posix/fs/devices.h"

#include <new>

namespace lamina::posix {

namespace {

// Reads and writes on the memory devices have no position, but lseek and pread are allowed
// (and do nothing), as on Linux.
class MemDevice : public DeviceFile {
public:
    using DeviceFile::DeviceFile;
    Result<uint64_t> lseek(OpenFile& f, int64_t, int) override {
        f.offset = 0;
        return uint64_t(0);
    }
    Result<size_t> pread(OpenFile& f, void* dst, size_t n, uint64_t) override { return read(f, dst, n); }
    Result<size_t> pwrite(OpenFile& f, const void* src, size_t n, uint64_t) override { return write(f, src, n); }
};

class NullDevice final : public MemDevice {
public:
    using MemDevice::MemDevice;
    Result<size_t> read(OpenFile&, void*, size_t) override { return size_t(0); }
    Result<size_t> write(OpenFile&, const void*, size_t n) override { return n; }
};

class ZeroDevice final : public MemDevice {
public:
    ZeroDevice(Location loc, bool full) : MemDevice(static_cast<Location&&>(loc)), full_(full) {}
    Result<size_t> read(OpenFile&, void* dst, size_t n) override {
        __builtin_memset(dst, 0, n);
        return n;
    }
    Result<size_t> write(OpenFile&, const void*, size_t n) override {
        if (full_) return Errno::NoSpc;
        return n;
    }

private:
    bool full_;
};

class RandomDevice final : public MemDevice {
public:
    RandomDevice(Location loc, void (*fill)(void*, size_t)) : MemDevice(static_cast<Location&&>(loc)), fill_(fill) {}
    Result<size_t> read(OpenFile&, void* dst, size_t n) override {
        if (!fill_) return Errno::IO;
        fill_(dst, n);
        return n;
    }
    // Writing mixes entropy in on Linux; here it is accepted and dropped.
    Result<size_t> write(OpenFile&, const void*, size_t n) override { return n; }

private:
    void (*fill_)(void*, size_t);
};

template <typename T, typename... Args>
Result<RefPtr<FileObject>> make(Args&&... args) {
    return TRY(make_ref<T>(static_cast<Args&&>(args)...));
}

}  // namespace

Result<RefPtr<FileObject>> DevfsOpener::open_device(uint32_t rdev, const Location& loc, uint32_t oflags) {
    switch (rdev) {
        case devno::Null:
            return make<NullDevice>(Location(loc));
        case devno::Zero:
            return make<ZeroDevice>(Location(loc), false);
        case devno::Full:
            return make<ZeroDevice>(Location(loc), true);
        case devno::Random:
        case devno::URandom:
            return make<RandomDevice>(Location(loc), hooks_.fill_random);
        case devno::Tty:
        case devno::Console:
            if (!hooks_.open_terminal) return Errno::NXIO;
            return hooks_.open_terminal(rdev, loc, oflags);
    }
    return Errno::NXIO;  // a node without a driver
}

Result<void> populate_devfs(Tmpfs& fs) {
    struct Node {
        const char* name;
        uint32_t perm;
        uint32_t rdev;
    };
    static constexpr Node nodes[] = {
        {"console", 0600, devno::Console}, {"tty", 0666, devno::Tty},   {"null", 0666, devno::Null},
        {"zero", 0666, devno::Zero},       {"full", 0666, devno::Full}, {"random", 0666, devno::Random},
        {"urandom", 0666, devno::URandom},
    };
    RefPtr<Inode> root = fs.root();
    for (const Node& n : nodes) TRY(fs.make_node(*root, n.name, mode::Char | n.perm, n.rdev));
    return {};
}

}  // namespace lamina::posix
