// PROVISIONAL until the interrupt branch provides time::now_ns and one-shot timers.
#include "kernel/sched/timeout.h"

#include "kernel/lib/log.h"

namespace lamina::sched {

uint64_t timeout_now_ns() { return 0; }
uint64_t timeout_deadline_after(uint64_t ns) { return ns + 1; }
void arm_timeout(Thread*, WaitQueue*, uint64_t) { panic("timed waits need the timer"); }
void disarm_timeout(Thread*) {}

}  // namespace lamina::sched
