// System calls on descriptors: read, write, pread64, pwrite64, readv, writev, lseek, close,
// dup, dup2, dup3, fcntl, ioctl, fstat, getdents64, ftruncate, fsync, fdatasync, sendfile,
// fchmod, fchown, fchdir.
//
// Contract: every user buffer is copied through user_access.h, in chunks of at most kChunk
// bytes through one kernel buffer (EFAULT when nothing could be moved, otherwise the count so
// far, as Linux returns for a fault after partial progress). The chunk rules of
// kernel/posix/fd/file_object.h apply: the next chunk only after a whole one, and no second
// read chunk from a stream. Counts are clamped to Linux's MAX_RW_COUNT; a negative count (as
// ssize_t) is EINVAL; negative offsets of pread/pwrite are EINVAL. Access modes are checked
// here (EBADF for reading an O_WRONLY description, writing an O_RDONLY one, or any I/O on an
// O_PATH one); the object does the rest.
#include <new>

#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/files.h"
#include "kernel/posix/process.h"
#include "kernel/posix/sys_file_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/posix/vfs/ops.h"
#include "kernel/posix/vfs/vnode_file.h"

namespace lamina::posix {

namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr uint64_t kMaxRw = 0x7ffff000;
constexpr int64_t err(Errno e) { return -int64_t(e); }
int64_t err(const Error& e) { return -int64_t(e.code()); }

struct KernelBuffer {
    explicit KernelBuffer(size_t n) : size(n < kChunk ? (n ? n : 1) : kChunk), data(static_cast<uint8_t*>(mm::kmalloc(size))) {}
    ~KernelBuffer() { mm::kfree(data); }
    size_t size;
    uint8_t* data;
};

class KernelUserIo final : public UserIo {
public:
    Result<void> copy_in(void* dst, uint64_t user_src, size_t n) override { return copy_from_user(dst, user_src, n); }
    Result<void> copy_out(uint64_t user_dst, const void* src, size_t n) override { return copy_to_user(user_dst, src, n); }
};

// A partial transfer wins over a later error, as on Linux.
int64_t finish(uint64_t done, const Error& e) { return done ? int64_t(done) : err(e); }

// Reads into user memory at `buf`; offset < 0 reads at (and moves) the description's offset.
int64_t do_read(OpenFile& f, uint64_t buf, uint64_t count, int64_t offset) {
    if (!f.readable()) return err(Errno::BadF);
    if (count > kMaxRw) count = kMaxRw;
    if (count == 0) {
        // A zero-length read still reports errors such as EISDIR.
        uint8_t none;
        auto r = offset < 0 ? f.object()->read(f, &none, 0) : f.object()->pread(f, &none, 0, uint64_t(offset));
        return r.is_error() ? err(r.error()) : 0;
    }
    if (!user_range_ok(buf, count)) return err(Errno::Fault);
    KernelBuffer kb(count);
    if (!kb.data) return err(Errno::NoMem);
    FileObject& o = *f.object();
    uint64_t done = 0;
    while (done < count) {
        size_t want = count - done < kb.size ? size_t(count - done) : kb.size;
        auto r = offset < 0 ? o.read(f, kb.data, want) : o.pread(f, kb.data, want, uint64_t(offset) + done);
        if (r.is_error()) return finish(done, r.error());
        size_t got = r.value();
        if (got && copy_to_user(buf + done, kb.data, got).is_error()) {
            // Bytes that never reached the caller were not read: a seekable file's offset
            // goes back, as Linux's only advances by what was copied.
            if (offset < 0 && !o.is_stream()) f.offset -= got;
            return finish(done, Errno::Fault);
        }
        done += got;
        if (got < want || o.is_stream()) break;
    }
    return int64_t(done);
}

int64_t do_write(OpenFile& f, uint64_t buf, uint64_t count, int64_t offset) {
    if (!f.writable()) return err(Errno::BadF);
    if (count > kMaxRw) count = kMaxRw;
    if (count == 0) {
        auto r = offset < 0 ? f.object()->write(f, "", 0) : f.object()->pwrite(f, "", 0, uint64_t(offset));
        return r.is_error() ? err(r.error()) : 0;
    }
    if (!user_range_ok(buf, count)) return err(Errno::Fault);
    KernelBuffer kb(count);
    if (!kb.data) return err(Errno::NoMem);
    FileObject& o = *f.object();
    uint64_t done = 0;
    while (done < count) {
        size_t want = count - done < kb.size ? size_t(count - done) : kb.size;
        if (copy_from_user(kb.data, buf + done, want).is_error()) return finish(done, Errno::Fault);
        auto r = offset < 0 ? o.write(f, kb.data, want) : o.pwrite(f, kb.data, want, uint64_t(offset) + done);
        if (r.is_error()) return finish(done, r.error());
        done += r.value();
        if (r.value() < want) break;
    }
    return int64_t(done);
}

Result<RefPtr<OpenFile>> file(uint64_t fd) {
    if (fd > 0x7fffffff) return Errno::BadF;
    return current_process()->fds->get(int(fd));
}

// An O_PATH description allows only what does not touch the file's contents.
Result<RefPtr<OpenFile>> io_file(uint64_t fd) {
    RefPtr<OpenFile> f = TRY(file(fd));
    if (f->flags() & oflag::Path) return Errno::BadF;
    return f;
}

struct IoVec {
    uint64_t base, len;
};

int64_t do_vector(uint64_t fd, uint64_t iov, uint64_t iovcnt, int64_t offset, bool writing) {
    auto f = io_file(fd);
    if (f.is_error()) return err(f.error());
    if (iovcnt > 1024) return err(Errno::Inval);
    if (writing ? !f.value()->writable() : !f.value()->readable()) return err(Errno::BadF);
    // Check the whole vector first: a bad iovec or an overflowing total is an error before
    // any data moves, as on Linux.
    uint64_t total = 0;
    for (uint64_t i = 0; i < iovcnt; i++) {
        auto v = UserPtr<IoVec>(iov + i * sizeof(IoVec)).read();
        if (v.is_error()) return err(Errno::Fault);
        if (int64_t(v.value().len) < 0 || total + v.value().len > uint64_t(INT64_MAX)) return err(Errno::Inval);
        total += v.value().len;
    }
    uint64_t done = 0;
    for (uint64_t i = 0; i < iovcnt; i++) {
        IoVec v = UserPtr<IoVec>(iov + i * sizeof(IoVec)).read().value();
        if (v.len == 0) continue;
        int64_t at = offset < 0 ? -1 : offset + int64_t(done);
        int64_t r = writing ? do_write(*f.value(), v.base, v.len, at) : do_read(*f.value(), v.base, v.len, at);
        if (r < 0) return done ? int64_t(done) : r;
        done += uint64_t(r);
        if (uint64_t(r) < v.len) break;
        if (!writing && f.value()->object()->is_stream()) break;
    }
    return int64_t(done);
}

}  // namespace

