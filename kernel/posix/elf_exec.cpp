// lamina:portable
#include "kernel/posix/elf_exec.h"

#include <lamina/page.h>

#include "kernel/domain/loader/elf.h"

namespace lamina::posix {

namespace {

constexpr uint64_t PAGE = PAGE_SIZE;
constexpr uint32_t PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_PHDR = 6;
constexpr uint32_t PF_X = 1, PF_W = 2, PF_R = 4;
constexpr uint16_t ET_EXEC = 2, ET_DYN = 3, EM_X86_64 = 62;
constexpr int64_t DT_NULL = 0, DT_NEEDED = 1, DT_RELA = 7, DT_RELASZ = 8, DT_RELAENT = 9, DT_REL = 17, DT_JMPREL = 23,
                  DT_PLTRELSZ = 2;

bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }

// The file offset holding vaddr (unbiased), through the PT_LOADs' file parts.
bool vaddr_to_offset(const Executable& exe, uint64_t vaddr, uint64_t len, uint64_t* offset) {
    for (size_t i = 0; i < exe.segment_count; i++) {
        const LoadSegment& s = exe.segments[i];
        uint64_t v = s.vaddr - exe.bias;
        if (vaddr >= v && vaddr - v <= s.filesz && len <= s.filesz - (vaddr - v)) {
            *offset = s.offset + (vaddr - v);
            return true;
        }
    }
    return false;
}

}  // namespace

