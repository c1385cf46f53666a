#include "domains/lib/device.h"

#include "domains/lib/domain.h"

namespace lamina::domain_rt {

namespace {
constexpr size_t PAGE = 4096;
constexpr uint32_t SPIN_LIMIT_US = 2000;
}  // namespace

Result<DmaPages> dma_alloc(uint64_t handle, size_t bytes) {
    size_t size = (bytes + PAGE - 1) & ~(PAGE - 1);
    DmaPages p{nullptr, 0, size};
    if (int32_t rc = caps().dma_alloc(handle, size, &p.virt, &p.bus); rc != 0) return Errno(rc);
    return p;
}

void dma_free(uint64_t handle, void* virt, size_t size) { caps().dma_free(handle, virt, size); }

void delay_us(uint32_t us) {
    if (us > SPIN_LIMIT_US) {
        caps().sleep_ns(uint64_t(us) * 1000);
        return;
    }
    for (uint64_t end = caps().time_now_ns() + uint64_t(us) * 1000; caps().time_now_ns() < end;) asm volatile("pause");
    caps().sleep_ns(0);
}

}  // namespace lamina::domain_rt
