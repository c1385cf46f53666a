// Kernel threads. A thread runs entry(arg) on its own guarded kernel stack; it ends when entry
// returns or it calls thread_exit(), or (for threads created with faults_expected) when it takes
// a CPU exception, which is reported and contained to it.
//
// Ownership: the scheduler owns every Thread. create() returns a handle that stays valid until
// join() (which frees the thread) or, for a detached thread, until the thread ends (the reaper
// frees it). A joinable thread must be joined exactly once.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/arch/x86_64/percpu.h"
#include "kernel/mm/memory.h"
#include <lamina/intrusive_list.h>
#include "kernel/sched/wait_queue.h"
#include "kernel/time/time.h"

namespace lamina::sched {

// Higher runs first; equal priorities share the CPU round-robin.
enum class Priority : uint8_t { Low = 0, Normal = 1, High = 2 };
constexpr unsigned PRIORITY_LEVELS = 3;

enum class ThreadState : uint8_t {
    Runnable,  // on a run queue
    Running,   // current on some CPU
    Blocked,   // waiting (wait queue, mutex, sleep)
    Dead,      // finished; its stack goes back once the CPU has switched away
};

enum class ExitReason : uint8_t { Running, Returned, Exited, Faulted };

constexpr int ANY_CPU = -1;

struct ThreadOptions {
    Priority priority = Priority::Normal;
    int cpu = ANY_CPU;             // pin to this CPU index; ANY_CPU: the least loaded CPU
    bool detached = false;         // freed by the reaper when it ends; never joined
    bool faults_expected = false;  // a CPU exception ends this thread instead of the kernel
    // 32 KiB: a system call that finds the fs domain dead remounts through the fresh instance
    // (ext3's journal load) and the nvme driver on its own stack, about 9 KiB of frames on top
    // of the call's; 16 KiB overflowed under the fault-injection soak (RELIABILITY.md).
    size_t stack_size = 32768;
};

class Thread;
void thread_start(Thread* prev);
Thread* adopt_boot_thread(arch::Cpu& cpu);
Thread* make_idle_thread(arch::Cpu& cpu, const mm::KernelStack* stack);
void init();
[[noreturn]] void run_ap(arch::Cpu& cpu, const mm::KernelStack& stack);

class Thread {
public:
    using Entry = void (*)(void* arg);

    static Result<Thread*> create(const char* name, Entry entry, void* arg, Priority priority = Priority::Normal);
    static Result<Thread*> create(const char* name, Entry entry, void* arg, const ThreadOptions& options);

    // Waits for the thread to end, frees it, and says how it ended. Not for detached threads,
    // nor for the calling thread itself.
    ExitReason join();

    const char* name() const { return name_; }
    uint64_t id() const { return id_; }
    ThreadState state() const { return __atomic_load_n(&state_, __ATOMIC_ACQUIRE); }
    Priority priority() const { return priority_; }
    int pinned_cpu() const { return pinned_cpu_; }
    bool faults_expected() const { return faults_expected_; }
    ExitReason exit_reason() const { return exit_reason_; }
    // The CPU whose run queue the thread belongs to.
    unsigned cpu_index() const { return cpu_->index; }
    const mm::KernelStack& stack() const { return stack_; }
    // The innermost continuation of the thread's domain calls (kernel/domain); null outside any.
    void* domain_call_top() const { return domain_call_top_; }
    void set_domain_call_top(void* c) { domain_call_top_ = c; }
    // CPU time the thread has had: the sum of its stays on a CPU, measured at each switch, plus
    // the current stay while it runs (a racy but bounded read from another CPU).
    uint64_t cpu_ns() const;

    // Ring-3 state of a thread that runs a user program (kernel/posix); null for a kernel thread.
    // The scheduler loads cr3 and the FS base when it switches to such a thread and saves the FS
    // base when it switches away; switching to a kernel thread loads the kernel's cr3, so a
    // freed address space is never left loaded. Set and cleared by the thread itself with
    // interrupts off.
    struct UserState {
        uint64_t cr3;
        uint64_t fs_base;
        void* process;
        uint8_t* fpu;  // 512-byte, 16-aligned FXSAVE area for the x87/SSE registers
    };
    UserState* user_state() const { return user_; }
    void set_user_state(UserState* user) { user_ = user; }

    Thread(const Thread&) = delete;
    Thread& operator=(const Thread&) = delete;

private:
    friend class Scheduler;
    friend class WaitQueue;
    friend class Mutex;
    friend struct ThreadList;
    friend struct WaitList;
    friend void thread_start(Thread* prev);
    friend Thread* adopt_boot_thread(arch::Cpu& cpu);
    friend Thread* make_idle_thread(arch::Cpu& cpu, const mm::KernelStack* stack);
    friend void init();
    friend void run_ap(arch::Cpu& cpu, const mm::KernelStack& stack);
    friend void arm_timeout(Thread* t, WaitQueue* q, uint64_t deadline_ns);
    friend void disarm_timeout(Thread* t);
    friend void timeout_expired(Thread* t);

    Thread() = default;
    static Result<Thread*> allocate(const char* name, size_t stack_size);
    void free_resources();
    void prepare_first_switch();

    uint64_t saved_rsp_ = 0;  // valid while the thread is switched out
    mm::KernelStack stack_{};
    bool owns_stack_ = false;
    Entry entry_ = nullptr;
    void* arg_ = nullptr;
    char name_[32] = {};
    uint64_t id_ = 0;
    ThreadState state_ = ThreadState::Runnable;
    Priority priority_ = Priority::Normal;
    int pinned_cpu_ = ANY_CPU;
    bool detached_ = false;
    bool faults_expected_ = false;
    bool idle_ = false;
    ExitReason exit_reason_ = ExitReason::Running;
    arch::Cpu* cpu_ = nullptr;
    // True from the moment a CPU switches to the thread until the next thread on that CPU has
    // finished switching away from it: until then its saved_rsp_ is not valid and its stack is
    // in use, so no other CPU may run it and nobody may free it.
    volatile bool on_cpu_ = false;
    uint64_t cpu_ns_ = 0;     // CPU time of the finished stays (written by its CPU at a switch)
    uint64_t ran_since_ = 0;  // when the current stay began

    ListNode run_link_;   // run queue link (RunQueue lock)
    ListNode wait_link_;  // wait list link (the owning WaitQueue's or Mutex's lock)
    WaitQueue* waiting_on_ = nullptr;
    bool wait_timed_out_ = false;
    // A timed wait's wake-up (timeout.cpp): the queue it waits on and the timer.
    WaitQueue* timeout_queue_ = nullptr;
    time::Timer timeout_timer_;

    WaitQueue exit_waiters_;  // join() waits here
    Thread* zombie_next_ = nullptr;
    void* domain_call_top_ = nullptr;  // owned by kernel/domain
    UserState* user_ = nullptr;
};

Thread* current_thread();

// Gives the CPU to another runnable thread of the same or higher priority, if any.
void yield();
// Ends the calling thread.
[[noreturn]] void thread_exit();
// Blocks for at least ns nanoseconds.
void sleep_ns(uint64_t ns);

}  // namespace lamina::sched
