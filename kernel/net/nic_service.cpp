#include "kernel/net/nic_service.h"

#include "kernel/domain/provided.h"
#include "kernel/lib/log.h"
#include "kernel/sched/mutex.h"

namespace lamina::net {

namespace {

// The NIC driver packages, tried in this order at start: the first whose device the machine has
// serves (each driver's entry fails with ENOENT when its device is absent, as does a package the
// image does not carry).
constexpr const char* PACKAGES[] = {"virtio_net", "ixgbe"};

// The card the driver drove when the service started: a restarted driver must drive the same.
idl::NicInfo g_info;
domain::Provided<idl::Nic> g_service;

// nic_counters(): the sum of earlier instances, and the last reading of the one it came from.
sched::Mutex g_counters_lock;
idl::NicCounters g_base;       // g_counters_lock
idl::NicCounters g_last;       // g_counters_lock
uint32_t g_last_instance = 0;  // g_counters_lock: the domain id g_last was read from

void add(idl::NicCounters& to, const idl::NicCounters& c) {
    to.rx_frames += c.rx_frames;
    to.rx_bytes += c.rx_bytes;
    to.tx_frames += c.tx_frames;
    to.tx_bytes += c.tx_bytes;
    to.rx_dropped += c.rx_dropped;
    to.tx_dropped += c.tx_dropped;
    to.rx_errors += c.rx_errors;
    to.tx_errors += c.tx_errors;
}

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
    for (const char* package : PACKAGES) {
        auto started = g_service.start({package, replay}, [](domain::Supervised<idl::Nic>& driver) -> Result<void> {
            g_info = TRY(driver.proxy().info());
            return {};
        });
        if (started.is_error() && started.error().code() == Errno::NoEnt) continue;
        TRY(started);
        const uint8_t* m = g_info.mac;
        kprintf("nic: 'nic' is the %s driver (domain %u), %02x:%02x:%02x:%02x:%02x:%02x%s\n", package,
                g_service.instance()->id, m[0], m[1], m[2], m[3], m[4], m[5],
                g_service.provided() ? "" : " (the name is taken: kernel use only)");
        return {};
    }
    return Errno::NoEnt;
}

void stop_nic_service() {
    g_service.stop();
    sched::MutexGuard g(g_counters_lock);
    g_base = g_last = idl::NicCounters{};
    g_last_instance = 0;
}

Result<idl::NicCounters> nic_counters() {
    idl::Nic* nic = nic_device();
    if (!nic) return Errno::NoDev;
    sched::MutexGuard g(g_counters_lock);
    idl::NicCounters now = TRY(nic->counters());
    domain::Domain* serving = nic_instance();
    uint32_t id = serving ? serving->id : 0;
    if (id != g_last_instance) {
        add(g_base, g_last);
        g_last_instance = id;
    }
    g_last = now;
    idl::NicCounters total = g_base;
    add(total, now);
    return total;
}
bool nic_service_running() { return g_service.running(); }
idl::Nic* nic_device() { return g_service.shadow(); }
domain::Domain* nic_instance() { return g_service.instance(); }
domain::Recovery* nic_recovery() { return g_service.recovery(); }

}  // namespace lamina::net
