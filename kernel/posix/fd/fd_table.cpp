// lamina:portable
#include "kernel/posix/fd/fd_table.h"

#include <new>

namespace lamina::posix {

OpenFile::OpenFile(RefPtr<FileObject> object, uint32_t flags)
    : object_(static_cast<RefPtr<FileObject>&&>(object)),
      flags_(flags & ~(oflag::Creat | oflag::Excl | oflag::NoCtty | oflag::Trunc | oflag::CloExec)) {}

Result<RefPtr<OpenFile>> OpenFile::create(RefPtr<FileObject> object, uint32_t flags) {
    if ((flags & oflag::AccMode) == oflag::AccMode) return Errno::Inval;
    return adopt_ref_or_nomem(new (std::nothrow) OpenFile(static_cast<RefPtr<FileObject>&&>(object), flags));
}

namespace {
OpenFile::CloseHook g_close_hook = nullptr;
OpenFile::CloseHook g_unlock_hook = nullptr;
FdTable::DropHook g_drop_hook = nullptr;
}  // namespace

void OpenFile::set_close_hook(CloseHook hook) { g_close_hook = hook; }
void OpenFile::set_unlock_hook(CloseHook hook) { g_unlock_hook = hook; }
void FdTable::set_drop_hook(DropHook hook) { g_drop_hook = hook; }

OpenFile::~OpenFile() {
    // Registrations are made through a live reference, so none can appear now.
    if (g_close_hook && !watchers.empty()) g_close_hook(*this);
    if (g_unlock_hook && holds_locks) g_unlock_hook(*this);
}

void OpenFile::set_status_flags(uint32_t flags) {
    constexpr uint32_t changeable = oflag::Append | oflag::NonBlock | oflag::Async;
    flags_ = (flags_ & ~changeable) | (flags & changeable);
}

Result<RefPtr<FdTable>> FdTable::create(uint32_t limit) {
    if (limit == 0 || limit > MAX_LIMIT) return Errno::Inval;
    return adopt_ref_or_nomem(new (std::nothrow) FdTable(limit));
}

FdTable::~FdTable() { delete[] slots_; }

Result<void> FdTable::grow_to(uint32_t n) {
    if (n <= capacity_) return {};
    uint32_t cap = capacity_ ? capacity_ : 16;
    while (cap < n) cap *= 2;
    Slot* s = new (std::nothrow) Slot[cap];
    if (!s) return Errno::NoMem;
    for (uint32_t i = 0; i < capacity_; i++) {
        s[i].file = static_cast<RefPtr<OpenFile>&&>(slots_[i].file);
        s[i].cloexec = slots_[i].cloexec;
    }
    delete[] slots_;
    slots_ = s;
    capacity_ = cap;
    return {};
}

Result<int> FdTable::install_at(int fd, RefPtr<OpenFile> file, bool cloexec) {
    TRY(grow_to(uint32_t(fd) + 1));
    // Drop the old description only after the slot holds the new one, so a destructor that
    // looks at the table sees a consistent state.
    RefPtr<OpenFile> old = static_cast<RefPtr<OpenFile>&&>(slots_[fd].file);
    slots_[fd].file = static_cast<RefPtr<OpenFile>&&>(file);
    slots_[fd].cloexec = cloexec;
    if (old && g_drop_hook) g_drop_hook(*old);
    return fd;
}

Result<int> FdTable::install(RefPtr<OpenFile> file, bool cloexec, int min_fd) {
    if (!file) return Errno::Inval;
    if (min_fd < 0) return Errno::Inval;
    for (uint32_t fd = uint32_t(min_fd); fd < limit_; fd++) {
        if (fd >= capacity_ || !slots_[fd].file)
            return install_at(int(fd), static_cast<RefPtr<OpenFile>&&>(file), cloexec);
    }
    return Errno::MFile;
}

Result<RefPtr<OpenFile>> FdTable::get(int fd) const {
    if (!is_open(fd)) return Errno::BadF;
    return slots_[fd].file;
}

Result<void> FdTable::close(int fd) {
    if (!is_open(fd)) return Errno::BadF;
    RefPtr<OpenFile> old = static_cast<RefPtr<OpenFile>&&>(slots_[fd].file);
    slots_[fd].cloexec = false;
    if (g_drop_hook) g_drop_hook(*old);
    return {};
}

Result<int> FdTable::dup(int fd) {
    RefPtr<OpenFile> f = TRY(get(fd));
    return install(static_cast<RefPtr<OpenFile>&&>(f), false);
}

Result<int> FdTable::dup_to(int oldfd, int newfd, bool cloexec) {
    RefPtr<OpenFile> f = TRY(get(oldfd));
    if (newfd < 0 || uint32_t(newfd) >= limit_) return Errno::BadF;
    return install_at(newfd, static_cast<RefPtr<OpenFile>&&>(f), cloexec);
}

Result<int> FdTable::dup2(int oldfd, int newfd) {
    if (oldfd == newfd) {
        if (!is_open(oldfd)) return Errno::BadF;
        return newfd;
    }
    return dup_to(oldfd, newfd, false);
}

Result<int> FdTable::dup3(int oldfd, int newfd, uint32_t flags) {
    if (flags & ~oflag::CloExec) return Errno::Inval;
    if (oldfd == newfd) return Errno::Inval;
    return dup_to(oldfd, newfd, flags & oflag::CloExec);
}

Result<int> FdTable::fcntl(int fd, int cmd, uint64_t arg) {
    RefPtr<OpenFile> f = TRY(get(fd));
    switch (cmd) {
        case fcntl_cmd::DupFd:
        case fcntl_cmd::DupFdCloExec:
            // The argument is an int in the C interface; Linux checks it against the limit.
            if (int64_t(int32_t(arg)) < 0 || uint64_t(uint32_t(arg)) >= limit_) return Errno::Inval;
            return install(static_cast<RefPtr<OpenFile>&&>(f), cmd == fcntl_cmd::DupFdCloExec, int(arg));
        case fcntl_cmd::GetFd:
            return slots_[fd].cloexec ? fcntl_cmd::FdCloExec : 0;
        case fcntl_cmd::SetFd:
            slots_[fd].cloexec = arg & fcntl_cmd::FdCloExec;
            return 0;
        case fcntl_cmd::GetFl:
            return int(f->flags());
        case fcntl_cmd::SetFl:
            f->set_status_flags(uint32_t(arg));
            return 0;
        case fcntl_cmd::SetOwn:
            f->owner = int32_t(arg);
            return 0;
        case fcntl_cmd::GetOwn:
            return f->owner;
        default:
            return Errno::Inval;
    }
}

void FdTable::close_on_exec() {
    for (uint32_t fd = 0; fd < capacity_; fd++) {
        if (slots_[fd].file && slots_[fd].cloexec) (void)close(int(fd));
    }
}

Result<RefPtr<FdTable>> FdTable::fork() const {
    RefPtr<FdTable> t = TRY(create(limit_));
    // The highest open descriptor decides the copy's size.
    uint32_t n = 0;
    for (uint32_t fd = 0; fd < capacity_; fd++) {
        if (slots_[fd].file) n = fd + 1;
    }
    TRY(t->grow_to(n));
    for (uint32_t fd = 0; fd < n; fd++) {
        t->slots_[fd].file = slots_[fd].file;
        t->slots_[fd].cloexec = slots_[fd].cloexec;
    }
    return t;
}

Result<void> FdTable::set_limit(uint64_t limit) {
    if (limit == 0 || limit > MAX_LIMIT) return Errno::Inval;
    limit_ = uint32_t(limit);
    return {};
}

uint32_t FdTable::count() const {
    uint32_t n = 0;
    for (uint32_t fd = 0; fd < capacity_; fd++) n += slots_[fd].file ? 1 : 0;
    return n;
}

}  // namespace lamina::posix
