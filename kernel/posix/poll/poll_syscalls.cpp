// poll, ppoll, select, pselect6 over any file object.
//
// Contract (Linux's): a descriptor that is not open reports POLLNVAL in poll and fails select
// with EBADF; a negative fd in poll is skipped; nfds above the descriptor limit is EINVAL.
// Timeouts: poll's milliseconds (negative: none), select's timeval and the timespecs of ppoll
// and pselect6 (negative fields: EINVAL); select, ppoll and pselect6 write back the time left.
// A pending signal ends the wait with EINTR (poll is not restarted on Linux either once a
// handler runs). ppoll/pselect6's signal mask is installed for the duration of the call.
//
// How the wait works: every object with a poll queue is subscribed first (one PollEntry per
// descriptor, all waking the same PollSleeper), then readiness is checked; the caller sleeps
// only when nothing was ready, until a notify, a signal or the deadline, then checks again.
// A notify between the check and the sleep bumps the sleeper's generation, so it is never lost.
#include "kernel/posix/syscall_handlers.h"

#include <lamina/scope_guard.h>

#include <new>

#include "kernel/mm/memory.h"
#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/poll/poll_bits.h"
#include "kernel/posix/poll/poll_sleeper.h"
#include "kernel/posix/process.h"
#include "kernel/posix/process_hooks.h"
#include "kernel/posix/user_access.h"
#include "kernel/sched/wait_queue.h"
#include "kernel/time/time.h"

