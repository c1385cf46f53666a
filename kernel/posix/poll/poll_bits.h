// lamina:portable
// poll(2) and select(2) as Linux defines them on top of an object's readiness bits: which bits a
// pollfd reports back, and how select's three fd_sets map onto readiness (fs/select.c:
// POLLIN_SET, POLLOUT_SET, POLLEX_SET).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::posix {

// struct pollfd
struct PollFd {
    int32_t fd;
    int16_t events;
    int16_t revents;
};
static_assert(sizeof(PollFd) == 8);

namespace pollbits {
inline constexpr uint32_t In = 0x001, Pri = 0x002, Out = 0x004, Err = 0x008, Hup = 0x010, Nval = 0x020, RdNorm = 0x040,
                          RdBand = 0x080, WrNorm = 0x100, WrBand = 0x200, RdHup = 0x2000;
// What select counts as readable, writable, exceptional.
inline constexpr uint32_t InSet = RdNorm | RdBand | In | Hup | Err;
inline constexpr uint32_t OutSet = WrBand | WrNorm | Out | Err;
inline constexpr uint32_t ExSet = Pri;
}  // namespace pollbits

// The revents of one pollfd: what was asked for, plus the conditions that are always reported
// (POLLERR, POLLHUP; POLLNVAL is the caller's, for a descriptor that is not open). A negative
// fd is skipped (0).
inline int16_t poll_revents(int32_t fd, int16_t events, uint32_t ready) {
    if (fd < 0) return 0;
    uint32_t want = uint16_t(events) | pollbits::Err | pollbits::Hup;
    return int16_t(ready & want);
}

// select: bit fd of a set of longs (the kernel's fd_set is an array of unsigned long).
inline bool fd_isset(const uint64_t* set, int fd) { return set && (set[fd / 64] >> (fd % 64)) & 1; }
inline void fd_set_bit(uint64_t* set, int fd) { set[fd / 64] |= uint64_t(1) << (fd % 64); }
inline size_t fd_set_words(int nfds) { return size_t(nfds + 63) / 64; }

// The events select asks an object about for a descriptor in the given sets.
inline uint32_t select_interest(bool in, bool out, bool ex) {
    return (in ? pollbits::InSet : 0) | (out ? pollbits::OutSet : 0) | (ex ? pollbits::ExSet : 0);
}

// Sets the result bits for one descriptor from its readiness; returns how many were set (each
// set a descriptor lands in counts, as Linux's select return value does).
inline int select_results(int fd, uint32_t ready, bool in, bool out, bool ex, uint64_t* rin, uint64_t* rout,
                          uint64_t* rex) {
    int n = 0;
    if (in && (ready & pollbits::InSet)) {
        fd_set_bit(rin, fd);
        n++;
    }
    if (out && (ready & pollbits::OutSet)) {
        fd_set_bit(rout, fd);
        n++;
    }
    if (ex && (ready & pollbits::ExSet)) {
        fd_set_bit(rex, fd);
        n++;
    }
    return n;
}

}  // namespace lamina::posix
