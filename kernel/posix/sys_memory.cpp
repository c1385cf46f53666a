// Memory system calls: brk, mmap, munmap, mremap, mprotect, over the process's AddressSpace
// (kernel/posix/address_space.h).
//
// Contract: anonymous mappings are demand-zero, private or shared (MAP_SHARED pages are shared
// with children across fork); MAP_FIXED replaces what was there, MAP_FIXED_NOREPLACE fails
// with EEXIST instead, and a hint is taken when the range is free. MAP_PRIVATE mappings of
// regular files are filled from the file at mmap time (see fill_from_file); MAP_SHARED file
// mappings are ENODEV until there is a page cache shared with read and write. Lengths are
// rounded up to whole pages; a range that leaves the user half is EINVAL (munmap) or ENOMEM
// (mmap, mprotect), as on Linux. brk never fails: it returns the old break when it cannot move.
#include "kernel/mm/memory.h"
#include "kernel/posix/address_space.h"
#include "kernel/posix/elf_exec.h"
#include "kernel/posix/files.h"
#include "kernel/posix/process.h"
#include "kernel/posix/syscall_handlers.h"

namespace lamina::posix {

using mm::PAGE_SIZE;

namespace {

// Linux's mmap flags and protections (include/uapi/asm-generic/mman-common.h).
constexpr uint64_t MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_SHARED_VALIDATE = 0x03, MAP_FIXED = 0x10,
                   MAP_ANONYMOUS = 0x20, MAP_FIXED_NOREPLACE = 0x100000;
constexpr uint64_t PROT_MASK = Prot::Read | Prot::Write | Prot::Exec;
constexpr uint64_t PROT_GROWSDOWN = 0x01000000, PROT_GROWSUP = 0x02000000;

uint64_t page_up(uint64_t v) { return (v + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }

// A MAP_PRIVATE file mapping is a private anonymous range filled from the file at mmap time:
// later changes to the file are not seen through it (POSIX leaves that unspecified), and its
// pages are ordinary private pages for fork and munmap. Bytes past the end of the file are zero.
Result<void> fill_from_file(AddressSpace& as, OpenFile& f, uint64_t start, uint64_t len, uint64_t off, uint64_t size) {
    for (uint64_t done = 0; done < len && off + done < size; done += PAGE_SIZE) {
        uint64_t phys = TRY(as.populate(start + done));
        uint64_t want = size - (off + done) < PAGE_SIZE ? size - (off + done) : PAGE_SIZE;
        // The frame is this process's own and fresh (zeroed), and only this thread can map or
        // free it, so pread may sleep while filling it through the direct map.
        uint8_t* dst = static_cast<uint8_t*>(mm::phys_to_virt(phys));
        for (uint64_t got = 0; got < want;) {
            size_t n = TRY(f.object()->pread(f, dst + got, want - got, off + done + got));
            if (n == 0) return {};  // the file shrank since fstat: the rest stays zero
            got += n;
        }
    }
    return {};
}

}  // namespace

SyscallResult sys_brk(uint64_t addr) {
    AddressSpace& as = *current_process()->as;
    if (addr < as.brk_start || addr >= USER_TOP) return int64_t(as.brk);
    uint64_t old_top = page_up(as.brk), new_top = page_up(addr);
    if (new_top > old_top) {
        if (as.map(old_top, new_top, Prot::Read | Prot::Write).is_error()) return int64_t(as.brk);
    } else if (new_top < old_top) {
        (void)as.unmap(new_top, old_top);
    }
    as.brk = addr;
    return int64_t(addr);
}

SyscallResult sys_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd, uint64_t off) {
    if (len == 0 || (prot & ~PROT_MASK) || (off & (PAGE_SIZE - 1))) return Errno::Inval;
    uint64_t type = flags & MAP_SHARED_VALIDATE;  // the type bits Linux knows
    if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE) return Errno::Inval;
    RefPtr<OpenFile> file;
    uint64_t file_size = 0;
    if (!(flags & MAP_ANONYMOUS)) {
        if (fd > 0x7fffffff) return Errno::BadF;
        auto got = current_process()->fds->get(int(fd));
        if (got.is_error() || (got.value()->flags() & oflag::Path)) return Errno::BadF;
        file = got.value();
        // Linux checks read access before whether the object can be mapped at all, and for
        // every protection (a PROT_NONE or PROT_WRITE private mapping also needs it).
        if (!file->readable()) return Errno::Acces;
        Stat st;
        if (auto r = file->object()->stat(st); r.is_error() || !is_regular(st.st_mode)) return Errno::NoDev;
        if (type != MAP_PRIVATE) return Errno::NoDev;  // shared file mappings: not yet
        // Past the largest file offset, as Linux checks before looking for room (ENOMEM).
        if (len > uint64_t(INT64_MAX) - PAGE_SIZE || off > uint64_t(INT64_MAX) - page_up(len)) return Errno::Overflow;
        file_size = st.st_size > 0 ? uint64_t(st.st_size) : 0;
    }
    if (len > USER_TOP) return Errno::NoMem;
    len = page_up(len);
    AddressSpace& as = *current_process()->as;
    uint64_t start;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        if (addr & (PAGE_SIZE - 1)) return Errno::Inval;
        if (addr < USER_BOTTOM || addr > USER_TOP - len) return Errno::NoMem;
        start = addr;
        TRY(as.map(start, start + len, uint32_t(prot), type != MAP_PRIVATE, (flags & MAP_FIXED) != 0));
    } else {
        // Another thread may take the free range between the look and the map: look again.
        for (;;) {
            auto r = as.find_free(len, addr & ~(PAGE_SIZE - 1));
            if (r.is_error()) return Errno::NoMem;
            start = r.value();
            auto m = as.map(start, start + len, uint32_t(prot), type != MAP_PRIVATE);
            if (m.is_ok()) break;
            if (m.error().code() != Errno::Exist) return m.error();
        }
    }
    if (file) {
        if (auto r = fill_from_file(as, *file, start, len, off, file_size); r.is_error()) {
            (void)as.unmap(start, start + len);
            return r.error();
        }
    }
    return int64_t(start);
}

