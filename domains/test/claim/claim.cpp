// A test domain for device claims: claiming a device its manifest does not list must be refused;
// the listed one (QEMU's NVMe controller) is claimed and mapped when nobody holds it. Publishes
// "test.claim_result": the errno of the listed claim (0 when it holds the device).
#include "domains/lib/domain.h"

namespace {

int64_t g_claim_result = -1;

uint64_t claim_result(uint64_t) { return uint64_t(g_claim_result); }

}  // namespace

int64_t domain_main(const lamina_domain_caps& caps) {
    lamina_device_info info;
    // The AHCI controller of q35: not in the manifest.
    if (caps.device_claim(0x8086, 0x2922, 0, &info) != 1) return -1;  // EPERM expected
    int32_t rc = caps.device_claim(0x1b36, 0x0010, 0, &info);
    if (rc == 0) {
        void* regs = nullptr;
        size_t size = 0;
        rc = caps.device_map_bar(info.handle, 0, &regs, &size);
        if (rc == 0) {
            // The NVMe version register (offset 8) reads as 1.x.
            uint32_t vs = *reinterpret_cast<volatile uint32_t*>(static_cast<char*>(regs) + 8);
            lamina::domain_rt::log("claimed %04x:%04x at %02x:%02x.%x, NVMe version %u.%u", info.vendor, info.device,
                                   info.bus, info.slot, info.function, vs >> 16, (vs >> 8) & 0xff);
        }
    }
    g_claim_result = rc;
    auto fn = &claim_result;
    int32_t prc = caps.interface_publish("test.claim_result", 17, reinterpret_cast<void*>(fn));
    return prc ? -prc : 0;
}
