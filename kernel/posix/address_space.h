// A process's user address space: its page tables (kernel half shared, see
// mm::create_address_space_root) and its VMAs, the ranges the program may touch and how.
//
// Guarantees
//   - Pages are demand-zero: a VMA has no frames until the first access (or the loader fills
//     one); a fault inside a VMA that its permissions allow maps a zeroed frame owned by
//     Owner::process(pid). A fault outside every VMA, or against its permissions, is refused
//     (the caller kills the process, or returns EFAULT for a kernel copy).
//   - destroy() returns every frame and page-table page of the lower half: afterwards
//     pages_owned_by(Owner::process(pid)) is 0.
//   - PROT_NONE ranges keep their frames but lose the user bit: the program faults on them
//     (kernel copies still reach them; there is no guard against that yet).
//   - fork() gives a child space that shares every present frame copy-on-write: private
//     writable pages become read-only in both spaces, and the first write in either (by the
//     program, or by a kernel copy: CR0.WP is set) takes a private copy, or just the write
//     permission back when no other space maps the frame any more (frame_shares.h counts).
//     Shared mappings (MAP_SHARED) are populated at fork and stay writable in both spaces.
//     A frame stays recorded under the process that allocated it until its last sharer lets
//     go of it.
//   - TLB: every CR3 load flushes non-global entries (no PCID). While a space has one thread
//     (set_threads), it is live on at most one CPU and a local invlpg is enough. With more, the
//     threads may run on other CPUs at once: unmap, protect, a copy-on-write break and fork
//     also shoot the range down on every other CPU, after dropping lock_ (a CPU spinning on it
//     with interrupts off could not acknowledge). Until the shoot-down, another thread may
//     still use the old entry: a read sees the old frame, which is what it would have seen an
//     instant earlier, and a write lands in it. Frames (and page tables) an unmap, mremap,
//     madvise or copy-on-write break lets go of return to the allocator only after the
//     shoot-down (TlbGather, like Linux's mmu_gather), so such a write never reaches a frame
//     that is already someone else's.
//
// Locking
//   lock_ (a spinlock, interrupts off) guards the VMA list and the page tables. The page-fault
//   path takes it from the exception hook, so no holder may fault on user memory: system calls
//   copy from and to user memory without holding it. Lock order: lock_, then the frame
//   allocator's and the heap's locks.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/mm/page_table.h"
#include "kernel/sync/spinlock.h"

namespace lamina::posix {

namespace Prot {
inline constexpr uint32_t Read = 1, Write = 2, Exec = 4;
}

// Frames that several address spaces map read-only (the program page cache's), faulted in on
// demand. It holds one share-count mapping of each frame (frame_shares.h), so no space ever
// takes one as its own; the last reference (the cache's, or a VMA's) releases them.
struct SharedFrames {
    uint32_t refs = 1;  // atomic
    size_t count = 0;
    uint64_t* frames = nullptr;  // kmalloc'd
    void ref() { __atomic_fetch_add(&refs, 1, __ATOMIC_RELAXED); }
    void unref();
};

struct Vma {
    uint64_t start, end;  // page aligned, start < end
    uint32_t prot;
    Vma* next;            // sorted by start
    bool shared = false;  // MAP_SHARED: fork shares the frames instead of copying on write
    // Pages not yet present come from backing (frames[0] is the page at backing_start): read
    // and execute faults map the shared frame read-only, writes take a private copy.
    SharedFrames* backing = nullptr;  // a reference
    uint64_t backing_start = 0;
};

enum class FaultResult : uint8_t { Handled, NoVma, Protection, NoMem };
const char* fault_result_name(FaultResult r);

class TlbGather;

class AddressSpace {
public:
    static Result<AddressSpace*> create(uint32_t pid);
    // Frees every user frame, page table, VMA and the object itself. Must not be loaded on any
    // CPU.
    void destroy();

    uint64_t root() const { return pt_.root(); }
    uint32_t pid() const { return pid_; }