Result<Executable> parse_executable(ExecReader& file) {
    uint64_t size = file.size();
    if (size < sizeof(elf::Ehdr)) return Errno::NoExec;
    elf::Ehdr eh;
    TRY(file.read(0, &eh, sizeof eh));
    if (eh.ident[0] != 0x7f || eh.ident[1] != 'E' || eh.ident[2] != 'L' || eh.ident[3] != 'F') return Errno::NoExec;
    if (eh.ident[4] != 2 /* ELFCLASS64 */ || eh.ident[5] != 1 /* little-endian */ || eh.ident[6] != 1)
        return Errno::NoExec;
    if (eh.machine != EM_X86_64 || (eh.type != ET_EXEC && eh.type != ET_DYN)) return Errno::NoExec;
    if (eh.version != 1) return Errno::Inval;
    if (eh.phentsize != sizeof(elf::Phdr) || eh.phnum == 0 || eh.phnum > 64) return Errno::Inval;
    if (eh.phoff > size || uint64_t(eh.phnum) * sizeof(elf::Phdr) > size - eh.phoff) return Errno::Inval;

    Executable exe;
    exe.pie = eh.type == ET_DYN;
    exe.bias = exe.pie ? PIE_BASE : 0;
    exe.phnum = eh.phnum;
    exe.phentsize = eh.phentsize;
    uint64_t phdr_vaddr = 0;
    bool have_phdr = false;
    bool have_dynamic = false;
    elf::Phdr dynamic{};
    for (uint16_t i = 0; i < eh.phnum; i++) {
        elf::Phdr ph;
        TRY(file.read(eh.phoff + uint64_t(i) * sizeof ph, &ph, sizeof ph));
        if (ph.type == PT_INTERP) return Errno::NoExec;
        if (ph.type == PT_PHDR) {
            phdr_vaddr = ph.vaddr;
            have_phdr = true;
        }
        if (ph.type == PT_DYNAMIC) {
            dynamic = ph;
            have_dynamic = true;
        }
        if (ph.type != PT_LOAD || ph.memsz == 0) continue;
        if (exe.segment_count == Executable::MAX_SEGMENTS) return Errno::Inval;
        if (ph.filesz > ph.memsz) return Errno::Inval;
        uint64_t file_end, vaddr, mem_end;
        if (add_overflows(ph.offset, ph.filesz, &file_end) || file_end > size) return Errno::Inval;
        if ((ph.vaddr % PAGE) != (ph.offset % PAGE)) return Errno::Inval;
        if (add_overflows(ph.vaddr, exe.bias, &vaddr) || add_overflows(vaddr, ph.memsz, &mem_end)) return Errno::Inval;
        if (vaddr < USER_BOTTOM || mem_end > USER_TOP) return Errno::Inval;
        // No overlap with an earlier segment, page-rounded (a page has one set of permissions).
        uint64_t first = vaddr & ~(PAGE - 1), last = (mem_end + PAGE - 1) & ~(PAGE - 1);
        for (size_t j = 0; j < exe.segment_count; j++) {
            const LoadSegment& o = exe.segments[j];
            uint64_t ofirst = o.vaddr & ~(PAGE - 1), olast = (o.vaddr + o.memsz + PAGE - 1) & ~(PAGE - 1);
            if (first < olast && ofirst < last) return Errno::Inval;
        }
        exe.segments[exe.segment_count++] = {vaddr,
                                             ph.memsz,
                                             ph.offset,
                                             ph.filesz,
                                             (ph.flags & PF_R) != 0,
                                             (ph.flags & PF_W) != 0,
                                             (ph.flags & PF_X) != 0};
        if (last > exe.end) exe.end = last;
        // Without PT_PHDR, the headers are visible where the segment mapping file offset 0 has them.
        if (!have_phdr && ph.offset <= eh.phoff && eh.phoff + uint64_t(eh.phnum) * sizeof ph <= ph.offset + ph.filesz)
            phdr_vaddr = ph.vaddr + (eh.phoff - ph.offset), have_phdr = true;
    }
    if (exe.segment_count == 0) return Errno::Inval;
    if (add_overflows(eh.entry, exe.bias, &exe.entry)) return Errno::Inval;
    bool entry_ok = false;
    for (size_t i = 0; i < exe.segment_count; i++) {
        const LoadSegment& s = exe.segments[i];
        if (s.exec && exe.entry >= s.vaddr && exe.entry - s.vaddr < s.memsz) entry_ok = true;
    }
    if (!entry_ok) return Errno::Inval;
    exe.phdr_vaddr = have_phdr ? phdr_vaddr + exe.bias : 0;

    if (exe.pie && have_dynamic) {
        uint64_t dyn_end;
        if (add_overflows(dynamic.offset, dynamic.filesz, &dyn_end) || dyn_end > size) return Errno::Inval;
        uint64_t rela = 0, relasz = 0, relaent = 24;
        bool have_rela = false;
        uint8_t entries[16 * 16];  // read a few entries at a time: the file may be far away
        uint64_t buffered = 0, buffered_at = 0;
        for (uint64_t off = dynamic.offset; off + 16 <= dyn_end; off += 16) {
            if (off + 16 > buffered_at + buffered) {
                buffered_at = off;
                buffered = dyn_end - off < sizeof entries ? (dyn_end - off) & ~uint64_t(15) : sizeof entries;
                TRY(file.read(buffered_at, entries, size_t(buffered)));
            }
            int64_t tag = int64_t(detail::load64(entries + (off - buffered_at)));
            uint64_t val = detail::load64(entries + (off - buffered_at) + 8);
            if (tag == DT_NULL) break;
            if (tag == DT_NEEDED || tag == DT_REL || tag == DT_JMPREL || (tag == DT_PLTRELSZ && val))
                return Errno::NoExec;  // needs a dynamic loader, or relocations Lamina does not do
            if (tag == DT_RELA) {
                rela = val;
                have_rela = true;
            }
            if (tag == DT_RELASZ) relasz = val;
            if (tag == DT_RELAENT) relaent = val;
        }
        if (have_rela && relasz) {
            if (relaent != 24 || relasz % 24) return Errno::Inval;
            if (!vaddr_to_offset(exe, rela, relasz, &exe.rela_offset)) return Errno::Inval;
            exe.rela_count = relasz / 24;
        }
    }
    return exe;
}

Result<Executable> parse_executable(const uint8_t* file, size_t size) {
    if (!file) return Errno::NoExec;
    MemoryExecReader reader(file, size);
    return parse_executable(reader);
}

Result<void> MemoryExecReader::read(uint64_t offset, void* dst, size_t n) {
    if (offset > size_ || n > size_ - offset) return Errno::Inval;
    __builtin_memcpy(dst, data_ + offset, n);
    return {};
}

