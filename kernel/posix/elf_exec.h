// lamina:portable
// Checking a static executable before it is mapped (ET_EXEC, or a static-pie ET_DYN whose only
// relocations are R_X86_64_RELATIVE), and building the psABI initial stack.
//
// Guarantees
//   - parse_executable accepts a file only when every PT_LOAD lies inside the file and inside
//     the user half, segments are page-congruent (vaddr ≡ offset mod 4096), do not overlap,
//     filesz <= memsz, and the entry point lies in an executable segment. A PT_INTERP (a
//     dynamically linked program) is refused with NoExec: there is no dynamic loader.
//   - Every bad input is an error (NoExec for what is not an executable for this machine, Inval
//     for a malformed one); nothing reads outside the given bytes (file offsets may be
//     misaligned: headers are copied out, never cast in place).
//   - build_initial_stack lays out argc, argv, envp, auxv and the strings below a given top,
//     16-byte aligned as the x86-64 psABI (3.4.1) asks, into a caller-supplied buffer standing
//     for the highest bytes of the user stack.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::posix {

// The highest user address + 1 Lamina hands out (the canonical lower half, minus a guard page).
inline constexpr uint64_t USER_TOP = 0x0000'7fff'ffff'f000;
inline constexpr uint64_t USER_BOTTOM = 0x10000;  // nothing is ever mapped below: NULL traps
// Where a static-pie executable is placed.
inline constexpr uint64_t PIE_BASE = 0x0000'5555'5555'4000;

struct LoadSegment {
    uint64_t vaddr;  // after the bias
    uint64_t memsz;
    uint64_t offset;  // in the file
    uint64_t filesz;
    bool read, write, exec;
};

struct Executable {
    static constexpr size_t MAX_SEGMENTS = 8;
    LoadSegment segments[MAX_SEGMENTS];
    size_t segment_count = 0;
    uint64_t entry = 0;       // after the bias
    uint64_t phdr_vaddr = 0;  // where the program headers are visible (AT_PHDR); 0 if not mapped
    uint16_t phnum = 0;
    uint16_t phentsize = 0;
    uint64_t bias = 0;  // added to every vaddr (static-pie)
    uint64_t end = 0;   // highest mapped address + 1 (the initial break starts above it)
    // Static-pie: RELATIVE relocations to apply after mapping (file offsets of the table).
    uint64_t rela_offset = 0, rela_count = 0;
    bool pie = false;
};

// Where the checks read the file from: exec streams a program from its file (a 16 MiB binary is
// never in kernel memory at once), tests and boot modules from memory.
class ExecReader {
public:
    virtual uint64_t size() const = 0;
    // Exactly n bytes at offset, or an error (Inval past the end, the file system's otherwise).
    virtual Result<void> read(uint64_t offset, void* dst, size_t n) = 0;

protected:
    ~ExecReader() = default;
};

class MemoryExecReader final : public ExecReader {
public:
    MemoryExecReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    uint64_t size() const override { return size_; }
    Result<void> read(uint64_t offset, void* dst, size_t n) override;

private:
    const uint8_t* data_;
    size_t size_;
};

Result<Executable> parse_executable(ExecReader& file);
Result<Executable> parse_executable(const uint8_t* file, size_t size);

// For a static-pie: calls apply(address, value) for each R_X86_64_RELATIVE relocation (address
// already biased). Any other relocation type is NoExec.
template <typename F>
Result<void> for_each_relative(const Executable& exe, ExecReader& file, F&& apply);
template <typename F>
Result<void> for_each_relative(const Executable& exe, const uint8_t* file, size_t size, F&& apply);

// The auxiliary vector entries Lamina provides (psABI / Linux numbers).
namespace at {
inline constexpr uint64_t NUL = 0, PHDR = 3, PHENT = 4, PHNUM = 5, PAGESZ = 6, BASE = 7, FLAGS = 8, ENTRY = 9, UID = 11,
                          EUID = 12, GID = 13, EGID = 14, PLATFORM = 15, HWCAP = 16, CLKTCK = 17, SECURE = 23,
                          RANDOM = 25, HWCAP2 = 26, EXECFN = 31;
}

struct StackImage {
    uint64_t rsp;  // the initial user stack pointer (16-byte aligned, points at argc)
    size_t used;   // bytes of the buffer used (from its end)
};

struct StackArgs {
    const char* const* argv;  // argc strings
    size_t argc;
    const char* const* envp;
    size_t envc;
    const uint8_t* random16;  // AT_RANDOM bytes
    const Executable* exe;
    uint64_t hwcap;
    // AT_UID, AT_EUID, AT_GID, AT_EGID and AT_SECURE: the ids the program runs with.
    uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
    bool secure = false;
};

// The most bytes build_initial_stack can need for args (a buffer of this size always fits).
size_t initial_stack_size(const StackArgs& args);
// buffer[0..size) stands for user addresses [top - size, top). Inval when it does not fit.
Result<StackImage> build_initial_stack(uint8_t* buffer, size_t size, uint64_t top, const StackArgs& args);

// ---------------------------------------------------------------------------------------------

namespace detail {
inline uint64_t load64(const uint8_t* p) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return v;
}
}  // namespace detail

template <typename F>
Result<void> for_each_relative(const Executable& exe, ExecReader& file, F&& apply) {
    constexpr uint32_t R_X86_64_RELATIVE = 8;
    constexpr size_t ENTRY = 24, BATCH = 32;  // entries read at a time
    if (exe.rela_count == 0) return {};
    uint64_t size = file.size();
    if (exe.rela_offset > size || exe.rela_count > (size - exe.rela_offset) / ENTRY) return Errno::Inval;
    uint8_t batch[BATCH * ENTRY];
    for (uint64_t first = 0; first < exe.rela_count; first += BATCH) {
        uint64_t count = exe.rela_count - first < BATCH ? exe.rela_count - first : BATCH;
        TRY(file.read(exe.rela_offset + first * ENTRY, batch, size_t(count * ENTRY)));
        for (uint64_t i = 0; i < count; i++) {
            const uint8_t* r = batch + i * ENTRY;
            uint64_t offset = detail::load64(r), info = detail::load64(r + 8), addend = detail::load64(r + 16);
            if (uint32_t(info) != R_X86_64_RELATIVE) return Errno::NoExec;
            uint64_t where = offset + exe.bias;
            // The target must be 8 writable bytes of some segment.
            bool ok = false;
            for (size_t s = 0; s < exe.segment_count; s++) {
                const LoadSegment& seg = exe.segments[s];
                if (seg.write && where >= seg.vaddr && where - seg.vaddr <= seg.memsz - 8 && seg.memsz >= 8) ok = true;
            }
            if (!ok) return Errno::Inval;
            apply(where, addend + exe.bias);
        }
    }
    return {};
}

template <typename F>
Result<void> for_each_relative(const Executable& exe, const uint8_t* file, size_t size, F&& apply) {
    MemoryExecReader reader(file, size);
    return for_each_relative(exe, reader, static_cast<F&&>(apply));
}

}  // namespace lamina::posix
