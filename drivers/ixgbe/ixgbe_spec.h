// lamina:portable
// Intel 82599 10 GbE Controller datasheet (revision 3.x) layouts used by the ixgbe driver core
// and by the host tests' model: the BAR0 registers the driver touches, their bits, and the
// advanced receive and transmit descriptors.
//
// Section numbers in comments refer to the datasheet. Registers are little-endian 32-bit words;
// bit fields are shifts and masks. Only queue 0..63 register blocks are described (the driver
// uses one queue pair); the datasheet's second blocks for queues 64..127 are left out.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::ixgbe::spec {

constexpr uint16_t VENDOR_INTEL = 0x8086;
constexpr uint16_t DEVICE_82599_SFP = 0x10fb;  // 82599ES SFI/SFP+ (1.5.1)
constexpr uint32_t BAR0_SIZE = 128 * 1024;     // memory CSR space (9.3.6.1)

// --- 8.2.3.1 General control registers ---------------------------------------------------
namespace reg {
constexpr uint32_t CTRL = 0x00000;      // device control (8.2.3.1.1)
constexpr uint32_t STATUS = 0x00008;    // device status (8.2.3.1.2)
constexpr uint32_t CTRL_EXT = 0x00018;  // extended device control (8.2.3.1.3)
constexpr uint32_t EEC = 0x10010;       // EEPROM/flash control (8.2.3.2.1)

// --- 8.2.3.5 Interrupt registers
constexpr uint32_t EICR = 0x00800;       // extended interrupt cause (8.2.3.5.1)
constexpr uint32_t EICS = 0x00808;       // cause set (8.2.3.5.3)
constexpr uint32_t EIAC = 0x00810;       // auto clear (8.2.3.5.9)
constexpr uint32_t EIMS = 0x00880;       // mask set / read (8.2.3.5.4)
constexpr uint32_t EIMC = 0x00888;       // mask clear (8.2.3.5.5)
constexpr uint32_t EIAM = 0x00890;       // auto mask (8.2.3.5.6)
constexpr uint32_t GPIE = 0x00898;       // general purpose interrupt enable (8.2.3.5.18)
constexpr uint32_t IVAR_MISC = 0x00A00;  // vector of the "other" causes (8.2.3.5.17)
// Interrupt throttle of MSI-X vector n (8.2.3.5.12): two blocks.
constexpr uint32_t eitr(uint32_t n) { return n < 24 ? 0x00820 + 4 * n : 0x012300 + 4 * (n - 24); }
// Queue-to-vector allocation for queue pairs 2n and 2n+1 (8.2.3.5.16).
constexpr uint32_t ivar(uint32_t n) { return 0x00900 + 4 * n; }

// --- 8.2.3.7 Receive registers
constexpr uint32_t RXCTRL = 0x03000;                                 // receive control (8.2.3.8.10)
constexpr uint32_t FCTRL = 0x05080;                                  // filter control (8.2.3.7.1)
constexpr uint32_t RDRXCTL = 0x02F00;                                // receive DMA control (8.2.3.8.8)
constexpr uint32_t SECRXCTRL = 0x08D00;                              // security receive control (8.2.3.12.4)
constexpr uint32_t SECRXSTAT = 0x08D04;                              // security receive status (8.2.3.12.5)
constexpr uint32_t ral(uint32_t n) { return 0x0A200 + 8 * n; }       // receive address low (8.2.3.7.9)
constexpr uint32_t rah(uint32_t n) { return 0x0A204 + 8 * n; }       // receive address high (8.2.3.7.10)
constexpr uint32_t rxpbsize(uint32_t n) { return 0x03C00 + 4 * n; }  // 8.2.3.8.9

// --- 8.2.3.8 Receive DMA registers, queue n < 64
constexpr uint32_t rdbal(uint32_t n) { return 0x01000 + 0x40 * n; }   // 8.2.3.8.1
constexpr uint32_t rdbah(uint32_t n) { return 0x01004 + 0x40 * n; }   // 8.2.3.8.2
constexpr uint32_t rdlen(uint32_t n) { return 0x01008 + 0x40 * n; }   // 8.2.3.8.3
constexpr uint32_t rdh(uint32_t n) { return 0x01010 + 0x40 * n; }     // 8.2.3.8.4
constexpr uint32_t srrctl(uint32_t n) { return 0x01014 + 0x40 * n; }  // 8.2.3.8.7
constexpr uint32_t rdt(uint32_t n) { return 0x01018 + 0x40 * n; }     // 8.2.3.8.5
constexpr uint32_t rxdctl(uint32_t n) { return 0x01028 + 0x40 * n; }  // 8.2.3.8.6

// --- 8.2.3.9 Transmit registers
constexpr uint32_t DMATXCTL = 0x04A80;   // DMA transmit control (8.2.3.9.2)
constexpr uint32_t DTXMXSZRQ = 0x08100;  // max total outstanding transmit data requests (8.2.3.9.3)
constexpr uint32_t MTQC = 0x08120;       // multiple transmit queues command (8.2.3.9.15)
constexpr uint32_t RTTDCS = 0x04900;     // DCB transmit descriptor plane control (8.2.3.10.2)
constexpr uint32_t tdbal(uint32_t n) { return 0x06000 + 0x40 * n; }   // 8.2.3.9.5
constexpr uint32_t tdbah(uint32_t n) { return 0x06004 + 0x40 * n; }   // 8.2.3.9.6
constexpr uint32_t tdlen(uint32_t n) { return 0x06008 + 0x40 * n; }   // 8.2.3.9.7
constexpr uint32_t tdh(uint32_t n) { return 0x06010 + 0x40 * n; }     // 8.2.3.9.8
constexpr uint32_t tdt(uint32_t n) { return 0x06018 + 0x40 * n; }     // 8.2.3.9.9
constexpr uint32_t txdctl(uint32_t n) { return 0x06028 + 0x40 * n; }  // 8.2.3.9.10
constexpr uint32_t txpbsize(uint32_t n) { return 0x0CC00 + 4 * n; }   // 8.2.3.9.13

// --- 8.2.3.22 MAC registers
constexpr uint32_t HLREG0 = 0x04240;  // MAC core control 0 (8.2.3.22.8)
constexpr uint32_t MAXFRS = 0x04268;  // max frame size (8.2.3.22.13)
constexpr uint32_t AUTOC = 0x042A0;   // auto-negotiation control (8.2.3.22.19)
constexpr uint32_t LINKS = 0x042A4;   // link status (8.2.3.22.20)

// --- 8.2.3.23 Statistics (all clear on read)
constexpr uint32_t CRCERRS = 0x04000;  // CRC errors (8.2.3.23.1)
constexpr uint32_t RLEC = 0x04040;     // receive length errors (8.2.3.23.3)
constexpr uint32_t GPRC = 0x04074;     // good packets received (8.2.3.23.18)
constexpr uint32_t GPTC = 0x04080;     // good packets transmitted (8.2.3.23.22)
constexpr uint32_t GORCL = 0x04088;    // good octets received, low then high (8.2.3.23.23)
constexpr uint32_t GORCH = 0x0408C;
constexpr uint32_t GOTCL = 0x04090;  // good octets transmitted (8.2.3.23.24)
constexpr uint32_t GOTCH = 0x04094;
constexpr uint32_t mpc(uint32_t n) { return 0x03FA0 + 4 * n; }       // missed packets, per PB (8.2.3.23.4)
constexpr uint32_t qprdc(uint32_t n) { return 0x01430 + 0x40 * n; }  // queue drops (8.2.3.23.66)
}  // namespace reg

