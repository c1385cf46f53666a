#include "domains/lib/device.h"

#include "domains/lib/domain.h"

namespace lamina::domain_rt {

namespace {
constexpr size_t PAGE = 4096;
constexpr uint32_t SPIN_LIMIT_US = 2000;
}  // namespace

Result<void*> map_bar(uint64_t handle, uint8_t bar, size_t min_size) {
    void* base = nullptr;
    size_t size = 0;
    if (int32_t rc = caps().device_map_bar(handle, bar, &base, &size); rc != 0) {
        log("cannot map BAR%u: errno %d", bar, rc);
        return Errno(rc);
    }
    if (size < min_size) {
        log("BAR%u is %zu bytes, the device's registers need %zu", bar, size, min_size);
        return Errno::NXIO;
    }
    return base;
}

Result<drivers::DmaRegion> dma_alloc(uint64_t handle, size_t bytes) {
    drivers::DmaRegion r;
    r.size = (bytes + PAGE - 1) & ~(PAGE - 1);
    if (int32_t rc = caps().dma_alloc(handle, r.size, &r.virt, &r.bus); rc != 0) return Errno(rc);
    return r;
}

void dma_free(uint64_t handle, const drivers::DmaRegion& region) { caps().dma_free(handle, region.virt, region.size); }

void delay_us(uint32_t us) {
    if (us > SPIN_LIMIT_US) {
        caps().sleep_ns(uint64_t(us) * 1000);
        return;
    }
    for (uint64_t end = caps().time_now_ns() + uint64_t(us) * 1000; caps().time_now_ns() < end;) asm volatile("pause");
    caps().sleep_ns(0);
}

}  // namespace lamina::domain_rt
