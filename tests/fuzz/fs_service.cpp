// The fs domain's service (domains/fs/service) over an in-memory disk behind a block "driver"
// that misbehaves: the whole path from the Fs interface through FsService, the GPT reader,
// the BlockClient and the ext2 core, in host domains with the exchange heap, as the kernel
// calls it. The disk is a fixed GPT whose "root" partition holds the input's image.
//
// Input: a flags byte (bit 0: mount read-only; bits 1-3: the driver fails every Nth request
// with EIO; bit 4: it hands requests back in reverse order; bit 5: it drops the last request
// of a batch; bit 6: it reports short reads; bit 7: the block size it announces is 4096), then
// the start of a 256 KiB ext2 image (as the ext2 harness).
#include "tests/fuzz/fuzz.h"

#include <algorithm>
#include <vector>

#include "domains/fs/crc32.h"
#include "domains/fs/gpt.h"
#include "domains/fs/service/fs_service.h"
#include "interfaces/block.h"
#include "interfaces/fs.h"
#include "tests/unit/ext2_test_util.h"
#include "tests/unit/host_domains.h"

using namespace lamina;
using lamina::idl::BlockOp;
using lamina::idl::BlockRequest;
using lamina::idl::FsName;

namespace {

constexpr uint64_t PART_FIRST = 40, PART_SECTORS = 512;  // 256 KiB at sector 40
constexpr uint64_t DISK_SECTORS = PART_FIRST + PART_SECTORS + 34;

void put32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }
void put64(uint8_t* p, uint64_t v) { memcpy(p, &v, 8); }

// A GPT (UEFI 2.10 section 5.3) with one Linux partition named "root": header at `at`, its
// entry array at `entries`, the other header at `alternate`.
void write_gpt(std::vector<uint8_t>& disk, uint64_t at, uint64_t entries, uint64_t alternate) {
    uint8_t* e = disk.data() + entries * 512;
    memcpy(e, fs::GPT_TYPE_LINUX_FS.bytes, 16);
    memset(e + 16, 0x11, 16);  // unique GUID
    put64(e + 32, PART_FIRST);
    put64(e + 40, PART_FIRST + PART_SECTORS - 1);
    const char name[] = "root";
    for (size_t i = 0; i < 4; i++) e[56 + 2 * i] = uint8_t(name[i]);
    uint8_t* h = disk.data() + at * 512;
    memcpy(h, "EFI PART", 8);
    put32(h + 8, 0x00010000);
    put32(h + 12, 92);
    put64(h + 24, at);
    put64(h + 32, alternate);
    put64(h + 40, 34);
    put64(h + 48, DISK_SECTORS - 34);
    memset(h + 56, 0x22, 16);  // disk GUID
    put64(h + 72, entries);
    put32(h + 80, 128);
    put32(h + 84, 128);
    put32(h + 88, fs::crc32(e, 128 * 128));
    put32(h + 16, fs::crc32(h, 92));
}

std::vector<uint8_t> blank_disk() {
    std::vector<uint8_t> disk(DISK_SECTORS * 512);
    disk[510] = 0x55, disk[511] = 0xaa;  // protective MBR
    disk[446 + 4] = 0xee;
    write_gpt(disk, 1, 2, DISK_SECTORS - 1);
    write_gpt(disk, DISK_SECTORS - 1, DISK_SECTORS - 33, 1);
    return disk;
}

class HostileBlock final : public idl::Block {
public:
    std::vector<uint8_t> disk;
    uint8_t flags = 0;
    uint64_t served = 0;

    Result<idl::BlockInfo> info() override {
        return idl::BlockInfo{flags & 0x80 ? 4096u : 512u, 128, disk.size() / 512};
    }
    Result<RRefDeque<BlockRequest, 32>> submit(RRefDeque<BlockRequest, 32> batch) override {
        std::vector<RRef<BlockRequest>> reqs;
        while (!batch.empty()) reqs.push_back(batch.pop_front());
        uint32_t every = (flags >> 1) & 7;
        for (auto& r : reqs) {
            size_t bytes = size_t(r->blocks) * 512;
            bool in_range =
                r->lba <= disk.size() / 512 && r->blocks <= disk.size() / 512 - r->lba && bytes <= r->buf.capacity();
            if (!in_range || (every && ++served % (every + 1) == 0)) {
                r->status = 5;  // EIO
            } else if (r->op == BlockOp::Read) {
                memcpy(r->buf.data(), disk.data() + r->lba * 512, bytes);
                (void)r->buf.set_length(uint32_t(flags & 0x40 && bytes >= 512 ? bytes - 512 : bytes));
            } else if (r->op == BlockOp::Write) {
                FUZZ_CHECK(r->buf.length() >= bytes || r->buf.capacity() >= bytes, "a write without its data");
                memcpy(disk.data() + r->lba * 512, r->buf.data(), bytes);
            }
        }
        if (flags & 0x10) std::reverse(reqs.begin(), reqs.end());
        if (flags & 0x20 && reqs.size() > 1) reqs.pop_back();
        for (auto& r : reqs) FUZZ_CHECK(batch.push_back(static_cast<RRef<BlockRequest>&&>(r)).is_ok(), "batch full");
        return batch;
    }
};