Result<void> sys_munmap(uint64_t addr, uint64_t len) {
    if ((addr & (PAGE_SIZE - 1)) || len == 0 || len > USER_TOP) return Errno::Inval;
    uint64_t end = addr + page_up(len);
    if (end > USER_TOP) return Errno::Inval;
    return current_process()->as->unmap(addr, end);
}

// Linux's mremap flags (include/uapi/linux/mman.h).
constexpr uint64_t MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2, MREMAP_DONTUNMAP = 4;

// musl's realloc grows large blocks with it: moving page-table entries instead of copying.
// MREMAP_DONTUNMAP is EINVAL (Linux allows it for private anonymous mappings only; not yet
// here), as is an old_len of 0 (which duplicates shared mappings on Linux).
SyscallResult sys_mremap(uint64_t old_addr, uint64_t old_len, uint64_t new_len, uint64_t flags, uint64_t new_addr) {
    if ((old_addr & (PAGE_SIZE - 1)) || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)))
        return Errno::Inval;
    if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) return Errno::Inval;
    if ((flags & MREMAP_DONTUNMAP) || old_len == 0 || new_len == 0) return Errno::Inval;
    if (old_len > USER_TOP || new_len > USER_TOP) return Errno::NoMem;
    uint64_t fixed = 0;
    if (flags & MREMAP_FIXED) {
        if ((new_addr & (PAGE_SIZE - 1)) || new_addr < USER_BOTTOM) return Errno::Inval;
        fixed = new_addr;
    }
    uint64_t to = TRY(current_process()->as->remap(old_addr, page_up(old_len), page_up(new_len),
                                                   (flags & MREMAP_MAYMOVE) != 0, fixed));
    return int64_t(to);
}

Result<void> sys_mprotect(uint64_t addr, uint64_t len, uint64_t prot) {
    if ((addr & (PAGE_SIZE - 1)) || (prot & ~(PROT_MASK | PROT_GROWSDOWN | PROT_GROWSUP))) return Errno::Inval;
    if (len == 0) return {};
    if (len > USER_TOP || addr + page_up(len) > USER_TOP) return Errno::NoMem;
    return current_process()->as->protect(addr, addr + page_up(len), uint32_t(prot & PROT_MASK));
}

// Advice is accepted when Linux knows it; only MADV_DONTNEED and MADV_FREE act (the pages of
// private mappings go back; the next touch reads zeros). Unknown advice EINVAL, an unmapped
// part of the range ENOMEM, as on Linux.
Result<void> sys_madvise(uint64_t addr, uint64_t len, uint64_t advice) {
    constexpr uint64_t MADV_DONTNEED = 4, MADV_FREE = 8, MADV_HWPOISON = 100;
    // MADV_NORMAL..MADV_DONTNEED (0-4) and MADV_FREE..MADV_POPULATE_WRITE (8-23).
    constexpr uint64_t KNOWN = 0x1full | (((1ull << 24) - 1) & ~0xffull);
    if (addr & (PAGE_SIZE - 1)) return Errno::Inval;
    if (advice == MADV_HWPOISON) return Errno::Perm;
    if (advice >= 64 || !((KNOWN >> advice) & 1)) return Errno::Inval;
    if (len == 0) return {};
    if (len > USER_TOP || addr + page_up(len) > USER_TOP) return Errno::Inval;
    AddressSpace& as = *current_process()->as;
    uint64_t end = addr + page_up(len);
    if (advice == MADV_DONTNEED || advice == MADV_FREE) return as.discard(addr, end);
    if (!as.covers(addr, end)) return Errno::NoMem;
    return {};
}

}  // namespace lamina::posix
