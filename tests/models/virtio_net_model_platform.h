// VirtioModelPlatform: the virtio driver's Platform over a VirtioNetModel, with a fake clock,
// for host tests and benchmarks; and VirtioModelHost, the NIC adaptor's host, which grants the
// device each NetPacket it maps (identity bus addresses).
//
// DMA allocations come from aligned_alloc and are granted to the model for as long as they
// live. Time moves only when the driver waits: delay_us() advances the clock and runs
// `on_wait` (a test's scripted peer); wait_interrupt() runs `on_wait`, takes a pending
// interrupt if there is one and otherwise jumps to the deadline, since nothing else could
// happen meanwhile.
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <functional>

#include "drivers/nic/nic_adaptor.h"
#include "drivers/virtio/platform.h"
#include "tests/models/virtio_net_model.h"

namespace lamina::virtio_model {

class VirtioModelPlatform final : public lamina::virtio::Platform {
public:
    explicit VirtioModelPlatform(VirtioNetModel& model) : model_(model) {}

    uint8_t config_read8(uint16_t o) override { return model_.config_read8(o); }
    uint16_t config_read16(uint16_t o) override { return model_.config_read16(o); }
    uint32_t config_read32(uint16_t o) override { return model_.config_read32(o); }
    uint64_t bar_size(uint8_t bar) override { return model_.bar_size(bar); }
    uint32_t bar_read(uint8_t bar, uint32_t off, uint8_t width) override { return model_.bar_read(bar, off, width); }
    void bar_write(uint8_t bar, uint32_t off, uint8_t width, uint32_t v) override {
        model_.bar_write(bar, off, width, v);
    }

    lamina::Result<lamina::drivers::DmaRegion> alloc_dma(size_t bytes) override {
        if (dma_failures_left > 0) {
            dma_failures_left--;
            return lamina::Errno::NoMem;
        }
        size_t size = (bytes + 4095) & ~size_t(4095);
        void* p = aligned_alloc(4096, size);
        if (!p) return lamina::Errno::NoMem;
        memset(p, 0, size);
        model_.grant(p, size);
        live_dma++;
        return lamina::drivers::DmaRegion{p, reinterpret_cast<uint64_t>(p), size};
    }
    void free_dma(const lamina::drivers::DmaRegion& r) override {
        model_.revoke(r.virt);
        free(r.virt);
        live_dma--;
    }

    uint64_t now_ns() override { return clock_ns; }
    void delay_us(uint32_t us) override {
        clock_ns += uint64_t(us) * 1000;
        if (on_wait) on_wait();
    }

    uint32_t setup_interrupts(uint32_t wanted) override { return msix ? wanted : 0; }
    void wait_interrupt(uint16_t vector, uint64_t deadline_ns) override {
        waits++;
        if (on_wait) on_wait();
        if (!model_.take_interrupt(vector) && clock_ns < deadline_ns) clock_ns = deadline_ns;
    }

    uint64_t clock_ns = 1'000'000'000;
    bool msix = true;
    uint64_t waits = 0;
    int64_t live_dma = 0;
    int dma_failures_left = 0;
    std::function<void()> on_wait;

private:
    VirtioNetModel& model_;
};

class VirtioModelHost final : public lamina::nic::NicHost {
public:
    explicit VirtioModelHost(VirtioNetModel& model) : model_(model) {}
    lamina::Result<uint64_t> bus_address(const void* object, uint64_t offset, uint32_t length) override {
        const uint8_t* p = static_cast<const uint8_t*>(object) + offset;
        model_.grant(p, length);
        return reinterpret_cast<uint64_t>(p);
    }

private:
    VirtioNetModel& model_;
};

}  // namespace lamina::virtio_model
