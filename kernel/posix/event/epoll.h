// epoll: an interest list of (descriptor, open file description) pairs over the objects'
// PollQueues. docs/sockets.md describes the bookkeeping; the rules are Linux's:
// - An item is keyed by its file description and the descriptor number it was added under;
//   it goes away by EPOLL_CTL_DEL or when the description's last reference is closed (dup'd
//   or inherited descriptors keep it alive).
// - Level-triggered items are reported whenever their file is ready for what they ask;
//   edge-triggered ones (EPOLLET) only after a readiness change notified since their last
//   report (and once right after ADD or MOD); EPOLLONESHOT disables an item after one report
//   until EPOLL_CTL_MOD re-arms it. EPOLLERR and EPOLLHUP are always reported.
#pragma once

#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"

namespace lamina::posix {

namespace epoll {
inline constexpr uint32_t In = 0x001, Pri = 0x002, Out = 0x004, Err = 0x008, Hup = 0x010, RdNorm = 0x040,
                          RdBand = 0x080, WrNorm = 0x100, WrBand = 0x200, Msg = 0x400, RdHup = 0x2000,
                          Exclusive = 1u << 28, WakeUp = 1u << 29, OneShot = 1u << 30, Et = 1u << 31;
inline constexpr int CtlAdd = 1, CtlDel = 2, CtlMod = 3;
inline constexpr uint32_t CloExec = 02000000;
}  // namespace epoll

// struct epoll_event: packed on x86-64.
struct __attribute__((packed)) EpollEvent {
    uint32_t events;
    uint64_t data;
};
static_assert(sizeof(EpollEvent) == 12);

void init_epoll();
Result<RefPtr<OpenFile>> make_epoll();
// epoll_ctl on the epoll description `ep`: `fd`/`target` the descriptor and its description.
Result<void> epoll_control(OpenFile& ep, int op, int fd, RefPtr<OpenFile> target, const EpollEvent* ev);
// Up to `max` ready events into `out`; sleeps until one, a signal (EINTR) or `deadline`
// (absolute ns; 0 polls once; ~0 never).
Result<int> epoll_collect(OpenFile& ep, EpollEvent* out, int max, uint64_t deadline);

}  // namespace lamina::posix
