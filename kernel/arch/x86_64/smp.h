// Multiprocessor support: starting the application processors, TLB shoot-down, and stopping
// every CPU on a panic.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::smp {

// Physical page of the AP start-up code (below 1 MiB; the frame allocator never hands it out).
constexpr uint64_t AP_TRAMPOLINE_PHYS = 0x8000;

// Starts every usable CPU in the MADT (INIT-SIPI-SIPI, one at a time) and waits for each to
// enter its scheduler; a CPU that does not come up in time is reported and left out. Needs the
// scheduler, the local APIC and the clock on the boot CPU.
void start_aps();

// Invalidates [virt, virt + size) in every other online CPU's TLB and waits until each has done
// so (registered with mm::set_tlb_shootdown; the caller flushes its own TLB). Must be called
// without spinlocks held: a CPU spinning with interrupts off on a lock the caller holds could not
// acknowledge. Concurrent shoot-downs are serialised; a CPU waiting for its turn serves requests
// aimed at it, so two CPUs shooting down at once do not wait for each other.
void tlb_shootdown(uintptr_t virt, size_t size);
uint64_t tlb_shootdowns_received();

// Sends the halt IPI to every other CPU (the panic path). Harmless before APs are up.
void halt_other_cpus();

}  // namespace lamina::smp
