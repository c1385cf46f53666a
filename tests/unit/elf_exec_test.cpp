// The executable checks and the initial stack, against a real static musl binary built by ninja
// (tests/programs/hello.c, embedded as lamina_test_program_hello_{start,end}).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernel/posix/elf_exec.h"

extern "C" const uint8_t lamina_test_program_hello_start[], lamina_test_program_hello_end[];
extern "C" const uint8_t lamina_test_program_hello_pie_start[], lamina_test_program_hello_pie_end[];

namespace lamina::posix {
namespace {

using Bytes = std::vector<uint8_t>;
Bytes hello() { return Bytes(lamina_test_program_hello_start, lamina_test_program_hello_end); }
Bytes hello_pie() { return Bytes(lamina_test_program_hello_pie_start, lamina_test_program_hello_pie_end); }

// What must hold for anything parse_executable accepts.
void expect_sane(const Executable& e, size_t file_size) {
    ASSERT_GT(e.segment_count, 0u);
    bool entry_in_exec = false;
    for (size_t i = 0; i < e.segment_count; i++) {
        const LoadSegment& s = e.segments[i];
        EXPECT_LE(s.filesz, s.memsz);
        EXPECT_LE(s.offset + s.filesz, file_size);
        EXPECT_GE(s.vaddr, USER_BOTTOM);
        EXPECT_LE(s.vaddr + s.memsz, USER_TOP);
        EXPECT_EQ(s.vaddr % 4096, s.offset % 4096);
        if (s.exec && e.entry >= s.vaddr && e.entry < s.vaddr + s.memsz) entry_in_exec = true;
    }
    EXPECT_TRUE(entry_in_exec);
}

TEST(ElfExec, AcceptsStaticMuslBinary) {
    Bytes f = hello();
    auto r = parse_executable(f.data(), f.size());
    ASSERT_TRUE(r.is_ok()) << r.error().name();
    const Executable& e = r.value();
    EXPECT_FALSE(e.pie);
    EXPECT_EQ(e.bias, 0u);
    EXPECT_GE(e.segment_count, 2u);
    EXPECT_GE(e.entry, 0x400000u);
    EXPECT_NE(e.phdr_vaddr, 0u);
    EXPECT_EQ(e.phentsize, 56);
    EXPECT_GT(e.end, e.entry);
    expect_sane(e, f.size());
}

TEST(ElfExec, AcceptsStaticPieWithRelativeRelocations) {
    Bytes f = hello_pie();
    auto r = parse_executable(f.data(), f.size());
    ASSERT_TRUE(r.is_ok()) << r.error().name();
    const Executable& e = r.value();
    EXPECT_TRUE(e.pie);
    EXPECT_EQ(e.bias, PIE_BASE);
    EXPECT_GT(e.rela_count, 0u);
    expect_sane(e, f.size());
    size_t applied = 0;
    auto rel = for_each_relative(e, f.data(), f.size(), [&](uint64_t where, uint64_t value) {
        EXPECT_GE(where, PIE_BASE);
        EXPECT_GE(value, PIE_BASE);
        applied++;
    });
    EXPECT_TRUE(rel.is_ok());
    EXPECT_EQ(applied, e.rela_count);

    // Any other relocation type means a dynamic loader's work: refused.
    Bytes g = f;
    g[e.rela_offset + 8] = 6;  // R_X86_64_GLOB_DAT
    auto again = parse_executable(g.data(), g.size());
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(for_each_relative(again.value(), g.data(), g.size(), [](uint64_t, uint64_t) {}).error().code(),
              Errno::NoExec);
}

TEST(ElfExec, PieByteFlipFuzz) {
    Bytes f = hello_pie();
    std::mt19937_64 rng(7);
    for (unsigned round = 0; round < 20000; round++) {
        Bytes g = f;
        size_t pos = rng() % 1024;
        g[pos] ^= uint8_t(1u << (rng() % 8));
        auto r = parse_executable(g.data(), g.size());
        if (!r.is_ok()) continue;
        expect_sane(r.value(), g.size());
        (void)for_each_relative(r.value(), g.data(), g.size(), [&](uint64_t, uint64_t) {});
        if (HasFailure()) return;
    }
}

TEST(ElfExec, RefusesWhatIsNotAnExecutable) {
    Bytes f = hello();
    EXPECT_EQ(parse_executable(nullptr, 0).error().code(), Errno::NoExec);
    Bytes g = f;
    g[0] = 0;
    EXPECT_EQ(parse_executable(g.data(), g.size()).error().code(), Errno::NoExec);
    g = f;
    g[4] = 1;  // 32-bit
    EXPECT_EQ(parse_executable(g.data(), g.size()).error().code(), Errno::NoExec);
    g = f;
    g[18] = 3;  // EM_386
    EXPECT_EQ(parse_executable(g.data(), g.size()).error().code(), Errno::NoExec);
    g = f;
    g[16] = 1;  // ET_REL
    EXPECT_EQ(parse_executable(g.data(), g.size()).error().code(), Errno::NoExec);
    const char script[] = "#!/bin/sh\necho hi\n";
    EXPECT_EQ(parse_executable(reinterpret_cast<const uint8_t*>(script), sizeof script).error().code(), Errno::NoExec);
}

TEST(ElfExec, RefusesEntryOutsideCode) {
    Bytes f = hello();
    uint64_t entry = 0x10;
    std::memcpy(f.data() + 24, &entry, 8);
    EXPECT_EQ(parse_executable(f.data(), f.size()).error().code(), Errno::Inval);
}

TEST(ElfExec, RefusesSegmentInKernelHalf) {
    Bytes f = hello();
    uint64_t phoff;
    std::memcpy(&phoff, f.data() + 32, 8);
    uint16_t phnum;
    std::memcpy(&phnum, f.data() + 56, 2);
    for (uint16_t i = 0; i < phnum; i++) {
        uint8_t* ph = f.data() + phoff + i * 56;
        uint32_t type;
        std::memcpy(&type, ph, 4);
        if (type != 1) continue;
        uint64_t vaddr = 0xffff800000400000;
        std::memcpy(ph + 16, &vaddr, 8);
        break;
    }
    EXPECT_FALSE(parse_executable(f.data(), f.size()).is_ok());
}

// Every prefix of the file: accepted only when nothing it needs was cut off, never a crash.
TEST(ElfExec, TruncationAtEveryLength) {
    Bytes f = hello();
    for (size_t len = 0; len < f.size(); len += (len < 4096 ? 1 : 61)) {
        Bytes g(f.begin(), f.begin() + len);
        auto r = parse_executable(g.data(), g.size());
        if (r.is_ok()) expect_sane(r.value(), g.size());
    }
}

// Random byte changes in the headers (and anywhere), for about two seconds: any accepted result
// must still be sane; ASan/UBSan catch out-of-bounds reads.
TEST(ElfExec, ByteFlipFuzz) {
    Bytes f = hello();
    std::mt19937_64 rng(20261127);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    unsigned accepted = 0, rounds = 0;
    while (std::chrono::steady_clock::now() < deadline && rounds < 200000) {
        Bytes g = f;
        unsigned flips = 1 + rng() % 4;
        for (unsigned k = 0; k < flips; k++) {
            size_t pos = (rng() % 4) ? rng() % 512 : rng() % g.size();  // mostly the headers
            g[pos] ^= uint8_t(1u << (rng() % 8));
        }
        auto r = parse_executable(g.data(), g.size());
        if (r.is_ok()) {
            accepted++;
            expect_sane(r.value(), g.size());
            if (HasFailure()) return;
        }
        rounds++;
    }
    EXPECT_GT(rounds, 100u);
    RecordProperty("accepted", accepted);
}

// A built initial stack read back by user address: buf holds the bytes just below `top`.
struct StackImage {
    const std::vector<uint8_t>& buf;
    uint64_t top;
    const uint8_t* at(uint64_t addr) const { return buf.data() + buf.size() - (top - addr); }
    uint64_t word(uint64_t addr) const {
        uint64_t v;
        std::memcpy(&v, at(addr), 8);
        return v;
    }
    std::string str(uint64_t addr) const { return std::string(reinterpret_cast<const char*>(at(addr))); }
};

TEST(ElfExec, InitialStackLayout) {
    Bytes f = hello();
    Executable e = parse_executable(f.data(), f.size()).value();
    const char* argv[] = {"hello", "one", "two"};
    const char* envp[] = {"HOME=/", "TERM=vt100"};
    uint8_t rnd[16];
    for (int i = 0; i < 16; i++) rnd[i] = uint8_t(i * 7);
    std::vector<uint8_t> buf(8192);
    uint64_t top = 0x7ffffffff000;
    auto r = build_initial_stack(buf.data(), buf.size(), top, {argv, 3, envp, 2, rnd, &e, 0x123});
    ASSERT_TRUE(r.is_ok()) << r.error().name();
    uint64_t rsp = r.value().rsp;
    EXPECT_EQ(rsp % 16, 0u);
    ASSERT_LT(top - rsp, buf.size());
    StackImage image{buf, top};
    auto word = [&](uint64_t addr) { return image.word(addr); };
    auto str = [&](uint64_t addr) { return image.str(addr); };
    EXPECT_EQ(word(rsp), 3u);
    EXPECT_EQ(str(word(rsp + 8)), "hello");
    EXPECT_EQ(str(word(rsp + 16)), "one");
    EXPECT_EQ(str(word(rsp + 24)), "two");
    EXPECT_EQ(word(rsp + 32), 0u);
    EXPECT_EQ(str(word(rsp + 40)), "HOME=/");
    EXPECT_EQ(str(word(rsp + 48)), "TERM=vt100");
    EXPECT_EQ(word(rsp + 56), 0u);
    uint64_t p = rsp + 64;
    bool saw_random = false, saw_pagesz = false, saw_null = false;
    for (int i = 0; i < 40; i++, p += 16) {
        uint64_t k = word(p), v = word(p + 8);
        if (k == at::NUL) {
            saw_null = true;
            break;
        }
        if (k == at::PAGESZ) {
            EXPECT_EQ(v, 4096u);
            saw_pagesz = true;
        }
        if (k == at::ENTRY) {
            EXPECT_EQ(v, e.entry);
        }
        if (k == at::PHDR) {
            EXPECT_EQ(v, e.phdr_vaddr);
        }
        if (k == at::HWCAP) {
            EXPECT_EQ(v, 0x123u);
        }
        if (k == at::RANDOM) {
            saw_random = true;
            EXPECT_EQ(std::memcmp(buf.data() + buf.size() - (top - v), rnd, 16), 0);
        }
    }
    EXPECT_TRUE(saw_random && saw_pagesz && saw_null);
}

// Thousands of strings (xargs builds such lists) in a buffer of initial_stack_size bytes.
TEST(ElfExec, InitialStackHoldsManyStringsInTheSizeItAsksFor) {
    Bytes f = hello();
    Executable e = parse_executable(f.data(), f.size()).value();
    std::vector<std::string> words;
    for (int i = 0; i < 5000; i++) words.push_back(std::to_string(i));
    std::vector<const char*> argv, envp = {"A=1", "LONGER=value"};
    for (auto& w : words) argv.push_back(w.c_str());
    uint8_t rnd[16] = {};
    StackArgs args{argv.data(), argv.size(), envp.data(), envp.size(), rnd, &e, 0};
    std::vector<uint8_t> buf(initial_stack_size(args));
    uint64_t top = 0x7ffffffff000;
    auto r = build_initial_stack(buf.data(), buf.size(), top, args);
    ASSERT_TRUE(r.is_ok()) << r.error().name();
    StackImage image{buf, top};
    auto word = [&](uint64_t addr) { return image.word(addr); };
    auto str = [&](uint64_t addr) { return image.str(addr); };
    uint64_t rsp = r.value().rsp;
    ASSERT_EQ(word(rsp), 5000u);
    for (size_t i = 0; i < 5000; i++) ASSERT_EQ(str(word(rsp + 8 + 8 * i)), words[i]) << i;
    EXPECT_EQ(word(rsp + 8 + 8 * 5000), 0u);
    EXPECT_EQ(str(word(rsp + 8 * 5002)), "A=1");
    EXPECT_EQ(str(word(rsp + 8 * 5003)), "LONGER=value");
    EXPECT_EQ(word(rsp + 8 * 5004), 0u);
    std::vector<uint8_t> small(buf.size() / 2);
    EXPECT_EQ(build_initial_stack(small.data(), small.size(), top, args).error().code(), Errno::Inval);
}

TEST(ElfExec, InitialStackTooSmallIsAnError) {
    Bytes f = hello();
    Executable e = parse_executable(f.data(), f.size()).value();
    const char* argv[] = {"hello"};
    uint8_t rnd[16] = {};
    std::vector<uint8_t> buf(64);
    EXPECT_FALSE(
        build_initial_stack(buf.data(), buf.size(), 0x7ffffffff000, {argv, 1, nullptr, 0, rnd, &e, 0}).is_ok());
}

}  // namespace
}  // namespace lamina::posix
