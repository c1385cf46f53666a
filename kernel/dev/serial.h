// The 16550 UART on COM1: the kernel console on every boot path, and the terminal the console
// tty (kernel/posix/tty/console.h) runs on.
//
// Output is polled (QEMU's transmitter is always ready; a real one drains 16 bytes in ~1.4 ms).
// Two writers share it: the kernel log and the tty. Each write is one exclusive burst under the
// transmit lock, so a log line never lands inside a tty write; and when the tty has left a
// partial line (a prompt, an echoed half line) the log starts its text on a fresh line, so that
// its lines stay whole and recognisable.
//
// Input arrives by interrupt (ISA IRQ 4 through the IO APIC, from enable_receive_interrupt()
// on): the handler empties the receive FIFO into a ring, then hands the ring to the receiver
// (the console tty) if one is attached. Bytes typed before a receiver exists, or while the
// receiver is busy, wait in the ring (up to RECEIVE_RING of them; later ones are counted as
// dropped).
//
// Lock order: the receive lock, then whatever the receiver takes (the tty lock), then the
// transmit lock. The transmit lock is taken alone by the log.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::serial {

inline constexpr size_t RECEIVE_RING = 4096;

void init();

// Kernel text: '\n' becomes "\r\n". Takes the transmit lock (see log.cpp for whole lines).
void write(const char* s, size_t n);

// Exclusive use of the transmitter for a sequence of kernel writes (one log line): returns the
// interrupt flag to give back. While panicking the lock is skipped (the holder may be stuck).
[[nodiscard]] uint64_t lock_output();
void unlock_output(uint64_t flags);
// write() for a caller that holds the output lock.
void write_locked(const char* s, size_t n);
// The panic path: no more locking from here on.
void set_panicking();

// Terminal output, already processed by the line discipline: bytes go out unchanged.
void write_terminal(const uint8_t* data, size_t n);

// Non-blocking: the oldest byte received and not yet taken by a receiver, or -1.
int read_byte();

// Called in interrupt context with the bytes received; returns how many it took (the rest stay
// in the ring and are offered again with the next interrupt or drain_receive()).
using Receiver = size_t (*)(void* ctx, const uint8_t* data, size_t n);
// Attaches the receiver and offers it what the ring already holds.
void set_receiver(Receiver receiver, void* ctx);
// Offers the ring's content to the receiver again (after it made room).
void drain_receive();

// Routes COM1's IRQ to a vector on the calling CPU and turns on the receive interrupt. After
// irq::init and the scheduler; before it, input is only available through read_byte().
Result<void> enable_receive_interrupt();

struct Stats {
    uint64_t interrupts;
    uint64_t received;
    uint64_t dropped;  // ring full
};
Stats stats();

}  // namespace lamina::serial
