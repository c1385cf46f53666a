// lamina:portable
// NVM Express 1.4 (base specification, revision 1.4c) layouts used by the driver and by the host
// tests' controller model: controller registers, queue entries, the admin and NVM command set
// opcodes, status codes, and the identify data fields the driver reads.
//
// Section numbers in comments refer to NVMe 1.4c. Every multi-byte field is little-endian, as is
// the only CPU this runs on; bit fields are spelled as shifts and masks (not C++ bit-fields,
// whose layout the standard leaves to the compiler).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/page.h>

namespace lamina::nvme::spec {

// The memory page size the driver programs (CC.MPS = 0): the host's page, so that every DMA
// buffer page is one PRP entry.
constexpr uint32_t PAGE_SIZE = uint32_t(lamina::PAGE_SIZE);
constexpr uint32_t PAGE_SHIFT = lamina::PAGE_SHIFT;

// --- 3.1 Controller registers (offsets into BAR0) -------------------------------------------
namespace reg {
constexpr uint32_t CAP = 0x00;              // 64-bit, controller capabilities (3.1.1)
constexpr uint32_t VS = 0x08;               // version (3.1.2)
constexpr uint32_t INTMS = 0x0c;            // interrupt mask set (3.1.3; pin/MSI only, not with MSI-X)
constexpr uint32_t INTMC = 0x10;            // interrupt mask clear (3.1.4)
constexpr uint32_t CC = 0x14;               // controller configuration (3.1.5)
constexpr uint32_t CSTS = 0x1c;             // controller status (3.1.6)
constexpr uint32_t NSSR = 0x20;             // NVM subsystem reset (3.1.7)
constexpr uint32_t AQA = 0x24;              // admin queue attributes (3.1.8)
constexpr uint32_t ASQ = 0x28;              // 64-bit, admin submission queue base (3.1.9)
constexpr uint32_t ACQ = 0x30;              // 64-bit, admin completion queue base (3.1.10)
constexpr uint32_t DOORBELL_BASE = 0x1000;  // 3.1.24/3.1.25

// Submission queue y tail doorbell and completion queue y head doorbell: each doorbell is
// (4 << CAP.DSTRD) bytes apart, SQ and CQ of one queue id interleaved.
constexpr uint32_t sq_tail_doorbell(uint16_t qid, uint32_t dstrd) { return DOORBELL_BASE + (2u * qid) * (4u << dstrd); }
constexpr uint32_t cq_head_doorbell(uint16_t qid, uint32_t dstrd) {
    return DOORBELL_BASE + (2u * qid + 1u) * (4u << dstrd);
}
}  // namespace reg

// 3.1.1 CAP
namespace cap {
constexpr uint64_t mqes(uint64_t v) { return v & 0xffff; }                   // max queue entries, 0-based
constexpr bool cqr(uint64_t v) { return (v >> 16) & 1; }                     // contiguous queues required
constexpr uint64_t to(uint64_t v) { return (v >> 24) & 0xff; }               // ready timeout, 500 ms units
constexpr uint32_t dstrd(uint64_t v) { return uint32_t((v >> 32) & 0xf); }   // doorbell stride
constexpr bool css_nvm(uint64_t v) { return (v >> 37) & 1; }                 // NVM command set supported
constexpr uint32_t mpsmin(uint64_t v) { return uint32_t((v >> 48) & 0xf); }  // 2^(12+n) bytes
constexpr uint32_t mpsmax(uint64_t v) { return uint32_t((v >> 52) & 0xf); }
constexpr uint64_t make(uint16_t mqes, bool cqr, uint8_t to, uint8_t dstrd, uint8_t mpsmin, uint8_t mpsmax) {
    return uint64_t(mqes) | uint64_t(cqr) << 16 | uint64_t(to) << 24 | uint64_t(dstrd & 0xf) << 32 | uint64_t(1) << 37 |
           uint64_t(mpsmin & 0xf) << 48 | uint64_t(mpsmax & 0xf) << 52;
}
}  // namespace cap

// 3.1.2 VS
constexpr uint32_t version(uint32_t major, uint32_t minor, uint32_t tertiary = 0) {
    return major << 16 | minor << 8 | tertiary;
}

// 3.1.5 CC
namespace cc {
constexpr uint32_t EN = 1u << 0;
constexpr uint32_t CSS_SHIFT = 4;   // 3 bits; 000b = NVM command set
constexpr uint32_t MPS_SHIFT = 7;   // 4 bits; page size 2^(12+MPS)
constexpr uint32_t AMS_SHIFT = 11;  // 3 bits; 000b = round robin
constexpr uint32_t SHN_SHIFT = 14;  // 2 bits
constexpr uint32_t SHN_MASK = 3u << SHN_SHIFT;
constexpr uint32_t SHN_NORMAL = 1u << SHN_SHIFT;
constexpr uint32_t IOSQES_SHIFT = 16;  // 4 bits; log2 of the SQ entry size
constexpr uint32_t IOCQES_SHIFT = 20;  // 4 bits; log2 of the CQ entry size
constexpr uint32_t css(uint32_t v) { return (v >> CSS_SHIFT) & 7; }
constexpr uint32_t mps(uint32_t v) { return (v >> MPS_SHIFT) & 0xf; }
constexpr uint32_t iosqes(uint32_t v) { return (v >> IOSQES_SHIFT) & 0xf; }
constexpr uint32_t iocqes(uint32_t v) { return (v >> IOCQES_SHIFT) & 0xf; }
}  // namespace cc

// 3.1.6 CSTS
namespace csts {
constexpr uint32_t RDY = 1u << 0;
constexpr uint32_t CFS = 1u << 1;   // controller fatal status
constexpr uint32_t SHST_SHIFT = 2;  // 2 bits: 00 normal, 01 in progress, 10 complete
constexpr uint32_t SHST_MASK = 3u << SHST_SHIFT;
constexpr uint32_t SHST_COMPLETE = 2u << SHST_SHIFT;
constexpr uint32_t NSSRO = 1u << 4;
constexpr uint32_t PP = 1u << 5;
// A read of all ones means the device is gone (surprise removal, or a dead link): no real
// controller ever reports every status bit at once.
constexpr uint32_t GONE = 0xffffffff;
}  // namespace csts

// 3.1.8 AQA: admin queue sizes, 0-based, 12 bits each.
constexpr uint32_t aqa(uint32_t sq_entries, uint32_t cq_entries) {
    return ((sq_entries - 1) & 0xfff) | ((cq_entries - 1) & 0xfff) << 16;
}
constexpr uint32_t MAX_ADMIN_QUEUE_ENTRIES = 4096;

// --- 4.2 Submission queue entry ------------------------------------------------------------
// Common command format (figure 105). PRP1/PRP2 form the data pointer (4.3); SGLs are not used.
struct SubmissionEntry {
    uint8_t opcode;
    uint8_t flags;  // bits 1:0 FUSE, bits 7:6 PSDT (00b = PRPs)
    uint16_t cid;   // command identifier, unique among the commands in flight on this SQ
    uint32_t nsid;
    uint32_t cdw2;
    uint32_t cdw3;
    uint64_t mptr;  // metadata pointer (unused: namespaces without metadata only)
    uint64_t prp1;
    uint64_t prp2;
    uint32_t cdw10;
    uint32_t cdw11;
    uint32_t cdw12;
    uint32_t cdw13;
    uint32_t cdw14;
    uint32_t cdw15;
};
static_assert(sizeof(SubmissionEntry) == 64);
static_assert(offsetof(SubmissionEntry, prp1) == 24);
static_assert(offsetof(SubmissionEntry, cdw10) == 40);
constexpr uint32_t SQ_ENTRY_SHIFT = 6;  // CC.IOSQES

// --- 4.6 Completion queue entry (figure 124) -----------------------------------------------
struct CompletionEntry {
    uint32_t dw0;  // command specific
    uint32_t dw1;
    uint16_t sq_head;  // where the controller has consumed the SQ up to
    uint16_t sq_id;
    uint16_t cid;
    uint16_t status;  // bit 0 phase tag, bits 15:1 status field (4.6.1)
};
static_assert(sizeof(CompletionEntry) == 16);
static_assert(offsetof(CompletionEntry, status) == 14);
constexpr uint32_t CQ_ENTRY_SHIFT = 4;  // CC.IOCQES

// 4.6.1 Status field (figure 126): the 16-bit word including the phase tag.
namespace status {
constexpr bool phase(uint16_t s) { return s & 1; }
constexpr uint8_t sc(uint16_t s) { return uint8_t(s >> 1); }         // status code
constexpr uint8_t sct(uint16_t s) { return uint8_t((s >> 9) & 7); }  // status code type
constexpr uint8_t crd(uint16_t s) { return uint8_t((s >> 12) & 3); }
constexpr bool more(uint16_t s) { return (s >> 14) & 1; }
constexpr bool dnr(uint16_t s) { return (s >> 15) & 1; }  // do not retry
constexpr bool ok(uint16_t s) { return (s >> 1) == 0; }
constexpr uint16_t make(uint8_t sct, uint8_t sc, bool dnr, bool phase) {
    return uint16_t((phase ? 1 : 0) | uint16_t(sc) << 1 | uint16_t(sct & 7) << 9 | (dnr ? 1u << 15 : 0));
}
}  // namespace status

// 4.6.1.1 Status code types.
namespace sct {
constexpr uint8_t GENERIC = 0;
constexpr uint8_t COMMAND_SPECIFIC = 1;
constexpr uint8_t MEDIA = 2;
constexpr uint8_t PATH = 3;
constexpr uint8_t VENDOR = 7;
}  // namespace sct

// 4.6.1.2.1 Generic command status (figure 128), and the NVM command set's (figure 129).
namespace sc {
constexpr uint8_t SUCCESS = 0x00;
constexpr uint8_t INVALID_OPCODE = 0x01;
constexpr uint8_t INVALID_FIELD = 0x02;
constexpr uint8_t CID_CONFLICT = 0x03;
constexpr uint8_t DATA_TRANSFER_ERROR = 0x04;
constexpr uint8_t ABORTED_POWER_LOSS = 0x05;
constexpr uint8_t INTERNAL_ERROR = 0x06;
constexpr uint8_t ABORT_REQUESTED = 0x07;
constexpr uint8_t ABORTED_SQ_DELETION = 0x08;
constexpr uint8_t INVALID_NAMESPACE = 0x0b;
constexpr uint8_t COMMAND_SEQUENCE_ERROR = 0x0c;
constexpr uint8_t INVALID_SGL_DESCRIPTOR = 0x0d;
constexpr uint8_t INVALID_PRP_OFFSET = 0x13;
constexpr uint8_t LBA_OUT_OF_RANGE = 0x80;
constexpr uint8_t CAPACITY_EXCEEDED = 0x81;
constexpr uint8_t NAMESPACE_NOT_READY = 0x82;
// 4.6.1.2.2 Command specific (figure 130/131).
constexpr uint8_t CQ_INVALID = 0x00;
constexpr uint8_t INVALID_QUEUE_ID = 0x01;
constexpr uint8_t INVALID_QUEUE_SIZE = 0x02;
constexpr uint8_t INVALID_INTERRUPT_VECTOR = 0x08;
constexpr uint8_t INVALID_QUEUE_DELETION = 0x0c;
constexpr uint8_t FEATURE_NOT_SAVEABLE = 0x0d;
constexpr uint8_t ATTEMPTED_WRITE_TO_READ_ONLY = 0x82;  // NVM command set, command specific
// 4.6.1.2.3 Media and data integrity errors (figure 132).
constexpr uint8_t WRITE_FAULT = 0x80;
constexpr uint8_t UNRECOVERED_READ_ERROR = 0x81;
constexpr uint8_t ACCESS_DENIED = 0x86;
}  // namespace sc

// --- 5 Admin command set opcodes (figure 139) ----------------------------------------------
namespace admin {
constexpr uint8_t DELETE_IO_SQ = 0x00;
constexpr uint8_t CREATE_IO_SQ = 0x01;
constexpr uint8_t GET_LOG_PAGE = 0x02;
constexpr uint8_t DELETE_IO_CQ = 0x04;
constexpr uint8_t CREATE_IO_CQ = 0x05;
constexpr uint8_t IDENTIFY = 0x06;
constexpr uint8_t ABORT = 0x08;
constexpr uint8_t SET_FEATURES = 0x09;
constexpr uint8_t GET_FEATURES = 0x0a;
}  // namespace admin

// 5.3 Create I/O completion queue: CDW10 = QSIZE (0-based) << 16 | QID; CDW11 = IV << 16 |
// IEN << 1 | PC.
namespace create_cq {
constexpr uint32_t PC = 1u << 0;
constexpr uint32_t IEN = 1u << 1;
constexpr uint32_t cdw10(uint16_t qid, uint32_t entries) { return (entries - 1) << 16 | qid; }
constexpr uint32_t cdw11(uint16_t vector, bool ien) { return uint32_t(vector) << 16 | (ien ? IEN : 0) | PC; }
}  // namespace create_cq

// 5.4 Create I/O submission queue: CDW10 as above; CDW11 = CQID << 16 | QPRIO << 1 | PC.
namespace create_sq {
constexpr uint32_t PC = 1u << 0;
constexpr uint32_t cdw10(uint16_t qid, uint32_t entries) { return (entries - 1) << 16 | qid; }
constexpr uint32_t cdw11(uint16_t cqid) { return uint32_t(cqid) << 16 | PC; }
}  // namespace create_sq

// 5.15 Identify: CDW10 bits 7:0 = CNS (figure 244).
namespace cns {
constexpr uint8_t NAMESPACE = 0x00;  // identify namespace data for NSID
constexpr uint8_t CONTROLLER = 0x01;
constexpr uint8_t ACTIVE_NAMESPACES = 0x02;  // active NSIDs greater than NSID (1.1+)
}  // namespace cns
constexpr uint32_t IDENTIFY_SIZE = 4096;
constexpr uint32_t BROADCAST_NSID = 0xffffffff;

// 5.21 Set features: CDW10 bits 7:0 = FID; 5.21.1.7 Number of queues: CDW11 = NCQR << 16 | NSQR
// (both 0-based); completion DW0 = NCQA << 16 | NSQA (0-based) as allocated.
namespace feature {
constexpr uint8_t NUMBER_OF_QUEUES = 0x07;
constexpr uint32_t queues_cdw11(uint16_t sq, uint16_t cq) { return uint32_t(cq - 1) << 16 | uint32_t(sq - 1); }
constexpr uint32_t allocated_sq(uint32_t dw0) { return (dw0 & 0xffff) + 1; }
constexpr uint32_t allocated_cq(uint32_t dw0) { return (dw0 >> 16) + 1; }
}  // namespace feature

// --- 6 NVM command set opcodes (figure 346) ------------------------------------------------
// Read/write: CDW10/11 = starting LBA, CDW12 bits 15:0 = number of logical blocks, 0-based.
namespace nvm {
constexpr uint8_t FLUSH = 0x00;
constexpr uint8_t WRITE = 0x01;
constexpr uint8_t READ = 0x02;
constexpr uint32_t MAX_BLOCKS_PER_COMMAND = 65536;  // NLB is 16 bits, 0-based
}  // namespace nvm

// --- 5.15.2.2 Identify controller data structure (figure 249), the fields used -------------
struct IdentifyController {
    uint16_t vid;               // 0
    uint16_t ssvid;             // 2
    char sn[20];                // 4: serial number, ASCII, space padded
    char mn[40];                // 24: model number
    char fr[8];                 // 64: firmware revision
    uint8_t rab;                // 72
    uint8_t ieee[3];            // 73
    uint8_t cmic;               // 76
    uint8_t mdts;               // 77: max data transfer, 2^n minimum pages; 0 = no limit
    uint16_t cntlid;            // 78
    uint32_t ver;               // 80
    uint8_t reserved84[428];    // 84..511
    uint8_t sqes;               // 512: bits 3:0 required, 7:4 maximum SQ entry size (log2)
    uint8_t cqes;               // 513
    uint16_t maxcmd;            // 514
    uint32_t nn;                // 516: number of namespaces (highest valid NSID)
    uint16_t oncs;              // 520: optional NVM commands
    uint16_t fuses;             // 522
    uint8_t fna;                // 524
    uint8_t vwc;                // 525: volatile write cache present (bit 0)
    uint8_t reserved526[3570];  // 526..4095
};
static_assert(sizeof(IdentifyController) == IDENTIFY_SIZE);
static_assert(offsetof(IdentifyController, mdts) == 77);
static_assert(offsetof(IdentifyController, sqes) == 512);
static_assert(offsetof(IdentifyController, nn) == 516);
static_assert(offsetof(IdentifyController, vwc) == 525);

// 5.15.2.1 LBA format data structure (figure 247).
struct LbaFormat {
    uint16_t ms;    // metadata bytes per LBA
    uint8_t lbads;  // LBA data size, 2^n bytes; 0 = format not available
    uint8_t rp;     // bits 1:0 relative performance
};
static_assert(sizeof(LbaFormat) == 4);

// 5.15.2.1 Identify namespace data structure (figure 245), the fields used.
struct IdentifyNamespace {
    uint64_t nsze;              // 0: namespace size in logical blocks
    uint64_t ncap;              // 8: capacity
    uint64_t nuse;              // 16: utilisation
    uint8_t nsfeat;             // 24
    uint8_t nlbaf;              // 25: number of LBA formats, 0-based
    uint8_t flbas;              // 26: bits 3:0 format in use; bit 4 metadata at end of LBA
    uint8_t mc;                 // 27
    uint8_t dpc;                // 28
    uint8_t dps;                // 29
    uint8_t reserved30[98];     // 30..127
    LbaFormat lbaf[16];         // 128..191
    uint8_t reserved192[3904];  // 192..4095
};
static_assert(sizeof(IdentifyNamespace) == IDENTIFY_SIZE);
static_assert(offsetof(IdentifyNamespace, flbas) == 26);
static_assert(offsetof(IdentifyNamespace, lbaf) == 128);
constexpr uint32_t flbas_format(uint8_t flbas) { return flbas & 0xf; }

// 5.15.2.3 Active namespace ID list: up to 1024 NSIDs in increasing order, zero terminated.
constexpr uint32_t ACTIVE_LIST_ENTRIES = IDENTIFY_SIZE / 4;

// 4.3 PRP entries: bits 1:0 must be zero; every entry but the first carries no page offset. A
// PRP list page holds PAGE_SIZE / 8 entries; its last entry points to the next list page when
// more entries remain.
constexpr uint32_t PRP_ENTRIES_PER_PAGE = PAGE_SIZE / 8;

}  // namespace lamina::nvme::spec
