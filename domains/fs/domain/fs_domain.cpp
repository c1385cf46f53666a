// The fs domain's entry: looks up the imported block device, builds the FsService on its
// private heap and publishes it as "fs". Mounting is the kernel's call (Fs::mount), so that a
// restart can remount with after_fault set (kernel/storage/fs_client.cpp).
#include <new>

#include <lamina/own.h>

#include "domains/fs/service/fs_service.h"
#include "domains/lib/domain.h"

namespace {

using namespace lamina;

// The ext2 core's memory: the private heap. Alignments above the heap's 16 bytes are served by
// over-allocating and keeping the heap's pointer just below the aligned block.
class HeapAllocator final : public ext2::Allocator {
public:
    void* allocate(size_t size, size_t align) override {
        if (align < 16) align = 16;
        char* raw = static_cast<char*>(domain_rt::malloc(size + align + 16));
        if (!raw) return nullptr;
        uintptr_t p = (reinterpret_cast<uintptr_t>(raw) + 16 + align - 1) & ~uintptr_t(align - 1);
        reinterpret_cast<void**>(p)[-1] = raw;
        return reinterpret_cast<void*>(p);
    }
    void release(void* p, size_t) override {
        if (p) domain_rt::free(static_cast<void**>(p)[-1]);
    }
};

// Timestamps. The kernel has no wall clock yet: seconds since boot counted from 2026-01-01,
// so that times move forward and stay plausible.
class BootClock final : public ext2::Clock {
public:
    uint32_t now() override {
        constexpr uint32_t EPOCH = 1767225600;
        return EPOCH + static_cast<uint32_t>(domain_rt::caps().time_now_ns() / 1'000'000'000ull);
    }
};

class KernelLog final : public fs::FsLog {
public:
    void line(const char* text) override { domain_rt::log("%s", text); }
};

constexpr uint32_t CACHE_BUFFERS = 512;

// What the exported service runs on, made in domain_main (domains run no static constructors)
// and alive as long as this instance: the kernel drops it with the instance's heap.
struct Instance {
    explicit Instance(idl::Block& block) : service(fs::FsService::Env{block, alloc, clock, &log, CACHE_BUFFERS}) {}

    HeapAllocator alloc;
    BootClock clock;
    KernelLog log;
    fs::FsService service;
};
Instance* g_instance;

}  // namespace

int64_t domain_main(const lamina_domain_caps& caps) {
    void* block = nullptr;
    if (int32_t rc = caps.interface_lookup("block", 5, &block); rc != 0) {
        domain_rt::log("fs: no block device to mount (interface_lookup: errno %d)", rc);
        return -rc;
    }
    auto instance = make_own<Instance>(*static_cast<idl::Block*>(block));
    if (instance.is_error()) return -int64_t(instance.error().code());
    idl::Fs* exported = &instance.value()->service;
    if (int32_t rc = domain_rt::publish_interface(caps, "fs", exported); rc != 0) return -rc;
    g_instance = instance.value().release();
    return 0;
}
