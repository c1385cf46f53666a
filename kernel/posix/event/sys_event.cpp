// eventfd, eventfd2, epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait.
#include <lamina/scope_guard.h>

#include "kernel/mm/memory.h"
#include "kernel/posix/event/epoll.h"
#include "kernel/posix/event/eventfd.h"
#include "kernel/posix/poll/poll_sleeper.h"
#include "kernel/posix/process.h"
#include "kernel/posix/process_hooks.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/time/time.h"

namespace lamina::posix {

namespace {
constexpr int EP_MAX_EVENTS = 0x7fffffff / int(sizeof(EpollEvent));
}

Result<int> sys_eventfd2(uint64_t initval, uint64_t flags) {
    if (flags > 0xffffffffu) return Errno::Inval;
    RefPtr<OpenFile> f = TRY(make_eventfd(uint32_t(initval), uint32_t(flags)));
    return fd_install(static_cast<RefPtr<OpenFile>&&>(f), flags & efd::CloExec);
}

Result<int> sys_eventfd(uint64_t initval) { return sys_eventfd2(initval, 0); }

Result<int> sys_epoll_create1(uint64_t flags) {
    if (flags & ~uint64_t(epoll::CloExec)) return Errno::Inval;
    RefPtr<OpenFile> f = TRY(make_epoll());
    return fd_install(static_cast<RefPtr<OpenFile>&&>(f), flags & epoll::CloExec);
}

Result<int> sys_epoll_create(int32_t size) {
    if (size <= 0) return Errno::Inval;
    return sys_epoll_create1(0);
}

Result<void> sys_epoll_ctl(int32_t epfd, int32_t op, int32_t fd, uint64_t uevent) {
    RefPtr<OpenFile> ep = TRY(fd_lookup(epfd));
    RefPtr<OpenFile> target = TRY(fd_lookup(fd));
    EpollEvent ev{};
    if (op != epoll::CtlDel) ev = TRY(UserPtr<EpollEvent>(uevent).read());
    return epoll_control(*ep, op, fd, static_cast<RefPtr<OpenFile>&&>(target), &ev);
}

Result<int> sys_epoll_pwait(int32_t epfd, uint64_t uevents, int32_t maxevents, int32_t timeout, uint64_t sigmask,
                            uint64_t sigsetsize) {
    if (maxevents <= 0 || maxevents > EP_MAX_EVENTS) return Errno::Inval;
    if (!user_range_ok(uevents, size_t(maxevents) * sizeof(EpollEvent))) return Errno::Fault;
    RefPtr<OpenFile> ep = TRY(fd_lookup(epfd));
    // The signal mask for the wait (epoll_pwait), restored afterwards.
    Task* p = current_task();
    uint64_t saved = p->signal_mask;
    bool swapped = false;
    if (sigmask) {
        if (sigsetsize != 8) return Errno::Inval;
        uint64_t m = TRY(UserPtr<uint64_t>(sigmask).read());
        p->signal_mask = m & ~((1ull << 8) | (1ull << 18));  // never SIGKILL, SIGSTOP
        swapped = true;
    }
    ScopeGuard restore([&] {
        if (swapped) p->signal_mask = saved;
    });
    int cap = maxevents < 256 ? maxevents : 256;
    auto* events = static_cast<EpollEvent*>(mm::kmalloc(size_t(cap) * sizeof(EpollEvent)));
    if (!events) return Errno::NoMem;
    ScopeGuard free_events([events] { mm::kfree(events); });
    uint64_t deadline = timeout < 0    ? PollSleeper::NEVER
                        : timeout == 0 ? 0
                                       : time::now_ns() + uint64_t(timeout) * 1'000'000ull;
    int n = TRY(epoll_collect(*ep, events, cap, deadline));
    TRY(copy_to_user(uevents, events, size_t(n) * sizeof(EpollEvent)));
    return n;
}

Result<int> sys_epoll_wait(int32_t epfd, uint64_t uevents, int32_t maxevents, int32_t timeout) {
    return sys_epoll_pwait(epfd, uevents, maxevents, timeout, 0, 0);
}

}  // namespace lamina::posix
