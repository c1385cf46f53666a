#include "kernel/dev/pci/pci.h"

#include <new>

#include "kernel/boot/boot_info.h"
#include "kernel/dev/acpi/platform.h"
#include "kernel/dev/pci/assign.h"
#include "kernel/dev/pci/ecam.h"
#include "kernel/dev/pci/enumerate.h"
#include "kernel/dev/pci/port_config.h"
#include "kernel/dev/pci/registers.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/sync/spinlock.h"

namespace lamina::pci {

// The device table and the claim lock. Lock order: claim_lock before the memory manager's locks
// (release unmaps BARs with it held); the port I/O lock is a leaf.
class Bus {
public:
    static Result<PciDevice*> claim(const Match& match, const char* owner) {
        if (!owner || !owner[0]) return Errno::Inval;
        SpinlockGuard g(claim_lock);
        bool any = false;
        for (size_t i = 0; i < count; i++) {
            PciDevice& d = devices[i];
            if (!match.matches(d.info_)) continue;
            any = true;
            if (d.claimed()) continue;
            size_t n = 0;
            for (; owner[n] && n + 1 < sizeof d.owner_; n++) d.owner_[n] = owner[n];
            d.owner_[n] = 0;
            return &d;
        }
        return any ? Errno::Busy : Errno::NoEnt;
    }

    static Result<void> release(PciDevice* d) {
        if (!d || d < devices || d >= devices + count) return Errno::Inval;
        SpinlockGuard g(claim_lock);
        if (!d->claimed()) return Errno::Inval;
        d->quiesce();
        d->owner_[0] = 0;
        return {};
    }

    static void add(ConfigSpace& cs, const FunctionInfo* found, size_t n) {
        for (size_t i = 0; i < n && count < MAX_DEVICES; i++) {
            devices[count].info_ = found[i];
            devices[count].config_ = &cs;
            count++;
        }
    }

