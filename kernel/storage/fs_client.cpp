#include "kernel/storage/fs_client.h"

#include <new>
#include <utility>

#include "kernel/lib/log.h"
#include "kernel/storage/fs_inode.h"

namespace lamina::storage {

Result<RefPtr<FsClient>> FsClient::start(const Options& opts) {
    RefPtr<FsClient> client = TRY(adopt_ref_or_nomem(new (std::nothrow) FsClient));
    FsClient* c = client.get();
    c->opts_ = opts;
    c->domain_ = TRY(domain::Supervised<idl::Fs>::start({opts.package, replay, c, &c->mutex_}));
    auto info = c->call([&](FsClient& self) { return self.fs().mount(opts.read_only, false); });
    if (info.is_error()) {
        kprintf("storage: mounting the root file system failed (%s)\n", info.error().name());
        c->stopped_ = true;
        c->teardown();
        return info.error();
    }
    c->info_ = info.value();
    c->mounted_rw_ = !c->info_.read_only;
    if (opts.commit_ns) {
        auto t = sched::Thread::create("fs-commit", committer_main, c);
        if (t.is_error()) {
            kprintf("storage: no thread for the commit timer (%s)\n", t.error().name());
            (void)c->stop();
            return t.error();
        }
        c->committer_ = t.value();
    }
    kprintf("storage: root file system mounted%s: %lu blocks of %u bytes, %lu free; %lu inodes, %lu free\n",
            c->info_.read_only ? " read-only" : "", (unsigned long)c->info_.blocks, c->info_.block_size,
            (unsigned long)c->info_.free_blocks, (unsigned long)c->info_.inodes, (unsigned long)c->info_.free_inodes);
    return client;
}

Result<void> FsClient::replay(void* context, idl::FsProxy& fresh) {
    auto* c = static_cast<FsClient*>(context);
    // A healthy instance being replaced (an operator's restart) writes back first, so that the
    // restart loses nothing. The Supervised's proxy still points at it.
    bool written_back = false;
    if (c->instance()->get_state() == domain::State::Running && c->mounted_rw_) {
        auto r = c->domain_->proxy().sync();
        written_back = r.is_ok();
        if (r.is_error())
            kprintf("storage: the fs domain being restarted could not write back (%s)\n", r.error().name());
    }
    // after_fault only when the old instance had the file system mounted read-write: then the
    // missing "clean" mark is its own doing. A first mount that crashed gets no such pass.
    auto info = fresh.mount(c->opts_.read_only, c->mounted_rw_);
    if (info.is_error()) {
        kprintf("storage: remounting after an fs domain fault failed (%s)\n", info.error().name());
        return info.error().is_domain_error() ? Error(Errno::IO) : info.error();
    }
    c->info_ = info.value();
    c->mounted_rw_ = !c->info_.read_only;
    c->dir_valid_ = false;
    if (!written_back) {
        c->losses_++;
        c->lose_unsynced();
    }
    return {};
}

void FsClient::note_write(uint32_t ino) {
    if (ino == 0) return;
    if (unsynced_count_ * 2 >= UNSYNCED_SLOTS) {
        // Half full: write everything back, which makes every recorded write durable.
        if (fs().sync().is_error()) return;  // a fault: lose_unsynced() has run
        __builtin_memset(unsynced_, 0, sizeof(unsynced_));
        unsynced_count_ = 0;
    }
    for (size_t i = ino % UNSYNCED_SLOTS;; i = (i + 1) % UNSYNCED_SLOTS) {
        if (unsynced_[i] == ino) return;
        if (unsynced_[i] == 0) {
            unsynced_[i] = ino;
            unsynced_count_++;
            return;
        }
    }
}

void FsClient::lose_unsynced() {
    size_t dropped = 0;
    for (uint32_t ino : unsynced_) {
        if (ino == 0) continue;
        bool known = false;
        for (size_t j = 0; j < lost_count_ && !known; j++) known = lost_[j] == ino;
        if (known) continue;
        if (lost_count_ < MAX_LOST)
            lost_[lost_count_++] = ino;
        else
            dropped++;
    }
    if (dropped) kprintf("storage: writes to %zu more files may be lost; their next fsync will not say so\n", dropped);
    __builtin_memset(unsynced_, 0, sizeof(unsynced_));
    unsynced_count_ = 0;
}

Result<idl::FsStat> FsClient::new_inode(Result<idl::FsStat> made) {
    if (made.is_ok())
        for (size_t i = 0; i < lost_count_;) {
            if (lost_[i] == made.value().ino)
                lost_[i] = lost_[--lost_count_];
            else
                i++;
        }
    return made;
}

bool FsClient::synced(uint32_t ino) {
    if (unsynced_count_) {
        __builtin_memset(unsynced_, 0, sizeof(unsynced_));
        unsynced_count_ = 0;
    }
    for (size_t i = 0; i < lost_count_; i++) {
        if (lost_[i] != ino) continue;
        lost_[i] = lost_[--lost_count_];
        return false;
    }
    return true;
}

void FsClient::teardown() { domain_ = nullptr; }

void FsClient::committer_main(void* arg) {
    auto* c = static_cast<FsClient*>(arg);
    auto stopping = [c] { return __atomic_load_n(&c->committer_stop_, __ATOMIC_ACQUIRE); };
    for (;;) {
        (void)c->committer_wake_.wait_for(stopping, c->opts_.commit_ns);
        if (stopping()) return;
        // A failure (the domain faulted meanwhile) is its callers' to see: the shadow has
        // recovered it for the next call, and the next period tries again.
        auto r = c->call([](FsClient& self) -> Result<void> {
            if (self.stopped_) return {};
            TRY(self.fs().sync());
            // Durable now, unless a fault inside the call moved them to lost_ already.
            __builtin_memset(self.unsynced_, 0, sizeof(self.unsynced_));
            self.unsynced_count_ = 0;
            return {};
        });
        if (r.is_ok()) __atomic_add_fetch(&c->timer_syncs_, 1, __ATOMIC_RELAXED);
    }
}

void FsClient::stop_committer() {
    if (!committer_) return;
    committer_wake_.update_and_wake_all([this] { __atomic_store_n(&committer_stop_, true, __ATOMIC_RELEASE); });
    committer_->join();
    committer_ = nullptr;
}

void FsClient::hold(HeldIno& h) {
    SpinlockGuard g(held_lock_);
    held_.push_back(&h.node);
}

void FsClient::drop(HeldIno& h) {
    bool last = false;
    {
        SpinlockGuard g(held_lock_);
        held_.remove(&h.node);
        if (!h.orphan) return;
        last = true;
        for (ListNode* n = held_.front(); n; n = n->next) {
            if (reinterpret_cast<HeldIno*>(n)->ino == h.ino) last = false;
        }
    }
    if (!last) return;
    auto* w = new (std::nothrow) WaitingRelease{{}, h.ino};
    if (!w) {
        kprintf("storage: no memory to release orphan inode %u: the next boot frees it\n", h.ino);
        return;
    }
    SpinlockGuard g(held_lock_);
    waiting_.push_back(&w->node);
    __atomic_store_n(&releases_waiting_, uint32_t(waiting_.size()), __ATOMIC_RELAXED);
}

bool FsClient::holds(uint32_t dir, const idl::FsName& name) {
    auto st = fs().lookup(dir, name);
    if (st.is_error()) return true;  // the unlink will fail too, or keep what it may free
    SpinlockGuard g(held_lock_);
    for (ListNode* n = held_.front(); n; n = n->next) {
        if (reinterpret_cast<HeldIno*>(n)->ino == st.value().ino) return true;
    }
    return false;
}

void FsClient::orphaned(uint32_t ino) {
    if (ino == 0) return;
    bool held = false;
    {
        SpinlockGuard g(held_lock_);
        for (ListNode* n = held_.front(); n; n = n->next) {
            auto* h = reinterpret_cast<HeldIno*>(n);
            if (h->ino != ino) continue;
            h->orphan = true;
            held = true;
        }
    }
    if (held) return;
    auto r = fs().release(ino);
    if (r.is_error()) kprintf("storage: releasing orphan inode %u failed (%s)\n", ino, r.error().name());
}

void FsClient::release_waiting() {
    while (!stopped_) {
        WaitingRelease* w;
        {
            SpinlockGuard g(held_lock_);
            w = reinterpret_cast<WaitingRelease*>(waiting_.pop_front());
            __atomic_store_n(&releases_waiting_, uint32_t(waiting_.size()), __ATOMIC_RELAXED);
        }
        if (!w) return;
        auto r = fs().release(w->ino);
        if (r.is_error() && r.error().is_domain_error()) {
            // The domain is restarting: the fresh instance keeps the orphan (a mount after a
            // fault frees none), so try again at the next call.
            SpinlockGuard g(held_lock_);
            waiting_.push_front(&w->node);
            __atomic_store_n(&releases_waiting_, uint32_t(waiting_.size()), __ATOMIC_RELAXED);
            return;
        }
        if (r.is_error()) kprintf("storage: releasing orphan inode %u failed (%s)\n", w->ino, r.error().name());
        delete w;
    }
}

Result<void> FsClient::stop() {
    stop_committer();
    sched::MutexGuard g(mutex_);
    if (stopped_) return {};
    release_waiting();
    // Orphans still held: their FsInodes fail with EIO from now on, so nobody can use them
    // again; freed here, the unmount leaves a clean file system (e2fsck) behind.
    for (;;) {
        uint32_t ino = 0;
        {
            SpinlockGuard lock(held_lock_);
            for (ListNode* n = held_.front(); n; n = n->next) {
                auto* h = reinterpret_cast<HeldIno*>(n);
                if (h->orphan && (ino == 0 || h->ino == ino)) {
                    ino = h->ino;
                    h->orphan = false;
                }
            }
        }
        if (ino == 0) break;
        auto r = fs().release(ino);
        if (r.is_error()) kprintf("storage: releasing orphan inode %u failed (%s)\n", ino, r.error().name());
    }
    Result<void> r = fs().unmount();
    stopped_ = true;
    io_.reset();
    dir_batch_.reset();
    teardown();
    return r.is_error() ? to_vfs_error(r.error()) : r;
}

FsClient::~FsClient() {
    stop_committer();
    teardown();
    while (ListNode* n = waiting_.pop_front()) delete reinterpret_cast<WaitingRelease*>(n);
}

uint64_t FsClient::restarts() const { return domain_ ? domain_->restarts() : 0; }

idl::FsInfo FsClient::info() {
    sched::MutexGuard g(mutex_);
    return info_;
}

RefPtr<posix::Inode> FsClient::root() {
    idl::FsInfo i = info();
    auto st =
        call([&](FsClient& self) { return self.stopped_ ? Result<idl::FsStat>(Errno::IO) : self.fs().stat(i.root); });
    idl::FsStat s{};
    s.ino = i.root;
    s.mode = 040755;
    if (st.is_ok()) s = st.value();
    return call([&](FsClient& self) -> RefPtr<posix::Inode> {
        auto* inode = new (std::nothrow) FsInode(RefPtr<FsClient>(&self), s);
        if (!inode) return {};
        return adopt_ref(inode);
    });
}

Result<RRefBytes*> FsClient::io_buffer() {
    if (!io_) io_ = TRY(RRefBytes::create(IO_CHUNK));
    return &io_;
}

Result<bool> FsClient::dir_entry(uint32_t dir, uint64_t cookie, idl::FsDirEntry& out, uint64_t& next) {
    for (int pass = 0; pass < 2; pass++) {
        if (dir_valid_ && dir_ino_ == dir && dir_batch_) {
            uint64_t at = dir_cookie_;
            for (uint32_t i = 0; i < dir_batch_->count; i++) {
                if (at == cookie) {
                    out = dir_batch_->entries[i];
                    next = out.next;
                    return true;
                }
                at = dir_batch_->entries[i].next;
            }
            if (at == cookie && dir_batch_->end) return false;
        }
        if (pass == 1) break;
        if (stopped_) return Errno::IO;
        if (!dir_batch_) dir_batch_ = TRY(RRef<idl::FsDirBatch>::create());
        dir_valid_ = false;
        auto r = fs().readdir(dir, cookie, std::move(dir_batch_));
        if (r.is_error()) return r.error();
        dir_batch_ = std::move(r.value());
        dir_valid_ = true;
        dir_ino_ = dir;
        dir_cookie_ = cookie;
    }
    // A batch that starts at the cookie but holds nothing and is not the end.
    return Errno::IO;
}

}  // namespace lamina::storage
