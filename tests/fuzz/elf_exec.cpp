// execve's ELF checks (kernel/posix/elf_exec) against hostile executables: parse_executable,
// the static-pie relocation walk and the initial stack, with the guarantees elf_exec.h lists
// checked on every accepted file.
#include "tests/fuzz/fuzz.h"

#include "kernel/posix/elf_exec.h"

using namespace lamina;
using namespace lamina::posix;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Result<Executable> r = parse_executable(data, size);
    if (!r.is_ok()) {
        FUZZ_CHECK(r.error() == Errno::NoExec || r.error() == Errno::Inval, "refused with %s, not NoExec or Inval",
                   r.error().name());
        return 0;
    }
    const Executable& exe = r.value();
    FUZZ_CHECK(exe.segment_count > 0 && exe.segment_count <= Executable::MAX_SEGMENTS, "%zu segments",
               exe.segment_count);
    bool entry_ok = false;
    for (size_t i = 0; i < exe.segment_count; i++) {
        const LoadSegment& s = exe.segments[i];
        FUZZ_CHECK(s.filesz <= s.memsz, "segment %zu: filesz > memsz", i);
        FUZZ_CHECK(s.offset <= size && s.filesz <= size - s.offset, "segment %zu outside the file", i);
        FUZZ_CHECK(s.vaddr >= USER_BOTTOM && s.vaddr <= USER_TOP && s.memsz <= USER_TOP - s.vaddr,
                   "segment %zu outside the user half: %#lx + %#lx", i, s.vaddr, s.memsz);
        FUZZ_CHECK(s.vaddr % 4096 == s.offset % 4096, "segment %zu not page-congruent", i);
        FUZZ_CHECK(s.vaddr + s.memsz <= exe.end, "segment %zu above the break", i);
        for (size_t j = 0; j < i; j++) {
            const LoadSegment& t = exe.segments[j];
            // Pages, not bytes: two segments may not share a page either way they are mapped.
            uint64_t a0 = s.vaddr & ~4095ull, a1 = (s.vaddr + s.memsz + 4095) & ~4095ull;
            uint64_t b0 = t.vaddr & ~4095ull, b1 = (t.vaddr + t.memsz + 4095) & ~4095ull;
            FUZZ_CHECK(s.memsz == 0 || t.memsz == 0 || a1 <= b0 || b1 <= a0, "segments %zu and %zu overlap", j, i);
        }
        if (s.exec && exe.entry >= s.vaddr && exe.entry < s.vaddr + s.memsz) entry_ok = true;
    }
    FUZZ_CHECK(entry_ok, "entry %#lx is not in an executable segment", exe.entry);

    if (exe.pie) {
        size_t relocations = 0;
        Result<void> rel = for_each_relative(exe, data, size, [&](uint64_t, uint64_t) { relocations++; });
        if (rel.is_ok())
            FUZZ_CHECK(relocations == exe.rela_count, "%zu of %lu relocations", relocations, exe.rela_count);
    }

    // The stack the program would start with, in a buffer standing for its top 16 KiB.
    static uint8_t stack[16384];
    const char* argv[] = {"/bin/fuzzed", "-x", ""};
    const char* envp[] = {"PATH=/bin", "HOME=/"};
    const uint8_t random16[16] = {};
    StackArgs args{argv, 3, envp, 2, random16, &exe, 0};
    Result<StackImage> st = build_initial_stack(stack, sizeof stack, USER_TOP, args);
    FUZZ_CHECK(st.is_ok(), "no initial stack for an accepted executable");
    FUZZ_CHECK(st.value().rsp % 16 == 0 && st.value().used <= sizeof stack, "a misplaced stack");
    return 0;
}
