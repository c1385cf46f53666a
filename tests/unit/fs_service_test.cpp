// Host tests of the fs domain's service (domains/fs/service): FsService behind a generated
// FsProxy, over a BlockClient whose Block is a "driver" in another host domain behind a
// BlockProxy, so every batch and buffer really moves between the two domains' ownership.
// The disk is a GPT image with an ext2 "root" partition made by sgdisk and mke2fs -d; what the
// service writes is checked with e2fsck -fn and debugfs.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "domains/fs/service/fs_service.h"
#include "interfaces/block.h"
#include "interfaces/fs.h"
#include "tests/unit/ext2_test_util.h"
#include "tests/unit/host_domains.h"

namespace {

using namespace ext2_test;
using lamina::DomainId;
using lamina::RRef;
using lamina::RRefBytes;
using lamina::RRefDeque;
using lamina::host::HostDomains;
using lamina::idl::BlockInfo;
using lamina::idl::BlockOp;
using lamina::idl::BlockRequest;
using lamina::idl::FsName;

constexpr uint64_t PART_FIRST = 2048;  // sectors

// The "driver": a disk in memory; knobs make it misbehave.
class HostBlock final : public lamina::idl::Block {
public:
    std::vector<uint8_t> disk;
    bool reverse = false;   // hand the requests back in reverse order
    int fail_status = 0;    // every request fails with this errno
    bool drop_one = false;  // return one request fewer
    uint64_t submits = 0;
    uint32_t largest = 0;  // sectors in the largest request seen

    lamina::Result<BlockInfo> info() override { return BlockInfo{512, 128, disk.size() / 512}; }
    lamina::Result<RRefDeque<BlockRequest, 32>> submit(RRefDeque<BlockRequest, 32> batch) override {
        submits++;
        std::vector<RRef<BlockRequest>> reqs;
        while (!batch.empty()) reqs.push_back(batch.pop_front());
        for (auto& r : reqs) {
            size_t bytes = size_t(r->blocks) * 512;
            largest = std::max(largest, r->blocks);
            if (fail_status) {
                r->status = fail_status;
            } else if (r->op == BlockOp::Read) {
                memcpy(r->buf.data(), disk.data() + r->lba * 512, bytes);
                (void)r->buf.set_length(uint32_t(bytes));
            } else if (r->op == BlockOp::Write) {
                memcpy(disk.data() + r->lba * 512, r->buf.data(), bytes);
            }
        }
        if (reverse) std::reverse(reqs.begin(), reqs.end());
        if (drop_one && !reqs.empty()) reqs.pop_back();
        for (auto& r : reqs) EXPECT_TRUE(batch.push_back(std::move(r)).is_ok());
        return batch;
    }
};

class NullClock final : public lamina::ext2::Clock {
public:
    uint32_t now() override { return 1767225600; }
};

FsName fs_name(const std::string& s) {
    FsName n{};
    n.len = uint16_t(s.size());
    memcpy(n.bytes, s.data(), s.size());
    return n;
}

class FsServiceTest : public ::testing::Test {
protected:
    FsServiceTest()
        : fs_domain(host.create_domain()), driver_domain(host.create_domain()), block_proxy(driver_domain, driver) {
        for (auto* types : {lamina::idl::block_types, lamina::idl::fs_types})
            for (const lamina::TypeInfo* const* t = types; *t != nullptr; t++)
                EXPECT_TRUE(host.heap().register_type(**t).is_ok());
        static const std::vector<uint8_t> pristine = make_disk();  // mke2fs once for the suite
        driver.disk = pristine;
        start();
    }
    ~FsServiceTest() override { stop(); }