namespace lamina::posix {

namespace {

constexpr uint64_t NEVER = PollSleeper::NEVER;
constexpr uint64_t NS_PER_SEC = 1'000'000'000ull;

// One descriptor of a poll or select call.
struct Slot {
    int fd = -1;
    uint32_t interest = 0;  // pollev bits
    RefPtr<OpenFile> file;
    PollEntry entry;
};

// The descriptors of one call, subscribed for its duration.
class PollSet {
public:
    ~PollSet() {
        for (size_t i = 0; i < n_; i++)
            if (slots_[i].entry.queue) slots_[i].entry.queue->unsubscribe(slots_[i].entry);
        delete[] slots_;
    }
    Result<void> reserve(size_t n) {
        if (n == 0) return {};
        slots_ = new (std::nothrow) Slot[n];
        if (!slots_) return Errno::NoMem;
        return {};
    }
    // file is null for a descriptor that is not open.
    void add(int fd, uint32_t interest, RefPtr<OpenFile> file) {
        Slot& s = slots_[n_++];
        s.fd = fd;
        s.interest = interest;
        s.file = static_cast<RefPtr<OpenFile>&&>(file);
        if (s.file) {
            if (PollQueue* q = s.file->object()->poll_queue()) q->subscribe(s.entry, sleeper_);
        }
    }
    size_t size() const { return n_; }
    Slot& operator[](size_t i) { return slots_[i]; }
    // The current readiness of slot i (POLLNVAL when not open).
    uint32_t ready(size_t i) {
        Slot& s = slots_[i];
        if (!s.file) return pollbits::Nval;
        return s.file->object()->poll(*s.file);
    }
    PollSleeper& sleeper() { return sleeper_; }

private:
    Slot* slots_ = nullptr;
    size_t n_ = 0;
    PollSleeper sleeper_;
};

// The deadline of ppoll's and pselect6's optional timeout at user address tsp: NEVER without
// one, 0 for a zero timeout (poll once). Fault for a bad pointer, Inval for a bad timespec.
Result<uint64_t> read_deadline(uint64_t tsp) {
    if (!tsp) return NEVER;
    Timespec ts = TRY(UserPtr<Timespec>(tsp).read());
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= int64_t(NS_PER_SEC)) return Errno::Inval;
    if (ts.tv_sec == 0 && ts.tv_nsec == 0) return 0;
    if (uint64_t(ts.tv_sec) > 100ull * 365 * 86400) return NEVER;
    return time::now_ns() + uint64_t(ts.tv_sec) * NS_PER_SEC + uint64_t(ts.tv_nsec);
}

Timespec time_left(uint64_t deadline) {
    uint64_t now = time::now_ns();
    uint64_t left = deadline > now ? deadline - now : 0;
    return {int64_t(left / NS_PER_SEC), int64_t(left % NS_PER_SEC)};
}

// Temporarily replaces the signal mask (ppoll, pselect6).
class MaskSwap {
public:
    Result<void> install(uint64_t user_mask, uint64_t size) {
        if (!user_mask) return {};
        if (size != 8) return Errno::Inval;
        uint64_t m = TRY(UserPtr<uint64_t>(user_mask).read());
        Task* p = current_task();
        saved_ = p->signal_mask;
        p->signal_mask = m & ~((1ull << 8) | (1ull << 18));  // SIGKILL, SIGSTOP
        active_ = true;
        return {};
    }
    ~MaskSwap() {
        if (active_) current_task()->signal_mask = saved_;
    }

private:
    uint64_t saved_ = 0;
    bool active_ = false;
};

// Checks readiness until something is ready, the deadline passes or a signal arrives. `scan`
// returns how many descriptors are ready.
template <typename Scan>
Result<int> wait_ready(PollSet& set, uint64_t deadline, Scan&& scan) {
    for (;;) {
        uint64_t seen = set.sleeper().generation();
        int n = scan();
        if (n > 0 || deadline == 0) return n;
        auto r = set.sleeper().sleep(seen, deadline);
        if (r.is_error()) {
            if (r.error().code() == Errno::TimedOut) return scan();
            return r.error();
        }
    }
}

Result<int> do_poll(uint64_t ufds, uint64_t nfds, uint64_t deadline) {
    if (nfds > fd_limit()) return Errno::Inval;
    PollFd* fds = nullptr;
    if (nfds) {
        fds = static_cast<PollFd*>(mm::kmalloc(nfds * sizeof(PollFd)));
        if (!fds) return Errno::NoMem;
    }
    ScopeGuard free_fds([fds] { mm::kfree(fds); });
    if (nfds) TRY(copy_from_user(fds, ufds, nfds * sizeof(PollFd)));
    PollSet set;
    TRY(set.reserve(nfds));
    for (size_t i = 0; i < nfds; i++) {
        RefPtr<OpenFile> f;
        if (fds[i].fd >= 0) {
            auto r = fd_lookup(fds[i].fd);
            if (r.is_ok()) f = r.release_value();
        }
        set.add(fds[i].fd, uint16_t(fds[i].events), static_cast<RefPtr<OpenFile>&&>(f));
    }
    int n = TRY(wait_ready(set, deadline, [&] {
        int count = 0;
        for (size_t i = 0; i < nfds; i++) {
            if (fds[i].fd < 0)
                fds[i].revents = 0;
            else if (!set[i].file)
                fds[i].revents = int16_t(pollbits::Nval);
            else
                fds[i].revents = poll_revents(fds[i].fd, fds[i].events, set.ready(i));
            if (fds[i].revents) count++;
        }
        return count;
    }));
    // Only revents go back (Linux writes each pollfd's revents field).
    for (size_t i = 0; i < nfds; i++)
        TRY(copy_to_user(ufds + i * sizeof(PollFd) + __builtin_offsetof(PollFd, revents), &fds[i].revents, 2));
    return n;
}

Result<int> do_select(int64_t nfds, uint64_t uin, uint64_t uout, uint64_t uex, uint64_t deadline) {
    if (nfds < 0) return Errno::Inval;
    if (uint64_t(nfds) > fd_limit()) nfds = int64_t(fd_limit());
    size_t words = fd_set_words(int(nfds));
    size_t bytes = words * 8;
    // in, out, ex as given, then the results.
    uint64_t* sets = nullptr;
    if (words) {
        sets = static_cast<uint64_t*>(mm::kmalloc(6 * bytes));
        if (!sets) return Errno::NoMem;
        __builtin_memset(sets, 0, 6 * bytes);
    }
    ScopeGuard free_sets([sets] { mm::kfree(sets); });
    uint64_t* in = uin ? sets : nullptr;
    uint64_t* out = uout ? sets + words : nullptr;
    uint64_t* ex = uex ? sets + 2 * words : nullptr;
    uint64_t* rin = sets + 3 * words;
    uint64_t* rout = sets + 4 * words;
    uint64_t* rex = sets + 5 * words;
    if (words) {
        if (in) TRY(copy_from_user(in, uin, bytes));
        if (out) TRY(copy_from_user(out, uout, bytes));
        if (ex) TRY(copy_from_user(ex, uex, bytes));
    }
    // Bits past nfds in the last word are ignored.
    if (words && nfds % 64) {
        uint64_t keep = (uint64_t(1) << (nfds % 64)) - 1;
        for (uint64_t* s : {in, out, ex})
            if (s) s[words - 1] &= keep;
    }
    size_t count = 0;
    for (int fd = 0; fd < nfds; fd++)
        if (fd_isset(in, fd) || fd_isset(out, fd) || fd_isset(ex, fd)) count++;
    PollSet set;
    TRY(set.reserve(count));
    for (int fd = 0; fd < nfds; fd++) {
        bool i = fd_isset(in, fd), o = fd_isset(out, fd), e = fd_isset(ex, fd);
        if (!i && !o && !e) continue;
        auto f = fd_lookup(fd);
        if (f.is_error()) return Errno::BadF;
        set.add(fd, select_interest(i, o, e), f.release_value());
    }
    int n = TRY(wait_ready(set, deadline, [&] {
        if (words) __builtin_memset(rin, 0, 3 * bytes);
        int total = 0;
        for (size_t k = 0; k < set.size(); k++) {
            int fd = set[k].fd;
            total +=
                select_results(fd, set.ready(k), fd_isset(in, fd), fd_isset(out, fd), fd_isset(ex, fd), rin, rout, rex);
        }
        return total;
    }));
    if (words) {
        if (in) TRY(copy_to_user(uin, rin, bytes));
        if (out) TRY(copy_to_user(uout, rout, bytes));
        if (ex) TRY(copy_to_user(uex, rex, bytes));
    }
    return n;
}

}  // namespace

