// The sampling profiler: while it runs, each CPU's timer interrupt records where the CPU was
// (the interrupted instruction, and for kernel and domain code the frame-pointer chain above
// it) into that CPU's sample buffer. /proc/profile starts and stops it and prints the samples
// raw; tools/profile symbolizes them against lamina.elf, the domains' ELF files and the user
// program, and prints a flat profile or folded stacks (bench/README.md, "Profiling").
//
// Sampling rides on the LAPIC timer the tick uses (no NMI): while profiling, every CPU's timer
// is armed at least once per sample period, so a CPU that runs with interrupts off is seen only
// when it turns them back on (as with any timer-based profiler). Idle CPUs are sampled too (in
// the idle loop), so a flat profile shows how busy the machine was.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/format.h>
#include <lamina/result.h>

namespace lamina::arch {
struct InterruptFrame;
}

namespace lamina::profile {

inline constexpr unsigned DEFAULT_HZ = 1000;
inline constexpr unsigned MAX_HZ = 10000;
// Per CPU; when a CPU's buffer is full its later samples are counted as dropped.
inline constexpr size_t SAMPLES_PER_CPU = 16384;
// Frames recorded per sample: the interrupted instruction and up to DEPTH - 1 return addresses.
inline constexpr size_t DEPTH = 8;

// Who the interrupted thread runs for, when it is a user process: its pid and the program's
// name. Registered by the POSIX layer; called in interrupt context on the current thread.
using UserIdentify = void (*)(void* process, uint32_t* pid, char* name, size_t name_size);
void set_user_identify(UserIdentify identify);

// `start [HZ]` (clears earlier samples), `stop`, `reset` (clears; only when stopped). Inval for
// anything else or an HZ out of 1..MAX_HZ; Busy for reset or start while running; NoMem when
// the buffers cannot be allocated.
Result<void> control(const char* command, size_t n);
Result<void> start(unsigned hz);
void stop();
bool running();

// Called from the timer interrupt on every CPU (interrupts off).
void on_timer_interrupt(const arch::InterruptFrame& frame, uint64_t now_ns);
// The latest time at which this CPU's timer must next fire for the profile; UINT64_MAX when
// not profiling.
uint64_t next_sample_ns();

// The /proc/profile text: a header line, then one line per sample (format in profile.cpp).
void format(FormatSink& out);

// Samples recorded so far (all CPUs) and those dropped for want of space.
size_t sample_count();
size_t dropped_count();

}  // namespace lamina::profile
