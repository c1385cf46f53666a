#include "kernel/sched/thread.h"

#include <new>

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/lib/log.h"
#include "kernel/sched/scheduler.h"

extern "C" void thread_trampoline();

namespace lamina::sched {

namespace {
uint64_t g_next_id = 1;

void copy_name(char (&dst)[32], const char* src) {
    size_t i = 0;
    for (; src && src[i] && i < sizeof(dst) - 1; i++) dst[i] = src[i];
    dst[i] = 0;
}
}  // namespace

Result<Thread*> Thread::allocate(const char* name, size_t stack_size) {
    auto* t = new (std::nothrow) Thread();
    if (!t) return Errno::NoMem;
    copy_name(t->name_, name);
    t->id_ = __atomic_fetch_add(&g_next_id, 1, __ATOMIC_RELAXED);
    if (stack_size) {
        auto stack = mm::alloc_kernel_stack(stack_size);
        if (stack.is_error()) {
            delete t;
            return stack.error();
        }
        t->stack_ = stack.value();
        t->owns_stack_ = true;
    }
    return t;
}

// The first switch to a thread pops six zeroed callee-saved registers (rbp = 0 ends backtraces)
// and returns into thread_trampoline; the two words above keep the stack 16-byte aligned at the
// call into C++.
void Thread::prepare_first_switch() {
    auto* sp = reinterpret_cast<uint64_t*>(stack_.top) - 9;
    for (int i = 0; i < 9; i++) sp[i] = 0;
    sp[6] = reinterpret_cast<uint64_t>(&thread_trampoline);
    saved_rsp_ = reinterpret_cast<uint64_t>(sp);
}

void Thread::free_resources() {
    if (owns_stack_) mm::free_kernel_stack(stack_);
    delete this;
}

Result<Thread*> Thread::create(const char* name, Entry entry, void* arg, Priority priority) {
    ThreadOptions options;
    options.priority = priority;
    return create(name, entry, arg, options);
}

Result<Thread*> Thread::create(const char* name, Entry entry, void* arg, const ThreadOptions& options) {
    if (!entry) return Errno::Inval;
    if (unsigned(options.priority) >= PRIORITY_LEVELS) return Errno::Inval;
    if (options.stack_size < 4096) return Errno::Inval;
    if (options.cpu != ANY_CPU && (options.cpu < 0 || unsigned(options.cpu) >= arch::cpu_count() ||
                                   !arch::cpu_by_index(unsigned(options.cpu)).online))
        return Errno::Inval;

    Thread* t = TRY(allocate(name, options.stack_size));
    t->entry_ = entry;
    t->arg_ = arg;
    t->priority_ = options.priority;
    t->pinned_cpu_ = options.cpu;
    t->detached_ = options.detached;
    t->faults_expected_ = options.faults_expected;

    t->prepare_first_switch();
    Scheduler::enqueue_new(t);
    return t;
}

ExitReason Thread::join() {
    KASSERT(!detached_);
    KASSERT(this != current_thread());
    // Dead is not enough: until on_cpu_ drops, the CPU it died on is still switching off its
    // stack. finish_switch clears on_cpu_ under exit_waiters_'s lock.
    exit_waiters_.wait([this] { return state() == ThreadState::Dead && !on_cpu_; });
    ExitReason reason = exit_reason_;
    free_resources();
    return reason;
}

}  // namespace lamina::sched
