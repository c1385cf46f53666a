// Runs a test body on a fresh kernel thread (its own guarded stack, so a domain that overflows
// or faults takes only that thread's stack with it) and waits for the thread to return.
#pragma once

#include "kernel/ktest/ktest.h"
#include "kernel/sched/thread.h"

namespace lamina::ktest {

template <typename Fn>
void on_thread(Context& ktest_ctx, const char* name, Fn fn) {
    auto thunk = [](void* p) { (*static_cast<Fn*>(p))(); };
    auto t = sched::Thread::create(name, thunk, &fn);
    KASSERT_TRUE(t.is_ok());
    KEXPECT(t.value()->join() == sched::ExitReason::Returned);
}

}  // namespace lamina::ktest