    // Staging tree: /hello.txt, /dir/a.txt, 300 KB /big.bin.
    static std::vector<uint8_t> make_disk() {
        TempDir tmp;
        std::string root = tmp / "root";
        mkdir(root.c_str(), 0755);
        mkdir((root + "/dir").c_str(), 0755);
        write_file(root + "/hello.txt", "hello\n");
        write_file(root + "/dir/a.txt", "a\n");
        write_file(root + "/big.bin", pattern(300000, 7));
        std::string img = tmp / "disk.img";
        auto r = run("truncate -s 16M '" + img + "' && sgdisk -o -n 1:2048:0 -t 1:8300 -c 1:root '" + img +
                     "' >/dev/null && mke2fs -q -F -t ext2 -b 1024 -d '" + root + "' -E offset=" +
                     std::to_string(PART_FIRST * 512) + " '" + img + "' " + std::to_string((32768 - 2048 - 34) / 2));
        EXPECT_EQ(r.status, 0) << r.output;
        return MemDevice::load(img).bytes;
    }

    void start() {
        // The service lives "in" the fs domain: made there, so what it allocates is its own.
        service = new lamina::fs::FsService(lamina::fs::FsService::Env{block_proxy, alloc, clock, &log, 32});
        proxy = new lamina::idl::FsProxy(fs_domain, *service);
    }
    void stop() {
        delete proxy;
        proxy = nullptr;
        if (service) {
            // Whatever the service still holds in the exchange heap is the fs domain's.
            lamina::proxy_rt::DomainRecord& d = fs_domain;
            host.call_into(
                d, [](void* p) { delete static_cast<lamina::fs::FsService*>(p); }, service);
            service = nullptr;
        }
    }

    std::string read_all(uint32_t ino) {
        std::string out;
        for (;;) {
            auto buf = RRefBytes::create(4096);
            EXPECT_TRUE(buf.is_ok());
            auto r = proxy->read(ino, out.size(), 4096, std::move(buf.value()));
            EXPECT_TRUE(r.is_ok());
            if (r.is_error() || r.value().length() == 0) return out;
            out.append(reinterpret_cast<const char*>(r.value().data()), r.value().length());
        }
    }
    uint32_t lookup(uint32_t dir, const std::string& n) {
        auto r = proxy->lookup(dir, fs_name(n));
        return r.is_ok() ? r.value().ino : 0;
    }
    // The partition as a file, for e2fsprogs.
    MemDevice partition() const {
        return MemDevice(std::vector<uint8_t>(driver.disk.begin() + PART_FIRST * 512, driver.disk.end() - 34 * 512));
    }

