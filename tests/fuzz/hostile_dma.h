// The DMA side of a hostile device for the driver harnesses (nvme, ixgbe): regions from the
// device model's memory, handed out (or refused, as the answers say) and tracked, so that a
// region freed twice or never freed is caught, and written over with garbage at any time.
#pragma once
#include <algorithm>
#include <vector>

#include <lamina/result.h>

#include "tests/fuzz/fuzz.h"
#include "tests/models/nvme_model.h"

namespace fuzz {

// Region: the driver's DmaRegion type ({virt, bus, size}).
template <typename Region>
class HostileDma {
public:
    HostileDma(lamina::nvme_model::ModelMemory& memory, Input& answers) : memory_(memory), answers_(answers) {}
    ~HostileDma() { FUZZ_CHECK(regions_.empty(), "the driver leaked %zu DMA regions", regions_.size()); }

    // True with probability n/256 while the answers last.
    bool chance(uint8_t n) { return !answers_.empty() && answers_.take<uint8_t>() < n; }
    Input& answers() { return answers_; }

    lamina::Result<Region> allocate(size_t bytes, uint8_t fail_chance) {
        if (chance(fail_chance)) return lamina::Errno::NoMem;
        auto a = memory_.allocate(bytes);
        if (!a.virt) return lamina::Errno::NoMem;
        regions_.push_back(Region{a.virt, a.phys, a.size});
        return regions_.back();
    }
    void free(const Region& region) {
        auto it = std::find_if(regions_.begin(), regions_.end(), [&](const Region& r) { return r.bus == region.bus; });
        FUZZ_CHECK(it != regions_.end(), "free_dma of a region never allocated (or freed twice): %#lx", region.bus);
        FUZZ_CHECK(it->size == region.size, "free_dma with another size");
        regions_.erase(it);
        FUZZ_CHECK(memory_.free(region.bus), "the model did not know the region");
    }
    // Garbage from `in` into one of the regions the driver holds (see fuzz::scribble).
    void scribble(size_t window, size_t unit, Input& in) {
        if (regions_.empty()) return;
        const Region& r = regions_[in.take<uint8_t>() % regions_.size()];
        fuzz::scribble(r.virt, r.size, window, unit, in);
    }

private:
    lamina::nvme_model::ModelMemory& memory_;
    Input& answers_;
    std::vector<Region> regions_;
};

}  // namespace fuzz
