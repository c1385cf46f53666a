// lamina:portable
#include "kernel/domain/loader/elf_image.h"

#include "kernel/domain/loader/elf.h"
#include <lamina/format.h>

namespace lamina::domain {

namespace {

constexpr uint64_t page_floor(uint64_t v) { return v & ~(ELF_PAGE_SIZE - 1); }
constexpr uint64_t page_ceil(uint64_t v) { return (v + ELF_PAGE_SIZE - 1) & ~(ELF_PAGE_SIZE - 1); }

const char* relocation_name(uint32_t type) {
    switch (type) {
        case elf::R_X86_64_PC32:
            return "R_X86_64_PC32";
        case elf::R_X86_64_GOT32:
            return "R_X86_64_GOT32";
        case elf::R_X86_64_PLT32:
            return "R_X86_64_PLT32";
        case elf::R_X86_64_COPY:
            return "R_X86_64_COPY";
        case elf::R_X86_64_GOTPCREL:
            return "R_X86_64_GOTPCREL";
        case elf::R_X86_64_32:
            return "R_X86_64_32";
        case elf::R_X86_64_32S:
            return "R_X86_64_32S";
        case elf::R_X86_64_DTPMOD64:
            return "R_X86_64_DTPMOD64";
        case elf::R_X86_64_DTPOFF64:
            return "R_X86_64_DTPOFF64";
        case elf::R_X86_64_TPOFF64:
            return "R_X86_64_TPOFF64";
        case elf::R_X86_64_IRELATIVE:
            return "R_X86_64_IRELATIVE";
        default:
            return "unknown";
    }
}

// Everything the checks share: the file, the error, and what earlier checks established.
class Validator {
public:
    Validator(const uint8_t* data, size_t size, LoadError& err) : data_(data), size_(size), err_(err) {
        img_.data = data;
        img_.size = size;
    }

