// lamina:portable
// Per-process file descriptor tables and the open file descriptions they point to.
//
// A descriptor is a slot holding a counted reference to an OpenFile (the "open file
// description": offset, status flags, the object) plus its own close-on-exec bit. dup and fork
// share OpenFiles, so they share offsets and status flags, but never FD_CLOEXEC.
//
// No locking here: the process layer holds its table lock around these calls.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/intrusive_list.h>
#include <lamina/ref_ptr.h>
#include <lamina/result.h>

#include "kernel/posix/fd/file_object.h"
#include "kernel/posix/fd/open_flags.h"

namespace lamina::posix {

class OpenFile final : public RefCounted {
public:
    static Result<RefPtr<OpenFile>> create(RefPtr<FileObject> object, uint32_t flags);
    ~OpenFile() override;

    // The epoll registrations of this description (kernel/posix/event/epoll.cpp links them
    // here); the close hook forgets them at the last close, as Linux removes a closed file
    // from every epoll set.
    ListChain watchers;
    using CloseHook = void (*)(OpenFile&);
    static void set_close_hook(CloseHook hook);
    // The description's OFD or flock locks (kernel/posix/file_locks.cpp): the unlock hook
    // releases them at the last close when this is set.
    bool holds_locks = false;
    static void set_unlock_hook(CloseHook hook);

    FileObject* object() const { return object_.get(); }
    // The status flags as F_GETFL reports them (access mode included; creation flags and
    // O_CLOEXEC, which belong to open or to the descriptor, are not kept).
    uint32_t flags() const { return flags_; }
    uint32_t access_mode() const { return flags_ & oflag::AccMode; }
    bool readable() const { return access_mode() != oflag::WriteOnly && !(flags_ & oflag::Path); }
    bool writable() const { return access_mode() != oflag::ReadOnly && !(flags_ & oflag::Path); }
    bool append() const { return flags_ & oflag::Append; }
    bool nonblocking() const { return flags_ & oflag::NonBlock; }
    // F_SETFL: only O_APPEND, O_NONBLOCK and O_ASYNC change; everything else in `flags` is
    // ignored.
    void set_status_flags(uint32_t flags);
    // F_SETOWN/F_GETOWN: the process (> 0) or process group (< 0) that O_ASYNC names. Only
    // recorded: SIGIO is not raised yet (nginx, the user, sets both on its channels and never
    // acts on the signal).
    int32_t owner = 0;

    uint64_t offset = 0;

private:
    OpenFile(RefPtr<FileObject> object, uint32_t flags);
    RefPtr<FileObject> object_;
    uint32_t flags_;
};

class FdTable final : public RefCounted {
public:
    static constexpr uint32_t DEFAULT_LIMIT = 1024;  // RLIMIT_NOFILE soft default on Linux
    static constexpr uint32_t MAX_LIMIT = 1u << 20;  // fs.nr_open default

    static Result<RefPtr<FdTable>> create(uint32_t limit = DEFAULT_LIMIT);
    ~FdTable() override;

    // The lowest free descriptor >= min_fd (EMFILE when none is below the limit).
    Result<int> install(RefPtr<OpenFile> file, bool cloexec, int min_fd = 0);
    Result<RefPtr<OpenFile>> get(int fd) const;
    Result<void> close(int fd);

    Result<int> dup(int fd);
    Result<int> dup2(int oldfd, int newfd);
    Result<int> dup3(int oldfd, int newfd, uint32_t flags);
    // F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETOWN, F_SETOWN; others
    // are EINVAL.
    Result<int> fcntl(int fd, int cmd, uint64_t arg);

    // Called with each description a descriptor lets go of (close, dup2 or dup3 over it,
    // close-on-exec), before the reference drops: POSIX record locks go at any close of the
    // file by the process (kernel/posix/file_locks.cpp).
    using DropHook = void (*)(OpenFile&);
    static void set_drop_hook(DropHook hook);

    // execve: closes every descriptor marked close-on-exec.
    void close_on_exec();
    // fork: a new table whose descriptors share this one's descriptions (and their offsets).
    Result<RefPtr<FdTable>> fork() const;

    // setrlimit(RLIMIT_NOFILE): descriptors already above a lowered limit stay open, as on Linux.
    Result<void> set_limit(uint64_t limit);
    uint32_t limit() const { return limit_; }
    // How many descriptors are open.
    uint32_t count() const;
    bool is_open(int fd) const { return fd >= 0 && uint32_t(fd) < capacity_ && slots_[fd].file; }
    // Calls f(OpenFile&) for each open descriptor (umount looks for files inside a mount).
    template <typename F>
    void for_each_open(F&& f) const {
        for (uint32_t fd = 0; fd < capacity_; fd++)
            if (slots_[fd].file) f(*slots_[fd].file);
    }

private:
    struct Slot {
        RefPtr<OpenFile> file;
        bool cloexec = false;
    };

    explicit FdTable(uint32_t limit) : limit_(limit) {}
    Result<void> grow_to(uint32_t n);
    Result<int> install_at(int fd, RefPtr<OpenFile> file, bool cloexec);
    Result<int> dup_to(int oldfd, int newfd, bool cloexec);

    uint32_t limit_;
    uint32_t capacity_ = 0;
    Slot* slots_ = nullptr;
};

}  // namespace lamina::posix
