// epoll instances (see epoll.h for the rules).
//
// Bookkeeping: an Epoll owns its items (a list under its mutex, which serialises epoll_ctl
// and the scans of epoll_wait). Each item subscribes to its file's PollQueue; the waker only
// sets the item's `pending` flag and wakes the instance's sleeper (it runs under the queue's
// lock, possibly in an interrupt, so it takes no other lock). epoll_wait scans the items,
// polling each file: O(items) per wait, which is simple and right; a ready list is the later
// optimisation.
//
// Closing: an item points at its OpenFile without a reference (a reference would keep the
// file open and hide EOF from its peer). g_lock guards that pointer and the file's watcher
// list: the OpenFile's destructor (the close hook) unsubscribes the item and clears the
// pointer under it; a scan takes a reference under it with try_ref (which fails for a file
// already dying), and reaps items whose file is gone.
//
// Lock order: the instance mutex, then g_lock, then object locks and PollQueue locks.
#include "kernel/posix/event/epoll.h"

#include <new>

#include <lamina/intrusive_list.h>
#include "kernel/posix/irq_spinlock.h"
#include "kernel/posix/poll/poll_sleeper.h"
#include "kernel/sched/mutex.h"

namespace lamina::posix {

namespace {

IrqSpinlock g_lock;

class Epoll;

struct Item;

class ItemWaker final : public PollWaker {
public:
    explicit ItemWaker(Item& item) : item_(item) {}
    void wake() override;

private:
    Item& item_;
};

struct Item {
    Item(Epoll& owner, OpenFile* file, int fd) : owner(owner), file(file), fd(fd), waker(*this) {}
    ListNode link;        // the instance's items (its mutex)
    ListNode watch_link;  // file->watchers (g_lock)
    Epoll& owner;
    OpenFile* file;  // g_lock; null once the file is closed
    int fd;
    uint32_t events = 0;
    uint64_t data = 0;
    bool disabled = false;  // EPOLLONESHOT after its report
    uint32_t pending = 1;   // a notify since the last edge-triggered report (atomic)
    PollEntry entry;
    ItemWaker waker;
};

template <ListNode Item::*Link>
Item* item_of(ListNode* n) {
    return reinterpret_cast<Item*>(reinterpret_cast<char*>(n) -
                                   reinterpret_cast<size_t>(&(static_cast<Item*>(nullptr)->*Link)));
}

const char EPOLL_KIND = 0;

class Epoll final : public FileObject {
public:
    const void* kind() const override { return &EPOLL_KIND; }
    ~Epoll() override {
        while (ListNode* n = items_.pop_front()) {
            Item* it = item_of<&Item::link>(n);
            detach(*it);
            delete it;
        }
    }

    // Under g_lock or not: unsubscribes and unlinks an item from its file (if still open).
    static void detach_locked(Item& it) {
        if (!it.file) return;
        if (it.entry.queue) it.entry.queue->unsubscribe(it.entry);
        it.file->watchers.remove(&it.watch_link);
        it.file = nullptr;
    }
    static void detach(Item& it) {
        IrqSpinlockGuard g(g_lock);
        detach_locked(it);
    }

    Item* find(OpenFile* f, int fd) {
        for (ListNode* n = items_.front(); n; n = n->next) {
            Item* it = item_of<&Item::link>(n);
            if (it->file == f && it->fd == fd) return it;
        }
        return nullptr;
    }

    Result<void> control(int op, int fd, RefPtr<OpenFile> target, const EpollEvent* ev) {
        sched::MutexGuard g(mutex_);
        reap();
        Item* it = find(target.get(), fd);
        switch (op) {
            case epoll::CtlAdd: {
                if (it) return Errno::Exist;
                PollQueue* q = target->object()->poll_queue();
                if (!q) return Errno::Perm;  // a file that never changes readiness (Linux: no poll)
                it = new (std::nothrow) Item(*this, target.get(), fd);
                if (!it) return Errno::NoMem;
                set(*it, *ev);
                items_.push_back(&it->link);
                IrqSpinlockGuard l(g_lock);
                target->watchers.push_back(&it->watch_link);
                q->subscribe(it->entry, it->waker);
                return {};
            }
            case epoll::CtlMod:
                if (!it) return Errno::NoEnt;
                // A oneshot item can be re-armed, but not EPOLLEXCLUSIVE ones (Linux's EINVAL).
                if (it->events & epoll::Exclusive) return Errno::Inval;
                set(*it, *ev);
                sleeper_.wake();
                return {};
            case epoll::CtlDel:
                if (!it) return Errno::NoEnt;
                items_.remove(&it->link);
                detach(*it);
                delete it;
                return {};
            default:
                return Errno::Inval;
        }
    }