    Result<ElfImage> run() {
        TRY(header());
        TRY(program_headers());
        TRY(dynamic());
        TRY(symbol_count());
        TRY(dynamic_symbols());
        TRY(relocations());
        TRY(section_headers());
        return img_;
    }

private:
    [[gnu::format(printf, 2, 3)]] Error fail(const char* fmt, ...) {
        char reason[112];
        va_list ap;
        va_start(ap, fmt);
        vsnformat(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        return err_.fail(Errno::NoExec, "ELF: %s", reason);
    }

    // [offset, offset + count * entsize) lies inside the file.
    bool in_file(uint64_t offset, uint64_t count, uint64_t entsize) const {
        if (entsize && count > (size_ / entsize)) return false;
        uint64_t len = count * entsize;
        return offset <= size_ && len <= size_ - offset;
    }

    template <typename T>
    T read(uint64_t offset) const {  // callers have checked in_file
        T v;
        __builtin_memcpy(&v, data_ + offset, sizeof(T));
        return v;
    }

    // The file offset of [vaddr, vaddr + len) when that range is file-backed in one segment.
    bool file_offset_of(uint64_t vaddr, uint64_t len, uint64_t& offset) const {
        for (size_t i = 0; i < img_.segment_count; i++) {
            const ElfSegment& s = img_.segments[i];
            if (vaddr < s.vaddr || vaddr - s.vaddr > s.filesz || len > s.filesz - (vaddr - s.vaddr)) continue;
            offset = s.offset + (vaddr - s.vaddr);
            return true;
        }
        return false;
    }

    const ElfSegment* segment_holding(uint64_t vaddr, uint64_t len) const {
        for (size_t i = 0; i < img_.segment_count; i++) {
            const ElfSegment& s = img_.segments[i];
            if (vaddr >= s.vaddr && vaddr - s.vaddr <= s.memsz && len <= s.memsz - (vaddr - s.vaddr)) return &s;
        }
        return nullptr;
    }

    Result<void> header() {
        if (size_ < sizeof(elf::Ehdr)) return fail("%zu bytes, shorter than an ELF header", size_);
        eh_ = read<elf::Ehdr>(0);
        if (__builtin_memcmp(eh_.ident, elf::MAGIC, 4) != 0) return fail("bad magic (not an ELF file)");
        if (eh_.ident[4] != elf::CLASS64) return fail("class %u, not ELF64", eh_.ident[4]);
        if (eh_.ident[5] != elf::DATA2_LSB) return fail("data encoding %u, not little-endian", eh_.ident[5]);
        if (eh_.ident[6] != elf::VERSION_CURRENT) return fail("ident version %u, not 1", eh_.ident[6]);
        if (eh_.ident[7] != elf::OS_ABI_SYSV && eh_.ident[7] != elf::OS_ABI_GNU)
            return fail("OS ABI %u, not System V or GNU", eh_.ident[7]);
        if (eh_.type != elf::TYPE_DYN) return fail("type %u, not ET_DYN (a domain is a shared object)", eh_.type);
        if (eh_.machine != elf::kMachineX86_64) return fail("machine %u, not x86-64", eh_.machine);
        if (eh_.version != 1) return fail("version %u, not 1", eh_.version);
        if (eh_.ehsize != sizeof(elf::Ehdr)) return fail("header size %u, not 64", eh_.ehsize);
        if (eh_.phentsize != sizeof(elf::Phdr))
            return fail("program header size %u, not %zu", eh_.phentsize, sizeof(elf::Phdr));
        if (eh_.phnum == 0 || eh_.phnum > 32) return fail("%u program headers (want 1..32)", eh_.phnum);
        if (!in_file(eh_.phoff, eh_.phnum, sizeof(elf::Phdr)))
            return fail("program headers at %#llx (%u entries) run past the end of the file",
                        (unsigned long long)eh_.phoff, eh_.phnum);
        return {};
    }

    Result<void> program_headers() {
        bool have_dynamic = false, have_relro = false;
        for (uint16_t i = 0; i < eh_.phnum; i++) {
            elf::Phdr ph = read<elf::Phdr>(eh_.phoff + uint64_t(i) * sizeof(elf::Phdr));
            switch (ph.type) {
                case elf::PT_LOAD:
                    TRY(load_segment(i, ph));
                    break;
                case elf::PT_DYNAMIC:
                    if (have_dynamic) return fail("more than one PT_DYNAMIC");
                    have_dynamic = true;
                    dynamic_ph_ = ph;
                    break;
                case elf::PT_GNU_RELRO:
                    if (have_relro) return fail("more than one PT_GNU_RELRO");
                    have_relro = true;
                    relro_ph_ = ph;
                    break;
                case elf::PT_GNU_STACK:
                    if (ph.flags & elf::PF_X) return fail("PT_GNU_STACK asks for an executable stack");
                    break;
                case elf::PT_NULL:
                case elf::PT_NOTE:
                case elf::PT_PHDR:
                case elf::PT_GNU_EH_FRAME:
                case elf::PT_GNU_PROPERTY:
                    break;
                case elf::PT_INTERP:
                    return fail("PT_INTERP: a domain has no program interpreter");
                case elf::PT_TLS:
                    return fail("PT_TLS: thread-local storage is not supported in domains");
                default:
                    return fail("program header %u has unsupported type %#x", i, ph.type);
            }
        }
        if (img_.segment_count == 0) return fail("no PT_LOAD segment");
        if (!have_dynamic) return fail("no PT_DYNAMIC (not linked as a shared object?)");
        img_.image_start = page_floor(img_.segments[0].vaddr);
        const ElfSegment& last = img_.segments[img_.segment_count - 1];
        img_.image_end = page_ceil(last.vaddr + last.memsz);

        // PT_DYNAMIC must be file-backed by a loaded segment at the place its offset says.
        uint64_t off;
        if (dynamic_ph_.filesz == 0 || dynamic_ph_.filesz % sizeof(elf::Dyn) ||
            !file_offset_of(dynamic_ph_.vaddr, dynamic_ph_.filesz, off) || off != dynamic_ph_.offset)
            return fail("PT_DYNAMIC (vaddr %#llx, %llu bytes) is not inside a loaded segment",
                        (unsigned long long)dynamic_ph_.vaddr, (unsigned long long)dynamic_ph_.filesz);
        if (have_relro && relro_ph_.memsz) {
            const ElfSegment* s = segment_holding(relro_ph_.vaddr, relro_ph_.memsz);
            if (!s || !(s->prot & kProtWrite))
                return fail("PT_GNU_RELRO (vaddr %#llx) is not inside a writable segment",
                            (unsigned long long)relro_ph_.vaddr);
            // Only whole pages can be made read-only; the segment owns its first page alone.
            img_.relro_start = page_floor(relro_ph_.vaddr);
            img_.relro_end = page_floor(relro_ph_.vaddr + relro_ph_.memsz);
            if (img_.relro_end < img_.relro_start) img_.relro_end = img_.relro_start;
        }
        return {};
    }

    Result<void> load_segment(uint16_t i, const elf::Phdr& ph) {
        if (img_.segment_count == MAX_LOAD_SEGMENTS) return fail("more than %zu PT_LOAD segments", MAX_LOAD_SEGMENTS);
        if (ph.flags & ~uint32_t(elf::PF_R | elf::PF_W | elf::PF_X))
            return fail("segment %u has unknown flags %#x", i, ph.flags);
        if ((ph.flags & elf::PF_W) && (ph.flags & elf::PF_X))
            return fail("segment %u (vaddr %#llx) is writable and executable", i, (unsigned long long)ph.vaddr);
        if (ph.filesz > ph.memsz)
            return fail("segment %u: file size %#llx exceeds memory size %#llx", i, (unsigned long long)ph.filesz,
                        (unsigned long long)ph.memsz);
        if (ph.memsz == 0) return {};  // ld leaves these for empty output sections; nothing to load
        if (!in_file(ph.offset, ph.filesz, 1))
            return fail("segment %u (offset %#llx, %#llx bytes) runs past the end of the file", i,
                        (unsigned long long)ph.offset, (unsigned long long)ph.filesz);
        if (ph.vaddr >= DOMAIN_MAX_IMAGE || ph.memsz > DOMAIN_MAX_IMAGE - ph.vaddr)
            return fail("segment %u (vaddr %#llx, %#llx bytes) lies beyond the %llu MiB a domain may span", i,
                        (unsigned long long)ph.vaddr, (unsigned long long)ph.memsz,
                        (unsigned long long)(DOMAIN_MAX_IMAGE >> 20));
        if (ph.vaddr % ELF_PAGE_SIZE != ph.offset % ELF_PAGE_SIZE)
            return fail("segment %u: vaddr %#llx and offset %#llx differ within a page", i,
                        (unsigned long long)ph.vaddr, (unsigned long long)ph.offset);
        if (ph.align > 1 && (ph.align & (ph.align - 1)))
            return fail("segment %u: alignment %#llx is not a power of two", i, (unsigned long long)ph.align);
        if (img_.segment_count > 0) {
            const ElfSegment& prev = img_.segments[img_.segment_count - 1];
            if (page_floor(ph.vaddr) < page_ceil(prev.vaddr + prev.memsz))
                return fail(
                    "segment %u (vaddr %#llx) overlaps or shares a page with the one before, "
                    "or is out of order",
                    i, (unsigned long long)ph.vaddr);
        }
        uint32_t prot = 0;
        if (ph.flags & elf::PF_R) prot |= kProtRead;
        if (ph.flags & elf::PF_W) prot |= kProtWrite;
        if (ph.flags & elf::PF_X) prot |= kProtExec;
        img_.segments[img_.segment_count++] = ElfSegment{ph.vaddr, ph.memsz, ph.offset, ph.filesz, prot};
        return {};
    }

    Result<void> dynamic() {
        uint64_t n = dynamic_ph_.filesz / sizeof(elf::Dyn);
        bool terminated = false;
        uint64_t seen = 0;  // bit per tag below 64, to refuse repeats
        bool have_gnu_hash = false, have_hash = false, have_rela = false, have_jmprel = false;
        uint64_t relasz = 0, relaent = 0, pltrelsz = 0, pltrel = 0, syment = 0, strsz = 0;
        uint64_t symtab = 0, strtab = 0, rela = 0, jmprel = 0;
        bool have_symtab = false, have_strtab = false, have_strsz = false, have_relasz = false, have_pltrelsz = false;
        for (uint64_t i = 0; i < n; i++) {
            elf::Dyn d = read<elf::Dyn>(dynamic_ph_.offset + i * sizeof(elf::Dyn));
            if (d.tag == elf::DT_NULL) {
                terminated = true;
                break;
            }
            if (d.tag >= 0 && d.tag < 64) {
                if (seen & (1ull << d.tag)) return fail("dynamic tag %lld given twice", (long long)d.tag);
                seen |= 1ull << d.tag;
            }
            switch (d.tag) {
                case elf::DT_NEEDED:
                    return fail("DT_NEEDED: a domain may not depend on shared libraries");
                case elf::DT_TEXTREL:
                    return fail("DT_TEXTREL: text relocations are not allowed");
                case elf::DT_FLAGS:
                    if (d.val & elf::DF_TEXTREL) return fail("DF_TEXTREL: text relocations are not allowed");
                    if (d.val & elf::DF_STATIC_TLS) return fail("DF_STATIC_TLS: thread-local storage is not supported");
                    break;
                case elf::DT_REL:
                case elf::DT_RELSZ:
                case elf::DT_RELENT:
                case elf::DT_RELCOUNT:
                    return fail("REL relocations (dynamic tag %lld): x86-64 domains use RELA only", (long long)d.tag);
                case elf::DT_RELR:
                case elf::DT_RELRSZ:
                case elf::DT_RELRENT:
                    return fail("RELR relocations are not supported (link without -z pack-relative-relocs)");
                case elf::DT_INIT:
                case elf::DT_FINI:
                case elf::DT_INIT_ARRAY:
                case elf::DT_FINI_ARRAY:
                case elf::DT_PREINIT_ARRAY:
                    return fail(
                        "static constructors or destructors (dynamic tag %lld): the loader runs "
                        "none; initialise from the entry",
                        (long long)d.tag);
                case elf::DT_INIT_ARRAYSZ:
                case elf::DT_FINI_ARRAYSZ:
                case elf::DT_PREINIT_ARRAYSZ:
                    if (d.val) return fail("static constructors or destructors (dynamic tag %lld)", (long long)d.tag);
                    break;
                case elf::DT_VERNEED:
                case elf::DT_VERNEEDNUM:
                    return fail("symbol version requirements: a domain needs nothing from outside");
                case elf::DT_RPATH:
                case elf::DT_RUNPATH:
                    return fail("library search path (dynamic tag %lld) in a domain", (long long)d.tag);
                case elf::DT_SYMTAB:
                    symtab = d.val;
                    have_symtab = true;
                    break;
                case elf::DT_STRTAB:
                    strtab = d.val;
                    have_strtab = true;
                    break;
                case elf::DT_STRSZ:
                    strsz = d.val;
                    have_strsz = true;
                    break;
                case elf::DT_SYMENT:
                    syment = d.val;
                    break;
                case elf::DT_RELA:
                    rela = d.val;
                    have_rela = true;
                    break;
                case elf::DT_RELASZ:
                    relasz = d.val;
                    have_relasz = true;
                    break;
                case elf::DT_RELAENT:
                    relaent = d.val;
                    break;
                case elf::DT_JMPREL:
                    jmprel = d.val;
                    have_jmprel = true;
                    break;
                case elf::DT_PLTRELSZ:
                    pltrelsz = d.val;
                    have_pltrelsz = true;
                    break;
                case elf::DT_PLTREL:
                    pltrel = d.val;
                    break;
                case elf::DT_HASH:
                    hash_ = d.val;
                    have_hash = true;
                    break;
                case elf::DT_GNU_HASH:
                    if (have_gnu_hash) return fail("DT_GNU_HASH given twice");
                    gnu_hash_ = d.val;
                    have_gnu_hash = true;
                    break;
                case elf::DT_PLTGOT:
                case elf::DT_SONAME:
                case elf::DT_SYMBOLIC:
                case elf::DT_DEBUG:
                case elf::DT_BIND_NOW:
                case elf::DT_FLAGS_1:
                case elf::DT_RELACOUNT:
                case elf::DT_VERSYM:
                case elf::DT_VERDEF:
                case elf::DT_VERDEFNUM:
                    break;
                default:
                    return fail("unsupported dynamic tag %#llx", (unsigned long long)d.tag);
            }
        }
        if (!terminated) return fail("dynamic section has no DT_NULL terminator");
        if (!have_symtab || !have_strtab || !have_strsz)
            return fail("dynamic section lacks DT_SYMTAB, DT_STRTAB or DT_STRSZ");
        if (syment != sizeof(elf::Sym))
            return fail("DT_SYMENT %llu, not %zu", (unsigned long long)syment, sizeof(elf::Sym));
        if (!have_hash && !have_gnu_hash) return fail("no DT_HASH or DT_GNU_HASH to count the symbols by");
        use_gnu_hash_ = !have_hash;

        if (strsz == 0 || !file_offset_of(strtab, strsz, img_.dynstr_offset))
            return fail("dynamic string table (vaddr %#llx, %llu bytes) is not inside a loaded segment",
                        (unsigned long long)strtab, (unsigned long long)strsz);
        if (data_[img_.dynstr_offset + strsz - 1] != 0) return fail("dynamic string table is not NUL-terminated");
        img_.dynstr_size = strsz;
        symtab_vaddr_ = symtab;

        if (have_rela != have_relasz) return fail("DT_RELA and DT_RELASZ must come together");
        if (have_rela) TRY(relocation_table(0, "DT_RELA", rela, relasz, relaent));
        if (have_jmprel != have_pltrelsz) return fail("DT_JMPREL and DT_PLTRELSZ must come together");
        if (have_jmprel) {
            if (pltrel != uint64_t(elf::DT_RELA))
                return fail("DT_PLTREL is %llu, not DT_RELA", (unsigned long long)pltrel);
            TRY(relocation_table(1, "DT_JMPREL", jmprel, pltrelsz, sizeof(elf::Rela)));
        }
        return {};
    }

    Result<void> relocation_table(int index, const char* what, uint64_t vaddr, uint64_t bytes, uint64_t entsize) {
        if (entsize != sizeof(elf::Rela)) return fail("%s entry size %llu, not 24", what, (unsigned long long)entsize);
        if (bytes % sizeof(elf::Rela))
            return fail("%s size %llu is not a multiple of 24", what, (unsigned long long)bytes);
        if (bytes / sizeof(elf::Rela) > MAX_RELOCATIONS) return fail("%s: too many relocations", what);
        FileTable& t = img_.relocations[index];
        if (bytes && !file_offset_of(vaddr, bytes, t.offset))
            return fail("%s table (vaddr %#llx, %llu bytes) is not inside a loaded segment", what,
                        (unsigned long long)vaddr, (unsigned long long)bytes);
        t.count = bytes / sizeof(elf::Rela);
        return {};
    }

    // The dynamic symbol table has no size of its own: the hash table tells how many entries.
    Result<void> symbol_count() {
        uint64_t count;
        if (!use_gnu_hash_) {
            uint64_t off;
            if (!file_offset_of(hash_, 8, off)) return fail("DT_HASH is not inside a loaded segment");
            uint32_t nbucket = read<uint32_t>(off), nchain = read<uint32_t>(off + 4);
            uint64_t ignored;
            if (!file_offset_of(hash_, 8 + 4 * (uint64_t(nbucket) + nchain), ignored))
                return fail("DT_HASH table runs past its segment");
            count = nchain;
        } else {
            uint64_t off;
            if (!file_offset_of(gnu_hash_, 16, off)) return fail("DT_GNU_HASH is not inside a loaded segment");
            uint32_t nbuckets = read<uint32_t>(off), symoffset = read<uint32_t>(off + 4);
            uint32_t bloom_size = read<uint32_t>(off + 8);
            if (nbuckets == 0 || nbuckets > MAX_SYMBOLS || bloom_size > MAX_SYMBOLS || symoffset > MAX_SYMBOLS)
                return fail("DT_GNU_HASH header is implausible (%u buckets, %u bloom words, symbol offset %u)",
                            nbuckets, bloom_size, symoffset);
            uint64_t buckets_vaddr = gnu_hash_ + 16 + uint64_t(bloom_size) * 8;
            uint64_t buckets;
            if (!file_offset_of(buckets_vaddr, uint64_t(nbuckets) * 4, buckets))
                return fail("DT_GNU_HASH buckets run past their segment");
            uint32_t max_index = 0;
            for (uint32_t b = 0; b < nbuckets; b++) {
                uint32_t v = read<uint32_t>(buckets + uint64_t(b) * 4);
                if (v == 0) continue;
                if (v < symoffset || v >= MAX_SYMBOLS) return fail("DT_GNU_HASH bucket %u points at symbol %u", b, v);
                if (v > max_index) max_index = v;
            }
            if (max_index == 0) {
                count = symoffset;
            } else {
                // Follow the last chain to its end marker (bit 0 set).
                uint64_t chain_vaddr = buckets_vaddr + uint64_t(nbuckets) * 4;
                uint64_t index = max_index;
                for (;;) {
                    uint64_t off_c;
                    if (index >= MAX_SYMBOLS || !file_offset_of(chain_vaddr + (index - symoffset) * 4, 4, off_c))
                        return fail("DT_GNU_HASH chain runs past its segment");
                    if (read<uint32_t>(off_c) & 1) break;
                    index++;
                }
                count = index + 1;
            }
        }
        if (count == 0 || count > MAX_SYMBOLS)
            return fail("%llu dynamic symbols (want 1..%zu)", (unsigned long long)count, MAX_SYMBOLS);
        if (!file_offset_of(symtab_vaddr_, count * sizeof(elf::Sym), img_.dynsym.offset))
            return fail("dynamic symbol table (%llu entries at vaddr %#llx) is not inside a loaded segment",
                        (unsigned long long)count, (unsigned long long)symtab_vaddr_);
        img_.dynsym.count = count;
        return {};
    }

    const char* dynamic_name(uint32_t offset) const {
        return offset < img_.dynstr_size ? reinterpret_cast<const char*>(data_ + img_.dynstr_offset + offset) : "?";
    }

    Result<void> dynamic_symbols() {
        bool have_entry = false;
        for (uint64_t i = 1; i < img_.dynsym.count; i++) {
            elf::Sym s = read<elf::Sym>(img_.dynsym.offset + i * sizeof(elf::Sym));
            if (s.name >= img_.dynstr_size)
                return fail("symbol %llu has a name outside the string table", (unsigned long long)i);
            const char* name = dynamic_name(s.name);
            uint8_t type = elf::sym_type(s.info), bind = elf::sym_bind(s.info);
            if (s.shndx == elf::SHN_UNDEF)
                return fail("undefined symbol '%.48s': a domain gets everything through its capability table", name);
            if (type == elf::STT_TLS) return fail("symbol '%.48s' is thread-local", name);
            if (type == elf::STT_GNU_IFUNC) return fail("symbol '%.48s' is an IFUNC", name);
            if (type == elf::STT_COMMON || (s.shndx >= elf::SHN_LORESERVE && s.shndx != elf::SHN_ABS))
                return fail("symbol '%.48s' has special section index %#x", name, s.shndx);
            if (s.shndx != elf::SHN_ABS &&
                (s.value < img_.image_start || s.value > img_.image_end || s.size > img_.image_end - s.value))
                return fail("symbol '%.48s' (%#llx, %llu bytes) lies outside the image", name,
                            (unsigned long long)s.value, (unsigned long long)s.size);
            bool exported = bind != elf::STB_LOCAL && (elf::sym_visibility(s.other) == elf::STV_DEFAULT ||
                                                       elf::sym_visibility(s.other) == elf::STV_PROTECTED);
            if (!exported) continue;
            if (__builtin_strcmp(name, DOMAIN_ENTRY_SYMBOL) != 0)
                return fail("exports '%.48s' besides the entry (build with -fvisibility=hidden)", name);
            if (have_entry) return fail("exports '%s' twice", DOMAIN_ENTRY_SYMBOL);
            const ElfSegment* seg = segment_holding(s.value, 1);
            if (type != elf::STT_FUNC || s.shndx == elf::SHN_ABS || !seg || !(seg->prot & kProtExec))
                return fail("'%s' is not a function in executable code", DOMAIN_ENTRY_SYMBOL);
            have_entry = true;
            img_.entry = s.value;
        }
        if (!have_entry) return fail("no exported entry function '%s' (exactly one is required)", DOMAIN_ENTRY_SYMBOL);
        return {};
    }

    Result<void> relocations() {
        for (const FileTable& t : img_.relocations) {
            for (uint64_t i = 0; i < t.count; i++) {
                elf::Rela r = read<elf::Rela>(t.offset + i * sizeof(elf::Rela));
                uint32_t type = elf::rela_type(r.info), sym = elf::rela_sym(r.info);
                switch (type) {
                    case elf::R_X86_64_NONE:
                        continue;
                    case elf::R_X86_64_RELATIVE:
                        if (sym != 0)
                            return fail("R_X86_64_RELATIVE at %#llx names symbol %u", (unsigned long long)r.offset,
                                        sym);
                        break;
                    case elf::R_X86_64_64:
                    case elf::R_X86_64_GLOB_DAT:
                    case elf::R_X86_64_JUMP_SLOT:
                        // Symbols were all checked to be defined in the package.
                        if (sym == 0 || sym >= img_.dynsym.count)
                            return fail("relocation at %#llx names symbol %u of %llu", (unsigned long long)r.offset,
                                        sym, (unsigned long long)img_.dynsym.count);
                        break;
                    default:
                        return fail("relocation type %u (%s) at %#llx is not supported", type, relocation_name(type),
                                    (unsigned long long)r.offset);
                }
                const ElfSegment* seg = segment_holding(r.offset, 8);
                if (!seg)
                    return fail("relocation at %#llx lies outside the loaded segments", (unsigned long long)r.offset);
                if (!(seg->prot & kProtWrite))
                    return fail("text relocation at %#llx (segment not writable)", (unsigned long long)r.offset);
            }
        }
        return {};
    }

    // Section headers are optional; when present they must be sound, and a .symtab among them
    // gives the backtrace symbols.
    Result<void> section_headers() {
        img_.symtab = img_.dynsym;
        img_.symtab_strings_offset = img_.dynstr_offset;
        img_.symtab_strings_size = img_.dynstr_size;
        if (eh_.shoff == 0) {
            if (eh_.shnum != 0) return fail("%u section headers at offset 0", eh_.shnum);
            return {};
        }
        if (eh_.shentsize != sizeof(elf::Shdr)) return fail("section header size %u, not 64", eh_.shentsize);
        if (eh_.shnum == 0) return fail("section header table with no entries");  // extended numbering unsupported
        if (!in_file(eh_.shoff, eh_.shnum, sizeof(elf::Shdr)))
            return fail("section headers at %#llx (%u entries) run past the end of the file",
                        (unsigned long long)eh_.shoff, eh_.shnum);
        if (eh_.shstrndx >= eh_.shnum) return fail("section name table index %u out of range", eh_.shstrndx);
        bool found = false;
        for (uint16_t i = 0; i < eh_.shnum; i++) {
            elf::Shdr sh = read<elf::Shdr>(eh_.shoff + uint64_t(i) * sizeof(elf::Shdr));
            if (sh.type != elf::SHT_SYMTAB) continue;
            if (found) return fail("more than one .symtab");
            found = true;
            if (sh.entsize != sizeof(elf::Sym) || sh.size % sizeof(elf::Sym) ||
                sh.size / sizeof(elf::Sym) > MAX_SYMBOLS || !in_file(sh.offset, sh.size, 1))
                return fail(".symtab (section %u) has a bad size or lies outside the file", i);
            if (sh.link >= eh_.shnum) return fail(".symtab string table index %u out of range", sh.link);
            elf::Shdr st = read<elf::Shdr>(eh_.shoff + uint64_t(sh.link) * sizeof(elf::Shdr));
            if (st.type != elf::SHT_STRTAB || st.size == 0 || !in_file(st.offset, st.size, 1) ||
                data_[st.offset + st.size - 1] != 0)
                return fail(".symtab's string table (section %u) is bad", sh.link);
            img_.symtab = FileTable{sh.offset, sh.size / sizeof(elf::Sym)};
            img_.symtab_strings_offset = st.offset;
            img_.symtab_strings_size = st.size;
        }
        return {};
    }

    const uint8_t* data_;
    size_t size_;
    LoadError& err_;
    ElfImage img_;
    elf::Ehdr eh_{};
    elf::Phdr dynamic_ph_{};
    elf::Phdr relro_ph_{};
    uint64_t hash_ = 0, gnu_hash_ = 0, symtab_vaddr_ = 0;
    bool use_gnu_hash_ = false;
};

}  // namespace

Result<ElfImage> validate_elf(const uint8_t* data, size_t size, LoadError& err) {
    return Validator(data, size, err).run();
}

}  // namespace lamina::domain
