// pipe and pipe2 (pipe_syscalls.cpp), for the table in syscalls.cpp.
#pragma once

#include <stdint.h>

namespace lamina::posix {

int64_t sys_pipe(uint64_t fds, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
int64_t sys_pipe2(uint64_t fds, uint64_t flags, uint64_t, uint64_t, uint64_t, uint64_t);

}  // namespace lamina::posix
