// lamina:portable
// Multiboot 1 (version 0.6.96) and Multiboot 2 (version 2.0) information parsing.
#include "kernel/boot/boot_info.h"

namespace lamina::boot {

namespace {

struct Reader {
    PhysReader fn;
    void* ctx;
    const void* map(uint64_t phys, size_t len) const { return fn(phys, len, ctx); }
};

template <typename T>
bool read_struct(const Reader& r, uint64_t phys, T& out) {
    auto* p = static_cast<const uint8_t*>(r.map(phys, sizeof(T)));
    if (!p) return false;
    __builtin_memcpy(&out, p, sizeof(T));
    return true;
}

// Copies a NUL-terminated string of at most cap-1 bytes; a string without NUL in reach is cut.
void copy_string(const Reader& r, uint64_t phys, char* out, size_t cap) {
    out[0] = 0;
    for (size_t i = 0; i + 1 < cap; i++) {
        auto* c = static_cast<const char*>(r.map(phys + i, 1));
        if (!c) {
            out[i] = 0;
            return;
        }
        out[i] = *c;
        if (!*c) return;
    }
    out[cap - 1] = 0;
}

void add_region(BootInfo& info, uint64_t base, uint64_t length, MemoryType type) {
    if (length == 0) return;
    if (info.region_count == BootInfo::MAX_REGIONS) {
        info.regions_dropped++;
        return;
    }
    info.regions[info.region_count++] = {base, length, type};
}

MemoryType e820_type(uint32_t t) {
    switch (t) {
        case 1:
            return MemoryType::Usable;
        case 3:
            return MemoryType::AcpiReclaimable;
        case 4:
            return MemoryType::AcpiNvs;
        case 5:
            return MemoryType::Bad;
        default:
            return MemoryType::Reserved;
    }
}

// UEFI 2.x section 7.2, EFI_MEMORY_TYPE. After ExitBootServices, loader and boot-services memory
// is free for the OS; runtime-services memory is not.
MemoryType efi_type(uint32_t t) {
    switch (t) {
        case 1:
        case 2:
        case 3:
        case 4:
        case 7:
            return MemoryType::Usable;
        case 9:
            return MemoryType::AcpiReclaimable;
        case 10:
            return MemoryType::AcpiNvs;
        case 8:
            return MemoryType::Bad;
        default:
            return MemoryType::Reserved;
    }
}

void note_end(BootInfo& info, uint64_t end) {
    if (end > info.info_end) info.info_end = end;
}

struct Mb1Info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
};
static_assert(sizeof(Mb1Info) == 68);  // through boot_loader_name

struct Mb1Module {
    uint32_t start, end, string, reserved;
};

Result<void> parse_mb1(const Reader& r, uint64_t info_phys, BootInfo& info) {
    Mb1Info mb;
    if (!read_struct(r, info_phys, mb)) return Errno::Inval;
    note_end(info, info_phys + sizeof(mb));
    if (mb.flags & (1u << 2)) copy_string(r, mb.cmdline, info.cmdline, sizeof(info.cmdline));
    if (mb.flags & (1u << 9)) copy_string(r, mb.boot_loader_name, info.loader_name, sizeof(info.loader_name));
    if (mb.flags & (1u << 3)) {
        for (uint32_t i = 0; i < mb.mods_count; i++) {
            Mb1Module m;
            if (!read_struct(r, uint64_t(mb.mods_addr) + i * sizeof(m), m)) return Errno::Inval;
            if (m.end < m.start) return Errno::Inval;
            note_end(info, uint64_t(mb.mods_addr) + (i + 1) * sizeof(m));
            if (info.module_count == BootInfo::MAX_MODULES) continue;
            Module& out = info.modules[info.module_count++];
            out.start = m.start;
            out.end = m.end;
            copy_string(r, m.string, out.name, sizeof(out.name));
        }
    }
    if (mb.flags & (1u << 6)) {
        // Each entry is preceded by its size field, which does not count itself.
        uint64_t p = mb.mmap_addr, end = uint64_t(mb.mmap_addr) + mb.mmap_length;
        while (p + 4 <= end) {
            uint32_t size;
            if (!read_struct(r, p, size)) return Errno::Inval;
            if (size < 20 || p + 4 + size > end) return Errno::Inval;
            struct [[gnu::packed]] {
                uint64_t base, length;
                uint32_t type;
            } e;
            if (!read_struct(r, p + 4, e)) return Errno::Inval;
            add_region(info, e.base, e.length, e820_type(e.type));
            p += 4 + size;
        }
        note_end(info, end);
    } else if (mb.flags & 1u) {
        add_region(info, 0, uint64_t(mb.mem_lower) * 1024, MemoryType::Usable);
        add_region(info, 0x100000, uint64_t(mb.mem_upper) * 1024, MemoryType::Usable);
    }
    return {};
}

Result<void> parse_mb2(const Reader& r, uint64_t info_phys, BootInfo& info) {
    struct {
        uint32_t total_size, reserved;
    } hdr;
    if (!read_struct(r, info_phys, hdr)) return Errno::Inval;
    if (hdr.total_size < 16 || hdr.total_size > (1u << 24)) return Errno::Inval;
    if (!r.map(info_phys, hdr.total_size)) return Errno::Inval;  // all of it must be there
    note_end(info, info_phys + hdr.total_size);
    bool have_mmap = false;
    uint64_t end = info_phys + hdr.total_size;
    uint64_t p = info_phys + 8;
    // EFI map regions are collected after the walk: the plain map wins when both are present.
    uint64_t efi_map = 0, efi_map_len = 0, efi_desc_size = 0;
    for (;;) {
        struct {
            uint32_t type, size;
        } tag;
        if (p + 8 > end || !read_struct(r, p, tag)) return Errno::Inval;
        if (tag.type == 0) break;
        if (tag.size < 8 || p + tag.size > end) return Errno::Inval;
        uint64_t body = p + 8, body_len = tag.size - 8;
        switch (tag.type) {
            case 1:  // command line
                copy_string(r, body, info.cmdline,
                            body_len + 1 < sizeof(info.cmdline) ? body_len + 1 : sizeof(info.cmdline));
                break;
            case 2:  // boot loader name
                copy_string(r, body, info.loader_name,
                            body_len + 1 < sizeof(info.loader_name) ? body_len + 1 : sizeof(info.loader_name));
                break;
            case 3: {  // module
                struct {
                    uint32_t start, end;
                } m;
                if (body_len < 8 || !read_struct(r, body, m) || m.end < m.start) return Errno::Inval;
                if (info.module_count < BootInfo::MAX_MODULES) {
                    Module& out = info.modules[info.module_count++];
                    out.start = m.start;
                    out.end = m.end;
                    size_t n = body_len - 8 + 1;
                    copy_string(r, body + 8, out.name, n < sizeof(out.name) ? n : sizeof(out.name));
                }
                break;
            }
            case 6: {  // memory map
                struct {
                    uint32_t entry_size, entry_version;
                } mh;
                if (body_len < 8 || !read_struct(r, body, mh) || mh.entry_size < 24) return Errno::Inval;
                for (uint64_t e = body + 8; e + mh.entry_size <= p + tag.size; e += mh.entry_size) {
                    struct {
                        uint64_t base, length;
                        uint32_t type, reserved;
                    } ent;
                    if (!read_struct(r, e, ent)) return Errno::Inval;
                    add_region(info, ent.base, ent.length, e820_type(ent.type));
                }
                have_mmap = true;
                break;
            }
            case 14:    // ACPI 1.0 RSDP (copied)
            case 15: {  // ACPI 2.0+ RSDP; prefer it over the old one
                if (tag.type == 14 && info.rsdp_length > 20) break;
                size_t n = body_len < sizeof(info.rsdp) ? body_len : sizeof(info.rsdp);
                auto* src = static_cast<const uint8_t*>(r.map(body, n));
                if (!src) return Errno::Inval;
                __builtin_memcpy(info.rsdp, src, n);
                info.rsdp_length = n;
                break;
            }
            case 17: {  // EFI memory map
                struct {
                    uint32_t desc_size, desc_version;
                } eh;
                if (body_len < 8 || !read_struct(r, body, eh) || eh.desc_size < 40) return Errno::Inval;
                efi_map = body + 8;
                efi_map_len = body_len - 8;
                efi_desc_size = eh.desc_size;
                break;
            }
            default:
                break;
        }
        p += (tag.size + 7) & ~uint64_t(7);
    }
    if (!have_mmap && efi_desc_size) {
        for (uint64_t e = efi_map; e + efi_desc_size <= efi_map + efi_map_len; e += efi_desc_size) {
            struct {
                uint32_t type, pad;
                uint64_t phys, virt, pages, attr;
            } d;
            if (!read_struct(r, e, d)) return Errno::Inval;
            if (d.pages > (uint64_t(1) << 40)) return Errno::Inval;
            add_region(info, d.phys, d.pages * 4096, efi_type(d.type));
        }
        info.memory_map_from_efi = true;
    }
    return {};
}

}  // namespace

Result<void> parse_boot_info(uint32_t magic, uint64_t info_phys, PhysReader read, void* ctx, BootInfo& out) {
    __builtin_memset(&out, 0, sizeof(out));
    Reader r{read, ctx};
    if (magic == MULTIBOOT1_LOADER_MAGIC) {
        out.path = BootPath::Multiboot1;
        return parse_mb1(r, info_phys, out);
    }
    if (magic == MULTIBOOT2_LOADER_MAGIC) {
        out.path = BootPath::Multiboot2;
        return parse_mb2(r, info_phys, out);
    }
    return Errno::Inval;
}

const char* memory_type_name(MemoryType t) {
    switch (t) {
        case MemoryType::Usable:
            return "usable";
        case MemoryType::Reserved:
            return "reserved";
        case MemoryType::AcpiReclaimable:
            return "ACPI reclaimable";
        case MemoryType::AcpiNvs:
            return "ACPI NVS";
        case MemoryType::Bad:
            return "bad";
    }
    return "?";
}

}  // namespace lamina::boot
