#include "kernel/posix/file_locks.h"

#include <new>

#include "kernel/posix/process.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/user_access.h"
#include "kernel/posix/vfs/mount.h"
#include "kernel/sched/wait_queue.h"
#include "kernel/sync/spinlock.h"

namespace lamina::posix {

namespace {

// struct flock (include/uapi/asm-generic/fcntl.h, x86-64).
struct Flock {
    int16_t type, whence;
    int32_t pad0;
    int64_t start, len;
    int32_t pid, pad1;
};
static_assert(sizeof(Flock) == 32);

constexpr int F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7, F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_OFD_SETLKW = 38;
constexpr int16_t F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
constexpr int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
constexpr int SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2;
constexpr uint64_t OFFSET_MAX = uint64_t(INT64_MAX);  // a range's end "to the end of any file"
constexpr int MAX_DEADLOCK_STEPS = 10;                // Linux's MAX_DEADLK_ITERATIONS
constexpr size_t MAX_WAITERS = 128;

struct FileKey {
    uint64_t dev, ino;
    bool operator==(const FileKey& o) const { return dev == o.dev && ino == o.ino; }
};

struct FileLock {
    FileLock* next;
    FileKey key;
    uint64_t start, end;  // inclusive
    uint64_t owner;       // a pid (POSIX) or the owning OpenFile's address (OFD, flock)
    int32_t pid;          // what F_GETLK reports: the POSIX owner, -1 for OFD and flock
    bool write;
    bool flock;
};

// What a request is about.
struct Request {
    FileKey key;
    uint64_t start, end;
    uint64_t owner;
    int32_t pid;
    bool write, unlock, flock;
    bool posix;  // POSIX owner: deadlock detection, released on close
};

// A POSIX owner sleeping in F_SETLKW and the owner it waits for (deadlock detection).
struct Waiter {
    uint64_t waiter, blocker;
};

Spinlock g_lock;
FileLock* g_locks = nullptr;       // g_lock
uint64_t g_posix_locks = 0;        // POSIX locks held (atomic reads: close's fast path)
uint64_t g_generation = 0;         // bumped at every change that may unblock (atomic)
Waiter g_waiters_of[MAX_WAITERS];  // g_lock; waiter 0: free slot
sched::WaitQueue g_waiters;

FileKey key_of(OpenFile& f) {
    const Location* loc = f.object()->location();
    if (loc && loc->inode) return {loc->inode->dev(), loc->inode->ino()};
    return {~uint64_t(0), uint64_t(reinterpret_cast<uintptr_t>(f.object()))};
}

uint64_t description_owner(OpenFile& f) { return uint64_t(reinterpret_cast<uintptr_t>(&f)); }

bool overlaps(const FileLock& l, uint64_t start, uint64_t end) { return l.start <= end && start <= l.end; }

FileLock* conflict_locked(const Request& r) {
    for (FileLock* l = g_locks; l; l = l->next)
        if (l->key == r.key && l->flock == r.flock && l->owner != r.owner && overlaps(*l, r.start, r.end) &&
            (r.write || l->write))
            return l;
    return nullptr;
}

void unlink_locked(FileLock** link) {
    FileLock* l = *link;
    __atomic_add_fetch(&g_generation, 1, __ATOMIC_ACQ_REL);
    *link = l->next;
    if (!l->flock && l->pid > 0) __atomic_sub_fetch(&g_posix_locks, 1, __ATOMIC_RELAXED);
}

void insert_locked(FileLock* n) {
    __atomic_add_fetch(&g_generation, 1, __ATOMIC_ACQ_REL);
    n->next = g_locks;
    g_locks = n;
    if (!n->flock && n->pid > 0) __atomic_add_fetch(&g_posix_locks, 1, __ATOMIC_RELAXED);
}

// Two spare nodes, allocated before g_lock is taken (a split needs one, the new lock one).
struct Spares {
    FileLock* nodes[2] = {};
    Result<void> fill() {
        for (auto& n : nodes)
            if (!n && !(n = new (std::nothrow) FileLock{})) return Errno::NoLck;
        return {};
    }
    FileLock* take() {
        for (auto& n : nodes)
            if (n) {
                FileLock* t = n;
                n = nullptr;
                return t;
            }
        return nullptr;  // fill() gave two; no request uses more
    }
    ~Spares() {
        for (auto* n : nodes) delete n;
    }
};

// Applies a request that has no conflict: the owner's locks in the range are replaced (record)
// or its lock is replaced (flock). Nodes that leave the list go to `freed`.
void apply_locked(const Request& r, Spares& spares, FileLock*& freed) {
    __atomic_add_fetch(&g_generation, 1, __ATOMIC_ACQ_REL);  // a trim or an unlock may free a range
    uint64_t start = r.start, end = r.end;
    for (FileLock** link = &g_locks; *link;) {
        FileLock* l = *link;
        if (!(l->key == r.key) || l->flock != r.flock || l->owner != r.owner) {
            link = &l->next;
            continue;
        }
        bool adjacent = (l->end != OFFSET_MAX && l->end + 1 == start) || (end != OFFSET_MAX && end + 1 == l->start);
        bool same = !r.unlock && l->write == r.write;
        if (!overlaps(*l, start, end) && !(same && adjacent)) {
            link = &l->next;
            continue;
        }
        if (same) {  // merge into the new lock
            if (l->start < start) start = l->start;
            if (l->end > end) end = l->end;
        } else if (l->start < r.start && l->end > r.end) {  // the new range splits it in two
            FileLock* right = spares.take();
            *right = *l;
            right->start = r.end + 1;
            l->end = r.start - 1;
            insert_locked(right);
            link = &l->next;
            continue;
        } else if (l->start < r.start) {  // keep the part on the left
            l->end = r.start - 1;
            link = &l->next;
            continue;
        } else if (l->end > r.end) {  // keep the part on the right
            l->start = r.end + 1;
            link = &l->next;
            continue;
        }
        unlink_locked(link);
        l->next = freed;
        freed = l;
    }
    if (r.unlock) return;
    FileLock* n = spares.take();
    *n = FileLock{nullptr, r.key, start, end, r.owner, r.pid, r.write, r.flock};
    insert_locked(n);
}

void free_list(FileLock* l) {
    while (l) {
        FileLock* next = l->next;
        delete l;
        l = next;
    }
}

// After a change (made under g_lock, which bumped the generation): wake every waiter to look.
void changed() { g_waiters.wake_all(); }

// Would `me` waiting for `blocker` close a cycle of POSIX owners waiting for each other?
bool deadlock_locked(uint64_t me, uint64_t blocker) {
    for (int step = 0; step < MAX_DEADLOCK_STEPS; step++) {
        if (blocker == me) return true;
        const Waiter* next = nullptr;
        for (const Waiter& w : g_waiters_of)
            if (w.waiter && w.waiter == blocker) next = &w;
        if (!next) return false;
        blocker = next->blocker;
    }
    return false;
}

Waiter* add_waiter_locked(uint64_t me, uint64_t blocker) {
    for (Waiter& w : g_waiters_of)
        if (!w.waiter) {
            w = {me, blocker};
            return &w;
        }
    return nullptr;
}

// Takes the lock, waiting while another owner holds a conflicting one when `wait`.
Result<void> acquire(const Request& r, bool wait) {
    Spares spares;
    TRY(spares.fill());
    for (;;) {
        FileLock* freed = nullptr;
        Waiter* w = nullptr;
        uint64_t seen = 0;
        bool done = false;
        {
            SpinlockGuard g(g_lock);
            const FileLock* c = r.unlock ? nullptr : conflict_locked(r);
            if (!c) {
                apply_locked(r, spares, freed);
                done = true;
            } else {
                if (!wait) return Errno::Again;
                if (r.posix) {
                    if (deadlock_locked(r.owner, c->owner)) return Errno::DeadLk;
                    w = add_waiter_locked(r.owner, c->owner);
                }
                seen = __atomic_load_n(&g_generation, __ATOMIC_ACQUIRE);
            }
        }
        if (done) {
            free_list(freed);
            changed();
            return {};
        }
        // Until some lock changes (the generation moves under g_lock, so no change is missed).
        auto slept =
            wait_interruptible(g_waiters, [seen] { return __atomic_load_n(&g_generation, __ATOMIC_ACQUIRE) != seen; });
        if (w) {
            SpinlockGuard g(g_lock);
            w->waiter = 0;
        }
        TRY(slept);
    }
}

// Removes every lock `keep` does not keep; wakes the waiters when any went.
template <typename Drop>
void release_where(Drop&& drop) {
    FileLock* freed = nullptr;
    {
        SpinlockGuard g(g_lock);
        for (FileLock** link = &g_locks; *link;) {
            FileLock* l = *link;
            if (!drop(*l)) {
                link = &l->next;
                continue;
            }
            unlink_locked(link);
            l->next = freed;
            freed = l;
        }
    }
    if (!freed) return;
    free_list(freed);
    changed();
}

// A descriptor of f was closed by the calling process: its POSIX locks on the file go.
void descriptor_dropped(OpenFile& f) {
    if (!__atomic_load_n(&g_posix_locks, __ATOMIC_RELAXED)) return;
    Process* p = current_process();
    if (!p) return;
    FileKey key = key_of(f);
    uint64_t owner = p->pid;
    release_where([&](const FileLock& l) { return !l.flock && l.pid > 0 && l.owner == owner && l.key == key; });
}

// The description's last close: its OFD and flock locks go.
void description_closed(OpenFile& f) {
    uint64_t owner = description_owner(f);
    release_where([&](const FileLock& l) { return l.owner == owner; });
}

// The byte range a struct flock names: [start, end].
Result<void> range_of(OpenFile& f, const Flock& fl, uint64_t& start, uint64_t& end) {
    int64_t base;
    switch (fl.whence) {
        case SEEK_SET:
            base = 0;
            break;
        case SEEK_CUR:
            base = int64_t(f.offset);
            break;
        case SEEK_END: {
            Stat st{};
            TRY(f.object()->stat(st));
            base = int64_t(st.st_size);
            break;
        }
        default:
            return Errno::Inval;
    }
    int64_t s;
    if (__builtin_add_overflow(base, fl.start, &s)) return Errno::Overflow;
    if (s < 0) return Errno::Inval;
    if (fl.len > 0) {
        int64_t e;
        if (__builtin_add_overflow(s, fl.len - 1, &e)) return Errno::Overflow;
        start = uint64_t(s);
        end = uint64_t(e);
    } else if (fl.len == 0) {
        start = uint64_t(s);
        end = OFFSET_MAX;
    } else {
        if (s + fl.len < 0) return Errno::Inval;
        start = uint64_t(s + fl.len);
        end = uint64_t(s - 1);
    }
    return {};
}

}  // namespace

bool is_lock_command(int cmd) {
    return cmd == F_GETLK || cmd == F_SETLK || cmd == F_SETLKW || cmd == F_OFD_GETLK || cmd == F_OFD_SETLK ||
           cmd == F_OFD_SETLKW;
}

Result<void> fcntl_lock(OpenFile& f, int cmd, uint64_t arg) {
    if (f.flags() & oflag::Path) return Errno::BadF;
    Flock fl = TRY(UserPtr<Flock>(arg).read());
    bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
    if (ofd && fl.pid != 0) return Errno::Inval;
    if (fl.type != F_RDLCK && fl.type != F_WRLCK && fl.type != F_UNLCK) return Errno::Inval;
    Request r{};
    TRY(range_of(f, fl, r.start, r.end));
    r.key = key_of(f);
    r.write = fl.type == F_WRLCK;
    r.unlock = fl.type == F_UNLCK;
    r.posix = !ofd;
    uint32_t pid = current_process()->pid;
    r.owner = ofd ? description_owner(f) : pid;
    r.pid = ofd ? -1 : int32_t(pid);

    if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
        if (r.unlock) return Errno::Inval;
        Flock out = fl;
        {
            SpinlockGuard g(g_lock);
            if (const FileLock* c = conflict_locked(r)) {
                out.type = c->write ? F_WRLCK : F_RDLCK;
                out.whence = SEEK_SET;
                out.start = int64_t(c->start);
                out.len = c->end == OFFSET_MAX ? 0 : int64_t(c->end - c->start + 1);
                out.pid = c->pid;
            } else {
                out.type = F_UNLCK;
            }
        }
        return UserPtr<Flock>(arg).write(out);
    }
    if (fl.type == F_RDLCK && !f.readable()) return Errno::BadF;
    if (fl.type == F_WRLCK && !f.writable()) return Errno::BadF;
    if (ofd) f.holds_locks = true;
    return acquire(r, cmd == F_SETLKW || cmd == F_OFD_SETLKW);
}

