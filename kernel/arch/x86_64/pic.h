// The legacy 8259A interrupt controllers. Lamina routes device interrupts through the IO APICs,
// so the PICs are only remapped away from the exception vectors and fully masked: a spurious
// IRQ 7 or 15 (which a PIC raises even when masked, if a line glitches) then arrives at a
// harmless vector instead of looking like a #DF or a #GP.
#pragma once

#include <stdint.h>

namespace lamina::pic {

// Remaps the master to irq::PIC_MASTER_BASE, the slave to irq::PIC_SLAVE_BASE, masks every line,
// and installs handlers that count (and ignore) anything arriving there.
void remap_and_mask();

// Interrupts that arrived from the PICs despite the masking (spurious ones included).
uint64_t stray_count();

}  // namespace lamina::pic