    static inline Spinlock claim_lock;
    static inline PciDevice devices[MAX_DEVICES];
    static inline size_t count = 0;  // written once by init, before any claim
};

namespace {

PortConfigSpace g_port_config;
alignas(EcamConfigSpace) unsigned char g_ecam_storage[sizeof(EcamConfigSpace)];
EcamConfigSpace* g_ecam;
ConfigSpace* g_config;

void log_problems(const FunctionInfo& f) {
    for (unsigned b = 0; b < PROBLEM_COUNT; b++) {
        uint32_t bit = 1u << b;
        if (!(f.problems & bit) || bit == PROBLEM_CAP_TOO_MANY_TO_RECORD) continue;
        kprintf("pci: %02x:%02x.%x: warning: %s", f.address.bus, f.address.device, f.address.function,
                problem_name(bit));
        if (bit & (PROBLEM_CAP_POINTER_INTO_HEADER | PROBLEM_CAP_POINTER_MISALIGNED | PROBLEM_CAP_LOOP))
            kprintf(" (pointer %#x); capabilities after it ignored", f.bad_cap_pointer);
        if (bit & (PROBLEM_BAR_SIZE_NOT_POWER_OF_TWO | PROBLEM_BAR64_IN_LAST_SLOT | PROBLEM_BAR_RESERVED_TYPE))
            kprintf(" (BAR mask %#x); BAR ignored", f.bad_bars);
        kprintf("\n");
    }
}

// PC platforms put the interrupt controllers, HPET and firmware ROM from 0xFEC00000 up; PCI
// memory goes between the top of RAM (or ECAM) and there. I/O BARs go in 0xC000-0xFFFF, above
// the legacy ISA ports.
constexpr uint64_t PCI_MEMORY_WINDOW_END = 0xFEC00000;
constexpr uint64_t PCI_IO_WINDOW_START = 0xC000, PCI_IO_WINDOW_END = 0x10000;

AddressAllocator memory_window(const boot::BootInfo& info) {
    uint64_t low = 0;
    for (size_t i = 0; i < info.region_count; i++) {
        const auto& r = info.regions[i];
        uint64_t end = r.base + r.length;
        if (r.type != boot::MemoryType::Reserved && end <= PCI_MEMORY_WINDOW_END && end > low) low = end;
    }
    if (g_ecam)
        for (size_t i = 0; i < g_ecam->segment_count(); i++) {
            uint64_t end = g_ecam->segment(i).base + 256 * ECAM_BUS_SIZE;
            if (end <= PCI_MEMORY_WINDOW_END && end > low) low = end;
        }
    AddressAllocator window(low, PCI_MEMORY_WINDOW_END);
    bool room = true;
    for (size_t i = 0; i < info.region_count; i++) room &= window.reserve(info.regions[i].base, info.regions[i].length);
    if (g_ecam)
        for (size_t i = 0; i < g_ecam->segment_count(); i++)
            room &= window.reserve(g_ecam->segment(i).base, 256 * ECAM_BUS_SIZE);
    if (!room) kprintf("pci: warning: too many memory regions to track; BAR assignment may fail\n");
    return window;
}

void scan(ConfigSpace& cs, BusRange range, AddressAllocator& memory, AddressAllocator& io) {
    // Large, so static: init runs once, on the boot stack.
    static FunctionInfo found[MAX_DEVICES];
    size_t room = MAX_DEVICES - Bus::count;
    EnumerationResult r = enumerate(cs, range, found, room);
    AssignResult assigned = assign_bars(cs, found, r.found, range.start, memory, io);
    if (assigned.assigned) kprintf("pci: assigned %u BARs the firmware left without an address\n", assigned.assigned);
    for (size_t i = 0; i < r.found; i++) check_msix_location(found[i]);
    for (size_t i = 0; i < r.found; i++) {
        char line[192];
        describe(found[i], line, sizeof line);
        kprintf("pci: %s\n", line);
        log_problems(found[i]);
    }
    if (r.dropped)
        kprintf("pci: warning: %lu functions on segment %04x beyond the table's %lu entries ignored\n", r.dropped,
                range.segment, MAX_DEVICES);
    Bus::add(cs, found, r.found);
}

}  // namespace

bool Match::matches(const FunctionInfo& f) const {
    switch (kind) {
        case Kind::Id:
            return f.vendor == vendor && f.device == device;
        case Kind::Class:
            return f.class_code == class_ && f.subclass == subclass && (prog_if == ANY_PROG_IF || f.prog_if == prog_if);
        case Kind::Location:
            return f.address == address;
    }
    return false;
}

void init(const boot::BootInfo& boot_info) {
    const acpi::Acpi* platform = acpi::platform();
    if (platform && platform->mcfg().present && !platform->mcfg().segments.empty()) {
        g_ecam = new (g_ecam_storage) EcamConfigSpace(platform->mcfg());
        if (g_ecam->segment_count() == 0) g_ecam = nullptr;
    }
    static AddressAllocator memory(0, 0), io(PCI_IO_WINDOW_START, PCI_IO_WINDOW_END);
    memory = memory_window(boot_info);
    if (g_ecam) {
        g_config = g_ecam;
        for (size_t i = 0; i < g_ecam->segment_count(); i++) {
            const auto& s = g_ecam->segment(i);
            kprintf("pci: ECAM segment %04x buses %02x-%02x at %#lx\n", s.segment_group, s.start_bus, s.end_bus,
                    s.base);
            scan(*g_ecam, BusRange{s.segment_group, s.start_bus, s.end_bus}, memory, io);
        }
        kprintf("pci: %lu functions, %u buses mapped (%u MiB of ECAM)\n", Bus::count, g_ecam->mapped_buses(),
                g_ecam->mapped_buses());
    } else {
        g_config = &g_port_config;
        kprintf("pci: no MCFG; configuration through ports 0xcf8/0xcfc\n");
        scan(g_port_config, BusRange{0, 0, 255}, memory, io);
        kprintf("pci: %lu functions\n", Bus::count);
    }
}

Result<PciDevice*> claim(const Match& match, const char* owner) { return Bus::claim(match, owner); }
Result<void> release(PciDevice* d) { return Bus::release(d); }

size_t device_count() { return Bus::count; }
PciDevice* device(size_t index) { return index < Bus::count ? &Bus::devices[index] : nullptr; }
ConfigSpace* config_space() { return g_config; }
ConfigSpace& port_config_space() { return g_port_config; }
bool using_ecam() { return g_ecam != nullptr && g_config == g_ecam; }

// --- PciDevice ----------------------------------------------------------------------------------

Result<void> PciDevice::check_claimed() const {
    if (!claimed() || !config_) return Errno::Perm;
    return {};
}

Result<void> PciDevice::check_access(uint16_t offset, unsigned width) const {
    TRY(check_claimed());
    if (!config_->valid_access(offset, width)) return Errno::Inval;
    return {};
}

Result<uint8_t> PciDevice::config_read8(uint16_t off) {
    TRY(check_access(off, 1));
    return config_->read8(address(), off);
}
Result<uint16_t> PciDevice::config_read16(uint16_t off) {
    TRY(check_access(off, 2));
    return config_->read16(address(), off);
}
Result<uint32_t> PciDevice::config_read32(uint16_t off) {
    TRY(check_access(off, 4));
    return config_->read32(address(), off);
}
Result<void> PciDevice::config_write8(uint16_t off, uint8_t v) {
    TRY(check_access(off, 1));
    config_->write8(address(), off, v);
    return {};
}
Result<void> PciDevice::config_write16(uint16_t off, uint16_t v) {
    TRY(check_access(off, 2));
    config_->write16(address(), off, v);
    return {};
}
Result<void> PciDevice::config_write32(uint16_t off, uint32_t v) {
    TRY(check_access(off, 4));
    config_->write32(address(), off, v);
    return {};
}

void PciDevice::update16(uint16_t offset, uint16_t set, uint16_t clear) {
    uint16_t value = config_->read16(address(), offset);
    config_->write16(address(), offset, uint16_t((value | set) & ~clear));
}

Result<void> PciDevice::change_command(uint16_t set, uint16_t clear) {
    TRY(check_claimed());
    update16(COMMAND, set, clear);
    return {};
}

Result<void> PciDevice::enable_memory_space() { return change_command(COMMAND_MEMORY_SPACE, 0); }
Result<void> PciDevice::enable_io_space() { return change_command(COMMAND_IO_SPACE, 0); }
Result<void> PciDevice::enable_bus_mastering() { return change_command(COMMAND_BUS_MASTER, 0); }
Result<void> PciDevice::disable_bus_mastering() { return change_command(0, COMMAND_BUS_MASTER); }

Result<volatile void*> PciDevice::map_bar(unsigned index) {
    TRY(check_claimed());
    if (index >= info_.bar_count || info_.bars[index].kind == BarKind::None) return Errno::NoEnt;
    const Bar& bar = info_.bars[index];
    if (!bar.is_memory()) return Errno::Inval;
    if (bar.address == 0) return Errno::NXIO;
    Mapping& m = mappings_[index];
    if (!m.base) {
        // BARs smaller than a page share it with others; map whole pages and remember the offset.
        uint64_t start = bar.address & ~uint64_t(mm::PAGE_SIZE - 1);
        uint64_t end = (bar.address + bar.size + mm::PAGE_SIZE - 1) & ~uint64_t(mm::PAGE_SIZE - 1);
        void* v = TRY(mm::map_mmio(start, end - start, mm::Cache::Uncached));
        m.base = static_cast<volatile uint8_t*>(v);
        m.length = end - start;
        m.offset = bar.address - start;
    }
    return static_cast<volatile void*>(m.base + m.offset);
}

Result<volatile uint32_t*> PciDevice::msix_entry(uint16_t index) {
    TRY(check_claimed());
    if (!info_.msix.present || (info_.problems & PROBLEM_MSIX_TABLE_OUTSIDE_BAR)) return Errno::NotSup;
    if (index >= info_.msix.table_size) return Errno::Range;
    if (!msix_table_) {
        volatile void* bar = TRY(map_bar(info_.msix.table_bar));
        msix_table_ = static_cast<volatile uint8_t*>(bar) + info_.msix.table_offset;
    }
    return reinterpret_cast<volatile uint32_t*>(msix_table_ + size_t(index) * MSIX_ENTRY_SIZE);
}

Result<void> PciDevice::msix_set_entry(uint16_t index, uint64_t address, uint32_t data, bool masked) {
    volatile uint32_t* e = TRY(msix_entry(index));
    // Mask while the message changes, so the device never sends half of an old and a new one.
    e[MSIX_ENTRY_VECTOR_CONTROL / 4] = e[MSIX_ENTRY_VECTOR_CONTROL / 4] | MSIX_VECTOR_MASKED;
    e[MSIX_ENTRY_ADDRESS_LOW / 4] = uint32_t(address);
    e[MSIX_ENTRY_ADDRESS_HIGH / 4] = uint32_t(address >> 32);
    e[MSIX_ENTRY_DATA / 4] = data;
    if (!masked) e[MSIX_ENTRY_VECTOR_CONTROL / 4] = e[MSIX_ENTRY_VECTOR_CONTROL / 4] & ~MSIX_VECTOR_MASKED;
    return {};
}

Result<void> PciDevice::msix_mask(uint16_t index) {
    volatile uint32_t* e = TRY(msix_entry(index));
    e[MSIX_ENTRY_VECTOR_CONTROL / 4] = e[MSIX_ENTRY_VECTOR_CONTROL / 4] | MSIX_VECTOR_MASKED;
    return {};
}

Result<void> PciDevice::msix_unmask(uint16_t index) {
    volatile uint32_t* e = TRY(msix_entry(index));
    e[MSIX_ENTRY_VECTOR_CONTROL / 4] = e[MSIX_ENTRY_VECTOR_CONTROL / 4] & ~MSIX_VECTOR_MASKED;
    return {};
}

Result<bool> PciDevice::msix_is_masked(uint16_t index) {
    volatile uint32_t* e = TRY(msix_entry(index));
    return (e[MSIX_ENTRY_VECTOR_CONTROL / 4] & MSIX_VECTOR_MASKED) != 0;
}

Result<void> PciDevice::msix_enable() {
    TRY(check_claimed());
    if (!info_.msix.present) return Errno::NotSup;
    if (info_.msi.present) update16(uint16_t(info_.msi.offset + MSI_CONTROL), 0, MSI_CONTROL_ENABLE);
    update16(COMMAND, COMMAND_INTERRUPT_DISABLE, 0);
    update16(uint16_t(info_.msix.offset + MSIX_CONTROL), MSIX_CONTROL_ENABLE, 0);
    return {};
}

Result<void> PciDevice::msix_disable() {
    TRY(check_claimed());
    if (!info_.msix.present) return Errno::NotSup;
    update16(uint16_t(info_.msix.offset + MSIX_CONTROL), 0, MSIX_CONTROL_ENABLE);
    return {};
}

Result<void> PciDevice::msix_set_function_mask(bool masked) {
    TRY(check_claimed());
    if (!info_.msix.present) return Errno::NotSup;
    const uint16_t mask = MSIX_CONTROL_FUNCTION_MASK;
    update16(uint16_t(info_.msix.offset + MSIX_CONTROL), masked ? mask : 0, masked ? 0 : mask);
    return {};
}

void PciDevice::quiesce() {
    const Address a = address();
    // No more DMA and no more message interrupts (MSI and MSI-X are memory writes by the
    // device), then no line interrupts either.
    update16(COMMAND, COMMAND_INTERRUPT_DISABLE, COMMAND_BUS_MASTER);
    if (info_.msi.present) update16(uint16_t(info_.msi.offset + MSI_CONTROL), 0, MSI_CONTROL_ENABLE);
    if (info_.msix.present) {
        const auto at = uint16_t(info_.msix.offset + MSIX_CONTROL);
        update16(at, MSIX_CONTROL_FUNCTION_MASK, 0);
        // Mask every entry, so that whoever enables MSI-X next starts from silence; the table is
        // reachable only with memory decoding on.
        uint16_t command = config_->read16(a, COMMAND);
        if (!(command & COMMAND_MEMORY_SPACE)) config_->write16(a, COMMAND, uint16_t(command | COMMAND_MEMORY_SPACE));
        for (uint16_t i = 0; i < info_.msix.table_size; i++)
            if (msix_mask(i).is_error()) break;
        config_->write16(a, COMMAND, command);
        update16(at, 0, MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK);
    }
    for (auto& m : mappings_) {
        if (m.base) mm::unmap_mmio(const_cast<uint8_t*>(m.base), m.length);
        m = Mapping{};
    }
    msix_table_ = nullptr;
}

}  // namespace lamina::pci
