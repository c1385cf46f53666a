// The kernel's side of the fs domain: creates and starts it, keeps it behind a proxy and a
// shadow with domain::Recovery, mounts it, and serializes the VFS's calls into it.
//
// Recovery (issue 5): when the domain faults, the shadow tears it down and starts a fresh
// instance from the same package; the replay hook remounts the partition (with after_fault,
// so the "not cleanly unmounted" mark its predecessor left does not force a read-only mount),
// and the rebind hook points the proxy at it. Reads ([retry] in interfaces/fs.idl) are then
// retried and succeed; a call that changes the file system returns DomainError::Restarting,
// which the VFS inodes report as EIO. Later calls go to the fresh instance. What the failed
// instance had not written back (its buffer cache) is lost; what was fsync'ed is on disk.
//
// Inode numbers stay valid across restarts, so the VFS's FsInodes (fs_inode.h) survive them.
//
// Durability (Options::commit_ns): name-space changes come back from the domain logged as
// pending commits (domains/fs/service/fs_service.h): a fault of the domain loses none of them
// (the remount replays them), a power cut those since the last sync. A kernel thread of the
// client (the commit timer, as jbd2's kjournald) calls sync() every commit_ns, which makes
// them and the data written so far durable; the domain answers at no cost when nothing
// changed. fsync and sync(2) do the same at once.
//
// An operator's restart of the healthy domain (/proc/domctl `restart fs`, Recovery::restart)
// runs the same replay from another thread, with mutex_ held too (it is the Supervised's calls
// lock, see kernel/domain/supervised.h): the old instance writes everything back, the fresh one
// mounts, and only then do calls go to it. Nothing is lost.
//
// Locking: mutex_ serializes every call into the domain (the ext2 core is single-threaded)
// and guards the reusable exchange buffers and the directory cache. It is the outermost lock
// of the storage stack: it is held across the domain call, the recovery included, and taken
// with no spinlock held.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/intrusive_list.h>
#include <lamina/result.h>
#include <lamina/rref.h>

#include "interfaces/block.h"
#include "interfaces/fs.h"
#include "kernel/domain/supervised.h"
#include "kernel/posix/vfs/inode.h"
#include "kernel/sched/mutex.h"
#include "kernel/sched/thread.h"
#include "kernel/sched/wait_queue.h"
#include "kernel/sync/spinlock.h"

namespace lamina::domain {
template <>
struct Binding<idl::Fs> {
    using Proxy = idl::FsProxy;
    using Shadow = idl::FsShadow;
    static constexpr const char* EXPORT = "fs";
    static constexpr const TypeInfo* const* TYPES[] = {idl::block_types, idl::fs_types};
};
}  // namespace lamina::domain

namespace lamina::storage {

// An FsInode's entry in its client's list of the inodes the kernel holds (orphans below).
struct HeldIno {
    ListNode node;  // first: the list's nodes are HeldInos
    uint32_t ino = 0;
    bool orphan = false;  // its last name is gone: the last holder releases it
};

class FsClient final : public RefCounted {
public:
    struct Options {
        const char* package = "fs";
        bool read_only = false;
        uint64_t dev = 0x10300001;  // st_dev of its files (made up: major 259, minor 1)
        uint64_t commit_ns = 0;     // the commit timer's period (0: no timer)
    };
    static constexpr uint64_t COMMIT_NS = 5'000'000'000;  // ext3's default commit interval

    // Creates, starts and mounts the fs domain. Whoever provides the "block" interface (the
    // NVMe driver's shadow, or a test's RamDisk) must have done so first. Errors: what
    // domain::create refused, the domain's own errno for a failed start or mount (NoEnt: no
    // root partition; IO: corrupt file system, see the log).
    static Result<RefPtr<FsClient>> start(const Options& opts);

    // Writes everything back, marks the file system clean and destroys the domain. Inodes
    // may outlive it: their calls then fail with EIO.
    Result<void> stop();

    RefPtr<posix::Inode> root();
    uint64_t dev() const { return opts_.dev; }
    idl::FsInfo info();

    // Calls fn(fs) with mutex_ held; fs is the shadow. Domain errors come back as they are.
    // Orphans whose last holder went first get released.
    template <typename Fn>
    auto call(Fn&& fn) {
        sched::MutexGuard g(mutex_);
        if (__atomic_load_n(&releases_waiting_, __ATOMIC_RELAXED)) release_waiting();
        return fn(*this);
    }