    TempDir tmp;
    HostDomains host;
    lamina::proxy_rt::DomainRecord& fs_domain;
    lamina::proxy_rt::DomainRecord& driver_domain;
    HostBlock driver;
    lamina::idl::BlockProxy block_proxy;
    MallocAllocator alloc;
    NullClock clock;
    CollectLog log;
    lamina::fs::FsService* service = nullptr;
    lamina::idl::FsProxy* proxy = nullptr;
};

TEST_F(FsServiceTest, MountsTheRootPartitionAndServesFiles) {
    auto info = proxy->mount(false, false);
    ASSERT_TRUE(info.is_ok()) << log.all();
    EXPECT_EQ(info.value().block_size, 1024u);
    EXPECT_EQ(info.value().root, 2u);
    EXPECT_FALSE(info.value().read_only);
    EXPECT_TRUE(log.contains("mounted partition 1")) << log.all();

    uint32_t hello = lookup(2, "hello.txt");
    ASSERT_NE(hello, 0u);
    EXPECT_EQ(read_all(hello), "hello\n");
    EXPECT_EQ(read_all(lookup(lookup(2, "dir"), "a.txt")), "a\n");
    // 293 blocks of 1 KiB read sequentially: read-ahead fetches them many to a batch (fewer than
    // 32 with this 32-buffer cache: some buffers are pinned or dirty).
    uint64_t submits_before = driver.submits;
    EXPECT_EQ(read_all(lookup(2, "big.bin")), pattern(300000, 7));
    EXPECT_LT(driver.submits - submits_before, 100u);
    EXPECT_GT(service->file_system()->cache_stats().read_ahead, 200u);
    EXPECT_GT(driver.largest, 2u);  // adjacent 1 KiB blocks merged into larger requests
    auto st = proxy->stat(hello);
    ASSERT_TRUE(st.is_ok());
    EXPECT_EQ(st.value().size, 6u);
    EXPECT_EQ(st.value().mode & 0170000, 0100000u);

    // readdir in batches of 16 (the root has 6 entries; a directory with 40 needs three).
    uint32_t many = proxy->mkdir(2, fs_name("many"), 0755, 0, 0).value().ino;
    for (int i = 0; i < 40; i++) ASSERT_TRUE(proxy->create(many, fs_name("f" + std::to_string(i)), 0644, 0, 0).is_ok());
    std::vector<std::string> names;
    uint64_t cookie = 0;
    for (int calls = 0; calls < 10; calls++) {
        auto batch = RRef<lamina::idl::FsDirBatch>::create();
        ASSERT_TRUE(batch.is_ok());
        auto r = proxy->readdir(many, cookie, std::move(batch.value()));
        ASSERT_TRUE(r.is_ok());
        for (uint32_t i = 0; i < r.value()->count; i++) {
            names.emplace_back(reinterpret_cast<const char*>(r.value()->entries[i].name),
                               r.value()->entries[i].name_len);
            cookie = r.value()->entries[i].next;
        }
        if (r.value()->end) break;
    }
    EXPECT_EQ(names.size(), 42u);  // . .. f0..f39

    // Write, rename, link, symlink, unlink; then e2fsck and debugfs agree.
    uint32_t f = proxy->create(2, fs_name("new.bin"), 0100644, 0, 0).value().ino;
    std::string data = pattern(100000, 3);
    auto buf = RRefBytes::create(uint32_t(data.size()));
    ASSERT_TRUE(buf.is_ok());
    memcpy(buf.value().data(), data.data(), data.size());
    ASSERT_TRUE(buf.value().set_length(uint32_t(data.size())).is_ok());
    auto w = proxy->write(f, 0, buf.value());
    ASSERT_TRUE(w.is_ok());
    EXPECT_EQ(w.value(), data.size());
    EXPECT_EQ(host.heap().owner_of(buf.value().raw()).value(), lamina::KERNEL_DOMAIN);  // lent, came back
    EXPECT_TRUE(proxy->rename(2, fs_name("new.bin"), many, fs_name("moved.bin"), false).is_ok());
    EXPECT_TRUE(proxy->link(2, fs_name("hard"), f).is_ok());
    auto target = RRefBytes::create(9);
    memcpy(target.value().data(), "hello.txt", 9);
    ASSERT_TRUE(target.value().set_length(9).is_ok());
    EXPECT_TRUE(proxy->symlink(2, fs_name("soft"), target.value(), 0, 0).is_ok());
    auto lbuf = RRefBytes::create(64);
    auto l = proxy->readlink(lookup(2, "soft"), std::move(lbuf.value()));
    ASSERT_TRUE(l.is_ok());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(l.value().data()), l.value().length()), "hello.txt");
    // The last name of f0 goes: it stays, without links, until the caller releases it.
    uint32_t f0 = lookup(many, "f0");
    auto orphan = proxy->unlink(many, fs_name("f0"), true);
    ASSERT_TRUE(orphan.is_ok());
    EXPECT_EQ(orphan.value(), f0);
    EXPECT_EQ(proxy->stat(f0).value().links, 0u);
    EXPECT_EQ(proxy->release(f).error().code(), Errno::Inval);  // linked: no orphan
    EXPECT_TRUE(proxy->release(f0).is_ok());
    EXPECT_EQ(proxy->release(f0).error().code(), Errno::Inval);
    EXPECT_EQ(proxy->stat(f0).error().code(), Errno::NoEnt);
    uint32_t f1 = lookup(many, "f1");  // not kept: freed at once
    EXPECT_EQ(proxy->unlink(many, fs_name("f1"), false).value(), 0u);
    EXPECT_EQ(proxy->stat(f1).error().code(), Errno::NoEnt);
    EXPECT_EQ(proxy->rmdir(2, fs_name("many")).error().code(), Errno::NotEmpty);
    EXPECT_EQ(proxy->lookup(2, fs_name("nothing")).error().code(), Errno::NoEnt);
    EXPECT_EQ(proxy->lookup(2, fs_name(std::string(256, 'x'))).error().code(), Errno::NameTooLong);
    EXPECT_TRUE(proxy->unmount().is_ok());

    auto check = fsck(tmp, partition());
    EXPECT_EQ(check.status, 0) << check.output;
    EXPECT_EQ(debugfs(tmp, partition(), "cat /many/moved.bin"), data);
    stop();  // the service's batch and pooled requests go with it
    EXPECT_EQ(host.heap().objects_owned_by(fs_domain.id), 0u);
}

