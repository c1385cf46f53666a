// lamina:portable
// Virtio 1.x structures and constants the driver uses, from the OASIS specification "Virtual
// I/O Device (VIRTIO) Version 1.1" (section numbers below). Everything is little-endian, as the
// spec requires of modern (non-legacy) devices; x86 needs no byte swapping.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::virtio::spec {

// 2.1 Device Status Field.
namespace status {
inline constexpr uint8_t ACKNOWLEDGE = 1;
inline constexpr uint8_t DRIVER = 2;
inline constexpr uint8_t DRIVER_OK = 4;
inline constexpr uint8_t FEATURES_OK = 8;
inline constexpr uint8_t DEVICE_NEEDS_RESET = 64;
inline constexpr uint8_t FAILED = 128;
}  // namespace status

// 6 Reserved Feature Bits (device-independent), and 5.1.3 Network device feature bits.
namespace feature {
inline constexpr uint64_t NET_CSUM = 1ull << 0;        // device handles partial checksums
inline constexpr uint64_t NET_GUEST_CSUM = 1ull << 1;  // driver handles partial checksums
inline constexpr uint64_t NET_MTU = 1ull << 3;
inline constexpr uint64_t NET_MAC = 1ull << 5;
inline constexpr uint64_t NET_MRG_RXBUF = 1ull << 15;
inline constexpr uint64_t NET_STATUS = 1ull << 16;
inline constexpr uint64_t NET_CTRL_VQ = 1ull << 17;
inline constexpr uint64_t RING_INDIRECT_DESC = 1ull << 28;
inline constexpr uint64_t RING_EVENT_IDX = 1ull << 29;
inline constexpr uint64_t VERSION_1 = 1ull << 32;
inline constexpr uint64_t ACCESS_PLATFORM = 1ull << 33;
inline constexpr uint64_t RING_PACKED = 1ull << 34;
}  // namespace feature

// 4.1.2 PCI Device Discovery: modern devices are 0x1040 + the virtio device id (5: network = 1).
inline constexpr uint16_t PCI_VENDOR = 0x1af4;
inline constexpr uint16_t PCI_DEVICE_NET = 0x1041;

// PCI configuration space (PCI Local Bus 3.0, 6.1 and 6.7): what the capability walk reads.
namespace pci {
inline constexpr uint16_t VENDOR_ID = 0x00;
inline constexpr uint16_t DEVICE_ID = 0x02;
inline constexpr uint16_t COMMAND = 0x04;
inline constexpr uint16_t STATUS = 0x06;
inline constexpr uint16_t CAPABILITIES_POINTER = 0x34;
inline constexpr uint16_t STATUS_CAPABILITIES = 1u << 4;
inline constexpr uint8_t CAP_ID_VENDOR = 0x09;
inline constexpr uint8_t CAP_ID_MSIX = 0x11;
}  // namespace pci

// 4.1.4 Virtio Structure PCI Capabilities.
namespace cfg_type {
inline constexpr uint8_t COMMON = 1;
inline constexpr uint8_t NOTIFY = 2;
inline constexpr uint8_t ISR = 3;
inline constexpr uint8_t DEVICE = 4;
inline constexpr uint8_t PCI = 5;
}  // namespace cfg_type

struct PciCap {
    uint8_t cap_vndr;  // CAP_ID_VENDOR
    uint8_t cap_next;
    uint8_t cap_len;
    uint8_t cfg_type;
    uint8_t bar;
    uint8_t id;
    uint8_t padding[2];
    uint32_t offset;  // within the BAR
    uint32_t length;
};
static_assert(sizeof(PciCap) == 16);
// 4.1.4.4 Notification structure layout: notify_off_multiplier follows the notify capability.
inline constexpr uint16_t NOTIFY_CAP_MULTIPLIER = sizeof(PciCap);

