// lamina:portable
// PciTransport: a virtio 1.x device behind the modern PCI transport (virtio 1.1, 4.1). Finds
// the common, notify, ISR and device-specific regions by walking the vendor capabilities in
// configuration space (4.1.4), never by fixed offsets; runs the status handshake and feature
// negotiation (3.1.1); sets up queues (4.1.5.1.3) and their MSI-X vectors (4.1.5.1.2); rings
// doorbells (4.1.5.2) and reads device configuration consistently (2.4.1, config_generation).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "drivers/virtio/platform.h"
#include "drivers/virtio/virtio_spec.h"

namespace lamina::virtio {

struct Region {
    uint8_t bar = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
    bool present() const { return length != 0; }
};

class PciTransport {
public:
    explicit PciTransport(Platform& platform) : platform_(platform) {}

    // Walks the capabilities. NoDev when the device is not virtio or lacks a common, notify or
    // device region, Inval when a capability points outside its BAR or loops.
    Result<void> probe();

    // 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, features = device's & `wanted`, FEATURES_OK.
    // NotSup when the device lacks a feature of `required` or refuses the set; the device is
    // then marked FAILED. Returns the negotiated features.
    Result<uint64_t> negotiate(uint64_t wanted, uint64_t required);
    // Writes 0 to device_status and waits until it reads 0 (4.1.4.3.2): the device has then
    // stopped all DMA. TimedOut if it never does.
    Result<void> reset();
    void set_status(uint8_t bits);  // ORs bits into device_status
    uint8_t status();
    void fail() { set_status(spec::status::FAILED); }

    uint16_t num_queues();
    // The device's largest size for queue `index` (0: the queue does not exist).
    uint16_t queue_max_size(uint16_t index);
    // Programs and enables queue `index` (4.1.5.1.3). `vector` is its MSI-X entry or NO_VECTOR;
    // returns false in `vector_ok` when the device refused the vector.
    Result<void> enable_queue(uint16_t index, uint16_t size, uint64_t desc, uint64_t driver, uint64_t device,
                              uint16_t vector, bool& vector_ok);
    // Config-change MSI-X vector; false when the device refused it.
    bool set_config_vector(uint16_t vector);
    void notify(uint16_t index) const { platform_.bar_write(notify_.bar, notify_addr_[index], 2, index); }
    // Reading ISR status acknowledges a legacy interrupt; with MSI-X nobody needs it.
    uint8_t isr();

    // Device-specific configuration, read consistently (retried while config_generation
    // changes under it, 2.4.1), each field with its natural width (4.1.3.1): `len` bytes one
    // by one (byte arrays such as a MAC), or one 16-bit field. Range outside the device region.
    Result<void> read_device_bytes(uint32_t offset, void* out, uint32_t len);
    Result<uint16_t> read_device16(uint32_t offset);

    const Region& common() const { return common_; }
    const Region& notify_region() const { return notify_; }
    const Region& isr_region() const { return isr_; }
    const Region& device_region() const { return device_; }
    uint32_t notify_multiplier() const { return notify_multiplier_; }

    static constexpr uint16_t MAX_QUEUES = 4;

private:
    uint32_t common_read(uint32_t off, uint8_t width) {
        return platform_.bar_read(common_.bar, common_.offset + off, width);
    }
    void common_write(uint32_t off, uint8_t width, uint32_t v) {
        platform_.bar_write(common_.bar, common_.offset + off, width, v);
    }
    void common_write64(uint32_t off, uint64_t v) {
        common_write(off, 4, uint32_t(v));
        common_write(off + 4, 4, uint32_t(v >> 32));
    }
    Result<Region> region_of(uint8_t cap);
    uint32_t device_read(uint32_t off, uint8_t width) {
        return platform_.bar_read(device_.bar, device_.offset + off, width);
    }
    // Runs `read` until config_generation is the same before and after it.
    template <typename F>
    Result<void> consistently(F read) {
        for (int attempt = 0; attempt < 16; attempt++) {
            uint32_t before = common_read(spec::common::CONFIG_GENERATION, 1);
            read();
            if (common_read(spec::common::CONFIG_GENERATION, 1) == before) return {};
        }
        return Errno::Again;
    }

    Platform& platform_;
    Region common_, notify_, isr_, device_;
    uint32_t notify_multiplier_ = 0;
    uint32_t notify_addr_[MAX_QUEUES] = {};  // BAR offset of each enabled queue's doorbell
};

}  // namespace lamina::virtio