TEST_F(FsServiceTest, CallsBeforeMountFailAndMountIsOnce) {
    EXPECT_EQ(proxy->stat(2).error().code(), Errno::NoDev);
    ASSERT_TRUE(proxy->mount(true, false).is_ok());
    EXPECT_EQ(proxy->mount(true, false).error().code(), Errno::Busy);
    EXPECT_EQ(proxy->create(2, fs_name("x"), 0644, 0, 0).error().code(), Errno::ROFS);
}

TEST_F(FsServiceTest, ARemountAfterAFaultStaysReadWrite) {
    ASSERT_TRUE(proxy->mount(false, false).is_ok());
    ASSERT_TRUE(proxy->create(2, fs_name("x"), 0644, 0, 0).is_ok());
    ASSERT_TRUE(proxy->sync().is_ok());
    stop();  // as if the domain died: nothing unmounted
    start();
    auto plain = proxy->mount(false, false);
    ASSERT_TRUE(plain.is_ok());
    EXPECT_TRUE(plain.value().read_only);  // not cleanly unmounted
    stop();
    start();
    auto after = proxy->mount(false, true);
    ASSERT_TRUE(after.is_ok());
    EXPECT_FALSE(after.value().read_only);
    EXPECT_NE(lookup(2, "x"), 0u);
}

TEST_F(FsServiceTest, RequestsComeBackInAnyOrder) {
    driver.reverse = true;
    ASSERT_TRUE(proxy->mount(true, false).is_ok());
    // A 300 KB read is one ext2 read of many blocks, each a request; big enough that whole
    // batches come back reversed.
    EXPECT_EQ(read_all(lookup(2, "big.bin")), pattern(300000, 7));
    lamina::fs::BlockClient direct(block_proxy, &log);
    ASSERT_TRUE(direct.connect().is_ok());
    std::vector<uint8_t> out(4u << 20);
    ASSERT_TRUE(direct.read_sectors(0, uint32_t(out.size() / 512), out.data()).is_ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), driver.disk.begin()));
    EXPECT_GE(direct.stats().submits, 4u);  // 128 chunks of 32 KiB, 32 per batch
}

TEST_F(FsServiceTest, DeviceErrorsAndMalformedReplies) {
    driver.fail_status = 5;
    EXPECT_EQ(proxy->mount(false, false).error().code(), Errno::IO);
    EXPECT_TRUE(log.contains("failed (errno 5)")) << log.all();
    driver.fail_status = 0;
    driver.drop_one = true;
    EXPECT_EQ(proxy->mount(false, false).error().code(), Errno::IO);
    EXPECT_TRUE(log.contains("returned 0 of 1 requests")) << log.all();
    driver.drop_one = false;
    EXPECT_TRUE(proxy->mount(true, false).is_ok());
}

TEST_F(FsServiceTest, ADiskWithoutAPartitionTableIsRefused) {
    std::fill(driver.disk.begin(), driver.disk.begin() + 34 * 512, 0);
    std::fill(driver.disk.end() - 34 * 512, driver.disk.end(), 0);
    EXPECT_EQ(proxy->mount(false, false).error().code(), Errno::IO);
    EXPECT_TRUE(log.contains("no root partition")) << log.all();
    // A valid table without a Linux partition: NoEnt.
    MemDevice(make_disk()).save(tmp / "disk.img");
    auto r = run("sgdisk -t 1:ef00 -c 1:esp '" + tmp / "disk.img" + "'");
    ASSERT_EQ(r.status, 0) << r.output;
    driver.disk = MemDevice::load(tmp / "disk.img").bytes;
    EXPECT_EQ(proxy->mount(false, false).error().code(), Errno::NoEnt);
}

}  // namespace