    // A new demand-zero range; Exist when it overlaps a VMA (unless `replace`: MAP_FIXED, what
    // was there goes in the same step, so no other thread's mmap can take the range between),
    // Inval when misaligned or outside the user range.
    Result<void> map(uint64_t start, uint64_t end, uint32_t prot, bool shared = false, bool replace = false);
    // mremap: [old_start, old_start + old_len) must lie in one VMA (Fault otherwise). Shrinking
    // unmaps the tail; growing extends in place when the pages above are free, else, when
    // may_move, moves the mapping (its page-table entries: no page is copied) to a free range
    // of new_len, or to `fixed` (nonzero: replacing what was there). NoMem when it can neither
    // grow in place nor move. Returns where the mapping now starts. Lengths page-aligned.
    Result<uint64_t> remap(uint64_t old_start, uint64_t old_len, uint64_t new_len, bool may_move, uint64_t fixed);
    // Removes every VMA part and page in [start, end); holes are fine.
    Result<void> unmap(uint64_t start, uint64_t end);
    // NoMem when part of the range has no VMA (Linux's ENOMEM).
    Result<void> protect(uint64_t start, uint64_t end, uint32_t prot);
    // madvise(MADV_DONTNEED): the private pages of [start, end) go back, and the next touch of
    // each finds a zeroed one; shared mappings keep theirs (their contents are the other
    // mappers' too). NoMem when part of the range has no VMA.
    Result<void> discard(uint64_t start, uint64_t end);
    // Every page of [start, end) in some VMA?
    bool covers(uint64_t start, uint64_t end);
    // A free range of len bytes for mmap, at hint when that is free, else top-down.
    Result<uint64_t> find_free(uint64_t len, uint64_t hint);
    Result<uint64_t> find_free_locked(uint64_t len, uint64_t hint);
    // Makes the VMA range [first_page, first_page + frames.count pages) take its pages from
    // frames on demand (taking a reference). Inval unless one VMA covers the range.
    Result<void> attach_shared_frames(uint64_t first_page, SharedFrames& frames);
    // The frame behind the page at virt, allocating a zeroed one if needed (the loader fills
    // pages this way). Inval outside every VMA.
    Result<uint64_t> populate(uint64_t virt);

    FaultResult handle_fault(uint64_t addr, bool write, bool exec);

    // What backs the page at virt (tests and diagnostics). NoEnt when nothing is mapped there.
    struct PageInfo {
        uint64_t phys;
        bool writable;
        uint16_t sharers;     // other address spaces mapping the frame
        bool shared_mapping;  // in a MAP_SHARED VMA
    };
    Result<PageInfo> lookup(uint64_t virt);

    // A copy-on-write duplicate for a child process (see above). Must be called by the thread
    // running this space (the write-protection of its own entries is flushed locally).
    Result<AddressSpace*> fork(uint32_t child_pid);

    // The program break: [brk_start, brk) is the heap VMA part in use.
    uint64_t brk_start = 0;
    uint64_t brk = 0;

    size_t vma_count();

    // How many threads run on this space (the process keeps it up to date).
    void set_threads(uint32_t n) { __atomic_store_n(&threads_, n, __ATOMIC_RELEASE); }

    // Compare-and-swap on the 32-bit user word at virt, which must be present, writable and not
    // shared copy-on-write (the caller faults it in first): Fault otherwise. Returns the value
    // found (FUTEX_WAKE_OP's atomic update).
    Result<uint32_t> cmpxchg_user_word(uint64_t virt, uint32_t expected, uint32_t desired);

private:
    AddressSpace(uint32_t pid, uint64_t root);
    Result<void> map_locked(Vma* nv);
    friend class TlbGather;
    Result<uint64_t> backed_page_locked(Vma* v, uint64_t page, bool write);
    Result<void> unmap_locked(uint64_t start, uint64_t end, TlbGather& gather);
    Result<void> move_pages_locked(uint64_t from, uint64_t to, uint64_t len, TlbGather& gather);
    Result<uint64_t> remap_locked(uint64_t old_start, uint64_t old_len, uint64_t new_len, bool may_move, uint64_t fixed,
                                  TlbGather& gather);  // takes lock_ itself
    Result<uint64_t> populate_locked(uint64_t page, uint32_t prot);
    void unmap_pages_locked(uint64_t start, uint64_t end, TlbGather& gather);
    Result<void> split_locked(uint64_t at);  // makes `at` a VMA boundary if it falls inside one
    Vma* find_locked(uint64_t addr);
    FaultResult break_cow_locked(uint64_t page, uint64_t phys, uint32_t prot, TlbGather& gather);
    void flush_own_tlb(bool needed);
    Result<void> protect_locked(uint64_t start, uint64_t end, uint32_t prot);
    bool covered_locked(uint64_t start, uint64_t end);
    Result<AddressSpace*> fork_locked(uint32_t child_pid);
    FaultResult handle_fault_locked(uint64_t addr, bool write, bool exec, TlbGather& gather);
    // [start, end) on every other CPU, when other threads may run this space (lock_ not held).
    void shoot_down(uint64_t start, uint64_t end);

    Spinlock lock_;
    mm::PageTable pt_;
    Vma* vmas_ = nullptr;
    uint32_t pid_;
    uint32_t threads_ = 1;  // atomic
};

uint64_t page_flags(uint32_t prot);

// Drops one mapping of a user frame (an address space's, or the program page cache's); the
// last one frees it.
void release_user_frame(uint64_t phys);

// Sets up the copy-on-write share counts for every frame below phys_end (posix::init).
Result<void> init_frame_shares(uint64_t phys_end);

}  // namespace lamina::posix
