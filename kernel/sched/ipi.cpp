#include "kernel/sched/ipi.h"

#include "kernel/arch/x86_64/lapic.h"
#include "kernel/irq/vectors.h"

namespace lamina::sched::ipi {

static_assert(RESCHEDULE_VECTOR == irq::VECTOR_RESCHEDULE);

void send_reschedule(arch::Cpu& cpu) {
    if (cpu.online) lapic::send_ipi(cpu.apic_id, RESCHEDULE_VECTOR);
}

void eoi() { lapic::eoi(); }

}  // namespace lamina::sched::ipi