// 8.2.3.1.1 CTRL
namespace ctrl {
constexpr uint32_t MASTER_DISABLE = 1u << 2;  // PCIe master disable: stop issuing DMA
constexpr uint32_t LRST = 1u << 3;            // link reset
constexpr uint32_t RST = 1u << 26;            // device reset, self-clearing (4.2.1.6.1)
}  // namespace ctrl

// 8.2.3.1.2 STATUS
namespace status {
constexpr uint32_t MASTER_ENABLE = 1u << 19;  // PCIe master enable status: DMA may be pending
}  // namespace status

// 8.2.3.1.3 CTRL_EXT
namespace ctrl_ext {
constexpr uint32_t NS_DIS = 1u << 16;    // no-snoop disable
constexpr uint32_t DRV_LOAD = 1u << 28;  // a driver owns the device (tells firmware)
}  // namespace ctrl_ext

// 8.2.3.2.1 EEC
namespace eec {
constexpr uint32_t PRES = 1u << 8;  // EEPROM present
constexpr uint32_t ARD = 1u << 9;   // EEPROM auto-read done
}  // namespace eec

// 8.2.3.5.1 EICR / EIMS / EIMC bits in MSI-X mode: bits 0..15 are the queue vectors the IVAR
// table names; the "other" causes keep their own bits and are signalled on IVAR_MISC's vector.
namespace eicr {
constexpr uint32_t RTXQ_MASK = 0xFFFF;  // one bit per MSI-X vector 0..15
constexpr uint32_t LSC = 1u << 20;      // link status change
constexpr uint32_t OTHER = 1u << 31;    // summary of the "other" causes
constexpr uint32_t ALL = 0x7FFFFFFF;    // what EIMC takes to mask every cause (4.6.3.1)
}  // namespace eicr

