// System calls on descriptors: read, write, pread64, pwrite64, readv, writev, lseek, close,
// dup, dup2, dup3, fcntl, ioctl, fstat, getdents64, ftruncate, fsync, fdatasync, sendfile,
// fchmod, fchown, fchdir.
//
// Contract: every user buffer is copied through user_access.h, in chunks of at most CHUNK
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
#include "kernel/posix/file_locks.h"
#include "kernel/posix/process.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/posix/vfs/ops.h"
#include "kernel/posix/vfs/vnode_file.h"
#include "kernel/posix/exec_cache.h"

namespace lamina::posix {

namespace {

constexpr size_t CHUNK = 64 * 1024;
constexpr uint64_t MAX_RW_COUNT = 0x7ffff000;

struct KernelBuffer {
    explicit KernelBuffer(size_t n)
        : size(n < CHUNK ? (n ? n : 1) : CHUNK), data(static_cast<uint8_t*>(mm::kmalloc(size))) {}
    ~KernelBuffer() { mm::kfree(data); }
    size_t size;
    uint8_t* data;
};

class KernelUserIo final : public UserIo {
public:
    Result<void> copy_in(void* dst, uint64_t user_src, size_t n) override { return copy_from_user(dst, user_src, n); }
    Result<void> copy_out(uint64_t user_dst, const void* src, size_t n) override {
        return copy_to_user(user_dst, src, n);
    }
};

// A partial transfer wins over a later error, as on Linux.
SyscallResult finish(uint64_t done, const Error& e) {
    if (done) return int64_t(done);
    return e;
}

// Reads into user memory at `buf`; offset < 0 reads at (and moves) the description's offset.
SyscallResult do_read(OpenFile& f, uint64_t buf, uint64_t count, int64_t offset) {
    if (!f.readable()) return Errno::BadF;
    if (count > MAX_RW_COUNT) count = MAX_RW_COUNT;
    if (count == 0) {
        // A zero-length read still reports errors such as EISDIR.
        uint8_t none;
        TRY(offset < 0 ? f.object()->read(f, &none, 0) : f.object()->pread(f, &none, 0, uint64_t(offset)));
        return 0;
    }
    if (!user_range_ok(buf, count)) return Errno::Fault;
    KernelBuffer kb(count);
    if (!kb.data) return Errno::NoMem;
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

SyscallResult do_write(OpenFile& f, uint64_t buf, uint64_t count, int64_t offset) {
    if (!f.writable()) return Errno::BadF;
    if (count > MAX_RW_COUNT) count = MAX_RW_COUNT;
    if (count == 0) {
        TRY(offset < 0 ? f.object()->write(f, "", 0) : f.object()->pwrite(f, "", 0, uint64_t(offset)));
        return 0;
    }
    if (!user_range_ok(buf, count)) return Errno::Fault;
    KernelBuffer kb(count);
    if (!kb.data) return Errno::NoMem;
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

// A small writev goes to the file as one write, as Linux's does: a pipe gets it atomically
// (PIPE_BUF), and a terminal's echo cannot land between musl's buffered text and its newline.
constexpr uint64_t ATOMIC_WRITEV_MAX = 4096;

SyscallResult write_gathered(OpenFile& f, uint64_t iov, uint64_t iovcnt, uint64_t total, int64_t offset) {
    KernelBuffer kb(total);
    if (!kb.data) return Errno::NoMem;
    uint64_t gathered = 0;
    for (uint64_t i = 0; i < iovcnt; i++) {
        IoVec v = UserPtr<IoVec>(iov + i * sizeof(IoVec)).read().value();
        if (v.len && copy_from_user(kb.data + gathered, v.base, v.len).is_error()) {
            if (gathered == 0) return Errno::Fault;
            break;  // what came before the bad vector is still written, as on Linux
        }
        gathered += v.len;
    }
    if (gathered == 0) return 0;
    FileObject& o = *f.object();
    auto r = offset < 0 ? o.write(f, kb.data, gathered) : o.pwrite(f, kb.data, gathered, uint64_t(offset));
    if (r.is_error()) return r.error();
    return int64_t(r.value());
}

SyscallResult do_vector(uint64_t fd, uint64_t iov, uint64_t iovcnt, int64_t offset, bool writing) {
    auto f = TRY(io_file(fd));
    if (iovcnt > 1024) return Errno::Inval;
    if (writing ? !f->writable() : !f->readable()) return Errno::BadF;
    // Check the whole vector first: a bad iovec or an overflowing total is an error before
    // any data moves, as on Linux.
    uint64_t total = 0;
    for (uint64_t i = 0; i < iovcnt; i++) {
        auto v = UserPtr<IoVec>(iov + i * sizeof(IoVec)).read();
        if (v.is_error()) return Errno::Fault;
        if (int64_t(v.value().len) < 0 || total + v.value().len > uint64_t(INT64_MAX)) return Errno::Inval;
        total += v.value().len;
    }
    if (writing && iovcnt > 1 && total <= ATOMIC_WRITEV_MAX) return write_gathered(*f, iov, iovcnt, total, offset);
    uint64_t done = 0;
    for (uint64_t i = 0; i < iovcnt; i++) {
        IoVec v = UserPtr<IoVec>(iov + i * sizeof(IoVec)).read().value();
        if (v.len == 0) continue;
        int64_t at = offset < 0 ? -1 : offset + int64_t(done);
        auto r = writing ? do_write(*f, v.base, v.len, at) : do_read(*f, v.base, v.len, at);
        if (r.is_error()) return finish(done, r.error());
        done += uint64_t(r.value());
        if (uint64_t(r.value()) < v.len) break;
        if (!writing && f->object()->is_stream()) break;
    }
    return int64_t(done);
}

}  // namespace

SyscallResult sys_read(uint64_t fd, uint64_t buf, uint64_t count) {
    auto f = TRY(io_file(fd));
    if (int64_t(count) < 0) return Errno::Inval;
    return do_read(*f, buf, count, -1);
}

SyscallResult sys_write(uint64_t fd, uint64_t buf, uint64_t count) {
    auto f = TRY(io_file(fd));
    if (int64_t(count) < 0) return Errno::Inval;
    return do_write(*f, buf, count, -1);
}

SyscallResult sys_pread64(uint64_t fd, uint64_t buf, uint64_t count, uint64_t offset) {
    auto f = TRY(io_file(fd));
    if (int64_t(offset) < 0 || int64_t(count) < 0) return Errno::Inval;
    return do_read(*f, buf, count, int64_t(offset));
}

SyscallResult sys_pwrite64(uint64_t fd, uint64_t buf, uint64_t count, uint64_t offset) {
    auto f = TRY(io_file(fd));
    if (int64_t(offset) < 0 || int64_t(count) < 0) return Errno::Inval;
    return do_write(*f, buf, count, int64_t(offset));
}

SyscallResult sys_readv(uint64_t fd, uint64_t iov, uint64_t iovcnt) { return do_vector(fd, iov, iovcnt, -1, false); }

SyscallResult sys_writev(uint64_t fd, uint64_t iov, uint64_t iovcnt) { return do_vector(fd, iov, iovcnt, -1, true); }

SyscallResult sys_preadv(uint64_t fd, uint64_t iov, uint64_t iovcnt, uint64_t offset) {
    if (int64_t(offset) < 0) return Errno::Inval;
    return do_vector(fd, iov, iovcnt, int64_t(offset), false);
}

SyscallResult sys_pwritev(uint64_t fd, uint64_t iov, uint64_t iovcnt, uint64_t offset) {
    if (int64_t(offset) < 0) return Errno::Inval;
    return do_vector(fd, iov, iovcnt, int64_t(offset), true);
}

SyscallResult sys_lseek(uint64_t fd, uint64_t offset, uint64_t whence) {
    auto f = TRY(file(fd));
    if (f->flags() & oflag::Path) return Errno::BadF;
    return TRY(f->object()->lseek(*f, int64_t(offset), int(whence)));
}

SyscallResult sys_close(uint64_t fd) {
    if (fd > 0x7fffffff) return Errno::BadF;
    TRY(current_process()->fds->close(int(fd)));
    return 0;
}

SyscallResult sys_dup(uint64_t fd) {
    if (fd > 0x7fffffff) return Errno::BadF;
    return TRY(current_process()->fds->dup(int(fd)));
}

SyscallResult sys_dup2(uint64_t oldfd, uint64_t newfd) {
    if (oldfd > 0x7fffffff || newfd > 0x7fffffff) return Errno::BadF;
    return TRY(current_process()->fds->dup2(int(oldfd), int(newfd)));
}

SyscallResult sys_dup3(uint64_t oldfd, uint64_t newfd, uint64_t flags) {
    if (oldfd > 0x7fffffff || newfd > 0x7fffffff) return Errno::BadF;
    return TRY(current_process()->fds->dup3(int(oldfd), int(newfd), uint32_t(flags)));
}

SyscallResult sys_fcntl(uint64_t fd, uint64_t cmd, uint64_t arg) {
    if (fd > 0x7fffffff) return Errno::BadF;
    int c = int(cmd);
    if (is_lock_command(c)) {
        auto f = TRY(file(fd));
        TRY(fcntl_lock(*f, c, arg));
        return 0;
    }
    return TRY(current_process()->fds->fcntl(int(fd), c, arg));
}

Result<void> sys_flock(int32_t fd, int32_t operation) {
    auto f = TRY(file(uint64_t(uint32_t(fd))));
    return flock_file(*f, operation);
}

SyscallResult sys_ioctl(uint64_t fd, uint64_t request, uint64_t arg) {
    constexpr uint32_t FIONCLEX = 0x5450, FIOCLEX = 0x5451, FIONBIO = 0x5421, FIOASYNC = 0x5452;
    auto f = TRY(io_file(fd));
    uint32_t cmd = uint32_t(request);
    FdTable& t = *current_process()->fds;
    if (cmd == FIOCLEX || cmd == FIONCLEX) {
        TRY(t.fcntl(int(fd), fcntl_cmd::SetFd, cmd == FIOCLEX ? fcntl_cmd::FdCloExec : 0));
        return 0;
    }
    if (cmd == FIONBIO || cmd == FIOASYNC) {
        // The same status flags F_SETFL changes, set or cleared by an int flag.
        auto on = UserPtr<int>(arg).read();
        if (on.is_error()) return Errno::Fault;
        uint32_t bit = cmd == FIONBIO ? oflag::NonBlock : oflag::Async;
        uint32_t fl = f->flags();
        f->set_status_flags(on.value() ? fl | bit : fl & ~bit);
        return 0;
    }
    KernelUserIo io;
    return TRY(f->object()->ioctl(*f, cmd, arg, io));
}

SyscallResult sys_fstat(uint64_t fd, uint64_t buf) {
    auto f = TRY(file(fd));
    Stat st{};
    TRY(f->object()->stat(st));
    TRY(copy_to_user(buf, &st, sizeof st));
    return 0;
}

SyscallResult sys_getdents64(uint64_t fd, uint64_t buf, uint64_t count) {
    auto f = TRY(file(fd));
    if (count > 0x7fffffff) count = 0x7fffffff;
    if (!user_range_ok(buf, count)) return Errno::Fault;
    KernelBuffer kb(count);
    if (!kb.data) return Errno::NoMem;
    uint64_t saved = f->offset;
    auto r = TRY(f->object()->getdents64(*f, kb.data, count < kb.size ? size_t(count) : kb.size));
    if (copy_to_user(buf, kb.data, r).is_error()) {
        f->offset = saved;  // nothing was delivered: the entries come again next time
        return Errno::Fault;
    }
    return int64_t(r);
}

SyscallResult sys_ftruncate(uint64_t fd, uint64_t length) {
    auto f = TRY(io_file(fd));
    if (int64_t(length) < 0) return Errno::Inval;
    TRY(f->object()->truncate(*f, int64_t(length)));
    Stat st;
    if (f->object()->stat(st).is_ok()) exec_cache::forget(st.st_dev, st.st_ino);
    return 0;
}

// fallocate: what Linux does on Lamina's file systems. tmpfs takes mode 0 (the size grows to
// offset + len; its pages come at the first write, so ENOSPC may come then instead) and
// FALLOC_FL_KEEP_SIZE (nothing to do); ext2 and ext3 without extents, like every other mode
// here (punching holes, collapsing, zeroing ranges), EOPNOTSUPP. EINVAL for a negative offset
// or a length <= 0, EBADF unless open for writing, ESPIPE for a pipe, EISDIR, ENODEV for the
// rest that is not a regular file, EFBIG past the largest file.
Result<void> sys_fallocate(int32_t fd, int32_t mode, int64_t offset, int64_t len) {
    constexpr int32_t FALLOC_FL_KEEP_SIZE = 1;
    constexpr uint32_t TMPFS_MAGIC = 0x01021994;
    auto f = TRY(io_file(uint64_t(uint32_t(fd))));
    if (offset < 0 || len <= 0) return Errno::Inval;
    if (!f->writable()) return Errno::BadF;
    Stat st{};
    TRY(f->object()->stat(st));
    if ((st.st_mode & mode::TypeMask) == mode::Fifo) return Errno::SPipe;
    if (is_dir(st.st_mode)) return Errno::IsDir;
    if (!is_regular(st.st_mode)) return Errno::NoDev;
    int64_t end;
    if (__builtin_add_overflow(offset, len, &end)) return Errno::FBig;
    const Location* loc = f->object()->location();
    StatFs fs{};
    if (!loc || loc->inode->statfs(fs).is_error() || fs.f_type != TMPFS_MAGIC) return Errno::NotSup;
    if (mode == FALLOC_FL_KEEP_SIZE) return {};
    if (mode != 0) return Errno::NotSup;
    if (uint64_t(end) > uint64_t(st.st_size)) TRY(f->object()->truncate(*f, end));
    return {};
}

SyscallResult sys_fsync(uint64_t fd) {
    auto f = TRY(io_file(fd));
    TRY(f->object()->fsync(*f, false));
    return 0;
}

SyscallResult sys_fdatasync(uint64_t fd) {
    auto f = TRY(io_file(fd));
    TRY(f->object()->fsync(*f, true));
    return 0;
}

SyscallResult sys_sendfile(uint64_t out_fd, uint64_t in_fd, uint64_t offset_ptr, uint64_t count) {
    auto in = TRY(io_file(in_fd));
    auto out = TRY(io_file(out_fd));
    if (!in->readable() || !out->writable()) return Errno::BadF;
    if (out->append()) return Errno::Inval;  // Linux refuses O_APPEND targets
    if (int64_t(count) < 0) return Errno::Inval;
    if (count > MAX_RW_COUNT) count = MAX_RW_COUNT;
    int64_t offset = -1;
    if (offset_ptr) {
        auto o = UserPtr<int64_t>(offset_ptr).read();
        if (o.is_error()) return Errno::Fault;
        if (o.value() < 0) return Errno::Inval;
        offset = o.value();
    }
    KernelBuffer kb(count);
    if (!kb.data) return Errno::NoMem;
    FileObject& src = *in->object();
    FileObject& dst = *out->object();
    uint64_t done = 0;
    Error failure = Errno::None;
    while (done < count) {
        size_t want = count - done < kb.size ? size_t(count - done) : kb.size;
        auto r = offset < 0 ? src.read(*in, kb.data, want) : src.pread(*in, kb.data, want, uint64_t(offset) + done);
        if (r.is_error()) {
            failure = r.error();
            break;
        }
        if (r.value() == 0) break;
        size_t got = r.value(), put = 0;
        while (put < got) {
            auto w = dst.write(*out, kb.data + put, got - put);
            if (w.is_error()) {
                failure = w.error();
                break;
            }
            put += w.value();
        }
        done += put;
        if (put < got || got < want) break;
    }
    if (offset_ptr && UserPtr<int64_t>(offset_ptr).write(offset + int64_t(done)).is_error()) return Errno::Fault;
    if (done == 0 && !(failure == Error(Errno::None))) return failure;
    return int64_t(done);
}

}  // namespace lamina::posix
