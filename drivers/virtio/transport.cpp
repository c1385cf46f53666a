// lamina:portable
#include "drivers/virtio/transport.h"

namespace lamina::virtio {

namespace {
// A capability list has at most (256 - 64) / 4 entries; more steps than that means a loop.
constexpr int MAX_CAPABILITIES = 48;
constexpr uint64_t RESET_TIMEOUT_NS = 1'000'000'000;
}  // namespace

Result<Region> PciTransport::region_of(uint8_t cap) {
    Region r;
    r.bar = platform_.config_read8(cap + offsetof(spec::PciCap, bar));
    r.offset = platform_.config_read32(cap + offsetof(spec::PciCap, offset));
    r.length = platform_.config_read32(cap + offsetof(spec::PciCap, length));
    if (r.bar > 5 || r.length == 0) return Errno::Inval;
    uint64_t size = platform_.bar_size(r.bar);
    if (uint64_t(r.offset) + r.length > size) return Errno::Inval;
    return r;
}

Result<void> PciTransport::probe() {
    if (platform_.config_read16(spec::pci::VENDOR_ID) != spec::PCI_VENDOR) return Errno::NoDev;
    if (!(platform_.config_read16(spec::pci::STATUS) & spec::pci::STATUS_CAPABILITIES)) return Errno::NoDev;
    uint8_t cap = platform_.config_read8(spec::pci::CAPABILITIES_POINTER) & 0xfc;
    for (int steps = 0; cap != 0; steps++) {
        if (steps == MAX_CAPABILITIES || cap < 0x40) return Errno::Inval;
        uint8_t id = platform_.config_read8(cap);
        uint8_t next = platform_.config_read8(cap + 1) & 0xfc;
        if (id == spec::pci::CAP_ID_VENDOR) {
            uint8_t type = platform_.config_read8(cap + offsetof(spec::PciCap, cfg_type));
            // 4.1.4: the first capability of each type that the driver can use is the one.
            Region* slot = type == spec::cfg_type::COMMON   ? &common_
                           : type == spec::cfg_type::NOTIFY ? &notify_
                           : type == spec::cfg_type::ISR    ? &isr_
                           : type == spec::cfg_type::DEVICE ? &device_
                                                            : nullptr;
            if (slot && !slot->present()) {
                *slot = TRY(region_of(cap));
                if (type == spec::cfg_type::NOTIFY)
                    notify_multiplier_ = platform_.config_read32(cap + spec::NOTIFY_CAP_MULTIPLIER);
            }
        }
        cap = next;
    }
    if (!common_.present() || !notify_.present() || !device_.present()) return Errno::NoDev;
    if (common_.length < sizeof(spec::CommonCfg)) return Errno::Inval;
    return {};
}

uint8_t PciTransport::status() { return uint8_t(common_read(spec::common::DEVICE_STATUS, 1)); }

void PciTransport::set_status(uint8_t bits) { common_write(spec::common::DEVICE_STATUS, 1, status() | bits); }

Result<void> PciTransport::reset() {
    common_write(spec::common::DEVICE_STATUS, 1, 0);
    uint64_t deadline = platform_.now_ns() + RESET_TIMEOUT_NS;
    while (status() != 0) {
        if (platform_.now_ns() >= deadline) return Errno::TimedOut;
        platform_.delay_us(10);
    }
    for (uint32_t& a : notify_addr_) a = 0;
    return {};
}

Result<uint64_t> PciTransport::negotiate(uint64_t wanted, uint64_t required) {
    TRY(reset());
    set_status(spec::status::ACKNOWLEDGE);
    set_status(spec::status::DRIVER);
    uint64_t offered = 0;
    for (uint32_t word = 0; word < 2; word++) {
        common_write(spec::common::DEVICE_FEATURE_SELECT, 4, word);
        offered |= uint64_t(common_read(spec::common::DEVICE_FEATURE, 4)) << (32 * word);
    }
    if ((offered & required) != required) {
        fail();
        return Errno::NotSup;
    }
    uint64_t chosen = offered & (wanted | required);
    for (uint32_t word = 0; word < 2; word++) {
        common_write(spec::common::DRIVER_FEATURE_SELECT, 4, word);
        common_write(spec::common::DRIVER_FEATURE, 4, uint32_t(chosen >> (32 * word)));
    }
    set_status(spec::status::FEATURES_OK);
    // 3.1.1 step 6: the device clears FEATURES_OK when it cannot work with this subset.
    if (!(status() & spec::status::FEATURES_OK)) {
        fail();
        return Errno::NotSup;
    }
    return chosen;
}

uint16_t PciTransport::num_queues() { return uint16_t(common_read(spec::common::NUM_QUEUES, 2)); }

uint16_t PciTransport::queue_max_size(uint16_t index) {
    common_write(spec::common::QUEUE_SELECT, 2, index);
    return uint16_t(common_read(spec::common::QUEUE_SIZE, 2));
}

Result<void> PciTransport::enable_queue(uint16_t index, uint16_t size, uint64_t desc, uint64_t driver, uint64_t device,
                                        uint16_t vector, bool& vector_ok) {
    if (index >= MAX_QUEUES) return Errno::Range;
    common_write(spec::common::QUEUE_SELECT, 2, index);
    uint16_t max = uint16_t(common_read(spec::common::QUEUE_SIZE, 2));
    if (max == 0 || size == 0 || size > max || (size & (size - 1)) != 0) return Errno::Inval;
    common_write(spec::common::QUEUE_SIZE, 2, size);
    common_write64(spec::common::QUEUE_DESC, desc);
    common_write64(spec::common::QUEUE_DRIVER, driver);
    common_write64(spec::common::QUEUE_DEVICE, device);
    common_write(spec::common::QUEUE_MSIX_VECTOR, 2, vector);
    // 4.1.5.1.2.1: a vector the device cannot use reads back as NO_VECTOR.
    vector_ok = vector == spec::NO_VECTOR || common_read(spec::common::QUEUE_MSIX_VECTOR, 2) == vector;
    uint64_t addr = notify_.offset + uint64_t(common_read(spec::common::QUEUE_NOTIFY_OFF, 2)) * notify_multiplier_;
    if (addr + 2 > uint64_t(notify_.offset) + notify_.length) return Errno::Range;
    notify_addr_[index] = uint32_t(addr);
    common_write(spec::common::QUEUE_ENABLE, 2, 1);
    return {};
}

bool PciTransport::set_config_vector(uint16_t vector) {
    common_write(spec::common::MSIX_CONFIG, 2, vector);
    return common_read(spec::common::MSIX_CONFIG, 2) == vector;
}

uint8_t PciTransport::isr() {
    if (!isr_.present()) return 0;
    return uint8_t(platform_.bar_read(isr_.bar, isr_.offset, 1));
}

Result<void> PciTransport::read_device_bytes(uint32_t offset, void* out, uint32_t len) {
    if (uint64_t(offset) + len > device_.length) return Errno::Range;
    auto* bytes = static_cast<uint8_t*>(out);
    return consistently([&] {
        for (uint32_t i = 0; i < len; i++) bytes[i] = uint8_t(device_read(offset + i, 1));
    });
}

Result<uint16_t> PciTransport::read_device16(uint32_t offset) {
    if (uint64_t(offset) + 2 > device_.length) return Errno::Range;
    uint16_t v = 0;
    TRY(consistently([&] { v = uint16_t(device_read(offset, 2)); }));
    return v;
}

}  // namespace lamina::virtio
