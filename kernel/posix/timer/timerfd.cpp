// timerfd_create, timerfd_settime, timerfd_gettime: a timer as a descriptor.
//
// Contract (Linux's timerfd(2))
//   - Clocks REALTIME, MONOTONIC, BOOTTIME (others EINVAL); flags TFD_NONBLOCK, TFD_CLOEXEC.
//   - read of at least 8 bytes returns the expirations since the last read or settime as a
//     u64 and resets the count; it blocks while the count is 0 (EAGAIN when nonblocking, EINTR
//     on a signal); a shorter buffer is EINVAL. Readable (poll, select, epoll) while the
//     count is above 0.
//   - settime: TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET accepted (the realtime clock is never
//     set, so there is nothing to cancel on); other flags EINVAL; it clears the count. gettime
//     gives the time left and the interval. A descriptor that is not a timerfd is EINVAL.
#include "kernel/posix/clocks.h"
#include "kernel/posix/fd/waiting.h"
#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/process_hooks.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/timer/interval_timer.h"
#include "kernel/posix/user_access.h"

namespace lamina::posix {

namespace {

constexpr int32_t TFD_CLOEXEC = 02000000, TFD_NONBLOCK = 04000;
constexpr int32_t TFD_TIMER_ABSTIME = 1, TFD_TIMER_CANCEL_ON_SET = 2;
const char TIMERFD_KIND = 0;

class TimerFd final : public FileObject, public IntervalTimer {
public:
    explicit TimerFd(int32_t clk) { init(clk, expired); }
    ~TimerFd() { stop(); }  // before the count and queue the callback touches go

    Result<size_t> read(OpenFile& f, void* dst, size_t n) override;
    uint32_t poll(OpenFile&) override { return ticks() ? pollev::In | pollev::RdNorm : 0; }
    PollQueue* poll_queue() override { return &queue_; }
    bool is_stream() const override { return true; }
    const void* kind() const override { return &TIMERFD_KIND; }

    void clear() { __atomic_store_n(&ticks_, 0, __ATOMIC_RELEASE); }

private:
    uint64_t ticks() const { return __atomic_load_n(&ticks_, __ATOMIC_ACQUIRE); }
    static void expired(IntervalTimer& it, uint64_t expirations) {
        auto& t = static_cast<TimerFd&>(it);
        __atomic_add_fetch(&t.ticks_, expirations, __ATOMIC_ACQ_REL);
        t.queue_.notify();
    }

    uint64_t ticks_ = 0;  // expirations not read yet (atomic: the callback adds, read takes)
    PollQueue queue_;
};

Result<size_t> TimerFd::read(OpenFile& f, void* dst, size_t n) {
    if (n < sizeof(uint64_t)) return Errno::Inval;
    for (;;) {
        if (uint64_t v = __atomic_exchange_n(&ticks_, 0, __ATOMIC_ACQ_REL)) {
            __builtin_memcpy(dst, &v, sizeof v);
            return sizeof v;
        }
        if (f.nonblocking()) return Errno::Again;
        struct Ticked final : WaitCondition {
            TimerFd* t;
            explicit Ticked(TimerFd* t) : t(t) {}
            bool satisfied() override { return t->ticks() != 0; }
        } cond(this);
        TRY(wait_on(queue_, cond));
    }
}

Result<TimerFd*> timerfd_of(OpenFile& f) {
    if (f.object()->kind() != &TIMERFD_KIND) return Errno::Inval;
    return static_cast<TimerFd*>(f.object());
}

}  // namespace

Result<int> sys_timerfd_create(int32_t clk, int32_t flags) {
    if (!IntervalTimer::clock_supported(clk)) return Errno::Inval;
    if (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK)) return Errno::Inval;
    RefPtr<FileObject> t = TRY(make_ref<TimerFd>(clk));
    RefPtr<OpenFile> f =
        TRY(OpenFile::create(static_cast<RefPtr<FileObject>&&>(t), oflag::ReadOnly | uint32_t(flags & TFD_NONBLOCK)));
    return fd_install(static_cast<RefPtr<OpenFile>&&>(f), flags & TFD_CLOEXEC);
}

Result<void> sys_timerfd_settime(int32_t fd, int32_t flags, uint64_t new_value, uint64_t old_value) {
    if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) return Errno::Inval;
    RefPtr<OpenFile> f = TRY(fd_lookup(fd));
    TimerFd* t = TRY(timerfd_of(*f));
    Itimerspec spec = TRY(UserPtr<Itimerspec>(new_value).read());
    Itimerspec old = TRY(t->set(spec, flags & TFD_TIMER_ABSTIME, [t] { t->clear(); }));
    if (old_value) TRY(UserPtr<Itimerspec>(old_value).write(old));
    return {};
}

Result<void> sys_timerfd_gettime(int32_t fd, uint64_t value) {
    RefPtr<OpenFile> f = TRY(fd_lookup(fd));
    TimerFd* t = TRY(timerfd_of(*f));
    return UserPtr<Itimerspec>(value).write(t->get());
}

}  // namespace lamina::posix
