// IxgbeModelPlatform: the ixgbe driver's Platform over an IxgbeModel, with a fake clock, for
// host tests and benchmarks.
//
// Registers go to the model, DMA memory comes from the model's memory (so it is "granted"),
// and time moves only when the driver waits: delay_us() moves the clock by the delay, and
// wait_interrupt() returns at once if a vector fired, else jumps to the model's next
// event or the deadline, whichever is first. revoke_all() frees every region the driver still
// holds, as the kernel does with a dead domain's memory.
#pragma once

#include <stdint.h>

#include <algorithm>
#include <map>
#include <vector>

#include "drivers/ixgbe/platform.h"
#include "drivers/nic/nic_adaptor.h"
#include "tests/models/ixgbe_model.h"

namespace lamina::ixgbe_model {

class IxgbeModelPlatform final : public lamina::ixgbe::Platform {
public:
    explicit IxgbeModelPlatform(IxgbeModel& model) : model_(model) {
        model_.advance(clock_ns);
        model_.set_msix_handler([this](uint16_t) { fired_ = true; });
    }

    uint32_t read32(uint32_t offset) override { return model_.read32(offset); }
    void write32(uint32_t offset, uint32_t value) override { model_.write32(offset, value); }

    lamina::Result<lamina::drivers::DmaRegion> alloc_dma(size_t bytes) override {
        auto a = model_.memory().allocate(bytes);
        if (!a.virt) return lamina::Errno::NoMem;
        regions_.push_back(a.phys);
        return lamina::drivers::DmaRegion{a.virt, a.phys, a.size};
    }
    void free_dma(const lamina::drivers::DmaRegion& region) override {
        auto it = std::find(regions_.begin(), regions_.end(), region.bus);
        if (it != regions_.end()) regions_.erase(it);
        model_.memory().free(region.bus);
    }
    void revoke_all() {
        for (uint64_t phys : regions_) model_.memory().free(phys);
        regions_.clear();
    }
    size_t regions() const { return regions_.size(); }

    uint64_t now_ns() override { return clock_ns; }
    void delay_us(uint32_t us) override { set_clock(clock_ns + uint64_t(us) * 1000); }
    uint32_t setup_interrupts(uint32_t wanted) override { return interrupts ? wanted : 0; }
    void wait_interrupt(uint16_t, uint64_t deadline_ns) override {
        waits++;
        if (fired_) {
            fired_ = false;
            return;
        }
        set_clock(std::min(deadline_ns, std::max(model_.next_event_ns(), clock_ns + 1000)));
        fired_ = false;
    }

    void set_clock(uint64_t ns) {
        clock_ns = ns;
        model_.advance(ns);
    }

    uint64_t clock_ns = 1'000'000'000;
    bool interrupts = true;
    uint64_t waits = 0;

private:
    IxgbeModel& model_;
    std::vector<uint64_t> regions_;
    bool fired_ = false;
};

// Exchange-heap NetPackets reach the model's DMA window as external memory, one mapping per
// object (the NIC adaptor's NicHost, as the kernel's exchange_dma_segments is in a domain).
class ModelNicHost final : public lamina::nic::NicHost {
public:
    explicit ModelNicHost(IxgbeModel& m) : model_(m) {}
    lamina::Result<uint64_t> bus_address(const void* object, uint64_t offset, uint32_t length) override {
        constexpr size_t size = sizeof(lamina::idl::NetPacket);
        if (offset + length > size) return lamina::Errno::Inval;
        auto it = mapped_.find(object);
        if (it == mapped_.end())
            it = mapped_.emplace(object, model_.memory().map_external(const_cast<void*>(object), size)).first;
        return it->second + offset;
    }

private:
    IxgbeModel& model_;
    std::map<const void*, uint64_t> mapped_;
};

}  // namespace lamina::ixgbe_model