Result<void> flock_file(OpenFile& f, int operation) {
    if (f.flags() & oflag::Path) return Errno::BadF;
    int op = operation & ~LOCK_NB;
    if (op != LOCK_SH && op != LOCK_EX && op != LOCK_UN) return Errno::Inval;
    Request r{};
    r.key = key_of(f);
    r.start = 0;
    r.end = OFFSET_MAX;
    r.owner = description_owner(f);
    r.pid = -1;
    r.flock = true;
    r.write = op == LOCK_EX;
    r.unlock = op == LOCK_UN;
    f.holds_locks = true;
    if (!r.unlock) {
        // A conversion drops the old lock first, so two converting owners cannot deadlock.
        uint64_t owner = r.owner;
        FileKey key = r.key;
        bool write = r.write;
        release_where(
            [&](const FileLock& l) { return l.flock && l.owner == owner && l.key == key && l.write != write; });
    }
    return acquire(r, !(operation & LOCK_NB));
}

void release_process_locks(uint32_t pid) {
    if (!__atomic_load_n(&g_posix_locks, __ATOMIC_RELAXED)) return;
    release_where([pid](const FileLock& l) { return !l.flock && l.pid > 0 && l.owner == pid; });
}

void init_file_locks() {
    FdTable::set_drop_hook(descriptor_dropped);
    OpenFile::set_unlock_hook(description_closed);
}

}  // namespace lamina::posix
