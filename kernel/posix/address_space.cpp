#include "kernel/posix/address_space.h"

#include <new>

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/elf_exec.h"
#include "kernel/posix/frame_shares.h"

namespace lamina::posix {

namespace {
constexpr uint64_t PAGE = mm::PAGE_SIZE;
// mmap's top-down search starts below the stack's maximum size and a gap, and half a 64-entry
// TLB (32 pages) lower than a round address: the stack's top page and the first mapping are the
// hottest pages of most programs, and at the same distance below two aligned tops they share
// their index in every TLB indexed by the low bits of the page number. QEMU's software TLB is
// direct-mapped (64 to 256 entries for a small program): aligned, the two pages evicted each
// other on every switch between them, and an ash loop took 1.6-1.9x the host CPU time it takes
// in the Linux guest (bench/README.md, issue 15).
constexpr uint64_t STACK_RESERVE = 8ull << 20;
constexpr uint64_t MMAP_COLOUR_GAP = 32 * PAGE;
constexpr uint64_t MMAP_TOP = USER_TOP - STACK_RESERVE - (1ull << 30) - MMAP_COLOUR_GAP;

void invlpg(uint64_t virt) { asm volatile("invlpg (%0)" ::"r"(virt) : "memory"); }

FrameShares g_shares;

// The chains of TlbGather: g_gather_next[i] follows the frame at i * 4096 while it waits for
// its free (a frame is in at most one gather: it had one last mapping, or was one space's table).
constexpr uint32_t GATHER_END = UINT32_MAX;
uint32_t* g_gather_next;
size_t g_gather_frames;

// Drops one mapping of a user frame; the last one frees it.
void release_frame(uint64_t phys) {
    if (!g_shares.covers(phys) || g_shares.release(phys)) (void)mm::free_frames(phys, 0);
}
bool frame_exclusive(uint64_t phys) { return !g_shares.covers(phys) || g_shares.exclusive(phys); }
}  // namespace

void release_user_frame(uint64_t phys) { release_frame(phys); }

void SharedFrames::unref() {
    if (__atomic_sub_fetch(&refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    for (size_t i = 0; i < count; i++) release_frame(frames[i]);
    mm::kfree(frames);
    delete this;
}

namespace {
// A VMA's copy for [start, end) (fork, split, mremap's move), sharing its backing.
Vma* copy_vma(const Vma& v, uint64_t start, uint64_t end, Vma* next) {
    auto* c = new (std::nothrow) Vma{start, end, v.prot, next, v.shared, v.backing, v.backing_start};
    if (c && c->backing) c->backing->ref();
    return c;
}
void free_vma(Vma* v) {
    if (v->backing) v->backing->unref();
    delete v;
}
}  // namespace

// Frames unmapped under lock_ go back to the allocator only once no CPU can reach them through
// a stale TLB entry (or a cached page-table walk): after the shoot-down, which must not run
// under lock_. Declared before the lock guard, so that its destructor runs after the unlock.
// The pending frames are chained through a per-frame array, so a gather never needs memory
// (an unmap must not fail for want of it) and has no size limit.
class TlbGather {
public:
    explicit TlbGather(AddressSpace& as) : as_(as) {}
    ~TlbGather() {
        if (start_ < end_) as_.shoot_down(start_, end_);
        while (head_ != GATHER_END) {
            uint32_t i = head_;
            head_ = g_gather_next[i];
            (void)mm::free_frames(uint64_t(i) * PAGE, 0);
        }
    }
    TlbGather(const TlbGather&) = delete;
    TlbGather& operator=(const TlbGather&) = delete;

    // Entries of [start, end) changed: flush them everywhere.
    void note(uint64_t start, uint64_t end) {
        if (start < start_) start_ = start;
        if (end > end_) end_ = end;
    }
    void free_later(uint64_t phys) {
        uint64_t i = phys / PAGE;
        if (i >= g_gather_frames) panic("address space: frame %#lx beyond the frame table", phys);
        g_gather_next[i] = head_;
        head_ = uint32_t(i);
    }
    // A user frame's mapping went: free it later when that was its last.
    void release_later(uint64_t phys) {
        if (!g_shares.covers(phys) || g_shares.release(phys)) free_later(phys);
    }
    void tables_later(const mm::Unmapped& u) {
        for (unsigned i = 0; i < u.released_count; i++) free_later(u.released_tables[i]);
    }

private:
    AddressSpace& as_;
    uint64_t start_ = UINT64_MAX, end_ = 0;
    uint32_t head_ = GATHER_END;
};

Result<void> init_frame_shares(uint64_t phys_end) {
    size_t frames = size_t(phys_end / PAGE);
    if (frames >= GATHER_END) return Errno::Inval;
    auto* counts = static_cast<uint16_t*>(mm::kmalloc(frames * sizeof(uint16_t)));
    if (!counts) return Errno::NoMem;
    auto* next = static_cast<uint32_t*>(mm::kmalloc(frames * sizeof(uint32_t)));
    if (!next) {
        mm::kfree(counts);
        return Errno::NoMem;
    }
    __builtin_memset(counts, 0, frames * sizeof(uint16_t));
    g_shares.attach(counts, frames);
    g_gather_next = next;
    g_gather_frames = frames;
    return {};
}

const char* fault_result_name(FaultResult r) {
    switch (r) {
        case FaultResult::Handled:
            return "handled";
        case FaultResult::NoVma:
            return "no mapping";
        case FaultResult::Protection:
            return "access not permitted";
        case FaultResult::NoMem:
            return "out of memory";
    }
    return "?";
}

uint64_t page_flags(uint32_t prot) {
    uint64_t f = 0;
    if (prot & (Prot::Read | Prot::Write | Prot::Exec)) f |= mm::PageFlag::User;
    if (prot & Prot::Write) f |= mm::PageFlag::Writable;
    if (!(prot & Prot::Exec)) f |= mm::PageFlag::NoExecute;
    return f;
}

AddressSpace::AddressSpace(uint32_t pid, uint64_t root) : pt_(mm::kernel_phys_memory(), root), pid_(pid) {}

Result<AddressSpace*> AddressSpace::create(uint32_t pid) {
    uint64_t root = TRY(mm::create_address_space_root());
    auto* as = new (std::nothrow) AddressSpace(pid, root);
    if (!as) {
        (void)mm::free_frames(root, 0);
        return Errno::NoMem;
    }
    return as;
}

void AddressSpace::destroy() {
    // Walk the lower half directly: every present leaf is a frame of this process, every table
    // below the root was made for it (the higher half is the kernel's and stays).
    mm::PhysMemory& pm = mm::kernel_phys_memory();
    uint64_t* pml4 = pm.table(pt_.root());
    for (unsigned i = 0; i < 256; i++) {
        if (!(pml4[i] & mm::pte::Present)) continue;
        uint64_t pdpt_phys = pml4[i] & mm::pte::AddressMask;
        uint64_t* pdpt = pm.table(pdpt_phys);
        for (unsigned j = 0; j < 512; j++) {
            if (!(pdpt[j] & mm::pte::Present)) continue;
            uint64_t pd_phys = pdpt[j] & mm::pte::AddressMask;
            uint64_t* pd = pm.table(pd_phys);
            for (unsigned k = 0; k < 512; k++) {
                if (!(pd[k] & mm::pte::Present)) continue;
                KASSERT(!(pd[k] & mm::pte::Large));  // user memory is mapped in 4 KiB pages
                uint64_t pt_phys = pd[k] & mm::pte::AddressMask;
                uint64_t* pt = pm.table(pt_phys);
                for (unsigned l = 0; l < 512; l++)
                    if (pt[l] & mm::pte::Present) release_frame(pt[l] & mm::pte::AddressMask);
                (void)mm::free_frames(pt_phys, 0);
            }
            (void)mm::free_frames(pd_phys, 0);
        }
        (void)mm::free_frames(pdpt_phys, 0);
    }
    (void)mm::free_frames(pt_.root(), 0);
    for (Vma* v = vmas_; v;) {
        Vma* next = v->next;
        free_vma(v);
        v = next;
    }
    vmas_ = nullptr;
    delete this;
}

Vma* AddressSpace::find_locked(uint64_t addr) {
    for (Vma* v = vmas_; v; v = v->next)
        if (addr >= v->start && addr < v->end) return v;
    return nullptr;
}

size_t AddressSpace::vma_count() {
    SpinlockGuard g(lock_);
    size_t n = 0;
    for (Vma* v = vmas_; v; v = v->next) n++;
    return n;
}

Result<void> AddressSpace::map(uint64_t start, uint64_t end, uint32_t prot, bool shared, bool replace) {
    if (start % PAGE || end % PAGE || start >= end || start < USER_BOTTOM || end > USER_TOP) return Errno::Inval;
    auto* nv = new (std::nothrow) Vma{start, end, prot, nullptr, shared};
    if (!nv) return Errno::NoMem;
    TlbGather gather(*this);
    SpinlockGuard g(lock_);
    if (replace) {
        if (auto r = unmap_locked(start, end, gather); r.is_error()) {
            delete nv;
            return r.error();
        }
    }
    return map_locked(nv);
}

// Inserts nv (taking it: freed when merged or refused).
Result<void> AddressSpace::map_locked(Vma* nv) {
    uint64_t start = nv->start, end = nv->end;
    uint32_t prot = nv->prot;
    bool shared = nv->shared;
    Vma** link = &vmas_;
    Vma* prev = nullptr;
    while (*link && (*link)->start < start) {
        prev = *link;
        link = &(*link)->next;
    }
    if ((prev && prev->end > start) || (*link && (*link)->start < end)) {
        delete nv;
        return Errno::Exist;
    }
    // Merge with a neighbour of the same permissions (brk grows one step at a time).
    if (prev && prev->end == start && prev->prot == prot && prev->shared == shared && !prev->backing && !nv->backing) {
        delete nv;
        prev->end = end;
        Vma* n = prev->next;
        if (n && n->start == end && n->prot == prot && n->shared == shared && !n->backing) {
            prev->end = n->end;
            prev->next = n->next;
            delete n;
        }
        return {};
    }
    nv->next = *link;
    *link = nv;
    return {};
}

Result<void> AddressSpace::split_locked(uint64_t at) {
    Vma* v = find_locked(at);
    if (!v || v->start == at) return {};
    Vma* tail = copy_vma(*v, at, v->end, v->next);
    if (!tail) return Errno::NoMem;
    v->end = at;
    v->next = tail;
    return {};
}

void AddressSpace::unmap_pages_locked(uint64_t start, uint64_t end, TlbGather& gather) {
    gather.note(start, end);
    for (uint64_t a = start; a < end; a += PAGE) {
        auto u = pt_.unmap(a);
        if (u.is_error()) continue;  // a hole
        invlpg(a);
        gather.release_later(u.value().phys);
        gather.tables_later(u.value());
    }
}

void AddressSpace::shoot_down(uint64_t start, uint64_t end) {
    if (__atomic_load_n(&threads_, __ATOMIC_ACQUIRE) > 1) mm::flush_tlb_range(start, end - start);
}

Result<void> AddressSpace::unmap(uint64_t start, uint64_t end) {
    if (start % PAGE || end % PAGE || start >= end || end > USER_TOP) return Errno::Inval;
    TlbGather gather(*this);
    SpinlockGuard g(lock_);
    return unmap_locked(start, end, gather);
}

Result<void> AddressSpace::unmap_locked(uint64_t start, uint64_t end, TlbGather& gather) {
    TRY(split_locked(start));
    TRY(split_locked(end));
    Vma** link = &vmas_;
    while (*link) {
        Vma* v = *link;
        if (v->start >= start && v->end <= end) {
            unmap_pages_locked(v->start, v->end, gather);
            *link = v->next;
            free_vma(v);
        } else {
            link = &v->next;
        }
    }
    return {};
}

// Moves the present pages of [from, from + len) to [to, to + len), frames and flags unchanged
// (share counts too: each frame keeps one mapping here). The new entries are made first, so a
// failure (no memory for a page table) leaves the old ones in place.
Result<void> AddressSpace::move_pages_locked(uint64_t from, uint64_t to, uint64_t len, TlbGather& gather) {
    gather.note(from, from + len);
    gather.note(to, to + len);
    for (uint64_t off = 0; off < len; off += PAGE) {
        auto t = pt_.translate(from + off);
        if (t.is_error()) continue;
        if (auto r = pt_.map(to + off, t.value().phys & ~(PAGE - 1), t.value().flags & mm::PageFlag::ALL);
            r.is_error()) {
            for (uint64_t back = 0; back < off; back += PAGE) {
                if (pt_.translate(from + back).is_error()) continue;
                auto u = pt_.unmap(to + back);
                if (u.is_error()) continue;
                invlpg(to + back);
                gather.tables_later(u.value());
            }
            return r.error();
        }
    }
    for (uint64_t off = 0; off < len; off += PAGE) {
        auto u = pt_.unmap(from + off);
        if (u.is_error()) continue;
        invlpg(from + off);
        gather.tables_later(u.value());
    }
    return {};
}

Result<uint64_t> AddressSpace::remap(uint64_t old_start, uint64_t old_len, uint64_t new_len, bool may_move,
                                     uint64_t fixed) {
    if (old_start % PAGE || old_len % PAGE || new_len % PAGE || !old_len || !new_len) return Errno::Inval;
    if (old_start > USER_TOP || old_len > USER_TOP - old_start) return Errno::Fault;
    // Whatever part of the move happened, the ranges it touched noted themselves in the gather.
    TlbGather gather(*this);
    return remap_locked(old_start, old_len, new_len, may_move, fixed, gather);
}

Result<uint64_t> AddressSpace::remap_locked(uint64_t old_start, uint64_t old_len, uint64_t new_len, bool may_move,
                                            uint64_t fixed, TlbGather& gather) {
    uint64_t old_end = old_start + old_len;
    SpinlockGuard g(lock_);
    Vma* v = find_locked(old_start);
    if (!v || v->end < old_end) return Errno::Fault;
    uint32_t prot = v->prot;
    bool shared = v->shared;
    if (!fixed) {
        if (new_len <= old_len) {
            if (new_len < old_len) TRY(unmap_locked(old_start + new_len, old_end, gather));
            return old_start;
        }
        // In place, when the pages above are free.
        if (new_len - old_len <= USER_TOP - old_end) {
            auto* nv = new (std::nothrow) Vma{old_end, old_start + new_len, prot, nullptr, shared};
            if (!nv) return Errno::NoMem;
            auto r = map_locked(nv);
            if (r.is_ok()) return old_start;
            if (r.error().code() != Errno::Exist) return r.error();
        }
        if (!may_move) return Errno::NoMem;
    }
    uint64_t to = fixed;
    if (fixed) {
        if (fixed % PAGE || fixed < USER_BOTTOM || fixed > USER_TOP - new_len) return Errno::Inval;
        if (fixed < old_end && old_start < fixed + new_len) return Errno::Inval;  // overlap
        TRY(unmap_locked(fixed, fixed + new_len, gather));
    } else {
        to = TRY(find_free_locked(new_len, 0));
    }
    uint64_t moved = new_len < old_len ? new_len : old_len;
    // Make the range to move one VMA of its own, then give the new place its VMA.
    TRY(split_locked(old_start));
    TRY(split_locked(old_start + moved));
    Vma* moving = find_locked(old_start);
    Vma* nv = copy_vma(*moving, to, to + new_len, nullptr);
    if (!nv) return Errno::NoMem;
    if (nv->backing) nv->backing_start = moving->backing_start + (to - old_start);
    TRY(map_locked(nv));
    if (auto r = move_pages_locked(old_start, to, moved, gather); r.is_error()) {
        (void)unmap_locked(to, to + new_len, gather);
        return r.error();
    }
    // The old range's VMA goes (its pages are gone), and what was beyond the moved part.
    Vma** link = &vmas_;
    while (*link && (*link)->start != old_start) link = &(*link)->next;
    if (*link) {
        Vma* gone = *link;
        *link = gone->next;
        free_vma(gone);
    }
    if (moved < old_len) TRY(unmap_locked(old_start + moved, old_end, gather));
    return to;
}

Result<void> AddressSpace::protect(uint64_t start, uint64_t end, uint32_t prot) {
    if (start % PAGE || end % PAGE || start >= end || end > USER_TOP) return Errno::Inval;
    TRY(protect_locked(start, end, prot));
    shoot_down(start, end);
    return {};
}

bool AddressSpace::covered_locked(uint64_t start, uint64_t end) {
    for (uint64_t a = start; a < end;) {
        Vma* v = find_locked(a);
        if (!v) return false;
        a = v->end;
    }
    return true;
}

bool AddressSpace::covers(uint64_t start, uint64_t end) {
    SpinlockGuard g(lock_);
    return covered_locked(start, end);
}

Result<void> AddressSpace::discard(uint64_t start, uint64_t end) {
    if (start % PAGE || end % PAGE || start >= end || end > USER_TOP) return Errno::Inval;
    TlbGather gather(*this);
    SpinlockGuard g(lock_);
    if (!covered_locked(start, end)) return Errno::NoMem;
    for (Vma* v = vmas_; v; v = v->next) {
        uint64_t s = v->start > start ? v->start : start, e = v->end < end ? v->end : end;
        if (s < e && !v->shared) unmap_pages_locked(s, e, gather);
    }
    return {};
}

Result<void> AddressSpace::protect_locked(uint64_t start, uint64_t end, uint32_t prot) {
    SpinlockGuard g(lock_);
    // The whole range must be mapped.
    if (!covered_locked(start, end)) return Errno::NoMem;
    TRY(split_locked(start));
    TRY(split_locked(end));
    for (Vma* v = vmas_; v; v = v->next) {
        if (v->start < start || v->end > end) continue;
        v->prot = prot;
        for (uint64_t a = v->start; a < v->end; a += PAGE) {
            auto t = pt_.translate(a);
            if (t.is_error()) continue;
            uint64_t flags = page_flags(prot);
            // A frame still shared copy-on-write stays read-only: the next write copies it.
            if (!v->shared && !frame_exclusive(t.value().phys & ~(PAGE - 1))) flags &= ~mm::PageFlag::Writable;
            if (pt_.protect(a, flags).is_ok()) invlpg(a);
        }
    }
    return {};
}

Result<uint64_t> AddressSpace::find_free(uint64_t len, uint64_t hint) {
    SpinlockGuard g(lock_);
    return find_free_locked(len, hint);
}

Result<uint64_t> AddressSpace::find_free_locked(uint64_t len, uint64_t hint) {
    if (len == 0 || len % PAGE || len > MMAP_TOP) return Errno::NoMem;
    auto overlapping = [&](uint64_t s, uint64_t e) -> Vma* {
        for (Vma* v = vmas_; v; v = v->next)
            if (v->start < e && s < v->end) return v;
        return nullptr;
    };
    if (hint && hint % PAGE == 0 && hint >= USER_BOTTOM && hint <= USER_TOP - len && !overlapping(hint, hint + len))
        return hint;
    // Top-down: the top of the highest gap below MMAP_TOP that fits. The list is sorted and
    // disjoint, so one walk finds it (stepping down VMA by VMA with a walk per step was
    // quadratic, 4% of a sort that mmaps a lot).
    uint64_t found = 0, gap_start = USER_BOTTOM;
    for (Vma* v = vmas_;; v = v->next) {
        uint64_t gap_end = v && v->start < MMAP_TOP ? v->start : MMAP_TOP;
        if (gap_end > gap_start && gap_end - gap_start >= len) found = gap_end - len;
        if (!v || v->end >= MMAP_TOP) break;
        if (v->end > gap_start) gap_start = v->end;
    }
    if (found) return found;
    return Errno::NoMem;
}

Result<uint64_t> AddressSpace::populate_locked(uint64_t page, uint32_t prot) {
    if (auto t = pt_.translate(page); t.is_ok()) return t.value().phys & ~(PAGE - 1);
    uint64_t phys = TRY(mm::alloc_frames(0, mm::Owner::process(pid_)));
    __builtin_memset(mm::phys_to_virt(phys), 0, PAGE);
    if (auto r = pt_.map(page, phys, page_flags(prot)); r.is_error()) {
        (void)mm::free_frames(phys, 0);
        return r.error();
    }
    return phys;
}

Result<void> AddressSpace::attach_shared_frames(uint64_t first_page, SharedFrames& frames) {
    for (size_t i = 0; i < frames.count; i++)
        if (!g_shares.covers(frames.frames[i])) return Errno::NoMem;  // sharing needs its count
    SpinlockGuard g(lock_);
    uint64_t end = first_page + frames.count * PAGE;
    Vma* v = find_locked(first_page);
    if (!v || first_page % PAGE || v->end < end || v->backing) return Errno::Inval;
    TRY(split_locked(first_page));
    TRY(split_locked(end));
    v = find_locked(first_page);
    frames.ref();
    v->backing = &frames;
    v->backing_start = first_page;
    return {};
}

Result<uint64_t> AddressSpace::populate(uint64_t virt) {
    SpinlockGuard g(lock_);
    Vma* v = find_locked(virt);
    if (!v) return Errno::Inval;
    uint64_t page = virt & ~(PAGE - 1);
    if (v->backing && pt_.translate(page).is_error()) return backed_page_locked(v, page, true);
    return populate_locked(page, v->prot);
}

// Maps the backing frame of a page not yet present: shared and read-only, or for a write (a
// writable mapping made so by mprotect, or the kernel filling it) a private copy.
Result<uint64_t> AddressSpace::backed_page_locked(Vma* v, uint64_t page, bool write) {
    uint64_t index = (page - v->backing_start) / PAGE;
    if (page < v->backing_start || index >= v->backing->count) return populate_locked(page, v->prot);
    uint64_t frame = v->backing->frames[index];
    if (!write) {
        TRY(pt_.map(page, frame, page_flags(v->prot) & ~mm::PageFlag::Writable));
        g_shares.share(frame);
        return frame;
    }
    uint64_t copy = TRY(mm::alloc_frames(0, mm::Owner::process(pid_)));
    __builtin_memcpy(mm::phys_to_virt(copy), mm::phys_to_virt(frame), PAGE);
    if (auto r = pt_.map(page, copy, page_flags(v->prot)); r.is_error()) {
        (void)mm::free_frames(copy, 0);
        return r.error();
    }
    return copy;
}

FaultResult AddressSpace::handle_fault(uint64_t addr, bool write, bool exec) {
    TlbGather gather(*this);
    SpinlockGuard g(lock_);
    return handle_fault_locked(addr, write, exec, gather);
}

FaultResult AddressSpace::handle_fault_locked(uint64_t addr, bool write, bool exec, TlbGather& gather) {
    Vma* v = find_locked(addr);
    if (!v) return FaultResult::NoVma;
    if ((write && !(v->prot & Prot::Write)) || (exec && !(v->prot & Prot::Exec)) ||
        (!write && !exec && !(v->prot & (Prot::Read | Prot::Write | Prot::Exec))))
        return FaultResult::Protection;
    uint64_t page = addr & ~(PAGE - 1);
    if (auto t = pt_.translate(page); t.is_ok()) {
        if (write && !(t.value().flags & mm::PageFlag::Writable)) {
            return break_cow_locked(page, t.value().phys & ~(PAGE - 1), v->prot, gather);
        }
        // Present and the VMA allows the access: a stale TLB entry from a permission change.
        invlpg(page);
        return FaultResult::Handled;
    }
    auto mapped = v->backing ? backed_page_locked(v, page, write) : populate_locked(page, v->prot);
    return mapped.is_ok() ? FaultResult::Handled : FaultResult::NoMem;
}

Result<AddressSpace::PageInfo> AddressSpace::lookup(uint64_t virt) {
    SpinlockGuard g(lock_);
    auto t = pt_.translate(virt & ~(PAGE - 1));
    if (t.is_error()) return Errno::NoEnt;
    uint64_t phys = t.value().phys & ~(PAGE - 1);
    Vma* v = find_locked(virt);
    return PageInfo{phys, (t.value().flags & mm::PageFlag::Writable) != 0,
                    g_shares.covers(phys) ? g_shares.sharers(phys) : uint16_t(0), v && v->shared};
}

FaultResult AddressSpace::break_cow_locked(uint64_t page, uint64_t phys, uint32_t prot, TlbGather& gather) {
    if (frame_exclusive(phys)) {
        // The other sharers are gone: the frame is ours again.
        if (pt_.protect(page, page_flags(prot)).is_error()) return FaultResult::NoMem;
        invlpg(page);
        return FaultResult::Handled;
    }
    auto copy = mm::alloc_frames(0, mm::Owner::process(pid_));
    if (copy.is_error()) return FaultResult::NoMem;
    __builtin_memcpy(mm::phys_to_virt(copy.value()), mm::phys_to_virt(phys), PAGE);
    // Swap the frame: unmap (freeing any table that became empty once the entry is flushed),
    // then map the copy.
    auto u = pt_.unmap(page);
    if (u.is_error()) {
        (void)mm::free_frames(copy.value(), 0);
        return FaultResult::NoMem;
    }
    invlpg(page);
    // Other threads' CPUs may hold the read-only entry of the old frame.
    gather.note(page, page + PAGE);
    gather.tables_later(u.value());
    if (pt_.map(page, copy.value(), page_flags(prot)).is_error()) {
        (void)mm::free_frames(copy.value(), 0);
        if (pt_.map(page, phys, page_flags(prot) & ~mm::PageFlag::Writable).is_error()) gather.release_later(phys);
        return FaultResult::NoMem;
    }
    gather.release_later(phys);
    return FaultResult::Handled;
}

void AddressSpace::flush_own_tlb(bool needed) {
    // Write-protected entries must not linger in this CPU's TLB; no other CPU has this space
    // loaded (see the header), and one CR3 reload is cheaper than an invlpg per page.
    if (needed && cpu::read_cr3() == pt_.root()) cpu::write_cr3(pt_.root());
}

Result<AddressSpace*> AddressSpace::fork(uint32_t child_pid) {
    auto r = fork_locked(child_pid);
    // The caller's other threads must stop writing through entries made read-only.
    shoot_down(0, USER_TOP);
    return r;
}

Result<uint32_t> AddressSpace::cmpxchg_user_word(uint64_t virt, uint32_t expected, uint32_t desired) {
    if (virt % 4) return Errno::Inval;
    SpinlockGuard g(lock_);
    auto t = pt_.translate(virt & ~(PAGE - 1));
    if (t.is_error() || !(t.value().flags & mm::PageFlag::Writable) || !(t.value().flags & mm::PageFlag::User))
        return Errno::Fault;
    auto* word = reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(mm::phys_to_virt(t.value().phys & ~(PAGE - 1))) +
                                             (virt & (PAGE - 1)));
    __atomic_compare_exchange_n(word, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

Result<AddressSpace*> AddressSpace::fork_locked(uint32_t child_pid) {
    AddressSpace* child = TRY(create(child_pid));
    SpinlockGuard g(lock_);
    // VMAs first, in order.
    Vma** tail = &child->vmas_;
    for (Vma* v = vmas_; v; v = v->next) {
        Vma* c = copy_vma(*v, v->start, v->end, nullptr);
        if (!c) {
            child->destroy();
            return Errno::NoMem;
        }
        *tail = c;
        tail = &c->next;
    }
    child->brk_start = brk_start;
    child->brk = brk;
    // Shared mappings get all their frames now, so that both spaces see the same ones.
    for (Vma* v = vmas_; v; v = v->next) {
        if (!v->shared) continue;
        for (uint64_t a = v->start; a < v->end; a += PAGE) {
            if (populate_locked(a, v->prot).is_error()) {
                child->destroy();
                return Errno::NoMem;
            }
        }
    }
    // Then every present page, found by walking the lower half's tables (not page by page
    // through the VMAs: an 8 MiB stack is mostly holes). Leaves come in address order, as the
    // VMAs do.
    mm::PhysMemory& pm = mm::kernel_phys_memory();
    uint64_t* pml4 = pm.table(pt_.root());
    Vma* v = vmas_;
    bool protected_any = false;
    for (unsigned i = 0; i < 256; i++) {
        if (!(pml4[i] & mm::pte::Present)) continue;
        uint64_t* pdpt = pm.table(pml4[i] & mm::pte::AddressMask);
        for (unsigned j = 0; j < 512; j++) {
            if (!(pdpt[j] & mm::pte::Present)) continue;
            uint64_t* pd = pm.table(pdpt[j] & mm::pte::AddressMask);
            for (unsigned k = 0; k < 512; k++) {
                if (!(pd[k] & mm::pte::Present)) continue;
                uint64_t* pt = pm.table(pd[k] & mm::pte::AddressMask);
                for (unsigned l = 0; l < 512; l++) {
                    uint64_t& e = pt[l];
                    if (!(e & mm::pte::Present)) continue;
                    uint64_t virt =
                        (uint64_t(i) << 39) | (uint64_t(j) << 30) | (uint64_t(k) << 21) | (uint64_t(l) << 12);
                    while (v && v->end <= virt) v = v->next;
                    bool shared = v && v->start <= virt && v->shared;
                    if (!shared && (e & mm::pte::Writable)) {
                        e &= ~mm::pte::Writable;
                        protected_any = true;
                    }
                    uint64_t phys = e & mm::pte::AddressMask;
                    if (child->pt_.map(virt, phys, e & mm::PageFlag::ALL).is_error()) {
                        child->destroy();
                        flush_own_tlb(protected_any);
                        return Errno::NoMem;
                    }
                    if (g_shares.covers(phys)) g_shares.share(phys);
                }
            }
        }
    }
    flush_own_tlb(protected_any);
    return child;
}

}  // namespace lamina::posix
