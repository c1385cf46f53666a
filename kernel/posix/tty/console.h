// The console tty: the line discipline (line_discipline.h) on the serial port, as the file
// object behind /dev/console, /dev/tty and the first program's standard descriptors.
//
// Input comes from the UART's receive interrupt (serial::set_receiver) and is cooked there;
// readers sleep until their read can be satisfied (interruptibly: EINTR on a signal), with
// VTIME timeouts in non-canonical mode. Output is processed (ONLCR, ...) and written under the
// tty lock, so echo and program output keep their order.
//
// Locking: the tty lock (a Spinlock: the interrupt path takes it) guards the line discipline.
// Order: the serial receive lock, then the tty lock, then the serial transmit lock; the read
// wait queue and the poll queue are only woken after the tty lock is dropped. Signals the line
// discipline raises are collected under the lock and sent after it is released: from an ioctl
// directly, from the receive interrupt through the "tty-signals" kernel thread.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/ref_ptr.h>
#include <lamina/result.h>

#include "kernel/posix/fd/file_object.h"

namespace lamina::posix {

// Creates the console tty and attaches it to the serial receiver (once, at POSIX init; the
// UART's receive interrupt is turned on here too).
Result<void> init_console();
// The console's file object, for /dev/console, /dev/tty and the first process's descriptors
// 0-2 (open with O_RDWR). Null before init_console().
RefPtr<FileObject> console_file();
// Wakes the console's sleeping readers so that they notice a pending signal.
void console_wake_readers();

}  // namespace lamina::posix
