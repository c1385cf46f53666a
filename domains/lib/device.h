// What every driver domain needs to put its portable driver core on the capability table: a
// mapped BAR's registers, DMA memory of a claimed device in whole pages, and short delays.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

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

struct DmaPages {
    void* virt;
    uint64_t bus;
    size_t size;  // whole pages
};

// `bytes` rounded up to whole pages of zeroed memory the device `handle` may reach.
Result<DmaPages> dma_alloc(uint64_t handle, size_t bytes);
void dma_free(uint64_t handle, void* virt, size_t size);

// Waits about `us` microseconds: a kernel sleep lasts at least a scheduler tick, so delays
// up to 2 ms spin, then sleep_ns(0) lets the kernel see the domain (it restarts the watchdog
// and leaves at once if the domain has been failed meanwhile); longer ones sleep.
void delay_us(uint32_t us);

}  // namespace lamina::domain_rt