int64_t sys_read(uint64_t fd, uint64_t buf, uint64_t count, uint64_t, uint64_t, uint64_t) {
    auto f = io_file(fd);
    if (f.is_error()) return err(f.error());
    if (int64_t(count) < 0) return err(Errno::Inval);
    return do_read(*f.value(), buf, count, -1);
}

int64_t sys_write(uint64_t fd, uint64_t buf, uint64_t count, uint64_t, uint64_t, uint64_t) {
    auto f = io_file(fd);
    if (f.is_error()) return err(f.error());
    if (int64_t(count) < 0) return err(Errno::Inval);
    return do_write(*f.value(), buf, count, -1);
}

int64_t sys_pread64(uint64_t fd, uint64_t buf, uint64_t count, uint64_t offset, uint64_t, uint64_t) {
    auto f = io_file(fd);
    if (f.is_error()) return err(f.error());
    if (int64_t(offset) < 0 || int64_t(count) < 0) return err(Errno::Inval);
    return do_read(*f.value(), buf, count, int64_t(offset));
}

int64_t sys_pwrite64(uint64_t fd, uint64_t buf, uint64_t count, uint64_t offset, uint64_t, uint64_t) {
    auto f = io_file(fd);
    if (f.is_error()) return err(f.error());
    if (int64_t(offset) < 0 || int64_t(count) < 0) return err(Errno::Inval);
    return do_write(*f.value(), buf, count, int64_t(offset));
}

int64_t sys_readv(uint64_t fd, uint64_t iov, uint64_t iovcnt, uint64_t, uint64_t, uint64_t) {
    return do_vector(fd, iov, iovcnt, -1, false);
}

