// The ixgbe driver domain: the 82599 core (drivers/ixgbe) on a Platform made of the capability
// table, serving idl::Nic through the shared NicAdaptor (drivers/nic) as "nic".
//
// Entry: claim the port, map BAR0, ask for the core's two MSI-X vectors (the queue pair, the
// link and other causes; polled when none are granted), bring the device up (master disable,
// reset, the datasheet's waits, queues), fill the receive ring, publish. A fresh instance
// after a crash does exactly the same: its bring-up starts with a master disable and a reset,
// so nothing a dead instance left on the rings is ever DMAed.
//
// Faults on purpose: a device that fails (a transmit queue stalled with the link up, registers
// reading all ones) panics the domain, so that its shadow restarts it. Every wait is bounded
// well below the kernel's watchdog.
#include "domains/lib/device.h"
#include "domains/lib/domain.h"
#include "domains/lib/nic_host.h"
#include "drivers/ixgbe/ixgbe_nic.h"
#include "drivers/nic/nic_adaptor.h"

using namespace lamina;
using namespace lamina::ixgbe;

namespace {

// The core reads EICR each time a wait returns, so waiting on the queue vector alone, in
// slices this long, still notices a link change within a slice.
constexpr uint64_t WAIT_SLICE_NS = 10'000'000;
constexpr uint64_t TX_STALL_NS = 500'000'000;  // below the 2 s watchdog

// The MSI-X vectors are granted before the core is created (domain_main), so that each
// bring-up's setup_interrupts only reads the grant.
class DomainPlatform final : public domain_rt::DevicePlatform<Platform> {
public:
    DomainPlatform(const lamina_domain_caps& caps, uint64_t handle, void* bar)
        : DevicePlatform(handle), caps_(caps), regs_(bar) {}

    uint32_t read32(uint32_t offset) override { return regs_.read32(offset); }
    void write32(uint32_t offset, uint32_t value) override { regs_.write32(offset, value); }
    uint32_t setup_interrupts(uint32_t wanted) override { return vectors < wanted ? vectors : wanted; }
    void wait_interrupt(uint16_t vector, uint64_t deadline_ns) override {
        uint64_t now = now_ns();
        if (now >= deadline_ns) return;
        uint64_t slice = deadline_ns - now < WAIT_SLICE_NS ? deadline_ns - now : WAIT_SLICE_NS;
        if (vector < vectors) {
            caps_.device_irq_wait(handle(), vector, slice);
            return;
        }
        delay_us(poll_interval_us());
    }

    uint32_t vectors = 0;  // MSI-X entries granted

private:
    const lamina_domain_caps& caps_;
    domain_rt::Mmio regs_;
};

void device_failed(void*, const char* why) { domain_rt::panic("82599 failed: %s", why); }

}  // namespace

int64_t domain_main(const lamina_domain_caps& caps) {
    using domain_rt::log;
    lamina_device_info dev;
    if (int32_t rc = caps.device_claim(spec::VENDOR_INTEL, spec::DEVICE_82599_SFP, 0, &dev); rc != 0) {
        log("no 82599 port %04x:%04x to claim: errno %d", spec::VENDOR_INTEL, spec::DEVICE_82599_SFP, rc);
        return -rc;
    }
    auto bar = domain_rt::map_bar(dev.handle, 0, spec::BAR0_SIZE);
    if (bar.is_error()) return -int64_t(bar.error().code());
    auto* platform = new (std::nothrow) DomainPlatform(caps, dev.handle, bar.value());
    auto* host = new (std::nothrow) domain_rt::ExchangeNicHost;
    if (!platform || !host) return -int64_t(Errno::NoMem);
    uint32_t granted = 0;
    if (caps.device_irq_setup(dev.handle, VECTORS, &granted) == 0) platform->vectors = granted;

    Config config;
    config.tx_stall_timeout_ns = TX_STALL_NS;
    Failure why = Failure::None;
    auto created = IxgbeNic::create(*platform, config, device_failed, nullptr, &why);
    if (created.is_error()) {
        log("bring-up failed: %s (%s)", created.error().name(), Device::failure_text(why));
        return -int64_t(created.error().code());
    }
    IxgbeNic* core = created.release_value().release();
    auto* adaptor = new (std::nothrow) nic::NicAdaptor(*core, *host);
    if (!adaptor) return -int64_t(Errno::NoMem);
    if (auto r = adaptor->start(); r.is_error()) {
        log("cannot fill the receive ring: %s", r.error().name());
        return -int64_t(r.error().code());
    }
    if (int32_t rc = domain_rt::publish_interface(caps, "nic", static_cast<idl::Nic*>(adaptor)); rc != 0) return -rc;
    const uint8_t* m = core->device().mac().bytes;
    log("82599 port %02x:%02x:%02x:%02x:%02x:%02x, %s", m[0], m[1], m[2], m[3], m[4], m[5],
        core->device().interrupts() ? "MSI-X" : "polled");
    return 0;
}
