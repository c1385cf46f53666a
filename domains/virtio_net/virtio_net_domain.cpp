// The virtio-net driver domain: the virtio core (drivers/virtio) on a Platform made of the
// capability table, behind the shared NIC adaptor (drivers/nic), published as "nic".
//
// Entry: claim the device (1af4:1041, modern only), map its memory BARs, bring it up (the
// capability walk reads configuration space through device_config_read; init resets the
// device first), fill the receive ring, publish. A fresh instance after a crash does exactly
// the same: the kernel hands it the device the failed instance held (bus mastering off since
// the teardown), and the reset drops whatever the failed instance left in the rings before any
// new DMA memory is allocated (allocating it turns bus mastering back on).
//
// Calls: one at a time (the kernel's NIC service serializes them).
#include <new>

#include "domains/lib/device.h"
#include "domains/lib/domain.h"
#include "domains/lib/nic_host.h"
#include "drivers/nic/nic_adaptor.h"
#include "drivers/virtio/net.h"

using namespace lamina;

namespace {

constexpr uint16_t VENDOR = virtio::spec::PCI_VENDOR, DEVICE = virtio::spec::PCI_DEVICE_NET;

class DomainPlatform final : public domain_rt::DevicePlatform<virtio::Platform> {
public:
    DomainPlatform(const lamina_domain_caps& caps, const lamina_device_info& dev)
        : DevicePlatform(dev.handle), caps_(caps), dev_(dev) {}

    // Maps every memory BAR the device has; the capability walk checks regions against them.
    void map_bars() {
        for (uint8_t i = 0; i < 6; i++) {
            if (!dev_.bar_size[i]) continue;
            void* p = nullptr;
            size_t size = 0;
            if (caps_.device_map_bar(dev_.handle, i, &p, &size) == 0) {
                bars_[i] = static_cast<volatile uint8_t*>(p);
                sizes_[i] = size;
            }
        }
    }

    uint8_t config_read8(uint16_t o) override { return uint8_t(config(o, 1)); }
    uint16_t config_read16(uint16_t o) override { return uint16_t(config(o, 2)); }
    uint32_t config_read32(uint16_t o) override { return config(o, 4); }

    uint64_t bar_size(uint8_t bar) override { return bar < 6 && bars_[bar] ? sizes_[bar] : 0; }
    uint32_t bar_read(uint8_t bar, uint32_t off, uint8_t width) override {
        volatile uint8_t* p = bars_[bar] + off;
        if (width == 1) return *p;
        if (width == 2) return *reinterpret_cast<volatile uint16_t*>(p);
        return *reinterpret_cast<volatile uint32_t*>(p);
    }
    void bar_write(uint8_t bar, uint32_t off, uint8_t width, uint32_t v) override {
        volatile uint8_t* p = bars_[bar] + off;
        if (width == 1)
            *p = uint8_t(v);
        else if (width == 2)
            *reinterpret_cast<volatile uint16_t*>(p) = uint16_t(v);
        else
            *reinterpret_cast<volatile uint32_t*>(p) = v;
    }

    uint32_t setup_interrupts(uint32_t wanted) override {
        if (granted_ == 0) {
            uint32_t n = 0;
            if (caps_.device_irq_setup(dev_.handle, wanted, &n) == 0) granted_ = n;
        }
        return granted_ < wanted ? granted_ : wanted;
    }
    void wait_interrupt(uint16_t vector, uint64_t deadline_ns) override {
        uint64_t now = now_ns();
        if (now < deadline_ns) (void)caps_.device_irq_wait(dev_.handle, vector, deadline_ns - now);
    }

private:
    uint32_t config(uint16_t offset, uint32_t width) {
        uint32_t v = 0;
        // A refused read (bad offset) reads as all ones, as a missing device would.
        if (caps_.device_config_read(dev_.handle, offset, width, &v) != 0) return ~0u;
        return v;
    }

    const lamina_domain_caps& caps_;
    lamina_device_info dev_;
    volatile uint8_t* bars_[6] = {};
    size_t sizes_[6] = {};
    uint32_t granted_ = 0;
};

}  // namespace

int64_t domain_main(const lamina_domain_caps& caps) {
    using domain_rt::log;
    if (caps.size < offsetof(lamina_domain_caps, device_config_read) + sizeof(caps.device_config_read)) {
        log("the kernel has no device_config_read (ABI 1.2): cannot walk the virtio capabilities");
        return -int64_t(Errno::NotSup);
    }
    lamina_device_info dev;
    if (int32_t rc = caps.device_claim(VENDOR, DEVICE, 0, &dev); rc != 0) {
        // No such device is the common case (a machine without the card): the service says so.
        if (rc != int32_t(Errno::NoEnt))
            log("cannot claim the virtio-net device %04x:%04x: errno %d", VENDOR, DEVICE, rc);
        return -rc;
    }
    auto* platform = new (std::nothrow) DomainPlatform(caps, dev);
    auto* host = new (std::nothrow) domain_rt::ExchangeNicHost;
    auto* driver = platform ? new (std::nothrow) virtio::VirtioNet(*platform) : nullptr;
    if (!host || !driver) return -int64_t(Errno::NoMem);
    platform->map_bars();
    if (auto r = driver->init(); r.is_error()) {
        log("virtio-net bring-up failed: %s", r.error().name());
        return -int64_t(r.error().code());
    }
    auto* adaptor = new (std::nothrow) nic::NicAdaptor(*driver, *host);
    if (!adaptor) return -int64_t(Errno::NoMem);
    if (auto r = adaptor->start(); r.is_error()) {
        log("cannot fill the receive ring: %s", r.error().name());
        return -int64_t(r.error().code());
    }
    auto* nic = static_cast<idl::Nic*>(adaptor);
    if (int32_t rc = domain_rt::publish_interface(caps, "nic", nic); rc != 0) return -rc;
    nic::CoreInfo info = driver->info();
    log("%02x:%02x:%02x:%02x:%02x:%02x, %u/%u descriptors, link %s, %s", info.mac[0], info.mac[1], info.mac[2],
        info.mac[3], info.mac[4], info.mac[5], info.rx_ring, info.tx_ring, driver->link().up ? "up" : "down",
        driver->interrupts() ? "MSI-X" : "polled");
    return 0;
}
