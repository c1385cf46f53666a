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

inline constexpr uint8_t PIC_MASTER_BASE = 0x20;
inline constexpr uint8_t PIC_SLAVE_BASE = 0x28;

inline constexpr uint8_t DEVICE_VECTOR_FIRST = 0x30;
inline constexpr uint8_t DEVICE_VECTOR_LAST = 0xDF;

inline constexpr uint8_t VECTOR_LAPIC_TIMER = 0xF0;    // per-CPU tick and one-shot timers
inline constexpr uint8_t VECTOR_RESCHEDULE = 0xF8;     // IPI: run the scheduler on return
inline constexpr uint8_t VECTOR_CALL_FUNCTION = 0xF9;  // IPI: run a queued function
inline constexpr uint8_t VECTOR_TLB_SHOOTDOWN = 0xFA;  // IPI: invalidate TLB entries
inline constexpr uint8_t VECTOR_HALT = 0xFB;           // IPI: stop this CPU (panic, power-off)
inline constexpr uint8_t VECTOR_APIC_ERROR = 0xFE;     // local APIC LVT error
inline constexpr uint8_t VECTOR_SPURIOUS = 0xFF;       // local APIC spurious interrupt

}  // namespace lamina::irq
