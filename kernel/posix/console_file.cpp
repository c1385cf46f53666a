#include "kernel/posix/console_file.h"

#include <new>

#include "kernel/posix/fs/devices.h"
#include "kernel/posix/tty/console.h"

namespace lamina::posix {

namespace {

// One open of /dev/console or /dev/tty (or init's descriptors 0-2): the name it was opened by,
// in front of the one console tty, which does all the work.
class ConsoleFile final : public DeviceFile {
public:
    ConsoleFile(Location loc, uint32_t rdev, RefPtr<FileObject> tty)
        : DeviceFile(static_cast<Location&&>(loc)), rdev_(rdev), tty_(static_cast<RefPtr<FileObject>&&>(tty)) {}

    Result<size_t> read(OpenFile& f, void* dst, size_t n) override { return tty_->read(f, dst, n); }
    Result<size_t> write(OpenFile& f, const void* src, size_t n) override { return tty_->write(f, src, n); }
    Result<int64_t> ioctl(OpenFile& f, uint32_t cmd, uint64_t arg, UserIo& io) override {
        return tty_->ioctl(f, cmd, arg, io);
    }
    uint32_t poll(OpenFile& f) override { return tty_->poll(f); }
    PollQueue* poll_queue() override { return tty_->poll_queue(); }
    Result<void> stat(Stat& st) override {
        if (location()) return DeviceFile::stat(st);
        // fds 0-2 of init, opened before any node: describe the console itself.
        TRY(tty_->stat(st));
        st.st_rdev = rdev_;
        return {};
    }
    Result<void> fsync(OpenFile&, bool) override { return {}; }
    bool is_stream() const override { return true; }

private:
    uint32_t rdev_;
    RefPtr<FileObject> tty_;
};

}  // namespace

Result<RefPtr<FileObject>> open_console(uint32_t rdev, const Location& loc, uint32_t) {
    RefPtr<FileObject> tty = console_file();
    if (!tty) return Errno::NoDev;
    return TRY(make_ref<ConsoleFile>(Location(loc), rdev, static_cast<RefPtr<FileObject>&&>(tty)));
}

}  // namespace lamina::posix
