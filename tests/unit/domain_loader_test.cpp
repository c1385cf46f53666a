// The domain loader core against real packages built by this tree (embedded into the test
// binary by the build: see configure, "domains"), and against damaged copies of them.
//
// The packages come in as linked objects rather than as files found at run time, so the test
// needs no build-directory layout or environment: lamina_test_package_NAME_{start,end} for each
// domain, and lamina_test_link_refused_NAME_{start,end} for the linker's message of a domain
// whose link must fail.
#include "kernel/domain/loader/elf.h"
#include "kernel/domain/loader/loader.h"
#include "kernel/domain/loader/package.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

extern "C" {
extern const uint8_t lamina_test_package_hello_start[], lamina_test_package_hello_end[];
extern const uint8_t lamina_test_package_bad_undefined_start[], lamina_test_package_bad_undefined_end[];
extern const uint8_t lamina_test_link_refused_bad_undefined_start[], lamina_test_link_refused_bad_undefined_end[];
}

namespace {

using namespace lamina;
using namespace lamina::domain;
using Bytes = std::vector<uint8_t>;

Bytes hello_package() { return Bytes(lamina_test_package_hello_start, lamina_test_package_hello_end); }

PackageHeader header_of(const Bytes& pkg) {
    PackageHeader h;
    std::memcpy(&h, pkg.data(), sizeof(h));
    return h;
}

Bytes elf_of(const Bytes& pkg) {
    PackageHeader h = header_of(pkg);
    return Bytes(pkg.begin() + h.elf_offset, pkg.begin() + h.elf_offset + h.elf_size);
}

std::string manifest_of(const Bytes& pkg) {
    PackageHeader h = header_of(pkg);
    return std::string(pkg.begin() + h.manifest_offset, pkg.begin() + h.manifest_offset + h.manifest_size);
}

Bytes make_package(const std::string& manifest, const Bytes& elf) {
    Bytes out(package_size(manifest.size(), elf.size()));
    LoadError err;
    EXPECT_TRUE(write_package(reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size(), elf.data(),
                              elf.size(), out.data(), out.size(), err)
                    .is_ok())
        << err.message;
    return out;
}

// The reason a package is refused ("" when it is accepted).
std::string package_refusal(const Bytes& pkg) {
    auto checked = std::make_unique<ValidatedPackage>();
    LoadError err;
    Result<void> r = validate_package(pkg.data(), pkg.size(), *checked, err);
    if (r.is_ok()) return "";
    EXPECT_NE(err.code, Errno::None);
    EXPECT_NE(err.message[0], 0) << "a refusal without a reason";
    return err.message;
}

std::string elf_refusal(const Bytes& elf) {
    LoadError err;
    Result<ElfImage> r = validate_elf(elf.data(), elf.size(), err);
    if (r.is_ok()) return "";
    EXPECT_EQ(err.code, Errno::NoExec);
    EXPECT_NE(err.message[0], 0) << "a refusal without a reason";
    return err.message;
}

ElfImage validated(const Bytes& elf) {
    LoadError err;
    Result<ElfImage> r = validate_elf(elf.data(), elf.size(), err);
    EXPECT_TRUE(r.is_ok()) << err.message;
    return r.is_ok() ? r.value() : ElfImage{};
}

template <typename T>
T get(const Bytes& b, uint64_t off) {
    T v;
    std::memcpy(&v, b.data() + off, sizeof(T));
    return v;
}
template <typename T>
void put(Bytes& b, uint64_t off, const T& v) {
    std::memcpy(b.data() + off, &v, sizeof(T));
}

elf::Ehdr ehdr(const Bytes& elf) { return get<elf::Ehdr>(elf, 0); }
uint64_t phdr_offset(const Bytes& elf, unsigned i) { return ehdr(elf).phoff + i * sizeof(elf::Phdr); }

// The index of the first program header of a type and (for PT_LOAD) with these flags.
int find_phdr(const Bytes& elf, uint32_t type, uint32_t flags = 0) {
    for (unsigned i = 0; i < ehdr(elf).phnum; i++) {
        elf::Phdr p = get<elf::Phdr>(elf, phdr_offset(elf, i));
        if (p.type == type && (!flags || p.flags == flags)) return int(i);
    }
    return -1;
}

// File offset of the first dynamic entry with this tag.
int64_t find_dynamic(const Bytes& elf, int64_t tag) {
    elf::Phdr d = get<elf::Phdr>(elf, phdr_offset(elf, unsigned(find_phdr(elf, elf::PT_DYNAMIC))));
    for (uint64_t off = d.offset; off < d.offset + d.filesz; off += sizeof(elf::Dyn))
        if (get<elf::Dyn>(elf, off).tag == tag) return int64_t(off);
    return -1;
}

// A memory provider over host memory. With a fake base the image "runs" at an address that is
// not the buffer's (enough to check relocation); without one, the window is the run address
// and protect() applies real page permissions, so the image can be executed.
class HostMemory : public MemoryProvider {
public:
    explicit HostMemory(uintptr_t fake_base = 0) : fake_base_(fake_base) {}
    ~HostMemory() {
        if (mem_) munmap(mem_, pages_ * ELF_PAGE_SIZE);
    }

