// The boot-information parser against hand-built multiboot1 and multiboot2 structures placed in
// a fake physical memory, including malformed ones.
#include "kernel/boot/boot_info.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

using namespace lamina::boot;

namespace {

// Fake physical memory: one buffer at base; reads outside it fail.
struct FakeMemory {
    uint64_t base = 0x10000;
    std::vector<uint8_t> bytes = std::vector<uint8_t>(64 * 1024);
    static const void* read(uint64_t phys, size_t len, void* ctx) {
        auto* m = static_cast<FakeMemory*>(ctx);
        if (phys < m->base || phys - m->base > m->bytes.size() || len > m->bytes.size() - (phys - m->base))
            return nullptr;
        return m->bytes.data() + (phys - m->base);
    }
    template <typename T>
    void put(uint64_t phys, const T& v) {
        std::memcpy(&bytes[phys - base], &v, sizeof(T));
    }
    void put_bytes(uint64_t phys, const void* p, size_t n) { std::memcpy(&bytes[phys - base], p, n); }
};

// Builds a multiboot2 information structure tag by tag.
struct Mb2Builder {
    std::vector<uint8_t> data = std::vector<uint8_t>(8);
    void tag(uint32_t type, const void* body, size_t len) {
        uint32_t hdr[2] = {type, uint32_t(8 + len)};
        append(hdr, 8);
        append(body, len);
        while (data.size() % 8) data.push_back(0);
    }
    void append(const void* p, size_t n) {
        auto* b = static_cast<const uint8_t*>(p);
        data.insert(data.end(), b, b + n);
    }
    std::vector<uint8_t> finish() {
        uint32_t end[2] = {0, 8};
        append(end, 8);
        uint32_t total = uint32_t(data.size());
        std::memcpy(data.data(), &total, 4);
        return data;
    }
};

struct Mmap2Entry {
    uint64_t base, length;
    uint32_t type, reserved;
};

std::vector<uint8_t> sample_mb2(bool with_plain_map) {
    Mb2Builder b;
    const char cmd[] = "/boot/lamina.elf console=ttyS0 ktest";
    b.tag(1, cmd, sizeof(cmd));
    const char loader[] = "GRUB 2.06";
    b.tag(2, loader, sizeof(loader));
    struct {
        uint32_t start, end;
        char name[8];
    } mod = {0x200000, 0x201000, "fs.dom"};
    b.tag(3, &mod, sizeof(mod));
    if (with_plain_map) {
        struct {
            uint32_t size, version;
            Mmap2Entry e[2];
        } map = {24, 0, {{0, 0x9fc00, 1, 0}, {0x100000, 0x1ff00000, 1, 0}}};
        b.tag(6, &map, sizeof(map));
    }
    uint8_t rsdp[20] = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' '};
    b.tag(14, rsdp, sizeof(rsdp));
    // Firmware descriptors are larger than the UEFI structure (desc_size 48 here, as OVMF's).
    struct EfiDesc {
        uint32_t type, pad;
        uint64_t phys, virt, pages, attr, firmware_extra;
    };
    struct {
        uint32_t size, version;
        EfiDesc d[3];
    } efi = {48, 1, {{7, 0, 0x100000, 0, 256, 0}, {5, 0, 0x200000, 0, 16, 0}, {9, 0, 0x300000, 0, 4, 0}}};
    b.tag(17, &efi, sizeof(efi));
    return b.finish();
}

BootInfo& fresh_info() {
    static std::unique_ptr<BootInfo> info;
    info = std::make_unique<BootInfo>();
    return *info;
}

// Puts a multiboot2 information structure at the start of `mem` and parses it as GRUB hands it over.
lamina::Result<void> parse_mb2(FakeMemory& mem, const std::vector<uint8_t>& mb, BootInfo& info) {
    mem.put_bytes(mem.base, mb.data(), mb.size());
    return parse_boot_info(MULTIBOOT2_LOADER_MAGIC, mem.base, FakeMemory::read, &mem, info);
}

}  // namespace

TEST(Multiboot2, ParsesTags) {
    FakeMemory mem;
    auto mb = sample_mb2(true);
    BootInfo& info = fresh_info();
    ASSERT_TRUE(parse_mb2(mem, mb, info).is_ok());
    EXPECT_EQ(info.path, BootPath::Multiboot2);
    EXPECT_STREQ(info.cmdline, "/boot/lamina.elf console=ttyS0 ktest");
    EXPECT_STREQ(info.loader_name, "GRUB 2.06");
    ASSERT_EQ(info.module_count, 1u);
    EXPECT_EQ(info.modules[0].start, 0x200000u);
    EXPECT_STREQ(info.modules[0].name, "fs.dom");
    ASSERT_EQ(info.region_count, 2u);  // the plain map wins over the EFI map
    EXPECT_FALSE(info.memory_map_from_efi);
    EXPECT_EQ(info.regions[1].base, 0x100000u);
    EXPECT_EQ(info.rsdp_length, 20u);
    EXPECT_EQ(info.info_end, mem.base + mb.size());
}