    // Orphans (interfaces/fs.idl): a file whose last name is gone while the kernel holds it
    // (an open file, a working directory) stays on the disk's orphan list until the last
    // FsInode for it goes. FsInodes enter with hold() under mutex_ (so none appears between
    // an unlink and orphaned()) and leave with drop(), from any context: the release call
    // needs mutex_, so drop() queues it for the next call (the commit timer's at the latest).
    void hold(HeldIno& h);
    void drop(HeldIno& h);
    // Under mutex_: whether an FsInode holds the inode `name` in `dir` names (then unlink and
    // rename over it keep it as an orphan: the common case, nobody holding it, frees it in
    // the same transaction), and what to do when unlink or rename returned `ino` (0: none)
    // as orphaned.
    bool holds(uint32_t dir, const idl::FsName& name);
    void orphaned(uint32_t ino);

    // Under mutex_ (inside call()).
    idl::Fs& fs() { return domain_->shadow(); }
    bool stopped() const { return stopped_; }
    // The reusable exchange buffers (recreated when a failed call lost them).
    Result<RRefBytes*> io_buffer();
    static constexpr uint32_t IO_CHUNK = 64 * 1024;
    // One cached readdir batch: the entry at `cookie` of directory `dir`, loading a batch from
    // the domain when it is not cached. false at the end.
    Result<bool> dir_entry(uint32_t dir, uint64_t cookie, idl::FsDirEntry& out, uint64_t& next);
    void forget_dir_cache() { dir_valid_ = false; }
    // Restarts seen through the shadow, and the domain instance serving now.
    uint64_t restarts() const;
    // Restarts after which unwritten data may be gone (faults; not an operator's restart,
    // which writes back first). Under mutex_.
    uint64_t losses() const { return losses_; }
    // Which files' writes a fault may have lost, so that fsync never calls them durable
    // (FsInode::fsync), kept here rather than in the FsInode because a file closed before the
    // fault and opened again after it must still see the error once, as on Linux. Under mutex_.
    // A write to ino (its data may sit in the instance's cache until a sync).
    void note_write(uint32_t ino);
    // After a successful fsync of ino, which writes the whole file system back: false once if
    // a fault lost writes of ino since its last durable point (the error is then reported).
    bool synced(uint32_t ino);
    // What create, mkdir and symlink return passes through: a new file's number may be a freed
    // one's, whose lost writes are not the new file's to report.
    Result<idl::FsStat> new_inode(Result<idl::FsStat> made);
    domain::Domain* instance() const { return domain_ ? domain_->instance() : nullptr; }
    // The commit timer's sync() calls that succeeded.
    uint64_t timer_syncs() const { return __atomic_load_n(&timer_syncs_, __ATOMIC_RELAXED); }

    ~FsClient() override;

private:
    FsClient() = default;
    // Mounts in the fresh instance of a restart (mutex_ held).
    static Result<void> replay(void* context, idl::FsProxy& fresh);
    // Under mutex_: releases the queued orphans (a domain error keeps them queued).
    void release_waiting();
    struct WaitingRelease {
        ListNode node;  // first
        uint32_t ino;
    };
    // Destroys the domain (the instance serving now, and the shadow in front of it).
    void teardown();
    // The commit timer's thread; stop_committer() ends it (without mutex_ held: the thread
    // takes it for its calls).
    static void committer_main(void* arg);
    void stop_committer();

    Options opts_;
    sched::Mutex mutex_;
    Own<domain::Supervised<idl::Fs>> domain_;
    idl::FsInfo info_{};
    bool mounted_rw_ = false;  // a read-write mount succeeded: a restart remounts after_fault
    uint64_t losses_ = 0;
    // Files written since the last sync that succeeded (a hash set by inode number, 0 empty):
    // a fault moves them to lost_. Full: a sync empties it.
    static constexpr size_t UNSYNCED_SLOTS = 1024, MAX_LOST = 256;
    uint32_t unsynced_[UNSYNCED_SLOTS] = {};
    size_t unsynced_count_ = 0;
    uint32_t lost_[MAX_LOST] = {};  // files whose lost writes no fsync has reported yet
    size_t lost_count_ = 0;
    void lose_unsynced();
    bool stopped_ = false;
    sched::Thread* committer_ = nullptr;
    sched::WaitQueue committer_wake_;
    bool committer_stop_ = false;  // atomic
    uint64_t timer_syncs_ = 0;     // atomic

    Spinlock held_lock_;             // guards held_ and waiting_
    ListChain held_;                 // HeldIno
    ListChain waiting_;              // WaitingRelease
    uint32_t releases_waiting_ = 0;  // atomic: waiting_'s size

    RRefBytes io_;
    RRef<idl::FsDirBatch> dir_batch_;
    bool dir_valid_ = false;
    uint32_t dir_ino_ = 0;
    uint64_t dir_cookie_ = 0;  // where the cached batch starts
};

// A domain error (the call could not be completed: the domain faulted, is restarting or is
// gone) is EIO to the VFS; file-system errors pass through.
inline Error to_vfs_error(Error e) { return e.is_domain_error() ? Error(Errno::IO) : e; }

}  // namespace lamina::storage
