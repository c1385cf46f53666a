// The scheduler's inter-processor interrupts (vectors fixed in kernel/irq/vectors.h).
#pragma once

#include <stdint.h>

#include "kernel/arch/x86_64/percpu.h"

namespace lamina::sched::ipi {

constexpr uint8_t RESCHEDULE_VECTOR = 0xF8;

// Asks cpu to run its scheduler (it may be halted in its idle loop).
void send_reschedule(arch::Cpu& cpu);
// Ends the interrupt being handled on this CPU.
void eoi();

}  // namespace lamina::sched::ipi
