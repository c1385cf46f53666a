// ModelPlatform: the NVMe driver's Platform over an NvmeModel, with a fake clock, for host tests
// and benchmarks.
//
// DMA memory comes from the model's memory, registers go to the model, and time advances only
// when the driver waits: delay_us() moves the clock forward by the delay, and wait_interrupt()
// lets the model process what is queued (step) and, when that completed nothing, jumps straight
// to the deadline, since nothing else could happen meanwhile. So a controller that never
// answers times out at once, however long the configured timeout.
#pragma once

#include <stdint.h>

#include "drivers/nvme/platform.h"
#include "tests/models/nvme_model.h"

namespace lamina::nvme_model {

class ModelPlatform final : public lamina::nvme::Platform {
public:
    explicit ModelPlatform(NvmeModel& model) : model_(model) {}

    uint32_t read32(uint32_t offset) override { return model_.read32(offset); }
    void write32(uint32_t offset, uint32_t value) override { model_.write32(offset, value); }
    uint64_t read64(uint32_t offset) override { return model_.read64(offset); }
    void write64(uint32_t offset, uint64_t value) override { model_.write64(offset, value); }

    lamina::Result<lamina::drivers::DmaRegion> alloc_dma(size_t bytes) override {
        if (dma_failures_left > 0) {
            dma_failures_left--;
            return lamina::Errno::NoMem;
        }
        auto a = model_.memory().allocate(bytes);
        if (!a.virt) return lamina::Errno::NoMem;
        dma_allocations++;
        return lamina::drivers::DmaRegion{a.virt, a.phys, a.size};
    }
    void free_dma(const lamina::drivers::DmaRegion& region) override {
        if (model_.memory().free(region.bus)) dma_frees++;
    }

    uint64_t now_ns() override { return clock_ns; }
    void delay_us(uint32_t us) override {
        clock_ns += uint64_t(us) * 1000;
        delays++;
    }
    uint32_t setup_interrupts(uint32_t wanted) override { return interrupts ? wanted : 0; }
    void wait_interrupt(uint16_t vector, uint64_t deadline_ns) override {
        waits++;
        last_wait_vector = vector;
        if (model_.step() == 0 && clock_ns < deadline_ns) clock_ns = deadline_ns;
    }

    uint64_t clock_ns = 1'000'000'000;
    bool interrupts = false;
    uint64_t waits = 0;
    uint64_t delays = 0;
    uint16_t last_wait_vector = 0;
    uint64_t dma_allocations = 0;
    uint64_t dma_frees = 0;
    int dma_failures_left = 0;

private:
    NvmeModel& model_;
};

}  // namespace lamina::nvme_model
