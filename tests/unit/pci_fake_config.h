// A fake PCI configuration space for host tests: functions are byte arrays, and each dword has
// a mask of writable bits, so that BARs behave like hardware (the size bits read back as zero
// after writing all ones). It checks the BAR sizing rule that a BAR is only written while the
// function's I/O and memory decoding are off.
#pragma once

#include "kernel/dev/pci/config_space.h"
#include "kernel/dev/pci/registers.h"

#include <stdint.h>
#include <string.h>

#include <map>
#include <tuple>
#include <vector>

namespace lamina::pci::test {

class FakeConfigSpace final : public ConfigSpace {
public:
    struct Function {
        uint8_t bytes[4096] = {};
        uint32_t writable[1024] = {};  // per dword
    };

    explicit FakeConfigSpace(uint16_t size = 4096) : size_(size) {}

    Function& add(Address a, uint16_t vendor, uint16_t device, uint8_t class_code, uint8_t subclass, uint8_t prog_if,
                  uint8_t header_type = 0) {
        Function& f = functions_[key(a)];
        put16(f, VENDOR_ID, vendor);
        put16(f, DEVICE_ID, device);
        f.bytes[PROG_IF] = prog_if;
        f.bytes[SUBCLASS] = subclass;
        f.bytes[CLASS_CODE] = class_code;
        f.bytes[HEADER_TYPE] = header_type;
        f.writable[COMMAND / 4] = 0x0000FFFF;
        return f;
    }
    Function& at(Address a) { return functions_.at(key(a)); }

    // A memory or I/O BAR of `size` bytes at `address` (64-bit ones use two slots).
    void mem_bar(Address a, unsigned index, uint64_t address, uint64_t size, bool is64, bool pref) {
        Function& f = at(a);
        uint32_t flags = (is64 ? BAR_MEM_TYPE64 : BAR_MEM_TYPE32) | (pref ? BAR_PREFETCHABLE : 0);
        uint64_t mask = ~(size - 1);
        put32(f, uint16_t(BAR0 + 4 * index), uint32_t(address) | flags);
        f.writable[(BAR0 + 4 * index) / 4] = uint32_t(mask) & BAR_MEM_ADDRESS_MASK;
        if (is64) {
            put32(f, uint16_t(BAR0 + 4 * index + 4), uint32_t(address >> 32));
            f.writable[(BAR0 + 4 * index + 4) / 4] = uint32_t(mask >> 32);
        }
    }
    void io_bar(Address a, unsigned index, uint32_t port, uint32_t size, bool decode16 = true) {
        Function& f = at(a);
        put32(f, uint16_t(BAR0 + 4 * index), port | BAR_IO_SPACE);
        uint32_t mask = ~(size - 1) & BAR_IO_ADDRESS_MASK;
        if (decode16) mask &= 0xFFFF;
        f.writable[(BAR0 + 4 * index) / 4] = mask;
    }
    // Writes a raw BAR value and writable mask (for malformed BARs).
    void raw_bar(Address a, unsigned index, uint32_t value, uint32_t writable) {
        Function& f = at(a);
        put32(f, uint16_t(BAR0 + 4 * index), value);
        f.writable[(BAR0 + 4 * index) / 4] = writable;
    }
    // Appends a capability at `offset` and links it at the end of the list.
    void capability(Address a, uint8_t offset, uint8_t id, std::vector<uint8_t> body = {}) {
        Function& f = at(a);
        f.bytes[STATUS] |= STATUS_CAPABILITIES_LIST;
        uint16_t link = CAPABILITIES_POINTER;
        while (f.bytes[link] != 0) link = uint16_t(f.bytes[link] + 1);
        f.bytes[link] = offset;
        f.bytes[offset] = id;
        f.bytes[offset + 1] = 0;
        for (size_t i = 0; i < body.size(); i++) f.bytes[offset + 2 + i] = body[i];
    }

    static void put16(Function& f, uint16_t off, uint16_t v) { memcpy(&f.bytes[off], &v, 2); }
    static void put32(Function& f, uint16_t off, uint32_t v) { memcpy(&f.bytes[off], &v, 4); }

    uint16_t size() const override { return size_; }
    bool covers(uint16_t segment, uint8_t) const override { return segment == 0; }

    unsigned bar_writes_while_decoding = 0;
    unsigned reads = 0;
    std::vector<std::tuple<uint8_t, uint8_t, uint8_t>> scanned;  // functions read at offset 0

protected:
    uint32_t read_checked(Address a, uint16_t off, unsigned width) override {
        reads++;
        if (off == 0) scanned.emplace_back(a.bus, a.device, a.function);
        auto it = functions_.find(key(a));
        if (it == functions_.end()) return all_ones(width);
        uint32_t v = 0;
        memcpy(&v, &it->second.bytes[off], width);
        return v;
    }

    void write_checked(Address a, uint16_t off, unsigned width, uint32_t value) override {
        auto it = functions_.find(key(a));
        if (it == functions_.end()) return;
        Function& f = it->second;
        uint16_t dword = uint16_t(off & ~3u);
        if (dword >= BAR0 && dword < BAR0 + 24) {
            uint16_t command;
            memcpy(&command, &f.bytes[COMMAND], 2);
            if (command & (COMMAND_IO_SPACE | COMMAND_MEMORY_SPACE)) bar_writes_while_decoding++;
        }
        uint32_t current;
        memcpy(&current, &f.bytes[dword], 4);
        unsigned shift = 8 * (off - dword);
        uint32_t lane = all_ones(width) << shift;
        uint32_t mask = lane & f.writable[dword / 4];
        uint32_t next = (current & ~mask) | ((value << shift) & mask);
        memcpy(&f.bytes[dword], &next, 4);
    }

private:
    static uint32_t key(Address a) {
        return uint32_t(a.segment) << 16 | uint32_t(a.bus) << 8 | uint32_t(a.device) << 3 | a.function;
    }

    uint16_t size_;
    std::map<uint32_t, Function> functions_;
};

}  // namespace lamina::pci::test
