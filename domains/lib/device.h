// What every driver domain needs to put its portable driver core on the capability table: a
// mapped BAR's registers, DMA memory of a claimed device in whole pages, short delays, and the
// part of a driver's platform (drivers/platform.h) that these make.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "domains/lib/domain.h"
#include "drivers/platform.h"

namespace lamina::domain_rt {

// Registers of a BAR mapped with device_map_bar, by byte offset.
class Mmio {
public:
    explicit Mmio(void* base) : base_(static_cast<volatile uint8_t*>(base)) {}
    uint32_t read32(uint32_t offset) const { return *reinterpret_cast<volatile uint32_t*>(base_ + offset); }
    void write32(uint32_t offset, uint32_t v) const { *reinterpret_cast<volatile uint32_t*>(base_ + offset) = v; }
    uint64_t read64(uint32_t offset) const { return *reinterpret_cast<volatile uint64_t*>(base_ + offset); }
    void write64(uint32_t offset, uint64_t v) const { *reinterpret_cast<volatile uint64_t*>(base_ + offset) = v; }

private:
    volatile uint8_t* base_;
};

// Maps memory BAR `bar` of the claimed device `handle`; NXIO when it is smaller than
// `min_size`. Failures are logged.
Result<void*> map_bar(uint64_t handle, uint8_t bar, size_t min_size);

// `bytes` rounded up to whole pages of zeroed memory the device `handle` may reach.
Result<drivers::DmaRegion> dma_alloc(uint64_t handle, size_t bytes);
void dma_free(uint64_t handle, const drivers::DmaRegion& region);

// Waits about `us` microseconds: a kernel sleep lasts at least a scheduler tick, so delays
// up to 2 ms spin, then sleep_ns(0) lets the kernel see the domain (it restarts the watchdog
// and leaves at once if the domain has been failed meanwhile); longer ones sleep.
void delay_us(uint32_t us);

// A driver's platform (`Base`: nvme::Platform, ixgbe::Platform, virtio::Platform) with what is
// the same in every driver domain filled in: DMA memory of the claimed device `handle`, the
// kernel's clock, delay_us above. The domain adds the registers and interrupts.
template <typename Base>
class DevicePlatform : public Base {
public:
    explicit DevicePlatform(uint64_t handle) : handle_(handle) {}

    Result<drivers::DmaRegion> alloc_dma(size_t bytes) override { return dma_alloc(handle_, bytes); }
    void free_dma(const drivers::DmaRegion& region) override { dma_free(handle_, region); }
    uint64_t now_ns() override { return caps().time_now_ns(); }
    void delay_us(uint32_t us) override { domain_rt::delay_us(us); }

protected:
    ~DevicePlatform() = default;
    uint64_t handle() const { return handle_; }

private:
    uint64_t handle_;
};

}  // namespace lamina::domain_rt
