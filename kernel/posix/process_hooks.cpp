// PROVISIONAL process-layer services for the tty, pipes and poll (see process_hooks.h): to be
// replaced by the signal implementation's send_signal / signal_process_group / signal_pending
// and its interruptible wait.
#include "kernel/posix/process_hooks.h"

#include "kernel/lib/log.h"
#include "kernel/posix/fd/waiting.h"
#include "kernel/posix/poll/poll_sleeper.h"
#include "kernel/posix/process.h"
#include "kernel/posix/tty/console.h"

namespace lamina::posix {

namespace {

constexpr uint64_t SIG_DFL = 0;
constexpr int SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22,
              SIGURG = 23, SIGWINCH = 28;

bool default_terminates(int sig) {
    switch (sig) {
    case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:  // stopping is not supported yet
        return false;
    }
    return true;
}

// Marks p to end with sig when it leaves its system call; true when that happened.
bool doom(Process* p, int sig) {
    if (sig < 1 || sig > 64) return false;
    if (p->actions[sig - 1].handler != SIG_DFL || !default_terminates(sig)) return false;
    int none = 0;
    return __atomic_compare_exchange_n(&p->kill_signal, &none, sig, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

// fd/waiting.h's sleep for portable objects: subscribe, sleep until the condition, unsubscribe.
Result<void> kernel_wait_on(PollQueue& queue, WaitCondition& condition) {
    PollSleeper sleeper;
    PollEntry entry;
    queue.subscribe(entry, sleeper);
    auto r = sleeper.sleep_until([&] { return condition.satisfied(); });
    queue.unsubscribe(entry);
    return r;
}

}  // namespace

void init_process_hooks() {
    set_wait_function(kernel_wait_on);
    set_signal_function(signal_current);
}

TtyCaller tty_caller() {
    Process* p = current_process();
    int pid = p ? int(p->pid) : 0;
    return {pid, pid, pid};
}

bool session_alive(int sid) {
    if (sid <= 0) return false;
    Process* p = find_process(uint32_t(sid));
    return p && !__atomic_load_n(&p->exited, __ATOMIC_ACQUIRE);
}

Result<int> pgrp_session(int pgrp) {
    if (pgrp <= 0) return Errno::Srch;
    Process* p = find_process(uint32_t(pgrp));
    if (!p || __atomic_load_n(&p->exited, __ATOMIC_ACQUIRE)) return Errno::Srch;
    return pgrp;  // every process is its own session and group for now
}

void tty_signal_pgrp(int pgrp, int sig) {
    Process* p = pgrp > 0 ? find_process(uint32_t(pgrp)) : nullptr;
    if (!p || !doom(p, sig)) return;
    // The console read is where a process Ctrl-C targets usually waits: wake it at once.
    console_wake_readers();
}

void signal_current(int sig) {
    if (Process* p = current_process()) (void)doom(p, sig);
}

bool signal_ignored_or_blocked(int sig) {
    constexpr uint64_t SIG_IGN = 1;
    Process* p = current_process();
    if (!p || sig < 1 || sig > 64) return false;
    return p->actions[sig - 1].handler == SIG_IGN || (p->signal_mask & (uint64_t(1) << (sig - 1)));
}

bool signal_pending() {
    Process* p = current_process();
    return p && __atomic_load_n(&p->kill_signal, __ATOMIC_ACQUIRE) != 0;
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
    return t ? t->limit() : FdTable::kDefaultLimit;
}

}  // namespace lamina::posix
