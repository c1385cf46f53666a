// The kernel log: formatted lines on the console. Safe to call from any context (it takes the
// console lock with interrupts saved; the panic path bypasses the lock).
#pragma once

#include <lamina/assert.h>
#include <lamina/format.h>

namespace lamina {

[[gnu::format(printf, 1, 2)]] void kprintf(const char* fmt, ...);
void kvprintf(const char* fmt, va_list ap);

// Lines about user programs (their faults, calls the kernel lacks) are Linux's KERN_INFO (6):
// always in the kernel log, on the console only when the console log level is above 6. The
// level is the command line's `loglevel=N`, 4 by default (Linux's `quiet`), so they do not
// interleave with the programs' own output.
inline constexpr int LOGLEVEL_INFO = 6;
inline constexpr int LOGLEVEL_DEFAULT = 4;
void set_console_loglevel(int level);
[[gnu::format(printf, 1, 2)]] void kinfo(const char* fmt, ...);

// The kernel log as dmesg sees it: the last 64 KiB of output since the last clear. log_read
// copies the newest `size` bytes of it (oldest first) and returns how many; clear also empties it.
size_t log_read(char* buf, size_t size, bool clear = false);
size_t log_unread_size();
void log_clear();

// Halts every CPU after printing the message, the caller's registers and a symbolized backtrace.
[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* fmt, ...);

}  // namespace lamina

// The kernel's name for LAMINA_ASSERT (a failure panics through assertion_failed, log.cpp).
#define KASSERT(cond) LAMINA_ASSERT(cond)
