// Interrupt controller bring-up and device vector allocation.
//
// irq::init() (boot CPU, after the IDT and the memory manager, before time::init): masks the
// legacy PICs, enables the local APIC, masks every IO APIC input.
//
// Device vectors (0x30-0xDF, see vectors.h) are shared by all CPUs (one IDT): a driver
// allocates one (or an aligned block for multi-message MSI), installs its handler with
// arch::set_interrupt_handler, and points its IO APIC input or MSI at it. Its handler must call
// lapic::eoi().
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::irq {

Result<void> init();

// NoSpc when exhausted; allocate_vectors: Inval unless count is a power of two up to 32.
Result<uint8_t> allocate_vector();
Result<uint8_t> allocate_vectors(unsigned count);
// Inval for a vector that is not allocated (nothing is freed then).
Result<void> free_vector(uint8_t vector);
Result<void> free_vectors(uint8_t first, unsigned count);
size_t free_vector_count();

}  // namespace lamina::irq