Result<int> sys_poll(uint64_t fds, uint64_t nfds, int32_t timeout_ms) {
    uint64_t deadline = timeout_ms < 0    ? NEVER
                        : timeout_ms == 0 ? 0
                                          : time::now_ns() + uint64_t(timeout_ms) * 1'000'000ull;
    return do_poll(fds, nfds, deadline);
}

Result<int> sys_ppoll(uint64_t fds, uint64_t nfds, uint64_t tsp, uint64_t sigmask, uint64_t sigsetsize) {
    uint64_t deadline = TRY(read_deadline(tsp));
    MaskSwap mask;
    TRY(mask.install(sigmask, sigsetsize));
    auto r = do_poll(fds, nfds, deadline);
    if (tsp && deadline != NEVER && deadline != 0) (void)UserPtr<Timespec>(tsp).write(time_left(deadline));
    return r;
}

Result<int> sys_select(uint64_t nfds, uint64_t in, uint64_t out, uint64_t ex, uint64_t tvp) {
    struct TimeVal {
        int64_t sec, usec;
    };
    uint64_t deadline = NEVER;
    TimeVal tv{};
    if (tvp) {
        auto r = UserPtr<TimeVal>(tvp).read();
        if (r.is_error()) return Errno::Fault;
        tv = r.value();
        if (tv.sec < 0 || tv.usec < 0) return Errno::Inval;
        // Linux folds excess microseconds into seconds.
        uint64_t ns = uint64_t(tv.sec) * NS_PER_SEC + uint64_t(tv.usec) * 1000;
        deadline = ns == 0 ? 0 : time::now_ns() + ns;
    }
    auto r = do_select(int64_t(int32_t(nfds)), in, out, ex, deadline);
    if (tvp && deadline != 0) {
        Timespec left = time_left(deadline);
        TimeVal back{left.tv_sec, left.tv_nsec / 1000};
        (void)UserPtr<TimeVal>(tvp).write(back);
    }
    return r;
}

Result<int> sys_pselect6(uint64_t nfds, uint64_t in, uint64_t out, uint64_t ex, uint64_t tsp, uint64_t sig) {
    uint64_t deadline = TRY(read_deadline(tsp));
    // The sixth argument points at {const sigset_t* ss; size_t ss_len}.
    MaskSwap mask;
    if (sig) {
        struct {
            uint64_t ss, len;
        } s;
        TRY(copy_from_user(&s, sig, sizeof s));
        TRY(mask.install(s.ss, s.len));
    }
    auto r = do_select(int64_t(int32_t(nfds)), in, out, ex, deadline);
    if (tsp && deadline != NEVER && deadline != 0) (void)UserPtr<Timespec>(tsp).write(time_left(deadline));
    return r;
}

}  // namespace lamina::posix
