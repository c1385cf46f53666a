// Process-layer services for the tty, pipes and poll (see process_hooks.h), on top of the
// process table and the signal layer.
#include "kernel/posix/process_hooks.h"

#include "kernel/lib/log.h"
#include "kernel/posix/fd/waiting.h"
#include "kernel/posix/poll/poll_sleeper.h"
#include "kernel/posix/process.h"
#include "kernel/posix/tty/console.h"

namespace lamina::posix {

namespace {

// fd/waiting.h's sleep for portable objects: subscribe, sleep until the condition, unsubscribe.
Result<void> kernel_wait_on(PollQueue& queue, WaitCondition& condition) {
    PollSleeper sleeper;
    PollEntry entry;
    queue.subscribe(entry, sleeper);
    auto r = sleeper.sleep_until([&] { return condition.satisfied(); });
    queue.unsubscribe(entry);
    return r;
}

// The same until a deadline: the sleeper's generation is read before each check, so a notify
// between the check and the sleep ends the sleep at once.
Result<void> kernel_wait_until(PollQueue& queue, WaitCondition& condition, uint64_t deadline) {
    PollSleeper sleeper;
    PollEntry entry;
    queue.subscribe(entry, sleeper);
    Result<void> r;
    for (;;) {
        uint64_t seen = sleeper.generation();
        if (condition.satisfied()) break;
        r = sleeper.sleep(seen, deadline);
        if (r.is_error()) break;
    }
    queue.unsubscribe(entry);
    return r;
}

}  // namespace

void init_process_hooks() {
    set_wait_function(kernel_wait_on);
    set_timed_wait_function(kernel_wait_until);
    set_signal_function(signal_current);
}

TtyCaller tty_caller() {
    Process* p = current_process();
    if (!p) return {0, 0, 0};
    SpinlockGuard g(process_table_lock());
    return {int(p->pid), int(p->pgid), int(p->sid)};
}

bool session_alive(int sid) {
    if (sid <= 0) return false;
    bool alive = false;
    SpinlockGuard g(process_table_lock());
    for_each_process_locked([&](Process& q) {
        if (q.sid == uint32_t(sid) && q.state == ProcessState::Running) alive = true;
    });
    return alive;
}

Result<int> pgrp_session(int pgrp) {
    if (pgrp <= 0) return Errno::Srch;
    int sid = -1;
    SpinlockGuard g(process_table_lock());
    // Zombies stay in their group until reaped, as on Linux: a shell may hand the terminal to
    // a pipeline whose first process has already exited.
    for_each_process_locked([&](Process& q) {
        if (q.pgid == uint32_t(pgrp)) sid = int(q.sid);
    });
    if (sid < 0) return Errno::Srch;
    return sid;
}

void tty_signal_pgrp(int pgrp, int sig) {
    if (pgrp > 0) (void)signal_process_group(uint32_t(pgrp), sig);
}

void signal_current(int sig) {
    if (Process* p = current_process()) (void)send_signal(*p, sig);
}

bool signal_ignored_or_blocked(int sig) {
    Process* p = current_process();
    if (!p || !valid_signal(uint64_t(sig))) return false;
    SpinlockGuard g(process_table_lock());
    return p->actions[sig - 1].handler == HANDLER_IGNORE || (p->signal_mask & sigbit(sig));
}

FdTable* current_fds() {
    Process* p = current_process();
    return p ? p->fds.get() : nullptr;
}

Result<RefPtr<OpenFile>> fd_lookup(int fd) {
    FdTable* t = current_fds();
    if (!t) return Errno::BadF;
    return t->get(fd);
}

Result<int> fd_install(RefPtr<OpenFile> file, bool cloexec) {
    FdTable* t = current_fds();
    if (!t) return Errno::MFile;
    return t->install(static_cast<RefPtr<OpenFile>&&>(file), cloexec);
}

Result<void> fd_close(int fd) {
    FdTable* t = current_fds();
    if (!t) return Errno::BadF;
    return t->close(fd);
}

uint64_t fd_limit() {
    FdTable* t = current_fds();
    return t ? t->limit() : FdTable::DEFAULT_LIMIT;
}

}  // namespace lamina::posix
