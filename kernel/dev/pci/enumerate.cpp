// lamina:portable
#include "kernel/dev/pci/enumerate.h"

namespace lamina::pci {

namespace {

class BusSet {
public:
    void add(unsigned bus) { bits_[bus / 64] |= 1ull << (bus % 64); }
    bool contains(unsigned bus) const { return bits_[bus / 64] & (1ull << (bus % 64)); }

private:
    uint64_t bits_[4] = {};
};

}  // namespace

EnumerationResult enumerate(ConfigSpace& cs, BusRange range, FunctionInfo* out, size_t capacity) {
    EnumerationResult result;
    BusSet pending;
    pending.add(range.start);
    FunctionInfo scratch;  // where functions go once the table is full, so they are still followed

    for (unsigned bus = range.start; bus <= range.end; bus++) {
        if (!pending.contains(bus) || !cs.covers(range.segment, uint8_t(bus))) continue;
        result.buses++;
        for (unsigned dev = 0; dev < DEVICES_PER_BUS; dev++) {
            for (unsigned fn = 0; fn < FUNCTIONS_PER_DEVICE; fn++) {
                const Address a{range.segment, uint8_t(bus), uint8_t(dev), uint8_t(fn)};
                FunctionInfo& f = result.found < capacity ? out[result.found] : scratch;
                if (!read_function(cs, a, f)) {
                    if (fn == 0) break;  // no device: functions 1-7 cannot exist either
                    continue;
                }
                if (&f == &scratch)
                    result.dropped++;
                else
                    result.found++;
                if (f.is_bridge()) {
                    if (f.secondary_bus <= bus || f.secondary_bus > range.end)
                        f.problems |= PROBLEM_BRIDGE_BUS_INVALID;
                    else
                        pending.add(f.secondary_bus);
                }
                if (fn == 0 && !f.multifunction) break;
            }
        }
    }
    return result;
}

}  // namespace lamina::pci
