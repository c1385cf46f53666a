// lamina:portable
#include "kernel/posix/event/eventfd.h"

#include <new>

#include "kernel/posix/fd/waiting.h"

namespace lamina::posix {

// Runs attempt() (under the lock; it returns Errno::Again when it cannot proceed) until it
// succeeds, sleeping between tries unless the description is nonblocking.
template <typename Try>
Result<size_t> EventFd::until(OpenFile& f, Try&& attempt) {
    for (;;) {
        uint64_t seen = __atomic_load_n(&generation_, __ATOMIC_ACQUIRE);
        uint64_t flags = lock_.lock();
        Result<size_t> r = attempt();
        bool moved = r.is_ok();
        if (moved) __atomic_add_fetch(&generation_, 1, __ATOMIC_RELEASE);
        lock_.unlock(flags);
        if (moved) {
            queue_.notify();
            return r;
        }
        if (r.error().code() != Errno::Again || f.nonblocking()) return r;
        struct Changed final : WaitCondition {
            EventFd* e;
            uint64_t seen;
            Changed(EventFd* e, uint64_t s) : e(e), seen(s) {}
            bool satisfied() override { return __atomic_load_n(&e->generation_, __ATOMIC_ACQUIRE) != seen; }
        } cond(this, seen);
        TRY(wait_on(queue_, cond));
    }
}

Result<size_t> EventFd::read(OpenFile& f, void* dst, size_t n) {
    if (n < sizeof(uint64_t)) return Errno::Inval;
    return until(f, [&]() -> Result<size_t> {
        if (count_ == 0) return Errno::Again;
        uint64_t v = semaphore_ ? 1 : count_;
        count_ -= v;
        __builtin_memcpy(dst, &v, sizeof v);
        return sizeof v;
    });
}

Result<size_t> EventFd::write(OpenFile& f, const void* src, size_t n) {
    if (n < sizeof(uint64_t)) return Errno::Inval;
    uint64_t v;
    __builtin_memcpy(&v, src, sizeof v);
    if (v == ~uint64_t(0)) return Errno::Inval;
    return until(f, [&]() -> Result<size_t> {
        if (MAX - count_ < v) return Errno::Again;
        count_ += v;
        return sizeof v;
    });
}

uint32_t EventFd::poll(OpenFile&) {
    uint64_t flags = lock_.lock();
    uint64_t c = count_;
    lock_.unlock(flags);
    uint32_t ev = 0;
    if (c > 0) ev |= pollev::In | pollev::RdNorm;
    if (c < MAX) ev |= pollev::Out | pollev::WrNorm;
    return ev;
}

Result<RefPtr<OpenFile>> make_eventfd(uint32_t initial, uint32_t flags) {
    if (flags & ~(efd::Semaphore | efd::CloExec | efd::NonBlock)) return Errno::Inval;
    RefPtr<FileObject> e = TRY(make_ref<EventFd>(uint64_t(initial), bool(flags & efd::Semaphore)));
    return OpenFile::create(static_cast<RefPtr<FileObject>&&>(e), oflag::ReadWrite | (flags & efd::NonBlock));
}

}  // namespace lamina::posix
