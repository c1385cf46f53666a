#include "kernel/dev/serial.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/ioapic.h"
#include "kernel/arch/x86_64/lapic.h"
#include "kernel/irq/irq.h"
#include "kernel/sync/spinlock.h"

namespace lamina::serial {

namespace {
constexpr uint16_t COM1 = 0x3f8;
constexpr uint8_t COM1_IRQ = 4;
// Register offsets (16550 datasheet).
constexpr uint16_t DATA = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5;
constexpr uint8_t LSR_DATA_READY = 0x01, LSR_THR_EMPTY = 0x20;
constexpr uint8_t IER_RX_AVAILABLE = 0x01, IER_LINE_STATUS = 0x04;
constexpr uint8_t IIR_NONE_PENDING = 0x01;

// --- transmit ---------------------------------------------------------------------------------

// A test-and-set lock rather than a Spinlock: the panic path must be able to skip it.
volatile int g_tx_lock = 0;
volatile bool g_panicking = false;
// Who wrote last, and whether the tty left its line unfinished (tx lock).
bool g_last_was_tty = false;
bool g_tty_partial = false;

void put(uint8_t c) {
    while (!(cpu::inb(COM1 + LSR) & LSR_THR_EMPTY)) cpu::pause();
    cpu::outb(COM1 + DATA, c);
}

// --- receive ----------------------------------------------------------------------------------

Spinlock g_rx_lock;
uint8_t g_ring[RECEIVE_RING];   // g_rx_lock
size_t g_ring_head = 0;         // g_rx_lock
size_t g_ring_len = 0;          // g_rx_lock
Receiver g_receiver = nullptr;  // g_rx_lock
void* g_receiver_ctx = nullptr;
Stats g_stats{};  // g_rx_lock

// Reads every byte the FIFO holds into the ring (rx lock held).
void pull_fifo() {
    while (cpu::inb(COM1 + LSR) & LSR_DATA_READY) {
        uint8_t c = cpu::inb(COM1 + DATA);
        g_stats.received++;
        if (g_ring_len == RECEIVE_RING) {
            g_stats.dropped++;
            continue;
        }
        g_ring[(g_ring_head + g_ring_len) % RECEIVE_RING] = c;
        g_ring_len++;
    }
}

// Offers the ring to the receiver, contiguous piece by piece (rx lock held).
void offer_ring() {
    while (g_receiver && g_ring_len > 0) {
        size_t first = RECEIVE_RING - g_ring_head;
        size_t n = g_ring_len < first ? g_ring_len : first;
        size_t took = g_receiver(g_receiver_ctx, g_ring + g_ring_head, n);
        if (took > n) took = n;
        g_ring_head = (g_ring_head + took) % RECEIVE_RING;
        g_ring_len -= took;
        if (g_ring_len == 0) g_ring_head = 0;
        if (took < n) break;
    }
}

void receive_interrupt(arch::InterruptFrame&) {
    g_rx_lock.lock_noirq();
    g_stats.interrupts++;
    // The IRQ is edge-triggered: the line only falls and rises again once nothing is pending,
    // so keep going until the UART says so.
    for (int rounds = 0; rounds < 64; rounds++) {
        uint8_t iir = cpu::inb(COM1 + IIR);
        if (iir & IIR_NONE_PENDING) break;
        (void)cpu::inb(COM1 + LSR);  // clears a line-status interrupt
        pull_fifo();
    }
    offer_ring();
    g_rx_lock.unlock_noirq();
    lapic::eoi();
}

}  // namespace

void init() {
    cpu::outb(COM1 + IER, 0x00);
    cpu::outb(COM1 + LCR, 0x80);   // DLAB: set the divisor
    cpu::outb(COM1 + DATA, 0x01);  // 115200 baud
    cpu::outb(COM1 + IER, 0x00);
    cpu::outb(COM1 + LCR, 0x03);  // 8N1
    cpu::outb(COM1 + FCR, 0x07);  // FIFOs on and cleared; interrupt from the first byte
    cpu::outb(COM1 + MCR, 0x0B);  // DTR, RTS, OUT2 (interrupt line gate)
}

uint64_t lock_output() {
    uint64_t flags = cpu::read_flags();
    cpu::cli();
    if (!g_panicking)
        while (__atomic_exchange_n(&g_tx_lock, 1, __ATOMIC_ACQUIRE)) cpu::pause();
    return flags;
}

void unlock_output(uint64_t flags) {
    __atomic_store_n(&g_tx_lock, 0, __ATOMIC_RELEASE);
    if (flags & (1u << 9)) cpu::sti();
}

void set_panicking() { g_panicking = true; }

void write_locked(const char* s, size_t n) {
    if (n == 0) return;
    if (g_last_was_tty && g_tty_partial) {
        put('\r');
        put('\n');
    }
    g_last_was_tty = false;
    g_tty_partial = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') put('\r');
        put(uint8_t(s[i]));
    }
}

void write(const char* s, size_t n) {
    uint64_t flags = lock_output();
    write_locked(s, n);
    unlock_output(flags);
}

void write_terminal(const uint8_t* data, size_t n) {
    if (n == 0) return;
    uint64_t flags = lock_output();
    for (size_t i = 0; i < n; i++) put(data[i]);
    g_last_was_tty = true;
    g_tty_partial = data[n - 1] != '\n';
    unlock_output(flags);
}

int read_byte() {
    uint64_t flags = g_rx_lock.lock();
    pull_fifo();
    int c = -1;
    if (g_ring_len > 0) {
        c = g_ring[g_ring_head];
        g_ring_head = (g_ring_head + 1) % RECEIVE_RING;
        if (--g_ring_len == 0) g_ring_head = 0;
    }
    g_rx_lock.unlock(flags);
    return c;
}

void set_receiver(Receiver receiver, void* ctx) {
    uint64_t flags = g_rx_lock.lock();
    g_receiver = receiver;
    g_receiver_ctx = ctx;
    offer_ring();
    g_rx_lock.unlock(flags);
}

void drain_receive() {
    uint64_t flags = g_rx_lock.lock();
    pull_fifo();
    offer_ring();
    g_rx_lock.unlock(flags);
}

Result<void> enable_receive_interrupt() {
    uint8_t vector = TRY(irq::allocate_vector());
    arch::set_interrupt_handler(vector, receive_interrupt);
    uint64_t flags = g_rx_lock.lock();
    auto gsi = ioapic::route_isa_irq(COM1_IRQ, vector, lapic::id());
    if (gsi.is_error()) {
        g_rx_lock.unlock(flags);
        (void)irq::free_vector(vector);
        return gsi.error();
    }
    // Whatever arrived while polling would never raise an edge: take it now.
    pull_fifo();
    cpu::outb(COM1 + IER, IER_RX_AVAILABLE | IER_LINE_STATUS);
    auto r = ioapic::unmask(gsi.value());
    g_rx_lock.unlock(flags);
    if (r.is_error()) {
        cpu::outb(COM1 + IER, 0);
        return r.error();
    }
    drain_receive();
    return {};
}

Stats stats() {
    uint64_t flags = g_rx_lock.lock();
    Stats s = g_stats;
    g_rx_lock.unlock(flags);
    return s;
}

}  // namespace lamina::serial