// 8.2.3.5.18 GPIE
namespace gpie {
constexpr uint32_t MULTIPLE_MSIX = 1u << 4;
constexpr uint32_t EIAME = 1u << 30;  // auto-mask on MSI-X, per EIAM
constexpr uint32_t PBA_SUPPORT = 1u << 31;
}  // namespace gpie

// 8.2.3.5.12 EITR: the interval in 2.048 us units (at 10 Gb/s), bits 11:3.
namespace eitr {
constexpr uint32_t INTERVAL_SHIFT = 3;
constexpr uint32_t INTERVAL_MASK = 0x1FF << INTERVAL_SHIFT;
constexpr uint32_t CNT_WDIS = 1u << 31;  // write without touching the running counter
constexpr uint32_t UNIT_NS = 2048;
}  // namespace eitr

// 8.2.3.5.16 IVAR: four 8-bit entries (rx 2n, tx 2n, rx 2n+1, tx 2n+1), vector in bits 5:0,
// bit 7 valid. IVAR_MISC (8.2.3.5.17): entry 1 (bits 15:8) is the "other causes" vector.
namespace ivar {
constexpr uint32_t VALID = 0x80;
constexpr uint32_t entry_shift(uint32_t queue, bool tx) { return 16 * (queue & 1) + 8 * tx; }
constexpr uint32_t OTHER_SHIFT = 8;
}  // namespace ivar

// 8.2.3.7.1 FCTRL
namespace fctrl {
constexpr uint32_t MPE = 1u << 8;   // multicast promiscuous
constexpr uint32_t UPE = 1u << 9;   // unicast promiscuous
constexpr uint32_t BAM = 1u << 10;  // broadcast accept
}  // namespace fctrl

constexpr uint32_t RAH_AV = 1u << 31;  // 8.2.3.7.10: the address is valid

// 8.2.3.8.6 RXDCTL / 8.2.3.9.10 TXDCTL
namespace rxdctl {
constexpr uint32_t ENABLE = 1u << 25;
}
namespace txdctl {
constexpr uint32_t PTHRESH_SHIFT = 0;
constexpr uint32_t HTHRESH_SHIFT = 8;
constexpr uint32_t WTHRESH_SHIFT = 16;
constexpr uint32_t ENABLE = 1u << 25;
}  // namespace txdctl

// 8.2.3.8.7 SRRCTL
namespace srrctl {
constexpr uint32_t BSIZEPACKET_MASK = 0x1F;  // packet buffer size, 1 KiB units
constexpr uint32_t BSIZEPACKET_UNIT = 1024;
constexpr uint32_t DESCTYPE_SHIFT = 25;
constexpr uint32_t DESCTYPE_MASK = 7u << DESCTYPE_SHIFT;
constexpr uint32_t DESCTYPE_ADV_ONEBUF = 1u << DESCTYPE_SHIFT;  // advanced, one buffer
constexpr uint32_t DROP_EN = 1u << 28;                          // drop when the queue has no descriptor
}  // namespace srrctl

// 8.2.3.8.8 RDRXCTL
namespace rdrxctl {
constexpr uint32_t CRC_STRIP = 1u << 1;  // must equal HLREG0.RXCRCSTRP (4.6.7)
constexpr uint32_t DMAIDONE = 1u << 3;   // DMA initialisation done after reset
}  // namespace rdrxctl

// 8.2.3.8.9 RXPBSIZE / 8.2.3.9.13 TXPBSIZE: size in KiB, bits 19:10.
namespace pbsize {
constexpr uint32_t SHIFT = 10;
constexpr uint32_t kib(uint32_t v) { return (v >> SHIFT) & 0x3FF; }
constexpr uint32_t RX_TOTAL_KIB = 512;  // receive packet buffer memory (4.6.11.3.1)
constexpr uint32_t TX_TOTAL_KIB = 160;
}  // namespace pbsize

// 8.2.3.8.10 RXCTRL
namespace rxctrl {
constexpr uint32_t RXEN = 1u << 0;
}

// 8.2.3.12.4 SECRXCTRL / 8.2.3.12.5 SECRXSTAT: the receive security block must be idle
// (SECRX_RDY) while RXCTRL.RXEN changes (4.6.7).
namespace secrx {
constexpr uint32_t RX_DIS = 1u << 1;
constexpr uint32_t RDY = 1u << 0;
}  // namespace secrx

// 8.2.3.9.2 DMATXCTL
namespace dmatxctl {
constexpr uint32_t TE = 1u << 0;  // transmit enable
}

// 8.2.3.10.2 RTTDCS: the descriptor arbiter is disabled while MTQC changes (4.6.8).
namespace rttdcs {
constexpr uint32_t ARBDIS = 1u << 6;
}