// 4.1.4.3 Common configuration structure layout (offsets in the COMMON region).
struct CommonCfg {
    uint32_t device_feature_select;
    uint32_t device_feature;
    uint32_t driver_feature_select;
    uint32_t driver_feature;
    uint16_t msix_config;
    uint16_t num_queues;
    uint8_t device_status;
    uint8_t config_generation;
    uint16_t queue_select;
    uint16_t queue_size;
    uint16_t queue_msix_vector;
    uint16_t queue_enable;
    uint16_t queue_notify_off;
    uint64_t queue_desc;
    uint64_t queue_driver;
    uint64_t queue_device;
};
static_assert(sizeof(CommonCfg) == 56);
namespace common {
inline constexpr uint32_t DEVICE_FEATURE_SELECT = offsetof(CommonCfg, device_feature_select);
inline constexpr uint32_t DEVICE_FEATURE = offsetof(CommonCfg, device_feature);
inline constexpr uint32_t DRIVER_FEATURE_SELECT = offsetof(CommonCfg, driver_feature_select);
inline constexpr uint32_t DRIVER_FEATURE = offsetof(CommonCfg, driver_feature);
inline constexpr uint32_t MSIX_CONFIG = offsetof(CommonCfg, msix_config);
inline constexpr uint32_t NUM_QUEUES = offsetof(CommonCfg, num_queues);
inline constexpr uint32_t DEVICE_STATUS = offsetof(CommonCfg, device_status);
inline constexpr uint32_t CONFIG_GENERATION = offsetof(CommonCfg, config_generation);
inline constexpr uint32_t QUEUE_SELECT = offsetof(CommonCfg, queue_select);
inline constexpr uint32_t QUEUE_SIZE = offsetof(CommonCfg, queue_size);
inline constexpr uint32_t QUEUE_MSIX_VECTOR = offsetof(CommonCfg, queue_msix_vector);
inline constexpr uint32_t QUEUE_ENABLE = offsetof(CommonCfg, queue_enable);
inline constexpr uint32_t QUEUE_NOTIFY_OFF = offsetof(CommonCfg, queue_notify_off);
inline constexpr uint32_t QUEUE_DESC = offsetof(CommonCfg, queue_desc);
inline constexpr uint32_t QUEUE_DRIVER = offsetof(CommonCfg, queue_driver);
inline constexpr uint32_t QUEUE_DEVICE = offsetof(CommonCfg, queue_device);
}  // namespace common
// 4.1.5.1.2.1: "no vector" for msix_config and queue_msix_vector.
inline constexpr uint16_t NO_VECTOR = 0xffff;

// 4.1.4.5 ISR status: read to acknowledge (legacy INTx only; MSI-X needs no read).
inline constexpr uint8_t ISR_QUEUE = 1;
inline constexpr uint8_t ISR_CONFIG = 2;

// 2.6 Split Virtqueues.
// 2.6.5 The Virtqueue Descriptor Table.
struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(Desc) == 16);
inline constexpr uint16_t DESC_F_NEXT = 1;
inline constexpr uint16_t DESC_F_WRITE = 2;
inline constexpr uint16_t DESC_F_INDIRECT = 4;

// 2.6.6 The Virtqueue Available Ring: flags, idx, ring[size], then used_event (EVENT_IDX).
struct AvailHeader {
    uint16_t flags;
    uint16_t idx;
};
static_assert(sizeof(AvailHeader) == 4);
inline constexpr uint16_t AVAIL_F_NO_INTERRUPT = 1;

// 2.6.8 The Virtqueue Used Ring: flags, idx, ring[size] of UsedElem, then avail_event.
struct UsedElem {
    uint32_t id;   // head of the descriptor chain
    uint32_t len;  // bytes written into the buffer
};
static_assert(sizeof(UsedElem) == 8);
struct UsedHeader {
    uint16_t flags;
    uint16_t idx;
};
static_assert(sizeof(UsedHeader) == 4);
inline constexpr uint16_t USED_F_NO_NOTIFY = 1;

// 2.6 table: alignment of each part of a split virtqueue.
inline constexpr size_t DESC_ALIGN = 16;
inline constexpr size_t AVAIL_ALIGN = 2;
inline constexpr size_t USED_ALIGN = 4;
// 2.6: a queue size is a power of two, at most 32768.
inline constexpr uint32_t MAX_QUEUE_SIZE = 32768;

constexpr size_t desc_bytes(uint32_t size) { return sizeof(Desc) * size; }
constexpr size_t avail_bytes(uint32_t size) { return sizeof(AvailHeader) + 2 * size + 2; }
constexpr size_t used_bytes(uint32_t size) { return sizeof(UsedHeader) + sizeof(UsedElem) * size + 2; }

// 5.1.4 Network device configuration layout (the DEVICE region).
struct NetConfig {
    uint8_t mac[6];
    uint16_t status;
    uint16_t max_virtqueue_pairs;
    uint16_t mtu;
};
static_assert(sizeof(NetConfig) == 12);
namespace net_cfg {
inline constexpr uint32_t MAC = offsetof(NetConfig, mac);
inline constexpr uint32_t STATUS = offsetof(NetConfig, status);
inline constexpr uint32_t MTU = offsetof(NetConfig, mtu);
}  // namespace net_cfg
inline constexpr uint16_t NET_S_LINK_UP = 1;
inline constexpr uint16_t NET_S_ANNOUNCE = 2;

// 5.1.2 Virtqueues: receiveq1 is 0, transmitq1 is 1.
inline constexpr uint16_t NET_RX_QUEUE = 0;
inline constexpr uint16_t NET_TX_QUEUE = 1;

// 5.1.6 Device Operation: the header before every packet (num_buffers is always there once
// VERSION_1 is negotiated, 5.1.6.1).
struct NetHdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
};
static_assert(sizeof(NetHdr) == 12);
inline constexpr uint8_t NET_HDR_F_NEEDS_CSUM = 1;
inline constexpr uint8_t NET_HDR_F_DATA_VALID = 2;
inline constexpr uint8_t NET_HDR_GSO_NONE = 0;

}  // namespace lamina::virtio::spec
