// The interrupt vector map. Every fixed vector the kernel uses is named here, so that no two
// subsystems pick the same one.
//
//   0x00-0x1F  CPU exceptions
//   0x20-0x2F  the legacy 8259 PICs, remapped here and masked: only their spurious interrupts
//              (IRQ 7 / IRQ 15) can still arrive, and they are counted and ignored
//   0x30-0xDF  device interrupts, handed out by the vector allocator (kernel/irq/irq.h)
//   0xE0-0xFF  fixed kernel vectors below
//
// The local APIC prioritises by vector >> 4, so the fixed vectors (class 0xE/0xF) outrank every
// device interrupt, and the spurious vector sits at 0xFF where its low four bits are all ones
// (required by older xAPICs).
#pragma once

#include <stdint.h>

namespace lamina::irq {

inline constexpr uint8_t kPicMasterBase = 0x20;
inline constexpr uint8_t kPicSlaveBase = 0x28;

inline constexpr uint8_t kDeviceVectorFirst = 0x30;
inline constexpr uint8_t kDeviceVectorLast = 0xDF;

inline constexpr uint8_t kVectorLapicTimer = 0xF0;     // per-CPU tick and one-shot timers
inline constexpr uint8_t kVectorReschedule = 0xF8;     // IPI: run the scheduler on return
inline constexpr uint8_t kVectorCallFunction = 0xF9;   // IPI: run a queued function
inline constexpr uint8_t kVectorTlbShootdown = 0xFA;   // IPI: invalidate TLB entries
inline constexpr uint8_t kVectorHalt = 0xFB;           // IPI: stop this CPU (panic, power-off)
inline constexpr uint8_t kVectorApicError = 0xFE;      // local APIC LVT error
inline constexpr uint8_t kVectorSpurious = 0xFF;       // local APIC spurious interrupt

}  // namespace lamina::irq