int64_t sys_writev(uint64_t fd, uint64_t iov, uint64_t iovcnt, uint64_t, uint64_t, uint64_t) {
    return do_vector(fd, iov, iovcnt, -1, true);
}

int64_t sys_preadv(uint64_t fd, uint64_t iov, uint64_t iovcnt, uint64_t offset, uint64_t, uint64_t) {
    if (int64_t(offset) < 0) return err(Errno::Inval);
    return do_vector(fd, iov, iovcnt, int64_t(offset), false);
}

int64_t sys_pwritev(uint64_t fd, uint64_t iov, uint64_t iovcnt, uint64_t offset, uint64_t, uint64_t) {
    if (int64_t(offset) < 0) return err(Errno::Inval);
    return do_vector(fd, iov, iovcnt, int64_t(offset), true);
}

int64_t sys_lseek(uint64_t fd, uint64_t offset, uint64_t whence, uint64_t, uint64_t, uint64_t) {
    auto f = file(fd);
    if (f.is_error()) return err(f.error());
    if (f.value()->flags() & oflag::Path) return err(Errno::BadF);
    auto r = f.value()->object()->lseek(*f.value(), int64_t(offset), int(whence));
    return r.is_ok() ? int64_t(r.value()) : err(r.error());
}

int64_t sys_close(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (fd > 0x7fffffff) return err(Errno::BadF);
    auto r = current_process()->fds->close(int(fd));
    return r.is_ok() ? 0 : err(r.error());
}

int64_t sys_dup(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (fd > 0x7fffffff) return err(Errno::BadF);
    auto r = current_process()->fds->dup(int(fd));
    return r.is_ok() ? r.value() : err(r.error());
}

int64_t sys_dup2(uint64_t oldfd, uint64_t newfd, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (oldfd > 0x7fffffff || newfd > 0x7fffffff) return err(Errno::BadF);
    auto r = current_process()->fds->dup2(int(oldfd), int(newfd));
    return r.is_ok() ? r.value() : err(r.error());
}

int64_t sys_dup3(uint64_t oldfd, uint64_t newfd, uint64_t flags, uint64_t, uint64_t, uint64_t) {
    if (oldfd > 0x7fffffff || newfd > 0x7fffffff) return err(Errno::BadF);
    auto r = current_process()->fds->dup3(int(oldfd), int(newfd), uint32_t(flags));
    return r.is_ok() ? r.value() : err(r.error());
}

int64_t sys_fcntl(uint64_t fd, uint64_t cmd, uint64_t arg, uint64_t, uint64_t, uint64_t) {
    constexpr int F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7;
    if (fd > 0x7fffffff) return err(Errno::BadF);
    int c = int(cmd);
    if (c == F_GETLK || c == F_SETLK || c == F_SETLKW) {
        // Record locks: one process at a time uses a file here, so every lock is granted; a
        // query says the range is unlocked (l_type = F_UNLCK).
        auto f = file(fd);
        if (f.is_error()) return err(f.error());
        if (c == F_GETLK) {
            int16_t unlck = 2;
            if (copy_to_user(arg, &unlck, sizeof unlck).is_error()) return err(Errno::Fault);
        }
        return 0;
    }
    auto r = current_process()->fds->fcntl(int(fd), c, arg);
    return r.is_ok() ? r.value() : err(r.error());
}

int64_t sys_ioctl(uint64_t fd, uint64_t request, uint64_t arg, uint64_t, uint64_t, uint64_t) {
    constexpr uint32_t FIONCLEX = 0x5450, FIOCLEX = 0x5451, FIONBIO = 0x5421;
    auto f = io_file(fd);
    if (f.is_error()) return err(f.error());
    uint32_t cmd = uint32_t(request);
    FdTable& t = *current_process()->fds;
    if (cmd == FIOCLEX || cmd == FIONCLEX) {
        auto r = t.fcntl(int(fd), fcntl_cmd::SetFd, cmd == FIOCLEX ? fcntl_cmd::FdCloExec : 0);
        return r.is_ok() ? 0 : err(r.error());
    }
    if (cmd == FIONBIO) {
        auto on = UserPtr<int>(arg).read();
        if (on.is_error()) return err(Errno::Fault);
        uint32_t fl = f.value()->flags();
        f.value()->set_status_flags(on.value() ? fl | oflag::NonBlock : fl & ~oflag::NonBlock);
        return 0;
    }
    KernelUserIo io;
    auto r = f.value()->object()->ioctl(*f.value(), cmd, arg, io);
    return r.is_ok() ? r.value() : err(r.error());
}

