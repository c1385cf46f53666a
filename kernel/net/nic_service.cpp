#include "kernel/net/nic_service.h"

#include "kernel/domain/provided.h"
#include "kernel/lib/log.h"

namespace lamina::net {

namespace {

constexpr const char* kPackage = "virtio_net";

// The card the driver drove when the service started: a restarted driver must drive the same.
idl::NicInfo g_info;
domain::Provided<idl::Nic> g_service;

bool same_mac(const idl::NicInfo& a, const idl::NicInfo& b) {
    for (int i = 0; i < 6; i++)
        if (a.mac[i] != b.mac[i]) return false;
    return true;
}

// The fresh instance has reset the device and filled its receive ring in its entry; what
// remains is to make sure it drives the same card.
Result<void> replay(void*, idl::NicProxy& fresh) {
    idl::NicInfo info = TRY(fresh.info());
    if (!same_mac(info, g_info)) {
        kprintf("nic: the restarted driver drives another card\n");
        return Errno::NoDev;
    }
    return {};
}

}  // namespace

Result<void> start_nic_service() {
    TRY(g_service.start({kPackage, replay}, [](domain::Supervised<idl::Nic>& driver) -> Result<void> {
        g_info = TRY(driver.proxy().info());
        return {};
    }));
    const uint8_t* m = g_info.mac;
    kprintf("nic: 'nic' is the %s driver (domain %u), %02x:%02x:%02x:%02x:%02x:%02x%s\n", kPackage,
            g_service.instance()->id, m[0], m[1], m[2], m[3], m[4], m[5],
            g_service.provided() ? "" : " (the name is taken: kernel use only)");
    return {};
}

void stop_nic_service() { g_service.stop(); }
bool nic_service_running() { return g_service.running(); }
idl::Nic* nic_device() { return g_service.shadow(); }
domain::Domain* nic_instance() { return g_service.instance(); }
domain::Recovery* nic_recovery() { return g_service.recovery(); }

}  // namespace lamina::net
