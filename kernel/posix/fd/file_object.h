// lamina:portable
// FileObject: what every kind of open file (a VFS file or directory, a device, a pipe end, the
// tty, later sockets) implements, so that the system-call layer never needs to know which kind
// a descriptor refers to.
//
// The contract:
// - Every operation receives the open file description (OpenFile) it was called through: the
//   offset and the status flags (O_APPEND, O_NONBLOCK, the access mode) live there, not in the
//   object, because dup and fork share descriptions while separate open()s do not.
//   The system-call layer has already checked the access mode (EBADF for read on an O_WRONLY
//   description and so on); objects need not check it again.
// - Data moves between the object and KERNEL buffers. The system-call layer does the
//   fault-safe user copies, and splits large transfers into chunks: it calls read/write again
//   for the next chunk only while the previous one moved everything asked for, and, for objects
//   that say is_stream() (pipes, ttys, sockets), never reads a second chunk once one returned
//   data (a stream read returns what is there; it must not block for more). A stream write does
//   continue chunk after chunk, as a blocking pipe write of many bytes does on Linux.
// - Blocking: an object whose read or write cannot proceed either sleeps (kernel-side objects
//   may; portable state machines return a "would block" status to a kernel wrapper that
//   sleeps), or, when the description is O_NONBLOCK, fails with Errno::Again. A sleep that a
//   signal interrupts fails with Errno::Intr (the system-call layer turns that into a partial
//   count when some chunk already moved data, or into EINTR/restart otherwise).
// - Defaults give Linux's errno for an operation a kind of file does not support: read/write
//   EINVAL, pread/pwrite/lseek ESPIPE, getdents64 ENOTDIR, ioctl ENOTTY, truncate EINVAL,
//   fsync EINVAL; stat reports an anonymous object; poll says "always ready" (Linux's
//   DEFAULT_POLLMASK, which is what regular files answer).
// - ioctl receives the raw user argument and a UserIo through which it copies from and to the
//   caller's memory (fault-safe in the kernel, plain memory in host tests); commands whose
//   argument is a value rather than a pointer just use `arg`.
// - poll: poll() reports the current readiness as Linux POLL* bits. An object whose readiness
//   can change exposes a PollQueue (poll_queue()) and calls PollQueue::notify() whenever it
//   may have become ready (data arrived, space freed, the other end closed). poll/select
//   subscribe to every queue first, then check poll(), then sleep until a notify: no wakeup is
//   lost and portable code never touches the scheduler.
// - Lifetime: the object lives as long as a description refers to it; its destructor is the
//   "last close" (pipe ends drop their reader/writer counts there, tmpfs frees unlinked files).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/ref_ptr.h>
#include <lamina/result.h>

#include <lamina/intrusive_list.h>
#include "kernel/posix/irq_spinlock.h"
#include "kernel/posix/vfs/inode.h"

namespace lamina::posix {

class OpenFile;
struct Location;
namespace net {
class Socket;
}

// poll(2) event bits (Linux values).
namespace pollev {
inline constexpr uint32_t In = 0x001, Pri = 0x002, Out = 0x004, Err = 0x008, Hup = 0x010, Nval = 0x020, RdNorm = 0x040,
                          RdBand = 0x080, WrNorm = 0x100, WrBand = 0x200, RdHup = 0x2000;
// What an object that never blocks answers (Linux's DEFAULT_POLLMASK).
inline constexpr uint32_t AlwaysReady = In | Out | RdNorm | WrNorm;
}  // namespace pollev

// The caller's memory, for ioctl arguments that are pointers.
class UserIo {
public:
    virtual Result<void> copy_in(void* dst, uint64_t user_src, size_t n) = 0;
    virtual Result<void> copy_out(uint64_t user_dst, const void* src, size_t n) = 0;

protected:
    ~UserIo() = default;
};

// What a poll/select caller sleeps on (the kernel's implementation wakes its thread). wake()
// runs under a PollQueue's lock, possibly in interrupt context: it must not sleep and may only
// take locks that come after every PollQueue lock (the scheduler's wait-queue locks).
class PollWaker {
public:
    virtual void wake() = 0;

protected:
    ~PollWaker() = default;
};

// One subscription of a poll call to one object's queue (a poll over n descriptors uses n).
struct PollEntry {
    ListNode link;
    PollWaker* waker = nullptr;
    class PollQueue* queue = nullptr;
};

// The subscribers waiting for an object's readiness to change. Lock order: a PollQueue's lock
// is taken after the owning object's own locks and before the scheduler's.
class PollQueue {
public:
    PollQueue() = default;
    PollQueue(const PollQueue&) = delete;
    PollQueue& operator=(const PollQueue&) = delete;