// 8.2.3.22.8 HLREG0
namespace hlreg0 {
constexpr uint32_t TXCRCEN = 1u << 0;    // append the FCS on transmit
constexpr uint32_t RXCRCSTRP = 1u << 1;  // strip the FCS on receive
constexpr uint32_t JUMBOEN = 1u << 2;
constexpr uint32_t TXPADEN = 1u << 10;  // pad short frames to 64 bytes
constexpr uint32_t LPBK = 1u << 15;     // MAC loopback (transmit goes to receive)
}  // namespace hlreg0

// 8.2.3.22.19 AUTOC
namespace autoc {
constexpr uint32_t FLU = 1u << 0;          // force link up
constexpr uint32_t RESTART_AN = 1u << 12;  // self-clearing
constexpr uint32_t LMS_SHIFT = 13;         // link mode select, bits 15:13
constexpr uint32_t LMS_MASK = 7u << LMS_SHIFT;
constexpr uint32_t LMS_10G_SERIAL = 3u << LMS_SHIFT;  // 10 GbE serial link, no AN (SFI)
constexpr uint32_t LMS_KX4_KX_KR = 4u << LMS_SHIFT;   // clause 73 auto-negotiation
}  // namespace autoc

// 8.2.3.22.20 LINKS
namespace links {
constexpr uint32_t SPEED_SHIFT = 28;
constexpr uint32_t SPEED_MASK = 3u << SPEED_SHIFT;
constexpr uint32_t SPEED_100M = 1u << SPEED_SHIFT;
constexpr uint32_t SPEED_1G = 2u << SPEED_SHIFT;
constexpr uint32_t SPEED_10G = 3u << SPEED_SHIFT;
constexpr uint32_t LINK_UP = 1u << 30;
}  // namespace links

// --- 7.1.6 Advanced receive descriptor ------------------------------------------------------
// Read format (7.1.6.1): what the driver writes.
struct RxDescRead {
    uint64_t pkt_addr;  // packet buffer address
    uint64_t hdr_addr;  // header buffer address (header split only; 0 here, its bit 0 = DD)
};
// Write-back format (7.1.6.2): what the device writes over it.
struct RxDescWb {
    uint16_t pkt_info;  // RSS type, packet type
    uint16_t hdr_info;
    uint32_t rss_hash;
    uint32_t status_error;  // extended status (low bits) and extended errors (high bits)
    uint16_t length;        // bytes written to this descriptor's buffer
    uint16_t vlan;
};
union RxDesc {
    RxDescRead read;
    RxDescWb wb;
};
static_assert(sizeof(RxDesc) == 16);
namespace rxd {
constexpr uint32_t STAT_DD = 1u << 0;   // descriptor done
constexpr uint32_t STAT_EOP = 1u << 1;  // end of packet
constexpr uint32_t ERR_RXE = 1u << 29;  // MAC error: CRC, length, symbol (7.1.6.2)
constexpr uint32_t ERR_MASK = 0xFFF00000;
}  // namespace rxd

// --- 7.2.3.2.4 Advanced transmit data descriptor --------------------------------------------
struct TxDescRead {
    uint64_t buffer_addr;
    uint32_t cmd_type_len;   // DTALEN 15:0, DTYP 23:20, DCMD 31:24
    uint32_t olinfo_status;  // PAYLEN 31:14 (bytes of the whole frame), STA 3:0 on write-back
};
struct TxDescWb {
    uint64_t reserved;
    uint32_t reserved2;
    uint32_t status;  // STA: bit 0 DD
};
union TxDesc {
    TxDescRead read;
    TxDescWb wb;
};
static_assert(sizeof(TxDesc) == 16);
namespace txd {
constexpr uint32_t DTALEN_MASK = 0xFFFF;
constexpr uint32_t DTYP_DATA = 3u << 20;  // advanced data descriptor
constexpr uint32_t CMD_EOP = 1u << 24;    // last descriptor of the frame
constexpr uint32_t CMD_IFCS = 1u << 25;   // insert the FCS
constexpr uint32_t CMD_RS = 1u << 27;     // report status: write DD back
constexpr uint32_t CMD_DEXT = 1u << 29;   // extended (advanced) descriptor
constexpr uint32_t PAYLEN_SHIFT = 14;
constexpr uint32_t STAT_DD = 1u << 0;
}  // namespace txd

// Descriptor rings: RDLEN/TDLEN multiples of 128 bytes (8 descriptors), base 128-byte aligned
// (8.2.3.8.3, 8.2.3.9.7); at most 8192 descriptors per ring.
constexpr uint32_t RING_ALIGN_DESCS = 8;
constexpr uint32_t RING_MAX_DESCS = 8192;

}  // namespace lamina::ixgbe::spec