struct FixedClock final : ext2::Clock {
    uint32_t now() override { return 1700000000; }
};

struct Log final : fs::FsLog {
    void line(const char* text) override { FUZZ_CHECK(strlen(text) < 512, "a runaway log line"); }
};

FsName name(const char* s) {
    FsName n{};
    n.len = uint16_t(strlen(s));
    memcpy(n.bytes, s, n.len);
    return n;
}

// Every call a kernel makes, once, each allowed to fail.
void exercise(idl::Fs& fs, bool read_only) {
    if (!fs.mount(read_only, false).is_ok()) return;
    (void)fs.statfs();
    uint32_t root = 2;
    auto first = RRef<idl::FsDirBatch>::create();
    if (!first.is_ok()) return;
    RRef<idl::FsDirBatch> batch = first.release_value();
    uint32_t seen = 0;
    for (uint64_t cookie = 0; seen < 64;) {
        auto r = fs.readdir(root, cookie, static_cast<RRef<idl::FsDirBatch>&&>(batch));
        if (!r.is_ok()) break;
        batch = r.release_value();
        FUZZ_CHECK(batch->count <= 16, "a batch of %u entries", batch->count);
        for (uint32_t i = 0; i < batch->count; i++, seen++) {
            const idl::FsDirEntry& e = batch->entries[i];
            FsName n{};
            n.len = e.name_len;
            memcpy(n.bytes, e.name, e.name_len);
            auto st = fs.lookup(root, n);
            if (st.is_ok() && (st.value().mode & 0xF000) == 0x8000) {
                auto buf = RRefBytes::create(8192);
                if (buf.is_ok()) {
                    auto data = fs.read(st.value().ino, 0, 8192, buf.release_value());
                    if (data.is_ok()) FUZZ_CHECK(data.value().length() <= 8192, "read more than asked");
                }
            }
            cookie = e.next;
        }
        if (batch->end || batch->count == 0) break;
    }
    if (!read_only) {
        auto f = fs.create(root, name("new"), 0100644, 0, 0);
        if (f.is_ok()) {
            auto buf = RRefBytes::create(3000);
            if (buf.is_ok()) {
                memset(buf.value().data(), 'x', 3000);
                (void)buf.value().set_length(3000);
                (void)fs.write(f.value().ino, 100, buf.value());
            }
            (void)fs.truncate(f.value().ino, 50);
        }
        auto d = fs.mkdir(root, name("d"), 0755, 0, 0);
        if (d.is_ok()) (void)fs.rename(root, name("new"), d.value().ino, name("moved"), false);
        (void)fs.unlink(root, name("a.txt"), false);
        (void)fs.rmdir(root, name("lost+found"));
        (void)fs.sync();
    }
    (void)fs.unmount();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    static const std::vector<uint8_t> blank = blank_disk();
    host::HostDomains host;
    for (auto* types : {idl::block_types, idl::fs_types})
        for (const TypeInfo* const* t = types; *t != nullptr; t++) (void)host.heap().register_type(**t);
    proxy_rt::DomainRecord& fs_domain = host.create_domain();
    proxy_rt::DomainRecord& driver_domain = host.create_domain();
    HostileBlock driver;
    driver.disk = blank;
    driver.flags = data[0];
    size_t image = size - 1 < PART_SECTORS * 512 ? size - 1 : PART_SECTORS * 512;
    memcpy(driver.disk.data() + PART_FIRST * 512, data + 1, image);
    idl::BlockProxy block_proxy(driver_domain, driver);
    ext2_test::MallocAllocator alloc;
    FixedClock clock;
    Log log;
    auto* service = new fs::FsService(fs::FsService::Env{block_proxy, alloc, clock, &log, 16});
    {
        idl::FsProxy proxy(fs_domain, *service);
        exercise(proxy, data[0] & 1);
    }
    host.call_into(
        fs_domain, [](void* p) { delete static_cast<fs::FsService*>(p); }, service);
    FUZZ_CHECK(alloc.live_count == 0, "the service leaked %zu allocations", alloc.live_count);
    return 0;
}