int64_t sys_fstat(uint64_t fd, uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto f = file(fd);
    if (f.is_error()) return err(f.error());
    Stat st{};
    if (auto r = f.value()->object()->stat(st); r.is_error()) return err(r.error());
    return copy_to_user(buf, &st, sizeof st).is_ok() ? 0 : err(Errno::Fault);
}

int64_t sys_getdents64(uint64_t fd, uint64_t buf, uint64_t count, uint64_t, uint64_t, uint64_t) {
    auto f = file(fd);
    if (f.is_error()) return err(f.error());
    if (count > 0x7fffffff) count = 0x7fffffff;
    if (!user_range_ok(buf, count)) return err(Errno::Fault);
    KernelBuffer kb(count);
    if (!kb.data) return err(Errno::NoMem);
    uint64_t saved = f.value()->offset;
    auto r = f.value()->object()->getdents64(*f.value(), kb.data, count < kb.size ? size_t(count) : kb.size);
    if (r.is_error()) return err(r.error());
    if (copy_to_user(buf, kb.data, r.value()).is_error()) {
        f.value()->offset = saved;  // nothing was delivered: the entries come again next time
        return err(Errno::Fault);
    }
    return int64_t(r.value());
}

int64_t sys_ftruncate(uint64_t fd, uint64_t length, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto f = io_file(fd);
    if (f.is_error()) return err(f.error());
    if (int64_t(length) < 0) return err(Errno::Inval);
    auto r = f.value()->object()->truncate(*f.value(), int64_t(length));
    return r.is_ok() ? 0 : err(r.error());
}

int64_t sys_fsync(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto f = io_file(fd);
    if (f.is_error()) return err(f.error());
    auto r = f.value()->object()->fsync(*f.value(), false);
    return r.is_ok() ? 0 : err(r.error());
}

int64_t sys_fdatasync(uint64_t fd, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto f = io_file(fd);
    if (f.is_error()) return err(f.error());
    auto r = f.value()->object()->fsync(*f.value(), true);
    return r.is_ok() ? 0 : err(r.error());
}

int64_t sys_sendfile(uint64_t out_fd, uint64_t in_fd, uint64_t offset_ptr, uint64_t count, uint64_t, uint64_t) {
    auto in = io_file(in_fd);
    if (in.is_error()) return err(in.error());
    auto out = io_file(out_fd);
    if (out.is_error()) return err(out.error());
    if (!in.value()->readable() || !out.value()->writable()) return err(Errno::BadF);
    if (out.value()->append()) return err(Errno::Inval);  // Linux refuses O_APPEND targets
    if (int64_t(count) < 0) return err(Errno::Inval);
    if (count > kMaxRw) count = kMaxRw;
    int64_t offset = -1;
    if (offset_ptr) {
        auto o = UserPtr<int64_t>(offset_ptr).read();
        if (o.is_error()) return err(Errno::Fault);
        if (o.value() < 0) return err(Errno::Inval);
        offset = o.value();
    }
    KernelBuffer kb(count);
    if (!kb.data) return err(Errno::NoMem);
    FileObject& src = *in.value()->object();
    FileObject& dst = *out.value()->object();
    uint64_t done = 0;
    Error failure = Errno::None;
    while (done < count) {
        size_t want = count - done < kb.size ? size_t(count - done) : kb.size;
        auto r = offset < 0 ? src.read(*in.value(), kb.data, want) : src.pread(*in.value(), kb.data, want, uint64_t(offset) + done);
        if (r.is_error()) {
            failure = r.error();
            break;
        }
        if (r.value() == 0) break;
        size_t got = r.value(), put = 0;
        while (put < got) {
            auto w = dst.write(*out.value(), kb.data + put, got - put);
            if (w.is_error()) {
                failure = w.error();
                break;
            }
            put += w.value();
        }
        done += put;
        if (put < got || got < want) break;
    }
    if (offset_ptr && UserPtr<int64_t>(offset_ptr).write(offset + int64_t(done)).is_error()) return err(Errno::Fault);
    if (done == 0 && !(failure == Error(Errno::None))) return err(failure);
    return int64_t(done);
}

}  // namespace lamina::posix