// The auxiliary vector build_initial_stack writes, AT_NULL included.
constexpr size_t AUXV_ENTRIES = 18;

size_t initial_stack_size(const StackArgs& a) {
    size_t n = 16 + 16 + 7 + 1 + 64;                   // padding, random bytes, "x86_64", alignment
    if (a.argc) n += __builtin_strlen(a.argv[0]) + 1;  // AT_EXECFN's copy
    for (size_t i = 0; i < a.argc; i++) n += __builtin_strlen(a.argv[i]) + 1 + 8;
    for (size_t i = 0; i < a.envc; i++) n += __builtin_strlen(a.envp[i]) + 1 + 8;
    return n + 3 * 8 + AUXV_ENTRIES * 16;
}

Result<StackImage> build_initial_stack(uint8_t* buffer, size_t size, uint64_t top, const StackArgs& a) {
    if (top % 16 || size > top) return Errno::Inval;
    // Strings and the random bytes go at the top; the pointer block below them.
    size_t pos = size;  // buffer offset of the lowest byte used so far
    auto push_bytes = [&](const void* data, size_t n) -> Result<uint64_t> {
        if (n > pos) return Errno::Inval;
        pos -= n;
        __builtin_memcpy(buffer + pos, data, n);
        return top - (size - pos);
    };
    auto push_string = [&](const char* s) -> Result<uint64_t> { return push_bytes(s, __builtin_strlen(s) + 1); };

    if (pos < 16) return Errno::Inval;
    pos -= 16;  // a little padding at the very top (never read by the program)
    __builtin_memset(buffer + pos, 0, 16);
    uint64_t random = TRY(push_bytes(a.random16, 16));
    uint64_t platform = TRY(push_string("x86_64"));
    uint64_t execfn = a.argc ? TRY(push_string(a.argv[0])) : 0;
    // Pushed last to first, the strings lie in order from argv[0] up: their addresses are
    // found again by walking forward, so no limit on their number is needed here.
    for (size_t i = a.envc; i-- > 0;) TRY(push_string(a.envp[i]));
    for (size_t i = a.argc; i-- > 0;) TRY(push_string(a.argv[i]));
    uint64_t first_string = top - (size - pos);

    const Executable& e = *a.exe;
    uint64_t auxv[][2] = {
        {at::PHDR, e.phdr_vaddr},
        {at::PHENT, e.phentsize},
        {at::PHNUM, e.phnum},
        {at::PAGESZ, PAGE},
        {at::BASE, 0},
        {at::FLAGS, 0},
        {at::ENTRY, e.entry},
        {at::UID, a.uid},
        {at::EUID, a.euid},
        {at::GID, a.gid},
        {at::EGID, a.egid},
        {at::SECURE, a.secure},
        {at::HWCAP, a.hwcap},
        {at::CLKTCK, 100},
        {at::RANDOM, random},
        {at::PLATFORM, platform},
        {at::EXECFN, execfn},
        {at::NUL, 0},
    };
    static_assert(sizeof auxv / 16 == AUXV_ENTRIES);
    size_t words = 1 + a.argc + 1 + a.envc + 1 + sizeof auxv / 8;
    // Align the start of the block (argc) to 16 bytes.
    uint64_t block_top = top - (size - pos);
    uint64_t rsp = (block_top - words * 8) & ~uint64_t(15);
    if (top - rsp > size) return Errno::Inval;
    size_t off = size - (top - rsp);
    __builtin_memset(buffer + off, 0, (top - rsp) - (size - pos));
    auto put = [&](uint64_t v) {
        __builtin_memcpy(buffer + off, &v, 8);
        off += 8;
    };
    put(a.argc);
    uint64_t next = first_string;
    for (size_t i = 0; i < a.argc; i++) {
        put(next);
        next += __builtin_strlen(a.argv[i]) + 1;
    }
    put(0);
    for (size_t i = 0; i < a.envc; i++) {
        put(next);
        next += __builtin_strlen(a.envp[i]) + 1;
    }
    put(0);
    for (auto& kv : auxv) {
        put(kv[0]);
        put(kv[1]);
    }
    return StackImage{rsp, size_t(top - rsp)};
}

}  // namespace lamina::posix
