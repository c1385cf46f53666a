// The NIC adaptor's host (drivers/nic) in a driver domain: a NetPacket's bytes reach the device
// at the bus address the kernel gives the exchange-heap object (exchange_dma_segments). Used
// by every NIC driver domain (virtio_net, ixgbe).
#pragma once

#include "domains/lib/domain.h"
#include "drivers/nic/nic_adaptor.h"

namespace lamina::domain_rt {

class ExchangeNicHost final : public nic::NicHost {
public:
    // A NetPacket never straddles a page: its bytes must be one bus-address segment (Inval
    // otherwise).
    Result<uint64_t> bus_address(const void* object, uint64_t offset, uint32_t length) override {
        lamina_dma_segment seg;
        uint32_t n = 0;
        if (int32_t rc = caps().exchange_dma_segments(object, offset, length, &seg, 1, &n); rc != 0) return Errno(rc);
        if (n != 1 || seg.length < length) return Errno::Inval;
        return seg.bus_address;
    }
};

}  // namespace lamina::domain_rt