    static void set(Item& it, const EpollEvent& ev) {
        it.events = ev.events | epoll::Err | epoll::Hup;
        it.data = ev.data;
        it.disabled = false;
        __atomic_store_n(&it.pending, 1, __ATOMIC_RELEASE);
    }

    // The item's file with a reference, or null once it is closed or closing.
    static RefPtr<OpenFile> file_of(Item& it) {
        RefPtr<OpenFile> f;
        IrqSpinlockGuard l(g_lock);
        if (it.file && it.file->try_ref()) f = adopt_ref(it.file);
        return f;
    }

    // Items whose file was closed (the close hook left them behind).
    void reap() {
        for (ListNode* n = items_.front(); n;) {
            ListNode* next = n->next;
            Item* it = item_of<&Item::link>(n);
            bool gone;
            {
                IrqSpinlockGuard l(g_lock);
                gone = it->file == nullptr;
            }
            if (gone) {
                items_.remove(n);
                delete it;
            }
            n = next;
        }
    }

    // One pass over the items: up to max events.
    int scan(EpollEvent* out, int max) {
        sched::MutexGuard g(mutex_);
        int count = 0;
        for (ListNode* n = items_.front(); n && count < max; n = n->next) {
            Item* it = item_of<&Item::link>(n);
            if (it->disabled) continue;
            RefPtr<OpenFile> f = file_of(*it);
            if (!f) continue;
            bool edge = it->events & epoll::Et;
            // Cleared before polling, so a change during the poll is reported next time.
            if (edge && !__atomic_exchange_n(&it->pending, 0, __ATOMIC_ACQ_REL)) continue;
            uint32_t ev = f->object()->poll(*f) & it->events;
            if (!ev) continue;
            out[count++] = EpollEvent{ev, it->data};
            if (it->events & epoll::OneShot) it->disabled = true;
        }
        return count;
    }

    Result<int> collect(EpollEvent* out, int max, uint64_t deadline) {
        for (;;) {
            uint64_t seen = sleeper_.generation();
            int n = scan(out, max);
            if (n > 0 || deadline == 0) return n;
            auto r = sleeper_.sleep(seen, deadline);
            if (r.is_error()) {
                if (r.error().code() == Errno::TimedOut) return scan(out, max);
                return r.error();
            }
        }
    }

    // An epoll descriptor is itself readable when one of its items is ready (nested epoll,
    // poll and select on it). Without consuming edge-triggered state.
    uint32_t poll(OpenFile&) override {
        sched::MutexGuard g(mutex_);
        for (ListNode* n = items_.front(); n; n = n->next) {
            Item* it = item_of<&Item::link>(n);
            if (it->disabled) continue;
            RefPtr<OpenFile> f = file_of(*it);
            if (!f) continue;
            if ((it->events & epoll::Et) && !__atomic_load_n(&it->pending, __ATOMIC_ACQUIRE)) continue;
            if (f->object()->poll(*f) & it->events) return pollev::In | pollev::RdNorm;
        }
        return 0;
    }
    PollQueue* poll_queue() override { return &queue_; }

    void item_woke() {
        sleeper_.wake();
        queue_.notify();
    }

private:
    sched::Mutex mutex_;
    ListChain items_;
    PollSleeper sleeper_;
    PollQueue queue_;  // for pollers of this epoll descriptor
};

void ItemWaker::wake() {
    __atomic_store_n(&item_.pending, 1, __ATOMIC_RELEASE);
    item_.owner.item_woke();
}

// The last close of a watched description: its items stop watching (the instances reap them).
void forget_file(OpenFile& f) {
    IrqSpinlockGuard l(g_lock);
    while (ListNode* n = f.watchers.front()) Epoll::detach_locked(*item_of<&Item::watch_link>(n));
}

Result<Epoll*> epoll_of(OpenFile& f) {
    if (f.object()->kind() != &EPOLL_KIND) return Errno::Inval;
    return static_cast<Epoll*>(f.object());
}

}  // namespace

void init_epoll() { OpenFile::set_close_hook(forget_file); }

Result<RefPtr<OpenFile>> make_epoll() {
    RefPtr<FileObject> e = TRY(make_ref<Epoll>());
    return OpenFile::create(static_cast<RefPtr<FileObject>&&>(e), oflag::ReadWrite);
}

Result<void> epoll_control(OpenFile& ep, int op, int fd, RefPtr<OpenFile> target, const EpollEvent* ev) {
    Epoll* e = TRY(epoll_of(ep));
    if (target.get() == &ep) return Errno::Inval;
    return e->control(op, fd, static_cast<RefPtr<OpenFile>&&>(target), ev);
}

Result<int> epoll_collect(OpenFile& ep, EpollEvent* out, int max, uint64_t deadline) {
    Epoll* e = TRY(epoll_of(ep));
    return e->collect(out, max, deadline);
}

}  // namespace lamina::posix