    void subscribe(PollEntry& e, PollWaker& w) {
        uint64_t f = lock_.lock();
        e.waker = &w;
        e.queue = this;
        if (!e.link.linked) subscribers_.push_back(&e.link);
        lock_.unlock(f);
    }
    void unsubscribe(PollEntry& e) {
        uint64_t f = lock_.lock();
        subscribers_.remove(&e.link);
        e.queue = nullptr;
        lock_.unlock(f);
    }
    // Wakes every subscriber (they stay subscribed until their poll call unsubscribes).
    void notify() {
        uint64_t f = lock_.lock();
        for (ListNode* n = subscribers_.front(); n; n = n->next) {
            PollEntry* e =
                reinterpret_cast<PollEntry*>(reinterpret_cast<char*>(n) - __builtin_offsetof(PollEntry, link));
            e->waker->wake();
        }
        lock_.unlock(f);
    }
    size_t subscribers() const { return subscribers_.size_relaxed(); }

private:
    IrqSpinlock lock_;
    ListChain subscribers_;
};

class FileObject : public RefCounted {
public:
    // Data at the description's offset (and advancing it, for seekable objects).
    virtual Result<size_t> read(OpenFile&, void* /*dst*/, size_t /*n*/) { return Errno::Inval; }
    virtual Result<size_t> write(OpenFile&, const void* /*src*/, size_t /*n*/) { return Errno::Inval; }
    // At an explicit offset (>= 0; the system-call layer rejects negative ones), not moving it.
    virtual Result<size_t> pread(OpenFile&, void* /*dst*/, size_t /*n*/, uint64_t /*offset*/) { return Errno::SPipe; }
    virtual Result<size_t> pwrite(OpenFile&, const void* /*src*/, size_t /*n*/, uint64_t /*offset*/) {
        return Errno::SPipe;
    }
    virtual Result<uint64_t> lseek(OpenFile&, int64_t /*offset*/, int /*whence*/) { return Errno::SPipe; }
    // struct linux_dirent64 records into buf, continuing at the description's offset.
    virtual Result<size_t> getdents64(OpenFile&, uint8_t* /*buf*/, size_t /*n*/) { return Errno::NotDir; }
    // fstat. The default describes an anonymous kernel object, as Linux's anon inodes do.
    virtual Result<void> stat(Stat& st) {
        st = Stat{};
        st.st_mode = 0600;
        st.st_nlink = 1;
        st.st_blksize = 4096;
        return {};
    }
    virtual Result<int64_t> ioctl(OpenFile&, uint32_t /*cmd*/, uint64_t /*arg*/, UserIo&) { return Errno::NotTty; }
    // Current readiness (pollev bits); see poll_queue for waiting.
    virtual uint32_t poll(OpenFile&) { return pollev::AlwaysReady; }
    virtual PollQueue* poll_queue() { return nullptr; }
    virtual Result<void> truncate(OpenFile&, int64_t /*length*/) { return Errno::Inval; }
    virtual Result<void> fsync(OpenFile&, bool /*data_only*/) { return Errno::Inval; }
    // Streams return what is there instead of filling the buffer (see the contract above).
    virtual bool is_stream() const { return false; }
    // Where in the name space the object was opened, for fchdir, fchmod, fchown, futimens,
    // the *at calls' dirfd and /proc/PID/fd; null for objects outside it (pipes).
    virtual const Location* location() const { return nullptr; }
    // The socket behind a descriptor, for the socket calls (ENOTSOCK when null).
    virtual net::Socket* socket() { return nullptr; }
    // Which kind of kernel object this is, for calls that only accept one kind (epoll_ctl's
    // epoll descriptor): the address of a tag the kind owns; null for the rest.
    virtual const void* kind() const { return nullptr; }

protected:
    FileObject() = default;
};

}  // namespace lamina::posix