TEST(Multiboot2, FallsBackToEfiMemoryMap) {
    FakeMemory mem;
    auto mb = sample_mb2(false);
    BootInfo& info = fresh_info();
    ASSERT_TRUE(parse_mb2(mem, mb, info).is_ok());
    EXPECT_TRUE(info.memory_map_from_efi);
    ASSERT_EQ(info.region_count, 3u);
    EXPECT_EQ(info.regions[0].type, MemoryType::Usable);  // conventional memory
    EXPECT_EQ(info.regions[0].length, 256u * 4096);
    EXPECT_EQ(info.regions[1].type, MemoryType::Reserved);  // runtime services code
    EXPECT_EQ(info.regions[2].type, MemoryType::AcpiReclaimable);
}

TEST(Multiboot2, RejectsMalformedTags) {
    FakeMemory mem;
    auto mb = sample_mb2(true);
    // A tag whose size runs past the total.
    auto bad = mb;
    uint32_t huge = 0x10000;
    std::memcpy(&bad[8 + 4], &huge, 4);
    EXPECT_TRUE(parse_mb2(mem, bad, fresh_info()).is_error());
    // A tag smaller than its header.
    bad = mb;
    uint32_t tiny = 4;
    std::memcpy(&bad[8 + 4], &tiny, 4);
    EXPECT_TRUE(parse_mb2(mem, bad, fresh_info()).is_error());
    // A total size beyond mapped memory.
    bad = mb;
    uint32_t total = 0x100000;
    std::memcpy(&bad[0], &total, 4);
    EXPECT_TRUE(parse_mb2(mem, bad, fresh_info()).is_error());
    // Wrong magic.
    EXPECT_TRUE(parse_boot_info(0x12345678, mem.base, FakeMemory::read, &mem, fresh_info()).is_error());
}

TEST(Multiboot2, SurvivesRandomCorruption) {
    auto mb = sample_mb2(true);
    std::mt19937 rng(1234);
    for (int i = 0; i < 3000; i++) {
        FakeMemory mem;
        auto bad = mb;
        for (int k = 0; k < 4; k++) bad[rng() % bad.size()] = uint8_t(rng());
        BootInfo& info = fresh_info();
        auto r = parse_mb2(mem, bad, info);
        if (r.is_ok()) {
            EXPECT_LE(info.region_count, BootInfo::MAX_REGIONS);
            EXPECT_LE(info.module_count, BootInfo::MAX_MODULES);
            EXPECT_LT(std::strlen(info.cmdline), BootInfo::MAX_CMDLINE);
        }
    }
}

TEST(Multiboot1, ParsesInfo) {
    FakeMemory mem;
    uint64_t info_at = mem.base, cmd_at = mem.base + 0x100, mods_at = mem.base + 0x200, map_at = mem.base + 0x300,
             name_at = mem.base + 0x400;
    uint32_t mb[17] = {};
    mb[0] = (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9);
    mb[4] = uint32_t(cmd_at);
    mb[5] = 1;
    mb[6] = uint32_t(mods_at);
    mb[11] = 2 * 24;
    mb[12] = uint32_t(map_at);
    mb[16] = uint32_t(name_at);
    mem.put(info_at, mb);
    mem.put_bytes(cmd_at, "kernel ktest", 13);
    mem.put_bytes(name_at, "qemu", 5);
    uint32_t mod[4] = {0x300000, 0x304000, uint32_t(name_at), 0};
    mem.put(mods_at, mod);
    struct [[gnu::packed]] {
        uint32_t size;
        uint64_t base, len;
        uint32_t type;
    } e[2] = {{20, 0, 0x9fc00, 1}, {20, 0x100000, 0x7f00000, 1}};
    mem.put(map_at, e);
    BootInfo& info = fresh_info();
    ASSERT_TRUE(parse_boot_info(MULTIBOOT1_LOADER_MAGIC, info_at, FakeMemory::read, &mem, info).is_ok());
    EXPECT_EQ(info.path, BootPath::Multiboot1);
    EXPECT_STREQ(info.cmdline, "kernel ktest");
    EXPECT_STREQ(info.loader_name, "qemu");
    ASSERT_EQ(info.module_count, 1u);
    EXPECT_EQ(info.modules[0].end - info.modules[0].start, 0x4000u);
    ASSERT_EQ(info.region_count, 2u);
    EXPECT_EQ(info.regions[1].length, 0x7f00000u);

    // An entry size running past mmap_length is refused.
    e[1].size = 200;
    mem.put(map_at, e);
    EXPECT_TRUE(parse_boot_info(MULTIBOOT1_LOADER_MAGIC, info_at, FakeMemory::read, &mem, fresh_info()).is_error());
}
