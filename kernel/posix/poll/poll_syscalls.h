// The poll family's system-call handlers (poll_syscalls.cpp), for the table in syscalls.cpp.
#pragma once

#include <stdint.h>

namespace lamina::posix {

struct TimeSpecArg {
    int64_t sec, nsec;
};

int64_t sys_poll(uint64_t fds, uint64_t nfds, uint64_t timeout_ms, uint64_t, uint64_t, uint64_t);
int64_t sys_ppoll(uint64_t fds, uint64_t nfds, uint64_t tsp, uint64_t sigmask, uint64_t sigsetsize, uint64_t);
int64_t sys_select(uint64_t nfds, uint64_t in, uint64_t out, uint64_t ex, uint64_t tvp, uint64_t);
int64_t sys_pselect6(uint64_t nfds, uint64_t in, uint64_t out, uint64_t ex, uint64_t tsp, uint64_t sig);

}  // namespace lamina::posix
