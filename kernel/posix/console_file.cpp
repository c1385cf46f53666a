#include "kernel/posix/console_file.h"

#include <new>

#include "kernel/dev/serial.h"
#include "kernel/posix/fs/devices.h"
#include "kernel/sched/thread.h"

namespace lamina::posix {

namespace {

class ConsoleFile final : public DeviceFile {
public:
    ConsoleFile(Location loc, uint32_t rdev) : DeviceFile(static_cast<Location&&>(loc)), rdev_(rdev) {}

    Result<size_t> read(OpenFile& f, void* dst, size_t n) override {
        if (n == 0) return size_t(0);
        auto* out = static_cast<char*>(dst);
        size_t done = 0;
        for (;;) {
            int c = serial::read_byte();
            if (c < 0) {
                if (f.nonblocking() && done == 0) return Errno::Again;
                sched::sleep_ns(5'000'000);
                continue;
            }
            char ch = c == '\r' ? '\n' : char(c);
            serial::write(ch == '\n' ? "\r\n" : &ch, ch == '\n' ? 2 : 1);
            out[done++] = ch;
            if (ch == '\n' || done == n) return done;
        }
    }
    Result<size_t> write(OpenFile&, const void* src, size_t n) override {
        serial::write(static_cast<const char*>(src), n);
        return n;
    }
    Result<int64_t> ioctl(OpenFile&, uint32_t cmd, uint64_t arg, UserIo& io) override {
        constexpr uint32_t TIOCGWINSZ = 0x5413;
        if (cmd == TIOCGWINSZ) {
            uint16_t ws[4] = {0, 0, 0, 0};
            TRY(io.copy_out(arg, ws, sizeof ws));
            return int64_t(0);
        }
        return Errno::NotTty;
    }
    Result<void> stat(Stat& st) override {
        if (location()) return DeviceFile::stat(st);
        // fds 0-2 of init, opened before any node: describe the console itself.
        st = Stat{};
        st.st_mode = mode::Char | 0600;
        st.st_rdev = rdev_;
        st.st_nlink = 1;
        st.st_blksize = 1024;
        return {};
    }
    Result<void> fsync(OpenFile&, bool) override { return {}; }
    bool is_stream() const override { return true; }

private:
    uint32_t rdev_;
};

}  // namespace

Result<RefPtr<FileObject>> open_console(uint32_t rdev, const Location& loc, uint32_t) {
    auto* c = new (std::nothrow) ConsoleFile(Location(loc), rdev);
    if (!c) return Errno::NoMem;
    return RefPtr<FileObject>(c);
}

}  // namespace lamina::posix
