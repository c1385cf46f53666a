// What the process layer needs of futexes (kernel/posix/sys_futex.cpp has the system call).
#pragma once

#include <stdint.h>

#include "kernel/posix/address_space.h"

namespace lamina::posix {

struct Task;

// Wakes up to count waiters on the private futex at addr in as (CLONE_CHILD_CLEARTID's wake
// at a thread's exit: what pthread_join waits for).
void futex_wake_word(AddressSpace& as, uint64_t addr, uint32_t count);

// Marks the robust mutexes the exiting thread t still holds FUTEX_OWNER_DIED and wakes a waiter
// of each (the thread's address space still loaded).
void release_robust_list(Task& t);

}  // namespace lamina::posix
