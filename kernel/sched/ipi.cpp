// PROVISIONAL until the local APIC driver lands.
#include "kernel/sched/ipi.h"

namespace lamina::sched::ipi {

void send_reschedule(arch::Cpu&) {}
void eoi() {}

}  // namespace lamina::sched::ipi