    Result<Region> allocate(size_t pages) override {
        if (fail_allocate) return Errno::NoMem;
        void* p = mmap(nullptr, pages * ELF_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return Errno::NoMem;
        std::memset(p, 0xcc, pages * ELF_PAGE_SIZE);  // the loader must zero what it does not copy
        mem_ = static_cast<uint8_t*>(p);
        pages_ = pages;
        return Region{fake_base_ ? fake_base_ : uintptr_t(p), mem_};
    }

    Result<void> protect(uintptr_t addr, size_t pages, uint32_t prot) override {
        protects.push_back({addr, pages * ELF_PAGE_SIZE, prot});
        if (fake_base_) return {};
        int p = (prot & kProtRead ? PROT_READ : 0) | (prot & kProtWrite ? PROT_WRITE : 0) |
                (prot & kProtExec ? PROT_EXEC : 0);
        if (mprotect(reinterpret_cast<void*>(addr), pages * ELF_PAGE_SIZE, p) != 0) return Errno::Acces;
        return {};
    }

    void release(const Region&, size_t) override { released = true; }

    uint8_t* window() const { return mem_; }
    size_t size() const { return pages_ * ELF_PAGE_SIZE; }

    bool fail_allocate = false;
    bool released = false;
    std::vector<LoadedSegment> protects;

private:
    uintptr_t fake_base_;
    uint8_t* mem_ = nullptr;
    size_t pages_ = 0;
};

LoadedImage load(const ElfImage& img, HostMemory& mem) {
    LoadError err;
    Result<LoadedImage> r = load_image(img, mem, err);
    EXPECT_TRUE(r.is_ok()) << err.message;
    return r.is_ok() ? r.value() : LoadedImage{};
}

// --- the real package -------------------------------------------------------------------------

TEST(DomainLoader, HelloPackageValidates) {
    Bytes pkg = hello_package();
    auto checked = std::make_unique<ValidatedPackage>();
    LoadError err;
    ASSERT_TRUE(validate_package(pkg.data(), pkg.size(), *checked, err).is_ok()) << err.message;
    EXPECT_STREQ(checked->manifest.name, "hello");
    EXPECT_EQ(checked->manifest.version_major, 1);
    EXPECT_EQ(checked->manifest.version_minor, 0);
    EXPECT_EQ(checked->manifest.restart, RestartPolicy::Never);
    const ElfImage& e = checked->elf;
    EXPECT_GE(e.segment_count, 3u);
    for (size_t i = 0; i < e.segment_count; i++)
        EXPECT_FALSE((e.segments[i].prot & kProtWrite) && (e.segments[i].prot & kProtExec));
    EXPECT_GT(e.relocations[0].count, 0u);
    EXPECT_GT(e.symtab.count, e.dynsym.count) << "the package should carry its full .symtab";
    EXPECT_LT(e.relro_start, e.relro_end) << "ld -z relro gives a read-only-after-relocation range";
}

// Loads hello at a given run address and checks what relocation did to its data.
void check_relocated_at(uintptr_t base) {
    SCOPED_TRACE(testing::Message() << "base " << std::hex << base);
    Bytes elf = elf_of(hello_package());
    ElfImage img = validated(elf);
    HostMemory mem(base);
    LoadedImage li = load(img, mem);
    EXPECT_EQ(li.base, base);
    EXPECT_EQ(li.bias, base - img.image_start);
    EXPECT_EQ(li.entry, base + img.entry);

    // The entry resolves through the domain's own symbols, and back.
    uintptr_t entry = 0;
    ASSERT_TRUE(li.symbols.find("lamina_domain_entry", &entry));
    EXPECT_EQ(entry, li.entry);
    const char* name = nullptr;
    uintptr_t offset = 0;
    ASSERT_TRUE(li.symbols.symbolize(li.entry + 3, &name, &offset));
    EXPECT_STREQ(name, "lamina_domain_entry");
    EXPECT_EQ(offset, 3u);

    auto word_at = [&](uintptr_t run_address) {
        EXPECT_GE(run_address, base);
        EXPECT_LE(run_address + 8, base + mem.size());
        uint64_t v;
        std::memcpy(&v, mem.window() + (run_address - base), 8);
        return v;
    };
    // .data: a pointer to the greeting string.
    uintptr_t greeting_ptr = 0;
    ASSERT_TRUE(li.symbols.find("hello_greeting", &greeting_ptr));
    uint64_t greeting = word_at(greeting_ptr);
    ASSERT_GE(greeting, base);
    ASSERT_LT(greeting, base + mem.size());
    EXPECT_STREQ(reinterpret_cast<const char*>(mem.window() + (greeting - base)), "hello from a domain");
    // .data.rel.ro: function pointers, which must name the functions.
    uintptr_t ops = 0;
    ASSERT_TRUE(li.symbols.find("hello_operations", &ops));
    for (int i = 0; i < 2; i++) {
        ASSERT_TRUE(li.symbols.symbolize(word_at(ops + 8 * i), &name, &offset));
        EXPECT_NE(std::strstr(name, i == 0 ? "square" : "twice"), nullptr) << name;
        EXPECT_EQ(offset, 0u);
    }

    // The segment map covers the image in order, never W+X, and the relro table is read-only.
    uintptr_t cursor = base;
    bool ops_read_only = false;
    for (size_t i = 0; i < li.segment_count; i++) {
        const LoadedSegment& s = li.segments[i];
        EXPECT_EQ(s.start, cursor);
        EXPECT_EQ(s.size % ELF_PAGE_SIZE, 0u);
        EXPECT_FALSE((s.prot & kProtWrite) && (s.prot & kProtExec));
        if (ops >= s.start && ops < s.start + s.size) ops_read_only = s.prot == kProtRead;
        if (s.start <= li.entry && li.entry < s.start + s.size) {
            EXPECT_EQ(s.prot, kProtRead | kProtExec);
        }
        if (s.start <= greeting_ptr && greeting_ptr < s.start + s.size) {
            EXPECT_EQ(s.prot, kProtRead | kProtWrite);
        }
        cursor += s.size;
    }
    EXPECT_EQ(cursor, base + li.size);
    EXPECT_TRUE(ops_read_only);
    EXPECT_EQ(mem.protects.size(), li.segment_count);

    // bss and the page tails were zeroed over the provider's 0xcc filling.
    const ElfSegment& last = img.segments[img.segment_count - 1];
    for (uint64_t v = last.vaddr + last.filesz; v < last.vaddr + last.memsz; v++)
        ASSERT_EQ(mem.window()[v - img.image_start], 0) << "bss byte at " << v;
}

TEST(DomainLoader, RelocatesAtTwoBases) {
    check_relocated_at(0x10000000);
    check_relocated_at(0xffff'9000'1234'0000);
}

// The host runs the domain's code too: same ISA and calling convention, no kernel needed.
struct HostCaps {
    static inline std::string log;
    static void do_log(const char* msg, size_t len) {
        log.append(msg, len);
        log += '\n';
    }
    [[noreturn]] static void do_panic(const char* msg, size_t len) {
        ADD_FAILURE() << "domain panic: " << std::string(msg, len);
        std::abort();
    }
    // Pages handed out and not given back, as the kernel records a domain's private heap.
    static inline std::map<void*, size_t> pages;
    static int32_t alloc_pages(size_t count, void** out) {
        *out = std::aligned_alloc(ELF_PAGE_SIZE, count * ELF_PAGE_SIZE);
        if (!*out) return 12;
        std::memset(*out, 0, count * ELF_PAGE_SIZE);
        pages[*out] = count;
        return 0;
    }
    static void free_pages(void* p, size_t count) {
        EXPECT_EQ(pages[p], count);
        pages.erase(p);
        std::free(p);
    }
    // What the kernel does at teardown: drop whatever the domain still holds.
    static size_t teardown() {
        size_t n = 0;
        for (auto& [p, count] : pages) {
            n += count;
            std::free(p);
        }
        pages.clear();
        return n;
    }
    // hello publishes its lookup probe, libdomain its fault-injection entry; the host counts
    // publications and the runtime's.
    static inline size_t published = 0, injection_entries = 0;
    static int32_t publish(const char* name, size_t len, void*) {
        published++;
        injection_entries += std::string(name, len) == LAMINA_INJECT_EXPORT;
        return 0;
    }
    static lamina_domain_caps make() {
        lamina_domain_caps c = {};
        c.abi_version = LAMINA_DOMAIN_ABI_VERSION;
        c.size = sizeof(c);
        c.domain_id = 7;
        c.log = do_log;
        c.panic = do_panic;
        c.alloc_pages = alloc_pages;
        c.free_pages = free_pages;
        c.interface_publish = publish;
        return c;
    }
};

TEST(DomainLoader, RunsHelloTwice) {
    Bytes elf = elf_of(hello_package());
    ElfImage img = validated(elf);
    HostMemory mem1, mem2;
    LoadedImage a = load(img, mem1), b = load(img, mem2);
    ASSERT_NE(a.base, b.base);
    lamina_domain_caps caps = HostCaps::make();
    for (const LoadedImage* li : {&a, &b}) {
        HostCaps::log.clear();
        auto entry = reinterpret_cast<lamina_domain_entry_fn>(li->entry);
        EXPECT_EQ(entry(&caps), 42);
        EXPECT_EQ(HostCaps::log, "hello from a domain (ABI 1.3, domain 7)\n");
    }
    EXPECT_EQ(HostCaps::published, 4u);
    EXPECT_EQ(HostCaps::injection_entries, 2u);
    // Each instance gave its large allocation back and keeps the page of its small-size class.
    EXPECT_EQ(HostCaps::teardown(), 2u);

    lamina_domain_caps future = caps;
    future.abi_version = (LAMINA_DOMAIN_ABI_MAJOR + 1) << 16;
    EXPECT_EQ(reinterpret_cast<lamina_domain_entry_fn>(a.entry)(&future), -22);
    lamina_domain_caps small = caps;
    small.size = 16;
    EXPECT_EQ(reinterpret_cast<lamina_domain_entry_fn>(a.entry)(&small), -22);
}

TEST(DomainLoader, ProviderFailureIsReported) {
    Bytes elf = elf_of(hello_package());
    ElfImage img = validated(elf);
    HostMemory mem;
    mem.fail_allocate = true;
    LoadError err;
    Result<LoadedImage> r = load_image(img, mem, err);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().code(), Errno::NoMem);
}

// --- refusals ---------------------------------------------------------------------------------

TEST(DomainLoader, UndefinedSymbolCannotLinkOrLoad) {
    // The build linked it with --no-undefined and kept the linker's refusal.
    std::string link(lamina_test_link_refused_bad_undefined_start, lamina_test_link_refused_bad_undefined_end);
    EXPECT_NE(link.find("undefined reference to `kernel_secret_function'"), std::string::npos) << link;
    // Linked without the flag, the loader refuses it by name.
    Bytes pkg(lamina_test_package_bad_undefined_start, lamina_test_package_bad_undefined_end);
    std::string why = package_refusal(pkg);
    EXPECT_NE(why.find("undefined symbol 'kernel_secret_function'"), std::string::npos) << why;
}

TEST(DomainLoader, RefusesTruncatedPackagesAndElves) {
    Bytes pkg = hello_package();
    for (size_t n = 0; n < pkg.size(); n += (n < 512 ? 1 : 61)) {
        Bytes cut(pkg.begin(), pkg.begin() + ptrdiff_t(n));
        ASSERT_NE(package_refusal(cut), "") << "package cut to " << n << " bytes";
    }
    // A truncated ELF repacked with a good checksum: the ELF checks must catch it (the section
    // headers are at the end, so every cut loses something the loader reads).
    Bytes elf = elf_of(pkg);
    std::string manifest = manifest_of(pkg);
    for (size_t n = 0; n < elf.size(); n += (n < 1024 ? 1 : 37)) {
        Bytes cut(elf.begin(), elf.begin() + ptrdiff_t(n));
        ASSERT_NE(elf_refusal(cut), "") << "ELF cut to " << n << " bytes";
        if (n % 512 == 0) {
            ASSERT_NE(package_refusal(make_package(manifest, cut)), "");
        }
    }
    EXPECT_NE(package_refusal(Bytes(pkg.begin(), pkg.end() - 1)).find("truncated"), std::string::npos);
}

TEST(DomainLoader, RefusesChecksumMismatch) {
    Bytes pkg = hello_package();
    PackageHeader h = header_of(pkg);
    for (size_t off : {size_t(8), size_t(h.manifest_offset), size_t(h.elf_offset + 100), pkg.size() - 1}) {
        Bytes bad = pkg;
        bad[off] ^= 0x20;
        std::string why = package_refusal(bad);
        const char* want = off == 8 ? "format version" : "checksum mismatch";
        EXPECT_NE(why.find(want), std::string::npos) << why;
    }
}

TEST(DomainLoader, RefusesWritableExecutableSegment) {
    Bytes elf = elf_of(hello_package());
    int text = find_phdr(elf, elf::PT_LOAD, elf::PF_R | elf::PF_X);
    ASSERT_GE(text, 0);
    put<uint32_t>(elf, phdr_offset(elf, unsigned(text)) + offsetof(elf::Phdr, flags),
                  elf::PF_R | elf::PF_W | elf::PF_X);
    EXPECT_NE(elf_refusal(elf).find("writable and executable"), std::string::npos) << elf_refusal(elf);

    Bytes stack = elf_of(hello_package());
    int gs = find_phdr(stack, elf::PT_GNU_STACK);
    ASSERT_GE(gs, 0);
    put<uint32_t>(stack, phdr_offset(stack, unsigned(gs)) + offsetof(elf::Phdr, flags),
                  elf::PF_R | elf::PF_W | elf::PF_X);
    EXPECT_NE(elf_refusal(stack).find("executable stack"), std::string::npos);
}

TEST(DomainLoader, RefusesTextRelocations) {
    Bytes good = elf_of(hello_package());
    ElfImage img = validated(good);
    ASSERT_GT(img.relocations[0].count, 0u);
    uint64_t rela = img.relocations[0].offset;

    // A relocation aimed into .text.
    Bytes elf = good;
    put<uint64_t>(elf, rela + offsetof(elf::Rela, offset), img.entry);
    EXPECT_NE(elf_refusal(elf).find("text relocation"), std::string::npos) << elf_refusal(elf);

    // DT_TEXTREL, and DF_TEXTREL in DT_FLAGS.
    elf = good;
    int64_t sym = find_dynamic(elf, elf::DT_SYMBOLIC);
    ASSERT_GE(sym, 0);
    put<int64_t>(elf, uint64_t(sym), elf::DT_TEXTREL);
    EXPECT_NE(elf_refusal(elf).find("DT_TEXTREL"), std::string::npos) << elf_refusal(elf);
    elf = good;
    int64_t flags = find_dynamic(elf, elf::DT_FLAGS);
    ASSERT_GE(flags, 0);
    put<uint64_t>(elf, uint64_t(flags) + 8, get<uint64_t>(elf, uint64_t(flags) + 8) | elf::DF_TEXTREL);
    EXPECT_NE(elf_refusal(elf).find("DF_TEXTREL"), std::string::npos) << elf_refusal(elf);
}

TEST(DomainLoader, RefusesRelocationsOutOfBoundsOrUnsupported) {
    Bytes good = elf_of(hello_package());
    ElfImage img = validated(good);
    uint64_t rela = img.relocations[0].offset;
    const ElfSegment& last = img.segments[img.segment_count - 1];
    for (uint64_t target :
         {uint64_t(0x10000000), last.vaddr + last.memsz - 4, last.vaddr + last.memsz, ~uint64_t(0) - 3}) {
        Bytes elf = good;
        put<uint64_t>(elf, rela + offsetof(elf::Rela, offset), target);
        EXPECT_NE(elf_refusal(elf).find("outside the loaded segments"), std::string::npos)
            << std::hex << target << ": " << elf_refusal(elf);
    }
    Bytes elf = good;
    put<uint64_t>(elf, rela + offsetof(elf::Rela, info), elf::R_X86_64_PC32);
    EXPECT_NE(elf_refusal(elf).find("R_X86_64_PC32"), std::string::npos) << elf_refusal(elf);
    elf = good;
    put<uint64_t>(elf, rela + offsetof(elf::Rela, info), elf::R_X86_64_IRELATIVE);
    EXPECT_NE(elf_refusal(elf).find("not supported"), std::string::npos);
    elf = good;  // a symbol relocation against a symbol index past the table
    put<uint64_t>(elf, rela + offsetof(elf::Rela, info), (uint64_t(999) << 32) | elf::R_X86_64_64);
    EXPECT_NE(elf_refusal(elf).find("symbol 999"), std::string::npos) << elf_refusal(elf);
}

TEST(DomainLoader, RefusesSecondExportAndMissingEntry) {
    Bytes elf = elf_of(hello_package());
    ElfImage img = validated(elf);
    // Rename the entry in the dynamic string table.
    std::string strings(elf.begin() + ptrdiff_t(img.dynstr_offset),
                        elf.begin() + ptrdiff_t(img.dynstr_offset + img.dynstr_size));
    size_t at = strings.find("lamina_domain_entry");
    ASSERT_NE(at, std::string::npos);
    elf[img.dynstr_offset + at + 18] = 'x';
    EXPECT_NE(elf_refusal(elf).find("exports 'lamina_domain_entrx' besides the entry"), std::string::npos)
        << elf_refusal(elf);
    // Hide it: then there is no entry at all.
    for (uint64_t i = 1; i < img.dynsym.count; i++) {
        uint64_t off = img.dynsym.offset + i * sizeof(elf::Sym) + offsetof(elf::Sym, other);
        elf[off] = elf::STV_HIDDEN;
    }
    EXPECT_NE(elf_refusal(elf).find("no exported entry"), std::string::npos) << elf_refusal(elf);
}

TEST(DomainLoader, RefusesForeignElves) {
    Bytes good = elf_of(hello_package());
    struct Patch {
        size_t offset;
        uint8_t value;
        const char* reason;
    } patches[] = {
        {0, 0x7e, "bad magic"}, {4, 1, "not ELF64"},   {5, 2, "not little-endian"},
        {16, 2, "not ET_DYN"},  {18, 3, "not x86-64"}, {54, 57, "program header size"},
    };
    for (const Patch& p : patches) {
        Bytes elf = good;
        elf[p.offset] = p.value;
        EXPECT_NE(elf_refusal(elf).find(p.reason), std::string::npos) << p.reason << ": " << elf_refusal(elf);
    }
    Bytes elf = good;  // DT_NEEDED
    put<int64_t>(elf, uint64_t(find_dynamic(elf, elf::DT_SYMBOLIC)), elf::DT_NEEDED);
    EXPECT_NE(elf_refusal(elf).find("DT_NEEDED"), std::string::npos);
    elf = good;  // static constructors
    put<int64_t>(elf, uint64_t(find_dynamic(elf, elf::DT_SYMBOLIC)), elf::DT_INIT_ARRAY);
    EXPECT_NE(elf_refusal(elf).find("static constructors"), std::string::npos);
    elf = good;  // a PT_INTERP
    put<uint32_t>(elf, phdr_offset(elf, unsigned(find_phdr(elf, elf::PT_GNU_STACK))), elf::PT_INTERP);
    EXPECT_NE(elf_refusal(elf).find("PT_INTERP"), std::string::npos);
    elf = good;  // overlapping segments: move the text segment onto the first page
    int text = find_phdr(elf, elf::PT_LOAD, elf::PF_R | elf::PF_X);
    put<uint64_t>(elf, phdr_offset(elf, unsigned(text)) + offsetof(elf::Phdr, vaddr),
                  get<uint64_t>(elf, phdr_offset(elf, unsigned(text)) + offsetof(elf::Phdr, offset)) - ELF_PAGE_SIZE);
    EXPECT_NE(elf_refusal(elf).find("overlaps"), std::string::npos) << elf_refusal(elf);
    elf = good;  // a segment that is not page-consistent
    put<uint64_t>(elf, phdr_offset(elf, unsigned(text)) + offsetof(elf::Phdr, vaddr),
                  get<uint64_t>(elf, phdr_offset(elf, unsigned(text)) + offsetof(elf::Phdr, vaddr)) + 8);
    EXPECT_NE(elf_refusal(elf).find("differ within a page"), std::string::npos) << elf_refusal(elf);
}

// Every byte of the ELF header and the program headers, flipped in several ways: each result
// is refused with a reason or, if still acceptable, loads. Under ASan, nothing may read or
// write out of bounds.
void check_consistent(const Bytes& elf, const char* what, size_t where) {
    LoadError e1, e2;
    Result<ElfImage> a = validate_elf(elf.data(), elf.size(), e1);
    Result<ElfImage> b = validate_elf(elf.data(), elf.size(), e2);
    ASSERT_EQ(a.is_ok(), b.is_ok()) << what << " at " << where;
    if (a.is_error()) {
        ASSERT_NE(e1.message[0], 0) << what << " at " << where;
        ASSERT_STREQ(e1.message, e2.message);
        return;
    }
    HostMemory mem(0x40000000);
    LoadError err;
    Result<LoadedImage> li = load_image(a.value(), mem, err);
    ASSERT_TRUE(li.is_ok()) << what << " at " << where << ": accepted, then failed to load: " << err.message;
}

TEST(DomainLoader, EveryHeaderByteFlipped) {
    Bytes good = elf_of(hello_package());
    elf::Ehdr h = ehdr(good);
    size_t end = h.phoff + size_t(h.phnum) * sizeof(elf::Phdr);
    size_t accepted = 0;
    for (size_t off = 0; off < end; off++) {
        if (off >= sizeof(elf::Ehdr) && off < h.phoff) continue;
        for (uint8_t mask : {0x01, 0x02, 0x10, 0x80, 0xff}) {
            Bytes elf = good;
            elf[off] ^= mask;
            check_consistent(elf, "flip", off);
            accepted += elf_refusal(elf).empty();
        }
    }
    // Some flips are harmless (p_paddr, the alignment's low bits...), most are not.
    RecordProperty("accepted_flips", int(accepted));
    std::printf("header flips: %zu variants, %zu still acceptable (and loaded)\n",
                5 * (end - h.phoff + sizeof(elf::Ehdr)), accepted);
}

TEST(DomainLoader, SeededFuzzOverWholeFile) {
    Bytes good = elf_of(hello_package());
    std::string manifest = manifest_of(hello_package());
    std::mt19937_64 rng(0x1a317a);  // fixed seed: failures reproduce
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    size_t runs = 0, accepted = 0;
    while (std::chrono::steady_clock::now() < deadline && runs < 200000) {
        Bytes elf = good;
        int flips = 1 + int(rng() % 4);
        for (int i = 0; i < flips; i++) {
            // Half the flips aim at the first page (headers, dynamic tables, symbols,
            // relocations), where they matter most.
            size_t off = (rng() & 1) ? rng() % std::min<size_t>(elf.size(), 4096) : rng() % elf.size();
            elf[off] ^= uint8_t(1 + rng() % 255);
        }
        check_consistent(elf, "fuzz run", runs);
        if (runs % 64 == 0) (void)package_refusal(make_package(manifest, elf));
        accepted += elf_refusal(elf).empty();
        runs++;
    }
    EXPECT_GT(runs, 100u);
    RecordProperty("fuzz_runs", int(runs));
    RecordProperty("fuzz_accepted", int(accepted));
    std::printf("fuzz: %zu mutated ELFs in 2 s, %zu accepted (and loaded)\n", runs, accepted);
}

// --- manifests --------------------------------------------------------------------------------

std::string manifest_refusal(const std::string& text) {
    auto m = std::make_unique<Manifest>();
    LoadError err;
    if (parse_manifest(text.data(), text.size(), *m, err).is_ok()) return "";
    EXPECT_EQ(err.code, Errno::Inval);
    return err.message;
}

TEST(DomainManifest, ParsesEveryDirective) {
    std::string text =
        "# the file system\n"
        "name fs\n"
        "version 1.12\n"
        "\n"
        "exports block\n"
        "exports fs.vfs\n"
        "imports nvme.block\n"
        "device 1b36:0010\n"
        "device 8086:10FB\n"
        "restart always max=10 window=2m\n";
    auto m = std::make_unique<Manifest>();
    LoadError err;
    ASSERT_TRUE(parse_manifest(text.data(), text.size(), *m, err).is_ok()) << err.message;
    EXPECT_STREQ(m->name, "fs");
    EXPECT_EQ(m->version_major, 1);
    EXPECT_EQ(m->version_minor, 12);
    ASSERT_EQ(m->export_count, 2u);
    EXPECT_STREQ(m->exports[1], "fs.vfs");
    ASSERT_EQ(m->import_count, 1u);
    EXPECT_STREQ(m->imports[0], "nvme.block");
    ASSERT_EQ(m->device_count, 2u);
    EXPECT_EQ(m->devices[1].vendor, 0x8086);
    EXPECT_EQ(m->devices[1].device, 0x10fb);
    EXPECT_EQ(m->restart, RestartPolicy::Always);
    EXPECT_EQ(m->restart_max, 10u);
    EXPECT_EQ(m->restart_window_s, 120u);
    // No final newline, tabs, CRLF.
    std::string crlf = "name\tx\r\nversion 0.0";
    EXPECT_EQ(manifest_refusal(crlf), "");
}

TEST(DomainManifest, RefusalsNameTheLineAndReason) {
    struct Case {
        const char* text;
        const char* reason;
    } cases[] = {
        {"version 1.0\n", "missing required 'name'"},
        {"name x\n", "missing required 'version'"},
        {"name x\nversion 1.0\nnmae y\n", "manifest line 3: unknown key 'nmae'"},
        {"name x\nversion 1\n", "line 2: bad version '1'"},
        {"name x\nversion 1.0.0\n", "bad version"},
        {"name x\nversion 1.65536\n", "bad version"},
        {"name x\nversion 01.0\n", "bad version"},
        {"name x\nversion -1.0\n", "bad version"},
        {"name x\nname y\nversion 1.0\n", "line 2: 'name' given twice"},
        {"name X\nversion 1.0\n", "line 1: bad name 'X'"},
        {"name a-very-long-name-that-goes-beyond-31\nversion 1.0\n", "bad name"},
        {"name x y\nversion 1.0\n", "'name' takes 1 value, got 2"},
        {"name\nversion 1.0\n", "'name' takes 1 value, got 0"},
        {"name x\nversion 1.0\nexports Block\n", "bad interface name 'Block'"},
        {"name x\nversion 1.0\nexports a..b\n", "bad interface name"},
        {"name x\nversion 1.0\nexports a.\n", "bad interface name"},
        {"name x\nversion 1.0\nimports a\nimports a\n", "line 4: interface 'a' listed twice"},
        {"name x\nversion 1.0\ndevice 1b36-0010\n", "bad device '1b36-0010'"},
        {"name x\nversion 1.0\ndevice 1b3:0010\n", "bad device"},
        {"name x\nversion 1.0\ndevice ffff:0010\n", "vendor ffff"},
        {"name x\nversion 1.0\nrestart sometimes\n", "unknown restart policy 'sometimes'"},
        {"name x\nversion 1.0\nrestart never max=3\n", "'restart never' takes no options"},
        {"name x\nversion 1.0\nrestart always max=0\n", "bad 'max=0'"},
        {"name x\nversion 1.0\nrestart always window=60\n", "bad 'window=60'"},
        {"name x\nversion 1.0\nrestart always window=25h\n", "bad 'window=25h'"},
        {"name x\nversion 1.0\nrestart always tries=3\n", "unknown restart option 'tries=3'"},
        {"name x\nversion 1.0\nrestart always\nrestart never\n", "line 4: 'restart' given twice"},
        {"name x\nversion 1.0\nrestart\n", "needs a policy"},
        {"name x\nversion 1.0\nname\xe9\n", "not printable ASCII"},
        {"name x\nversion 1.0\na b c d e f\n", "too many words"},
    };
    for (const Case& c : cases) {
        std::string why = manifest_refusal(c.text);
        EXPECT_NE(why.find(c.reason), std::string::npos) << "manifest:\n" << c.text << "\ngot: " << why;
    }
    EXPECT_NE(manifest_refusal(std::string("name x\0\nversion 1.0\n", 20)).find("NUL byte"), std::string::npos);
    EXPECT_NE(manifest_refusal("name x\nversion 1.0\n# " + std::string(300, 'a') + "\n").find("longer than"),
              std::string::npos);
    std::string many = "name x\nversion 1.0\n";
    for (int i = 0; i < 17; i++) many += "imports i" + std::to_string(i) + "\n";
    EXPECT_NE(manifest_refusal(many).find("more than 16 'imports' lines"), std::string::npos) << manifest_refusal(many);
}

TEST(DomainManifest, BadManifestRefusesThePackage) {
    Bytes elf = elf_of(hello_package());
    for (const char* text : {"version 1.0\n", "name hello\nversion 1.0\ncolour blue\n", "name hello\nversion one\n"}) {
        std::string why = package_refusal(make_package(text, elf));
        EXPECT_EQ(why.rfind("manifest", 0), 0u) << why;
    }
}

}  // namespace
