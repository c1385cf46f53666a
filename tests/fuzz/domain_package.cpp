// The domain loader (kernel/domain/loader) against hostile packages, ELF files and manifests:
// what the kernel runs on every boot module and every `domctl load`.
//
// The input picks its entry point by its first bytes: a package ("LAMINADM": its checksum is
// recomputed, so that mutations reach the manifest and ELF checks behind the CRC), a bare ELF
// ("\x7fELF": validated, then loaded and relocated into host memory), or else manifest text.
// Accepted inputs must keep the documented guarantees: segments inside the image, an entry
// inside an executable segment, symbols that resolve inside the image.
#include "tests/fuzz/fuzz.h"

#include <memory>

#include "kernel/domain/loader/loader.h"
#include "kernel/domain/loader/package.h"

using namespace lamina;
using namespace lamina::domain;

namespace {

// Pages from the host heap; protect() only records that the loader asked for a sane range.
class FuzzMemory final : public MemoryProvider {
public:
    ~FuzzMemory() { free(pages_); }
    Result<Region> allocate(size_t pages) override {
        FUZZ_CHECK(pages_ == nullptr, "a second allocate() for one image");
        if (pages == 0 || pages > 4096) return Errno::NoMem;  // a 16 MiB bound, as a small domain heap
        pages_ = static_cast<uint8_t*>(aligned_alloc(4096, pages * 4096));
        if (pages_ == nullptr) return Errno::NoMem;
        count_ = pages;
        return Region{reinterpret_cast<uintptr_t>(pages_), pages_};
    }
    Result<void> protect(uintptr_t addr, size_t pages, uint32_t) override {
        uintptr_t base = reinterpret_cast<uintptr_t>(pages_);
        FUZZ_CHECK(addr >= base && addr % 4096 == 0 && pages <= count_ && (addr - base) / 4096 + pages <= count_,
                   "protect() outside the image: %#lx + %zu pages", addr, pages);
        return {};
    }
    void release(const Region& region, size_t pages) override {
        FUZZ_CHECK(region.window == pages_ && pages == count_, "release() of another region");
        released_ = true;
    }
    bool released() const { return released_; }

private:
    uint8_t* pages_ = nullptr;
    size_t count_ = 0;
    bool released_ = false;
};

void expect_reason(const LoadError& err) {
    FUZZ_CHECK(err.failed() && err.message[0] != 0, "a refusal without a reason");
    FUZZ_CHECK(memchr(err.message, 0, sizeof err.message) != nullptr, "an unterminated reason");
}

void load(const ElfImage& elf) {
    FuzzMemory memory;
    LoadError err;
    Result<LoadedImage> r = load_image(elf, memory, err);
    if (!r.is_ok()) {
        expect_reason(err);
        return;
    }
    FUZZ_CHECK(!memory.released(), "an image released yet returned");
    const LoadedImage& image = r.value();
    FUZZ_CHECK(image.entry >= image.base && image.entry < image.base + image.size, "entry outside the image");
    bool entry_executable = false;
    for (size_t i = 0; i < image.segment_count; i++) {
        const LoadedSegment& s = image.segments[i];
        FUZZ_CHECK(s.start >= image.base && s.start + s.size <= image.base + image.size,
                   "segment %zu outside the image", i);
        if (image.entry >= s.start && image.entry < s.start + s.size && (s.prot & kProtExec)) entry_executable = true;
    }
    FUZZ_CHECK(entry_executable, "the entry point is not in an executable segment");
    // The symbol table points into the ELF bytes: look every address of the image up.
    const char* name;
    uintptr_t offset;
    for (uintptr_t a = image.base; a < image.base + image.size; a += 64) image.symbols.symbolize(a, &name, &offset);
    uintptr_t addr;
    image.symbols.find(DOMAIN_ENTRY_SYMBOL, &addr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size >= sizeof(PackageHeader) && memcmp(data, PACKAGE_MAGIC, sizeof PACKAGE_MAGIC) == 0) {
        std::unique_ptr<uint8_t[]> copy(new uint8_t[size]);
        memcpy(copy.get(), data, size);
        uint32_t sum = package_checksum(copy.get(), size);
        memcpy(copy.get() + offsetof(PackageHeader, checksum), &sum, sizeof sum);
        auto checked = std::make_unique<ValidatedPackage>();
        LoadError err;
        if (validate_package(copy.get(), size, *checked, err).is_ok())
            load(checked->elf);
        else
            expect_reason(err);
    } else if (size >= 4 && memcmp(data,
                                   "\x7f"
                                   "ELF",
                                   4) == 0) {
        LoadError err;
        Result<ElfImage> elf = validate_elf(data, size, err);
        if (elf.is_ok())
            load(elf.value());
        else
            expect_reason(err);
    } else {
        auto manifest = std::make_unique<Manifest>();
        LoadError err;
        if (!parse_manifest(reinterpret_cast<const char*>(data), size, *manifest, err).is_ok()) expect_reason(err);
    }
    return 0;
}
