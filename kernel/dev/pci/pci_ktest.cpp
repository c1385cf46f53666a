// In-kernel tests of PCI on QEMU's q35: the devices the test machine has (host bridge 8086:29c0,
// NVMe 1b36:0010; virtio-net 1af4:1041, modern only, when the machine has a network), ECAM against port I/O,
// and the claim / map / MSI-X / release cycle on the NVMe controller.
#include "kernel/dev/pci/pci.h"
#include "kernel/dev/pci/registers.h"
#include "kernel/ktest/ktest.h"
#include "kernel/mm/memory.h"

namespace lamina::pci {
namespace {

constexpr uint16_t QEMU_VENDOR = 0x1b36, NVME_DEVICE = 0x0010;

// Releases a claim when a test returns early, so that one failure does not cascade into Busy.
struct ReleaseOnExit {
    PciDevice* device;
    ~ReleaseOnExit() {
        if (device && device->claimed()) (void)release(device);
    }
};

PciDevice* find(uint16_t vendor, uint16_t device_id) {
    for (size_t i = 0; i < device_count(); i++)
        if (device(i)->info().vendor == vendor && device(i)->info().device == device_id) return device(i);
    return nullptr;
}

KTEST(pci, finds_qemu_devices) {
    KEXPECT(device_count() >= 2);
    KEXPECT(find(0x8086, 0x29c0) != nullptr);
    PciDevice* nvme = find(QEMU_VENDOR, NVME_DEVICE);
    KASSERT_TRUE(nvme != nullptr);
    KEXPECT_EQ(nvme->info().class_code, 0x01);
    KEXPECT_EQ(nvme->info().subclass, 0x08);
    KEXPECT_EQ(nvme->info().prog_if, 0x02);
    if (PciDevice* net = find(0x1af4, 0x1041)) {
        KEXPECT_EQ(net->info().class_code, 0x02);
    } else {
        ktest_ctx.note("no virtio-net on this machine (booted without a network)");
    }
    for (size_t i = 0; i < device_count(); i++) KEXPECT_EQ(device(i)->info().problems, 0u);
}

KTEST(pci, uses_ecam_on_q35) { KEXPECT(using_ecam()); }

KTEST(pci, nvme_bar0_and_msix) {
    PciDevice* nvme = find(QEMU_VENDOR, NVME_DEVICE);
    KASSERT_TRUE(nvme != nullptr);
    const Bar& bar0 = nvme->info().bars[0];
    KEXPECT(bar0.kind == BarKind::Mem64);
    KEXPECT(bar0.size >= 16 * 1024);
    KEXPECT(bar0.address != 0);
    KEXPECT(nvme->info().bars[1].kind == BarKind::None);  // the upper half
    const MsixInfo& msix = nvme->info().msix;
    KASSERT_TRUE(msix.present);
    KEXPECT(msix.table_size >= 1);
    KEXPECT(msix.table_bar < nvme->info().bar_count);
    KEXPECT(nvme->info().bars[msix.table_bar].is_memory());
    KEXPECT(nvme->info().has_capability(CapabilityId::MsiX));
    KEXPECT(nvme->info().pcie.present);
}

KTEST(pci, ecam_and_port_io_agree) {
    ConfigSpace* primary = config_space();
    KASSERT_TRUE(primary != nullptr);
    ConfigSpace& port = port_config_space();
    for (size_t i = 0; i < device_count(); i++) {
        Address a = device(i)->address();
        if (a.segment != 0) continue;
        for (uint16_t off = 0; off < HEADER_SIZE; off += 4) {
            uint32_t e = primary->read32(a, off), p = port.read32(a, off);
            if (!KEXPECT_EQ(e, p))
                ktest_ctx.note("%02x:%02x.%x +%#x: %#x vs %#x", a.bus, a.device, a.function, off, e, p);
        }
        // Narrow reads go to the right byte lanes.
        KEXPECT_EQ(port.read8(a, HEADER_TYPE), primary->read8(a, HEADER_TYPE));
        KEXPECT_EQ(port.read16(a, DEVICE_ID), primary->read16(a, DEVICE_ID));
    }
}

KTEST(pci, claim_is_exclusive) {
    auto first = claim(Match::id(QEMU_VENDOR, NVME_DEVICE), "ktest");
    KASSERT_TRUE(first.is_ok());
    ReleaseOnExit guard{first.value()};
    KEXPECT(first.value()->claimed());
    auto second = claim(Match::id(QEMU_VENDOR, NVME_DEVICE), "other");
    KEXPECT(second.is_error() && second.error().code() == Errno::Busy);
    auto by_class = claim(Match::class_code(0x01, 0x08, 0x02), "other");
    KEXPECT(by_class.is_error() && by_class.error().code() == Errno::Busy);
    KEXPECT(release(first.value()).is_ok());
    auto again = release(first.value());
    KEXPECT(again.is_error() && again.error().code() == Errno::Inval);
}

KTEST(pci, claim_of_absent_device_is_noent) {
    auto r = claim(Match::id(0x1234, 0x5678), "ktest");
    KEXPECT(r.is_error() && r.error().code() == Errno::NoEnt);
    auto c = claim(Match::class_code(0xEE, 0x00), "ktest");
    KEXPECT(c.is_error() && c.error().code() == Errno::NoEnt);
    auto n = claim(Match::id(QEMU_VENDOR, NVME_DEVICE), "");
    KEXPECT(n.is_error() && n.error().code() == Errno::Inval);
}

KTEST(pci, config_access_is_checked) {
    auto r = claim(Match::id(QEMU_VENDOR, NVME_DEVICE), "ktest");
    KASSERT_TRUE(r.is_ok());
    PciDevice* nvme = r.value();
    ReleaseOnExit guard{nvme};
    auto vendor = nvme->config_read16(VENDOR_ID);
    KEXPECT(vendor.is_ok() && vendor.value() == QEMU_VENDOR);
    KEXPECT(nvme->config_read32(2).is_error());      // unaligned
    KEXPECT(nvme->config_read8(0x1000).is_error());  // past the function
    KEXPECT(release(nvme).is_ok());
    auto after = nvme->config_read16(VENDOR_ID);
    KEXPECT(after.is_error() && after.error().code() == Errno::Perm);
}

KTEST(pci, nvme_registers_through_bar0) {
    auto r = claim(Match::class_code(0x01, 0x08, 0x02), "ktest");
    KASSERT_TRUE(r.is_ok());
    PciDevice* nvme = r.value();
    ReleaseOnExit guard{nvme};
    KEXPECT(nvme->enable_memory_space().is_ok());
    auto bar = nvme->map_bar(0);
    KASSERT_TRUE(bar.is_ok());
    auto* regs = static_cast<volatile uint32_t*>(bar.value());
    uint64_t cap = regs[0] | uint64_t(regs[1]) << 32;  // CAP, NVMe 1.4 3.1.1
    uint32_t vs = regs[2];                             // VS: major in bits 31:16
    KEXPECT(cap != 0);
    KEXPECT_EQ(vs >> 16, 1u);
    ktest_ctx.note("NVMe CAP %#lx VS %u.%u", cap, vs >> 16, (vs >> 8) & 0xFF);
    auto again = nvme->map_bar(0);
    KEXPECT(again.is_ok() && again.value() == bar.value());
    KEXPECT(nvme->map_bar(1).is_error());  // the upper half of BAR0
    KEXPECT(nvme->map_bar(6).is_error());
    KEXPECT(release(nvme).is_ok());
}

KTEST(pci, release_quiets_the_device) {
    auto r = claim(Match::id(QEMU_VENDOR, NVME_DEVICE), "ktest");
    KASSERT_TRUE(r.is_ok());
    PciDevice* nvme = r.value();
    ReleaseOnExit guard{nvme};
    const Address a = nvme->address();
    const MsixInfo msix = nvme->info().msix;
    ConfigSpace* cs = config_space();
    KEXPECT(nvme->enable_memory_space().is_ok());
    KEXPECT(nvme->enable_bus_mastering().is_ok());
    KEXPECT(cs->read16(a, COMMAND) & COMMAND_BUS_MASTER);
    const Bar& bar = nvme->info().bars[msix.table_bar];
    // A message to vector 0x40 of APIC 0 (address and data per the Intel SDM 11.11).
    for (uint16_t i = 0; i < nvme->msix_vector_count(); i++)
        KEXPECT(nvme->msix_set_entry(i, 0xFEE00000, 0x40 + (i & 0x3F), /*masked=*/false).is_ok());
    auto masked = nvme->msix_is_masked(0);
    KEXPECT(masked.is_ok() && !masked.value());
    KEXPECT(nvme->msix_set_function_mask(true).is_ok());
    KEXPECT(nvme->msix_enable().is_ok());
    uint16_t control = cs->read16(a, uint16_t(msix.offset + MSIX_CONTROL));
    KEXPECT(control & MSIX_CONTROL_ENABLE);
    KEXPECT(control & MSIX_CONTROL_FUNCTION_MASK);
    KEXPECT(nvme->msix_set_entry(msix.table_size, 0xFEE00000, 0x40, true).error().code() == Errno::Range);

    KEXPECT(release(nvme).is_ok());
    KEXPECT(!nvme->claimed());
    KEXPECT(!(cs->read16(a, COMMAND) & COMMAND_BUS_MASTER));
    KEXPECT(cs->read16(a, COMMAND) & COMMAND_INTERRUPT_DISABLE);
    control = cs->read16(a, uint16_t(msix.offset + MSIX_CONTROL));
    KEXPECT(!(control & MSIX_CONTROL_ENABLE));
    // Every entry masked: look at the table through a mapping of our own.
    auto table = mm::map_mmio(bar.address + msix.table_offset, size_t(msix.table_size) * MSIX_ENTRY_SIZE);
    KASSERT_TRUE(table.is_ok());
    auto* entries = static_cast<volatile uint32_t*>(table.value());
    unsigned unmasked = 0;
    for (uint16_t i = 0; i < msix.table_size; i++)
        if (!(entries[i * 4 + MSIX_ENTRY_VECTOR_CONTROL / 4] & MSIX_VECTOR_MASKED)) unmasked++;
    KEXPECT_EQ(unmasked, 0u);
    mm::unmap_mmio(table.value(), size_t(msix.table_size) * MSIX_ENTRY_SIZE);
    KEXPECT(nvme->msix_mask(0).is_error());  // the handle is dead until claimed again

    auto again = claim(Match::id(QEMU_VENDOR, NVME_DEVICE), "ktest-again");
    KEXPECT(again.is_ok() && again.value() == nvme);
    if (again.is_ok()) KEXPECT(release(again.value()).is_ok());
}

}  // namespace
}  // namespace lamina::pci
