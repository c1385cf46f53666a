// lamina:portable
#include "kernel/domain/loader/loader.h"

#include "kernel/domain/loader/elf.h"
#include "kernel/domain/loader/package.h"

namespace lamina::domain {

Result<void> validate_package(const uint8_t* data, size_t size, ValidatedPackage& out, LoadError& err) {
    PackageView view = TRY(parse_package(data, size, err));
    TRY(parse_manifest(reinterpret_cast<const char*>(view.manifest), view.manifest_size, out.manifest, err));
    out.elf = TRY(validate_elf(view.elf, view.elf_size, err));
    return {};
}

namespace {

void add_segment(LoadedImage& img, uintptr_t start, uintptr_t end, uint32_t prot) {
    if (start >= end) return;
    img.segments[img.segment_count++] = LoadedSegment{start, size_t(end - start), prot};
}

}  // namespace

Result<LoadedImage> load_image(const ElfImage& elf, MemoryProvider& memory, LoadError& err) {
    size_t pages = size_t((elf.image_end - elf.image_start) / ELF_PAGE_SIZE);
    Result<MemoryProvider::Region> got = memory.allocate(pages);
    if (got.is_error()) return err.fail(got.error().code(), "load: no memory for an image of %zu pages", pages);
    MemoryProvider::Region region = got.value();
    if (region.base % ELF_PAGE_SIZE) {
        memory.release(region, pages);
        return err.fail(Errno::Inval, "load: memory provider returned unaligned base %#lx", (unsigned long)region.base);
    }
    LoadedImage img;
    img.base = region.base;
    img.size = pages * ELF_PAGE_SIZE;
    img.bias = region.base - uintptr_t(elf.image_start);
    uint8_t* window = region.window;
    auto at = [&](uint64_t vaddr) { return window + (vaddr - elf.image_start); };

    // Zero everything first: bss, the tails of partial pages and the gaps between segments.
    __builtin_memset(window, 0, img.size);
    for (size_t i = 0; i < elf.segment_count; i++) {
        const ElfSegment& s = elf.segments[i];
        __builtin_memcpy(at(s.vaddr), elf.data + s.offset, s.filesz);
    }

    for (const FileTable& t : elf.relocations) {
        for (uint64_t i = 0; i < t.count; i++) {
            elf::Rela r;
            __builtin_memcpy(&r, elf.data + t.offset + i * sizeof(r), sizeof(r));
            uint32_t type = elf::rela_type(r.info);
            uint64_t value;
            if (type == elf::R_X86_64_NONE) continue;
            if (type == elf::R_X86_64_RELATIVE) {
                value = img.bias + uint64_t(r.addend);
            } else {
                elf::Sym s;
                __builtin_memcpy(&s, elf.data + elf.dynsym.offset + elf::rela_sym(r.info) * sizeof(s), sizeof(s));
                uint64_t sym = s.shndx == elf::SHN_ABS ? s.value : img.bias + s.value;
                value = type == elf::R_X86_64_64 ? sym + uint64_t(r.addend) : sym;
            }
            __builtin_memcpy(at(r.offset), &value, sizeof(value));
        }
    }

    // Permissions, in address order; pages no segment owns get no access.
    uintptr_t cursor = img.base;
    for (size_t i = 0; i < elf.segment_count; i++) {
        const ElfSegment& s = elf.segments[i];
        uintptr_t start = img.bias + (s.vaddr & ~(ELF_PAGE_SIZE - 1));
        uintptr_t end = img.bias + ((s.vaddr + s.memsz + ELF_PAGE_SIZE - 1) & ~(ELF_PAGE_SIZE - 1));
        add_segment(img, cursor, start, 0);
        uintptr_t relro_start = img.bias + elf.relro_start, relro_end = img.bias + elf.relro_end;
        if (elf.relro_end > elf.relro_start && relro_start >= start && relro_end <= end) {
            add_segment(img, start, relro_start, s.prot);
            add_segment(img, relro_start, relro_end, s.prot & ~kProtWrite);
            add_segment(img, relro_end, end, s.prot);
        } else {
            add_segment(img, start, end, s.prot);
        }
        cursor = end;
    }
    for (size_t i = 0; i < img.segment_count; i++) {
        const LoadedSegment& s = img.segments[i];
        Result<void> r = memory.protect(s.start, s.size / ELF_PAGE_SIZE, s.prot);
        if (r.is_error()) {
            memory.release(region, pages);
            return err.fail(r.error().code(), "load: could not set permissions of %#lx+%#zx", (unsigned long)s.start,
                            s.size);
        }
    }

    img.entry = img.bias + uintptr_t(elf.entry);
    img.symbols = SymbolTable(elf.data + elf.symtab.offset, size_t(elf.symtab.count),
                              reinterpret_cast<const char*>(elf.data + elf.symtab_strings_offset),
                              size_t(elf.symtab_strings_size), img.bias);
    return img;
}

}  // namespace lamina::domain
