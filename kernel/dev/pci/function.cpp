// lamina:portable
#include "kernel/dev/pci/function.h"

#include <lamina/format.h>

namespace lamina::pci {

namespace {

constexpr bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

unsigned bar_count_for(uint8_t header_type) {
    switch (header_type) {
        case HEADER_GENERAL:
            return 6;
        case HEADER_BRIDGE:
            return 2;
        case HEADER_CARDBUS:
            return 1;
        default:
            return 0;
    }
}

void mark_bad_bar(FunctionInfo& f, unsigned index, uint32_t problem) {
    f.problems |= problem;
    f.bad_bars |= uint8_t(1u << index);
    f.bars[index] = Bar{};
}

// Records a sized BAR, or a problem when its size mask has holes (a size that is not a power of
// two cannot be decoded by address bits and means broken hardware or a broken emulation).
void record_bar(FunctionInfo& f, unsigned index, BarKind kind, bool prefetchable, uint64_t address, uint64_t size) {
    if (!is_power_of_two(size)) {
        mark_bad_bar(f, index, PROBLEM_BAR_SIZE_NOT_POWER_OF_TWO);
        return;
    }
    f.bars[index] = Bar{kind, prefetchable, address, size};
}

}  // namespace

bool FunctionInfo::has_capability(CapabilityId id) const {
    for (unsigned i = 0; i < capability_count; i++)
        if (capabilities[i].id == uint8_t(id)) return true;
    return false;
}

const char* problem_name(uint32_t bit) {
    switch (bit) {
        case PROBLEM_CAP_POINTER_INTO_HEADER:
            return "capability pointer into the header";
        case PROBLEM_CAP_POINTER_MISALIGNED:
            return "misaligned capability pointer";
        case PROBLEM_CAP_LOOP:
            return "capability list loops";
        case PROBLEM_CAP_TOO_MANY_TO_RECORD:
            return "more capabilities than recorded";
        case PROBLEM_BAR_SIZE_NOT_POWER_OF_TWO:
            return "BAR size not a power of two";
        case PROBLEM_BAR64_IN_LAST_SLOT:
            return "64-bit BAR in the last slot";
        case PROBLEM_BAR_RESERVED_TYPE:
            return "BAR of reserved memory type";
        case PROBLEM_MSIX_TABLE_OUTSIDE_BAR:
            return "MSI-X table outside its BAR";
        case PROBLEM_MSIX_PBA_OUTSIDE_BAR:
            return "MSI-X PBA outside its BAR";
        case PROBLEM_UNKNOWN_HEADER_TYPE:
            return "unknown header type";
        case PROBLEM_BRIDGE_BUS_INVALID:
            return "bridge secondary bus out of order or range";
        case PROBLEM_CAP_DUPLICATE:
            return "duplicate MSI/MSI-X/PCIe capability";
        case PROBLEM_BAR_UNASSIGNED:
            return "BAR left without an address";
        default:
            return "unknown problem";
    }
}

bool read_function(ConfigSpace& cs, Address a, FunctionInfo& out) {
    out = FunctionInfo{};
    out.address = a;
    uint16_t vendor = cs.read16(a, VENDOR_ID);
    if (vendor == NO_VENDOR) return false;
    out.vendor = vendor;
    out.device = cs.read16(a, DEVICE_ID);
    out.revision = cs.read8(a, REVISION_ID);
    out.prog_if = cs.read8(a, PROG_IF);
    out.subclass = cs.read8(a, SUBCLASS);
    out.class_code = cs.read8(a, CLASS_CODE);
    uint8_t header = cs.read8(a, HEADER_TYPE);
    out.header_type = header & HEADER_TYPE_MASK;
    out.multifunction = header & HEADER_MULTI_FUNCTION;
    out.command = cs.read16(a, COMMAND);
    out.interrupt_line = cs.read8(a, INTERRUPT_LINE);
    out.interrupt_pin = cs.read8(a, INTERRUPT_PIN);
    if (out.is_bridge()) {
        out.secondary_bus = cs.read8(a, SECONDARY_BUS);
        out.subordinate_bus = cs.read8(a, SUBORDINATE_BUS);
    }
    out.bar_count = bar_count_for(out.header_type);
    if (out.header_type > HEADER_CARDBUS) {
        out.problems |= PROBLEM_UNKNOWN_HEADER_TYPE;
        return true;  // identity only: nothing else in an unknown header can be interpreted
    }
    size_bars(cs, out);
    walk_capabilities(cs, out);
    check_msix_location(out);
    return true;
}

void size_bars(ConfigSpace& cs, FunctionInfo& f) {
    const Address a = f.address;
    for (auto& bar : f.bars) bar = Bar{};
    if (f.bar_count == 0) return;

    const uint16_t command = cs.read16(a, COMMAND);
    cs.write16(a, COMMAND, uint16_t(command & ~(COMMAND_IO_SPACE | COMMAND_MEMORY_SPACE)));

    for (unsigned i = 0; i < f.bar_count; i++) {
        const uint16_t reg = uint16_t(BAR0 + 4 * i);
        const uint32_t original = cs.read32(a, reg);
        cs.write32(a, reg, 0xFFFFFFFF);
        const uint32_t readback = cs.read32(a, reg);
        cs.write32(a, reg, original);

        if (original & BAR_IO_SPACE) {
            uint32_t mask = readback & BAR_IO_ADDRESS_MASK;
            if (mask == 0) continue;  // not implemented
            // Functions that decode only 16 bits of I/O address hardwire the upper half to 0.
            if ((mask & 0xFFFF0000) == 0) mask |= 0xFFFF0000;
            record_bar(f, i, BarKind::Io, false, original & BAR_IO_ADDRESS_MASK, uint32_t(~mask + 1));
            continue;
        }

        const bool prefetchable = original & BAR_PREFETCHABLE;
        switch (original & BAR_MEM_TYPE_MASK) {
            case BAR_MEM_TYPE32:
            case BAR_MEM_TYPE_BELOW1_M: {
                uint32_t mask = readback & BAR_MEM_ADDRESS_MASK;
                if (mask == 0) continue;
                record_bar(f, i, BarKind::Mem32, prefetchable, original & BAR_MEM_ADDRESS_MASK, uint32_t(~mask + 1));
                break;
            }
            case BAR_MEM_TYPE64: {
                if (i + 1 >= f.bar_count) {
                    mark_bad_bar(f, i, PROBLEM_BAR64_IN_LAST_SLOT);
                    break;
                }
                const uint16_t high_reg = uint16_t(reg + 4);
                const uint32_t original_high = cs.read32(a, high_reg);
                cs.write32(a, high_reg, 0xFFFFFFFF);
                const uint32_t readback_high = cs.read32(a, high_reg);
                cs.write32(a, high_reg, original_high);
                const uint64_t mask = (uint64_t(readback_high) << 32) | (readback & BAR_MEM_ADDRESS_MASK);
                const uint64_t address = (uint64_t(original_high) << 32) | (original & BAR_MEM_ADDRESS_MASK);
                i++;  // the upper half stays BarKind::None
                if (mask == 0) break;
                record_bar(f, i - 1, BarKind::Mem64, prefetchable, address, ~mask + 1);
                break;
            }
            default:
                mark_bad_bar(f, i, PROBLEM_BAR_RESERVED_TYPE);
                break;
        }
    }

    cs.write16(a, COMMAND, command);
}

namespace {

// The first capability of a kind is the one decoded (into `info`, at `pointer`); another of the
// same kind is a problem and is skipped.
template <typename Info>
bool first_of_kind(FunctionInfo& f, Info& info, uint8_t pointer) {
    if (info.present) {
        f.problems |= PROBLEM_CAP_DUPLICATE;
        return false;
    }
    info.present = true;
    info.offset = pointer;
    return true;
}

}  // namespace

void walk_capabilities(ConfigSpace& cs, FunctionInfo& f) {
    const Address a = f.address;
    f.capability_count = 0;
    f.msi = MsiInfo{};
    f.msix = MsixInfo{};
    f.pcie = PcieInfo{};
    if (!(cs.read16(a, STATUS) & STATUS_CAPABILITIES_LIST)) return;

    const uint16_t head = f.header_type == HEADER_CARDBUS ? CARDBUS_CAPABILITIES_POINTER : CAPABILITIES_POINTER;
    uint8_t pointer = cs.read8(a, head);
    uint64_t seen[4] = {};  // one bit per dword of the 256-byte space
    for (unsigned n = 0; pointer != 0; n++) {
        if (pointer % 4 != 0) {
            f.problems |= PROBLEM_CAP_POINTER_MISALIGNED;
            f.bad_cap_pointer = pointer;
            return;
        }
        if (pointer < HEADER_SIZE) {
            f.problems |= PROBLEM_CAP_POINTER_INTO_HEADER;
            f.bad_cap_pointer = pointer;
            return;
        }
        const unsigned slot = pointer / 4;
        if (n >= MAX_CAPABILITIES || (seen[slot / 64] & (1ull << (slot % 64)))) {
            f.problems |= PROBLEM_CAP_LOOP;
            f.bad_cap_pointer = pointer;
            return;
        }
        seen[slot / 64] |= 1ull << (slot % 64);

        const uint8_t id = cs.read8(a, pointer);
        if (f.capability_count < MAX_RECORDED_CAPABILITIES)
            f.capabilities[f.capability_count++] = Capability{id, pointer};
        else
            f.problems |= PROBLEM_CAP_TOO_MANY_TO_RECORD;

        switch (CapabilityId(id)) {
            case CapabilityId::Msi: {
                if (!first_of_kind(f, f.msi, pointer)) break;
                const uint16_t control = cs.read16(a, uint16_t(pointer + MSI_CONTROL));
                f.msi.is_64bit = control & MSI_CONTROL64_BIT;
                f.msi.per_vector_mask = control & MSI_CONTROL_PER_VECTOR_MASK;
                unsigned log2 = (control >> MSI_CONTROL_MULTIPLE_CAPABLE_SHIFT) & 0x7;
                f.msi.vectors = uint8_t(1u << (log2 > 5 ? 5 : log2));  // 6 and 7 are reserved
                break;
            }
            case CapabilityId::MsiX: {
                if (!first_of_kind(f, f.msix, pointer)) break;
                const uint16_t control = cs.read16(a, uint16_t(pointer + MSIX_CONTROL));
                const uint32_t table = cs.read32(a, uint16_t(pointer + MSIX_TABLE));
                const uint32_t pba = cs.read32(a, uint16_t(pointer + MSIX_PBA));
                f.msix.table_size = uint16_t((control & MSIX_CONTROL_TABLE_SIZE_MASK) + 1);
                f.msix.table_bar = uint8_t(table & MSIX_BIR_MASK);
                f.msix.table_offset = table & ~MSIX_BIR_MASK;
                f.msix.pba_bar = uint8_t(pba & MSIX_BIR_MASK);
                f.msix.pba_offset = pba & ~MSIX_BIR_MASK;
                break;
            }
            case CapabilityId::PciExpress: {
                if (!first_of_kind(f, f.pcie, pointer)) break;
                const uint16_t caps = cs.read16(a, uint16_t(pointer + PCIE_CAPABILITIES));
                f.pcie.port_type = uint8_t((caps >> PCIE_DEVICE_PORT_TYPE_SHIFT) & PCIE_DEVICE_PORT_TYPE_MASK);
                break;
            }
            default:
                break;
        }
        pointer = cs.read8(a, uint16_t(pointer + 1));
    }
}

void check_msix_location(FunctionInfo& f) {
    if (!f.msix.present) return;
    auto fits = [&](uint8_t bir, uint64_t offset, uint64_t length) {
        if (bir >= f.bar_count) return false;
        const Bar& bar = f.bars[bir];
        return bar.is_memory() && offset <= bar.size && length <= bar.size - offset;
    };
    if (!fits(f.msix.table_bar, f.msix.table_offset, uint64_t(f.msix.table_size) * MSIX_ENTRY_SIZE))
        f.problems |= PROBLEM_MSIX_TABLE_OUTSIDE_BAR;
    // One pending bit per entry, in qwords.
    if (!fits(f.msix.pba_bar, f.msix.pba_offset, (uint64_t(f.msix.table_size) + 63) / 64 * 8))
        f.problems |= PROBLEM_MSIX_PBA_OUTSIDE_BAR;
}

const char* class_name(uint8_t c, uint8_t s, uint8_t p) {
    switch (c) {
        case 0x01:
            switch (s) {
                case 0x00:
                    return "scsi";
                case 0x01:
                    return "ide";
                case 0x06:
                    return p == 0x01 ? "ahci" : "sata";
                case 0x08:
                    return p == 0x02 ? "nvme" : "nvm";
                default:
                    return "storage";
            }
        case 0x02:
            return s == 0x00 ? "ethernet" : "network";
        case 0x03:
            return s == 0x00 ? "vga" : "display";
        case 0x04:
            return "multimedia";
        case 0x05:
            return "memory";
        case 0x06:
            switch (s) {
                case 0x00:
                    return "host bridge";
                case 0x01:
                    return "isa bridge";
                case 0x04:
                    return "pci bridge";
                default:
                    return "bridge";
            }
        case 0x07:
            return "communication";
        case 0x08:
            return "system";
        case 0x0C:
            switch (s) {
                case 0x03:
                    return "usb";
                case 0x05:
                    return "smbus";
                default:
                    return "serial bus";
            }
        default:
            return nullptr;
    }
}

namespace {

// Appends to a fixed buffer, always NUL-terminated, counting what did not fit.
class LineBuilder {
public:
    LineBuilder(char* buf, size_t size) : buf_(buf), size_(size) {
        if (size_) buf_[0] = 0;
    }
    template <typename... Args>
    void add(const char* fmt, Args... args) {
        size_t room = length_ < size_ ? size_ - length_ : 0;
        length_ += snformat(room ? buf_ + length_ : nullptr, room, fmt, args...);
    }
    size_t length() const { return length_; }

private:
    char* buf_;
    size_t size_;
    size_t length_ = 0;
};

void add_size(LineBuilder& line, uint64_t size) {
    static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (u + 1 < sizeof(units) / sizeof(units[0]) && size >= 1024 && size % 1024 == 0) {
        size /= 1024;
        u++;
    }
    line.add(" %lu %s", static_cast<unsigned long>(size), units[u]);
}

}  // namespace

size_t describe(const FunctionInfo& f, char* buf, size_t size) {
    LineBuilder line(buf, size);
    if (f.address.segment) line.add("%04x:", f.address.segment);
    line.add("%02x:%02x.%x %04x:%04x class %02x.%02x.%02x", f.address.bus, f.address.device, f.address.function,
             f.vendor, f.device, f.class_code, f.subclass, f.prog_if);
    if (const char* name = class_name(f.class_code, f.subclass, f.prog_if)) line.add(" %s", name);
    if (f.is_bridge()) line.add(" -> bus %02x-%02x", f.secondary_bus, f.subordinate_bus);

    const char* separator = " ";
    for (unsigned i = 0; i < f.bar_count; i++) {
        const Bar& b = f.bars[i];
        if (b.kind == BarKind::None) continue;
        const char* kind = b.kind == BarKind::Io ? "io" : b.kind == BarKind::Mem32 ? "mem32" : "mem64";
        line.add("%sBAR%u %s%s %#lx", separator, i, kind, b.prefetchable ? " pref" : "",
                 static_cast<unsigned long>(b.address));
        add_size(line, b.size);
        separator = ", ";
    }
    if (f.msix.present) {
        line.add("%sMSI-X %u vectors", separator, f.msix.table_size);
        separator = ", ";
    }
    if (f.msi.present) {
        line.add("%sMSI %u vectors%s", separator, f.msi.vectors, f.msi.is_64bit ? " 64-bit" : "");
        separator = ", ";
    }
    if (f.interrupt_pin >= 1 && f.interrupt_pin <= 4)
        line.add("%sINT%c irq %u", separator, 'A' + f.interrupt_pin - 1, f.interrupt_line);
    return line.length();
}

}  // namespace lamina::pci
