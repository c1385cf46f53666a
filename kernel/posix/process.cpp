#include "kernel/posix/process.h"

#include <new>

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/posix/file_locks.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/registers.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/boot_files.h"
#include "kernel/posix/elf_exec.h"
#include "kernel/posix/exec_cache.h"
#include "kernel/posix/files.h"
#include "kernel/posix/futex.h"
#include "kernel/posix/random.h"
#include "kernel/posix/script.h"
#include "kernel/posix/signal.h"
#include "kernel/posix/user_access.h"
#include "kernel/sync/spinlock.h"

extern "C" [[noreturn]] void enter_user_mode(uint64_t rip, uint64_t rsp);

namespace lamina::posix {

namespace detail {
Process* g_processes[MAX_PROCESSES];  // g_processes_lock
}
using detail::g_processes;
using detail::MAX_PROCESSES;

namespace {

constexpr uint64_t PAGE = mm::PAGE_SIZE;
constexpr uint64_t STACK_SIZE = 8ull << 20;
constexpr int MAX_SCRIPT_DEPTH = 4;  // #! interpreters of #! interpreters (Linux: 4)
// How long fork waits at most for the child to exec, end, sleep or stop (fork_current).
constexpr uint64_t FORK_HEAD_START_NS = 20'000'000;

// Lock order: taken first (see process.h).
Spinlock g_processes_lock;
uint32_t g_next_pid = 1;    // g_processes_lock
uint32_t g_init_pid = 0;    // g_processes_lock
sched::WaitQueue g_events;  // process exits, stops, continues, vfork releases

// Writes bytes into the address space through the frames' direct-map addresses (the address
// space need not be loaded, and must be fresh: this bypasses copy-on-write).
Result<void> write_to_space(AddressSpace& as, uint64_t virt, const void* data, size_t n) {
    auto* src = static_cast<const uint8_t*>(data);
    while (n) {
        uint64_t page = virt & ~(PAGE - 1);
        size_t off = size_t(virt - page);
        size_t k = PAGE - off < n ? PAGE - off : n;
        uint64_t phys = TRY(as.populate(page));
        __builtin_memcpy(static_cast<uint8_t*>(mm::phys_to_virt(phys)) + off, src, k);
        src += k;
        virt += k;
        n -= k;
    }
    return {};
}

uint32_t segment_prot(const LoadSegment& s) {
    return (s.read ? Prot::Read : 0) | (s.write ? Prot::Write : 0) | (s.exec ? Prot::Exec : 0);
}

struct Loaded {
    uint64_t entry, rsp;
    RefPtr<ArgText> args;  // the final argv (after #! rewriting), for /proc/PID/cmdline
};

struct ProgramArgs {
    const char* const* argv;
    size_t argc;
    const char* const* envp;
    size_t envc;
    // In: the credentials of the caller; out: what execve makes of them for the program found.
    Cred* cred;
    bool secure = false;  // set by load_resolved (AT_SECURE)
};

// The program's bytes: a boot module's from memory, a VFS file's through its inode.
class ExecutableReader final : public ExecReader {
public:
    explicit ExecutableReader(const ExecutableFile& f) : f_(f) {}
    uint64_t size() const override { return f_.size; }
    Result<void> read(uint64_t offset, void* dst, size_t n) override {
        if (f_.owned.inode) return f_.owned.read(offset, dst, n);
        if (offset > f_.size || n > f_.size - offset) return Errno::Inval;
        __builtin_memcpy(dst, f_.data + offset, n);
        return {};
    }

private:
    const ExecutableFile& f_;
};

// A segment's file bytes into the space, streamed through a bounded buffer for VFS files.
Result<void> copy_segment(AddressSpace& as, const ExecutableFile& file, const LoadSegment& s) {
    if (!file.owned.inode) return write_to_space(as, s.vaddr, file.data + s.offset, s.filesz);
    constexpr size_t CHUNK = 64 << 10;
    size_t cap = s.filesz < CHUNK ? size_t(s.filesz) : CHUNK;
    auto* buffer = static_cast<uint8_t*>(mm::kmalloc(cap ? cap : 1));
    if (!buffer) return Errno::NoMem;
    Result<void> r;
    for (uint64_t done = 0; done < s.filesz && r.is_ok(); done += cap) {
        size_t n = s.filesz - done < cap ? size_t(s.filesz - done) : cap;
        r = file.owned.read(s.offset + done, buffer, n);
        if (r.is_ok()) r = write_to_space(as, s.vaddr + done, buffer, n);
    }
    mm::kfree(buffer);
    return r;
}

Result<Loaded> load(AddressSpace& as, const ExecutableFile& file, const ProgramArgs& args) {
    ExecutableReader reader(file);
    Executable exe = TRY(parse_executable(reader));
    for (size_t i = 0; i < exe.segment_count; i++) {
        const LoadSegment& s = exe.segments[i];
        uint64_t start = s.vaddr & ~(PAGE - 1), end = (s.vaddr + s.memsz + PAGE - 1) & ~(PAGE - 1);
        TRY(as.map(start, end, segment_prot(s)));
        // A file's read-only segments come from the program page cache (shared, read-only);
        // boot modules and writable segments are copied into the process's own pages.
        if (file.owned.inode && !s.write)
            TRY(exec_cache::map_segment(as, exec_cache::Key::of(file.owned.stat), reader, i, s));
        else
            TRY(copy_segment(as, file, s));
    }
    TRY(for_each_relative(exe, reader,
                          [&](uint64_t where, uint64_t value) { (void)write_to_space(as, where, &value, 8); }));
    as.brk_start = as.brk = exe.end;

    TRY(as.map(USER_TOP - STACK_SIZE, USER_TOP, Prot::Read | Prot::Write));
    uint8_t random[16];
    fill_random(random, sizeof random);
    uint64_t hwcap = cpu::cpuid(1).edx;  // what Linux reports as AT_HWCAP on x86-64
    const Cred& c = *args.cred;
    StackArgs stack_args{args.argv, args.argc, args.envp, args.envc, random, &exe,
                         hwcap,     c.uid,     c.euid,    c.gid,     c.egid, args.secure};
    size_t image_size = initial_stack_size(stack_args);
    if (image_size + (1u << 20) > STACK_SIZE) return Errno::TooBig;  // execve's limit keeps below
    auto* image = static_cast<uint8_t*>(mm::kmalloc(image_size));
    if (!image) return Errno::NoMem;
    auto built = build_initial_stack(image, image_size, USER_TOP, stack_args);
    if (built.is_error()) {
        mm::kfree(image);
        return built.error().code() == Errno::Inval ? Errno::TooBig : built.error();
    }
    auto w =
        write_to_space(as, USER_TOP - built.value().used, image + image_size - built.value().used, built.value().used);
    mm::kfree(image);
    TRY(w);
    RefPtr<ArgText> text = TRY(ArgText::create(args.argv, args.argc));
    return Loaded{exe.entry, built.value().rsp, static_cast<RefPtr<ArgText>&&>(text)};
}

// The name is the path as given (procfs shows it in cmdline, its last component in stat and
// status), cut to fit.
void set_name(Process& p, const char* path) {
    size_t n = 0;
    for (; path[n] && n + 1 < sizeof p.name; n++) p.name[n] = path[n];
    p.name[n] = 0;
}

void default_rlimits(Process& p) {
    for (auto& r : p.rlimits) r = {RLIM_INFINITY, RLIM_INFINITY};
    // Linux's defaults for a root login.
    p.rlimits[RLIMIT_STACK] = {8ull << 20, RLIM_INFINITY};
    p.rlimits[RLIMIT_CORE] = {0, RLIM_INFINITY};
    p.rlimits[RLIMIT_NPROC] = {4096, 4096};
    p.rlimits[RLIMIT_NOFILE] = {1024, 4096};
    p.rlimits[RLIMIT_MEMLOCK] = {8ull << 20, 8ull << 20};
    p.rlimits[RLIMIT_SIGPENDING] = {4096, 4096};
    p.rlimits[RLIMIT_MSGQUEUE] = {819200, 819200};
    p.rlimits[RLIMIT_NICE] = {0, 0};
    p.rlimits[RLIMIT_RTPRIO] = {0, 0};
}

// Takes a table slot and a pid for p (Again when the table is full).
Result<void> insert(Process* p, bool assign_pid) {
    SpinlockGuard g(g_processes_lock);
    for (auto& slot : g_processes) {
        if (slot) continue;
        if (assign_pid) p->pid = g_next_pid++;
        slot = p;
        return {};
    }
    return Errno::Again;
}

void remove_locked(Process* p) {
    for (auto& slot : g_processes)
        if (slot == p) slot = nullptr;
}

void delete_process(Process* p);

void free_process(Process* p) {
    {
        SpinlockGuard g(g_processes_lock);
        remove_locked(p);
    }
    if (p->as) p->as->destroy();
    delete_process(p);
}

// The first instructions of a user thread: its user state, then ring 3.
void load_user_state(Task* t) {
    cpu::cli();
    __atomic_store_n(&t->thread, sched::current_thread(), __ATOMIC_RELEASE);
    sched::current_thread()->set_user_state(&t->user);
    cpu::write_cr3(t->user.cr3);
    cpu::wrmsr(MSR_IA32_FS_BASE, t->user.fs_base);
}

void reset_fpu(Task* t) {
    // A clean x87/SSE state (the psABI's initial control words), also saved as the thread's
    // own so a switch before the first instruction restores the same.
    uint32_t mxcsr = 0x1f80;
    asm volatile("fninit; ldmxcsr %0; fxsave64 %1" : "+m"(mxcsr), "=m"(*reinterpret_cast<uint8_t(*)[512]>(t->fpu)));
}

void process_main(void* arg) {
    auto* t = static_cast<Task*>(arg);
    load_user_state(t);
    reset_fpu(t);
    enter_user_mode(t->process->entry, t->process->initial_rsp);
}

// A forked child's or a new thread's first instructions: the registers parked in trap_frame.
void resume_main(void* arg) {
    auto* t = static_cast<Task*>(arg);
    load_user_state(t);
    asm volatile("fxrstor64 %0" ::"m"(*reinterpret_cast<uint8_t(*)[512]>(t->fpu)));
    arch::InterruptFrame f = t->trap_frame;
    cpu::sti();
    deliver_signals(f, -1);
    cpu::cli();
    return_to_user(f);
}

Task* new_task(Process* p, uint32_t tid) {
    auto* t = new (std::nothrow) Task{};
    if (!t) return nullptr;
    t->tid = tid;
    t->process = p;
    t->user = {p->as ? p->as->root() : 0, 0, t, t->fpu};
    return t;
}

// Links t into p's threads (table lock held).
void attach_task_locked(Process& p, Task* t) {
    t->next = p.tasks;
    p.tasks = t;
    p.task_count++;
    if (p.as) p.as->set_threads(p.task_count);
}

void detach_task_locked(Process& p, Task* t) {
    for (Task** l = &p.tasks; *l; l = &(*l)->next)
        if (*l == t) {
            *l = t->next;
            p.task_count--;
            break;
        }
    if (p.as) p.as->set_threads(p.task_count);
}

Process* new_process() {
    auto* p = new (std::nothrow) Process{};
    if (!p) return nullptr;
    p->state = ProcessState::Running;
    p->exit_signal = sig::CHLD;
    set_cred(*p, Cred{});
    default_rlimits(*p);
    return p;
}

// Frees a process that never ran or has ended, with its remaining Task records.
void delete_process(Process* p) {
    while (Task* t = p->tasks) {
        p->tasks = t->next;
        delete t;
    }
    delete p;
}

// The ELF behind path, following #! lines: fills `file` and rewrites argv into `out` when a
// script names an interpreter. `strings` holds the words taken from #! lines.
struct ExecPlan {
    ExecutableFile file;
    const char** argv;  // kmalloc'd: the caller's argc plus what #! lines can add
    size_t max_args;
    size_t argc;
    ScriptLine lines[MAX_SCRIPT_DEPTH];
    char path[MAX_SCRIPT_DEPTH][256];
};

// Finds the ELF behind path, following #! lines: argv becomes interpreter [argument] path
// argv[1..] at each level, as Linux builds it.
Result<void> resolve(ExecPlan& plan, const char* path, const char* const* argv, size_t argc) {
    for (size_t i = 0; i < argc; i++) plan.argv[i] = argv[i];
    plan.argc = argc;
    const char* current = path;
    for (int depth = 0;; depth++) {
        ExecutableFile f = TRY(load_executable(current));
        if (!is_script(f.data, f.head_size())) {
            plan.file = f;  // the caller releases it
            return {};
        }
        ScriptLine& line = plan.lines[depth];
        auto parsed =
            depth == MAX_SCRIPT_DEPTH ? Result<void>(Errno::Loop) : parse_script_line(f.data, f.head_size(), line);
        f.release();  // the line is copied out
        TRY(parsed);
        size_t n = __builtin_strlen(current);
        if (n >= sizeof plan.path[0]) return Errno::NameTooLong;
        __builtin_memcpy(plan.path[depth], current, n + 1);
        size_t extra = line.has_argument ? 3 : 2;
        size_t rest = plan.argc ? plan.argc - 1 : 0;  // argv[0] is replaced by the script's path
        if (rest + extra > plan.max_args) return Errno::TooBig;
        __builtin_memmove(plan.argv + extra, plan.argv + (plan.argc ? 1 : 0), rest * sizeof(char*));
        plan.argv[0] = line.interpreter;
        if (line.has_argument) plan.argv[1] = line.argument;
        plan.argv[extra - 1] = plan.path[depth];
        plan.argc = rest + extra;
        current = line.interpreter;
    }
}

// Resolves path (following #! lines) and loads the program into the fresh space `as`.
Result<Loaded> load_resolved(AddressSpace& as, ExecPlan& plan, const char* path, ProgramArgs& args) {
    TRY(resolve(plan, path, args.argv, args.argc));
    // The program's set-id bits count, not a script's (as on Linux).
    args.secure = exec_transition(*args.cred, plan.file.mode, plan.file.uid, plan.file.gid);
    auto r = load(as, plan.file, {plan.argv, plan.argc, args.envp, args.envc, args.cred, args.secure});
    plan.file.release();
    return r;
}

Result<Loaded> load_program(AddressSpace& as, const char* path, ProgramArgs args) {
    auto* plan = new (std::nothrow) ExecPlan{};  // constructed: its file holds a RefPtr
    if (!plan) return Errno::NoMem;
    plan->max_args = args.argc + 3 * MAX_SCRIPT_DEPTH;  // interpreter, argument, script path
    plan->argv = static_cast<const char**>(mm::kmalloc(plan->max_args * sizeof(char*)));
    if (!plan->argv) {
        delete plan;
        return Errno::NoMem;
    }
    auto r = load_resolved(as, *plan, path, args);
    mm::kfree(plan->argv);
    delete plan;
    return r;
}

}  // namespace

ArgText::~ArgText() { mm::kfree(data); }

Result<RefPtr<ArgText>> ArgText::create(const char* const* argv, size_t argc) {
    RefPtr<ArgText> t = TRY(make_ref<ArgText>());
    for (size_t i = 0; i < argc; i++) t->size += __builtin_strlen(argv[i]) + 1;
    t->data = static_cast<char*>(mm::kmalloc(t->size ? t->size : 1));
    if (!t->data) return Errno::NoMem;
    size_t at = 0;
    for (size_t i = 0; i < argc; i++) {
        size_t n = __builtin_strlen(argv[i]) + 1;
        __builtin_memcpy(t->data + at, argv[i], n);
        at += n;
    }
    return t;
}

Spinlock& process_table_lock() { return g_processes_lock; }
sched::WaitQueue& process_events() { return g_events; }
void wake_process_events() { g_events.wake_all(); }

void set_init_pid(uint32_t pid) {
    SpinlockGuard g(g_processes_lock);
    g_init_pid = pid;
}

uint32_t init_pid() { return __atomic_load_n(&g_init_pid, __ATOMIC_RELAXED); }

size_t process_count() {
    SpinlockGuard g(g_processes_lock);
    size_t n = 0;
    for (Process* p : g_processes) n += p != nullptr;
    return n;
}

Result<ExecutableFile> load_executable(const char* path) {
    if (!*path) return Errno::NoEnt;
    bool plain_name = true;
    for (const char* c = path; *c; c++)
        if (*c == '/') plain_name = false;
    if (!current_process() && plain_name) {
        if (auto m = boot_files::lookup(path); m.is_ok())
            return ExecutableFile{m.value().data, m.value().size, {}, 0755, 0, 0};
    }
    LoadedFile f = TRY(load_executable_file(path));
    return ExecutableFile{f.data, f.size, f, f.mode, f.uid, f.gid};
}

Result<Process*> spawn(const SpawnArgs& args) {
    // Fail early, before a pid is taken.
    ExecutableFile probe = TRY(load_executable(args.path));
    probe.release();
    Process* p = new_process();
    if (!p) return Errno::NoMem;
    if (auto r = insert(p, true); r.is_error()) {
        delete p;
        return r.error();
    }
    p->parent_pid = args.parent_pid;
    p->kernel_waited = true;
    p->pgid = p->sid = p->pid;
    set_name(*p, args.path);
    auto as = AddressSpace::create(p->pid);
    if (as.is_error()) {
        free_process(p);
        return as.error();
    }
    p->as = as.value();
    Task* t = new_task(p, p->pid);
    if (!t) {
        free_process(p);
        return Errno::NoMem;
    }
    {
        SpinlockGuard g(g_processes_lock);
        attach_task_locked(*p, t);
    }
    if (auto r = files_spawn(*p); r.is_error()) {
        free_process(p);
        return r.error();
    }
    Cred cred;  // root, as Linux's init
    auto loaded = load_program(*p->as, args.path, {args.argv, args.argc, args.envp, args.envc, &cred});
    if (loaded.is_error()) {
        free_process(p);
        return loaded.error();
    }
    p->entry = loaded.value().entry;
    p->initial_rsp = loaded.value().rsp;
    set_cred(*p, cred);
    p->args = static_cast<RefPtr<ArgText>&&>(loaded.value().args);
    sched::ThreadOptions options;
    options.detached = true;
    if (args.is_init) set_init_pid(p->pid);
    auto th = sched::Thread::create(p->name, process_main, t, options);
    if (th.is_error()) {
        if (args.is_init) set_init_pid(0);
        free_process(p);
        return th.error();
    }
    return p;
}

int wait(Process* p) {
    g_events.wait([p] { return __atomic_load_n(&p->exited, __ATOMIC_ACQUIRE); });
    int status = p->wait_status;
    free_process(p);
    return status;
}

Task* current_task() {
    sched::Thread* t = sched::current_thread();
    sched::Thread::UserState* u = t ? t->user_state() : nullptr;
    return u ? static_cast<Task*>(u->process) : nullptr;
}

Process* current_process() {
    Task* t = current_task();
    return t ? t->process : nullptr;
}

Process* find_process(uint32_t pid) {
    SpinlockGuard g(g_processes_lock);
    for (Process* p : g_processes)
        if (p && p->pid == pid) return p;
    return nullptr;
}

Task* find_task_locked(uint32_t tid) {
    for (Process* p : g_processes) {
        if (!p) continue;
        for (Task* t = p->tasks; t; t = t->next)
            if (t->tid == tid) return t;
    }
    return nullptr;
}

void release_vfork_parent_locked(Process& child) {
    if (!child.vfork_parent) return;
    for (Process* q : g_processes)
        if (q && q->pid == child.vfork_parent && q->vfork_child == child.pid) q->vfork_child = 0;
    child.vfork_parent = 0;
}

bool release_fork_parent_locked(Process& child) {
    if (!child.vfork_parent || !child.releases_on_sleep) return false;
    release_vfork_parent_locked(child);
    return true;
}

namespace {

void sort_ids(uint32_t* ids, size_t n) {
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            uint32_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
}

// The process ends (its last thread leaves, on the kernel's cr3): its memory and files go, its
// children go to init, and it becomes a zombie for its parent (or is freed when nobody waits).
[[noreturn]] void end_process(Process* p, int wait_status) {
    cancel_real_timer(*p);  // its callback names p, which its reaper frees
    delete_posix_timers(*p);
    p->as->destroy();
    p->as = nullptr;
    files_exit(*p);  // pipe ends see EOF/EPIPE at once, before the parent can reap
    release_process_locks(p->pid);

    Process* orphans_to_free[MAX_PROCESSES];
    size_t orphan_count = 0;
    bool self_reap = false;
    {
        SpinlockGuard g(g_processes_lock);
        release_vfork_parent_locked(*p);
        Process* init = nullptr;
        for (Process* q : g_processes)
            if (q && q->pid == g_init_pid && q != p && q->state == ProcessState::Running) init = q;
        for (Process* q : g_processes) {
            if (!q || q->parent_pid != p->pid || q == p) continue;
            q->parent_pid = init ? init->pid : 0;
            if (q->state == ProcessState::Zombie) {
                if (init) {
                    init->child_events++;
                } else if (!q->kernel_waited) {
                    remove_locked(q);
                    orphans_to_free[orphan_count++] = q;
                }
            }
        }
        Process* parent = nullptr;
        for (Process* q : g_processes)
            if (q && q->pid == p->parent_pid && p->parent_pid) parent = q;
        p->state = ProcessState::Zombie;
        p->wait_status = wait_status;
        if (parent) {
            const SigAction& chld = parent->actions[sig::CHLD - 1];
            self_reap = chld.handler == HANDLER_IGNORE || (chld.flags & sa::NOCLDWAIT);
            parent->child_events++;
            if (p->exit_signal) {
                SigInfo info{};
                info.signo = p->exit_signal;
                info.code = (wait_status & 0x7f) ? si::CLD_KILLED : si::CLD_EXITED;
                info.child.pid = int32_t(p->pid);
                info.child.status = (wait_status & 0x7f) ? (wait_status & 0x7f) : ((wait_status >> 8) & 0xff);
                send_signal_locked(*parent, p->exit_signal, info);
            }
        } else {
            self_reap = !p->kernel_waited;
        }
        if (self_reap) remove_locked(p);
        __atomic_store_n(&p->exited, true, __ATOMIC_RELEASE);
    }
    g_events.wake_all();
    for (size_t i = 0; i < orphan_count; i++) delete_process(orphans_to_free[i]);
    // Nobody else can reach p once it left the table; a zombie is freed by its reaper.
    if (self_reap) delete_process(p);
    sched::thread_exit();
}

// SIGKILL to every other thread of p (table lock held): a group exit or an execve.
void kill_other_tasks_locked(Process& p, Task* self) {
    for (Task* t = p.tasks; t; t = t->next) {
        if (t == self) continue;
        SigInfo info{};
        info.signo = sig::KILL;
        info.code = si::KERNEL;
        send_signal_to_task_locked(*t, sig::KILL, info);
    }
}

// The calling thread leaves for good: CLONE_CHILD_CLEARTID's word is cleared and woken (what
// pthread_join waits for), the thread leaves the process, and the last one out ends it.
[[noreturn]] void exit_task(int wait_status) {
    Task* t = current_task();
    Process* p = t->process;
    release_robust_list(*t);
    if (t->clear_child_tid && __atomic_load_n(&p->task_count, __ATOMIC_ACQUIRE) > 1) {
        if (UserPtr<uint32_t>(t->clear_child_tid).write(0).is_ok()) futex_wake_word(*p->as, t->clear_child_tid, 1);
    }
    bool last;
    {
        SpinlockGuard g(g_processes_lock);
        detach_task_locked(*p, t);
        p->ended_tasks_cpu_ns += sched::current_thread()->cpu_ns();
        last = p->tasks == nullptr;
        if (last && p->group_exiting) wait_status = p->group_exit_status;
        p->task_exits.wake_all();  // under the lock: once it drops, the last thread may free p
    }
    // Leave the address space before anything frees it: from here on the thread is a kernel
    // thread, and nothing refers to t any more.
    cpu::cli();
    sched::current_thread()->set_user_state(nullptr);
    cpu::write_cr3(mm::kernel_root_phys());
    cpu::sti();
    delete t;
    if (last) end_process(p, wait_status);
    sched::thread_exit();
}

}  // namespace

size_t list_pids(uint32_t* out, size_t max) {
    size_t n = 0;
    {
        SpinlockGuard g(g_processes_lock);
        for (Process* p : g_processes)
            if (p && n < max) out[n++] = p->pid;
    }
    sort_ids(out, n);
    return n;
}

size_t list_tids(uint32_t pid, uint32_t* out, size_t max) {
    size_t n = 0;
    {
        SpinlockGuard g(g_processes_lock);
        for (Process* p : g_processes)
            if (p && p->pid == pid)
                for (Task* t = p->tasks; t && n < max; t = t->next) out[n++] = t->tid;
    }
    sort_ids(out, n);
    return n;
}

void exit_current(int wait_status) {
    Task* self = current_task();
    KASSERT(self);
    Process* p = self->process;
    {
        SpinlockGuard g(g_processes_lock);
        // The first exit_group wins; one during an execve's wait also ends the exec'ing thread.
        if (!p->group_exiting || p->exec_task) {
            p->group_exiting = true;
            p->group_exit_status = wait_status;
        } else {
            wait_status = p->group_exit_status;
        }
        kill_other_tasks_locked(*p, self);
    }
    exit_task(wait_status);
}

void exit_thread(int wait_status) {
    Task* self = current_task();
    KASSERT(self);
    exit_task(wait_status);
}

Result<uint32_t> clone_thread(const arch::InterruptFrame& frame, const CloneThreadArgs& args) {
    Task* parent = current_task();
    Process* p = parent->process;
    Task* t = new_task(p, 0);
    if (!t) return Errno::NoMem;
    t->trap_frame = frame;
    t->trap_frame.rax = 0;
    t->trap_frame.rsp = args.stack;
    asm volatile("fxsave64 %0" : "=m"(*reinterpret_cast<uint8_t(*)[512]>(t->fpu)));
    t->user.fs_base = args.set_tls ? args.tls : cpu::rdmsr(MSR_IA32_FS_BASE);
    t->clear_child_tid = args.clear_child_tid;
    {
        SpinlockGuard g(g_processes_lock);
        if (p->group_exiting) {
            delete t;
            return Errno::Again;  // the process is ending or exec'ing
        }
        t->tid = g_next_pid++;
        t->signal_mask = parent->signal_mask;
        t->affinity = parent->affinity;
        attach_task_locked(*p, t);
    }
    uint32_t tid = t->tid;
    // Both words before the thread can run (one address space: the same memory).
    if (args.set_child_tid) (void)UserPtr<uint32_t>(args.set_child_tid).write(tid);
    if (args.set_parent_tid) (void)UserPtr<uint32_t>(args.set_parent_tid).write(tid);
    sched::ThreadOptions options;
    options.detached = true;
    auto th = sched::Thread::create(p->name, resume_main, t, options);
    if (th.is_error()) {
        {
            SpinlockGuard g(g_processes_lock);
            detach_task_locked(*p, t);
        }
        delete t;
        return th.error();
    }
    return tid;
}

Result<uint32_t> fork_current(const arch::InterruptFrame& frame, uint64_t new_stack, int exit_signal, bool vfork) {
    Task* caller = current_task();
    Process* parent = caller->process;
    Process* child = new_process();
    if (!child) return Errno::NoMem;
    {
        SpinlockGuard g(g_processes_lock);
        child->pid = g_next_pid++;
    }
    auto as = parent->as->fork(child->pid);
    if (as.is_error()) {
        delete child;
        return as.error();
    }
    child->as = as.value();
    // Only the calling thread goes on in the child, with the pid as its tid.
    Task* t = new_task(child, child->pid);
    if (!t) {
        child->as->destroy();
        delete child;
        return Errno::NoMem;
    }
    attach_task_locked(*child, t);  // not in the table yet: nobody else sees it
    __builtin_memcpy(child->name, parent->name, sizeof child->name);
    child->undumpable = parent->undumpable;
    child->exit_signal = exit_signal;
    t->trap_frame = frame;
    t->trap_frame.rax = 0;
    if (new_stack) t->trap_frame.rsp = new_stack;
    asm volatile("fxsave64 %0" : "=m"(*reinterpret_cast<uint8_t(*)[512]>(t->fpu)));
    t->user.fs_base = cpu::rdmsr(MSR_IA32_FS_BASE);
    set_cred(*child, parent->cred);
    __builtin_memcpy(child->rlimits, parent->rlimits, sizeof child->rlimits);
    child->nice = parent->nice;
    if (auto r = files_fork(*parent, *child); r.is_error()) {
        child->as->destroy();
        delete_process(child);
        return r.error();
    }
    {
        SpinlockGuard g(g_processes_lock);
        child->parent_pid = parent->pid;
        child->pgid = parent->pgid;
        child->sid = parent->sid;
        __builtin_memcpy(child->actions, parent->actions, sizeof child->actions);
        t->signal_mask = caller->signal_mask;
        t->altstack = caller->altstack;
        t->affinity = caller->affinity;
        child->args = parent->args;
        child->vfork_parent = parent->pid;
        child->releases_on_sleep = !vfork;
        parent->vfork_child = child->pid;
        bool placed = false;
        for (auto& slot : g_processes) {
            if (slot) continue;
            slot = child;
            placed = true;
            break;
        }
        if (!placed) {
            parent->vfork_child = 0;
            child->pid = 0;
        }
    }
    if (child->pid == 0) {
        child->as->destroy();
        delete_process(child);
        return Errno::Again;
    }
    sched::ThreadOptions options;
    options.detached = true;
    auto th = sched::Thread::create(child->name, resume_main, t, options);
    if (th.is_error()) {
        {
            SpinlockGuard g(g_processes_lock);
            parent->vfork_child = 0;
        }
        free_process(child);
        return th.error();
    }
    uint32_t pid = child->pid;  // the child may be gone by the time the wait below ends
    auto released = [parent] { return __atomic_load_n(&parent->vfork_child, __ATOMIC_ACQUIRE) == 0; };
    if (vfork) {
        g_events.wait(released);
    } else if (g_events.wait_for(released, FORK_HEAD_START_NS).is_error()) {
        // The child computes (or waits on a device) for a long time: the parent goes on. The
        // child's stale vfork_parent is harmless: a release matches both pids.
        SpinlockGuard g(g_processes_lock);
        if (parent->vfork_child == pid) parent->vfork_child = 0;
    }
    return pid;
}

namespace {

// execve from a process with more threads: the others get SIGKILL, and the caller waits until
// they have left (Intr when the caller itself is killed meanwhile: a group exit won the race).
Result<void> end_other_tasks(Task* self) {
    Process* p = self->process;
    {
        SpinlockGuard g(g_processes_lock);
        if (p->task_count == 1) return {};
        if (p->group_exiting) return Errno::Intr;
        p->group_exiting = true;
        p->exec_task = self;
        kill_other_tasks_locked(*p, self);
    }
    p->task_exits.wait([p, self] {
        return __atomic_load_n(&p->task_count, __ATOMIC_ACQUIRE) == 1 ||
               (__atomic_load_n(&self->pending, __ATOMIC_ACQUIRE) & sigbit(sig::KILL));
    });
    SpinlockGuard g(g_processes_lock);
    p->exec_task = nullptr;
    // An exit_group that killed the caller too keeps group_exiting: SIGKILL ends the caller next.
    if (self->pending & sigbit(sig::KILL)) return Errno::Intr;
    p->group_exiting = false;
    return {};
}

}  // namespace

Result<void> exec_current(arch::InterruptFrame& frame, const char* path, const char* const* argv, size_t argc,
                          const char* const* envp, size_t envc) {
    Task* t = current_task();
    Process* p = t->process;
    AddressSpace* fresh = TRY(AddressSpace::create(p->pid));
    Cred next = p->cred;
    auto loaded = load_program(*fresh, path, {argv, argc, envp, envc, &next});
    if (loaded.is_error()) {
        fresh->destroy();
        return loaded.error();
    }
    if (auto r = end_other_tasks(t); r.is_error()) {
        fresh->destroy();
        return r.error();
    }
    // The point of no return: the old program is gone. The caller is the only thread now and
    // takes over the pid as its tid, as on Linux.
    AddressSpace* old = p->as;
    cpu::cli();
    p->as = fresh;
    t->tid = p->pid;
    t->user.cr3 = p->as->root();
    t->user.fs_base = 0;
    cpu::write_cr3(t->user.cr3);
    cpu::wrmsr(MSR_IA32_FS_BASE, 0);
    cpu::sti();
    old->destroy();
    delete_posix_timers(*p);  // POSIX: timers do not survive an exec
    reset_fpu(t);
    files_exec(*p);  // close-on-exec descriptors
    set_name(*p, path);
    set_cred(*p, next);
    p->undumpable = false;
    t->clear_child_tid = 0;
    t->robust_list = 0;
    {
        SpinlockGuard g(g_processes_lock);
        // Handlers do not survive the program that installed them; ignored signals stay
        // ignored; the mask and pending signals stay.
        for (auto& a : p->actions) {
            if (a.handler != HANDLER_IGNORE) a.handler = HANDLER_DEFAULT;
            a.flags = 0;
            a.restorer = 0;
            a.mask = 0;
        }
        t->altstack = {};
        p->did_exec = true;
        p->args = static_cast<RefPtr<ArgText>&&>(loaded.value().args);
        release_vfork_parent_locked(*p);
    }
    g_events.wake_all();
    frame = {};
    frame.rip = loaded.value().entry;
    frame.rsp = loaded.value().rsp;
    frame.cs = arch::USER_CS;
    frame.ss = arch::USER_DS;
    frame.rflags = 0x202;
    frame.vector = 256;
    return {};
}

}  // namespace lamina::posix
