#include "kernel/posix/process.h"

#include <new>

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/boot_files.h"
#include "kernel/posix/elf_exec.h"
#include "kernel/posix/files.h"
#include "kernel/posix/random.h"
#include "kernel/posix/user_access.h"
#include "kernel/sync/spinlock.h"

extern "C" [[noreturn]] void enter_user_mode(uint64_t rip, uint64_t rsp);

namespace lamina::posix {

namespace {

constexpr uint64_t PAGE = mm::PAGE_SIZE;
constexpr uint32_t IA32_FS_BASE = 0xC0000100;
constexpr uint64_t STACK_SIZE = 8ull << 20;
constexpr size_t STACK_IMAGE = 16384;  // argv, envp, auxv and strings must fit here
constexpr size_t MAX_PROCESSES = 64;

// Lock order: taken alone.
Spinlock g_processes_lock;
Process* g_processes[MAX_PROCESSES];  // g_processes_lock
uint32_t g_next_pid = 1;              // g_processes_lock

// Writes bytes into the address space through the frames' direct-map addresses (the address
// space need not be loaded).
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

Result<void> load(Process& p, const uint8_t* file, size_t size, const SpawnArgs& args) {
    Executable exe = TRY(parse_executable(file, size));
    AddressSpace& as = *p.as;
    for (size_t i = 0; i < exe.segment_count; i++) {
        const LoadSegment& s = exe.segments[i];
        uint64_t start = s.vaddr & ~(PAGE - 1), end = (s.vaddr + s.memsz + PAGE - 1) & ~(PAGE - 1);
        TRY(as.map(start, end, segment_prot(s)));
        TRY(write_to_space(as, s.vaddr, file + s.offset, s.filesz));
    }
    TRY(for_each_relative(exe, file, size, [&](uint64_t where, uint64_t value) {
        (void)write_to_space(as, where, &value, 8);
    }));
    as.brk_start = as.brk = exe.end;

    TRY(as.map(USER_TOP - STACK_SIZE, USER_TOP, Prot::Read | Prot::Write));
    auto* image = static_cast<uint8_t*>(mm::kmalloc(STACK_IMAGE));
    if (!image) return Errno::NoMem;
    uint8_t random[16];
    fill_random(random, sizeof random);
    uint64_t hwcap = cpu::cpuid(1).edx;  // what Linux reports as AT_HWCAP on x86-64
    auto built = build_initial_stack(image, STACK_IMAGE, USER_TOP,
                                     {args.argv, args.argc, args.envp, args.envc, random, &exe, hwcap});
    if (built.is_error()) {
        mm::kfree(image);
        return built.error();
    }
    auto w = write_to_space(as, USER_TOP - built.value().used, image + STACK_IMAGE - built.value().used,
                            built.value().used);
    mm::kfree(image);
    TRY(w);
    p.entry = exe.entry;
    p.initial_rsp = built.value().rsp;
    return {};
}

void process_main(void* arg) {
    auto* p = static_cast<Process*>(arg);
    cpu::cli();
    sched::current_thread()->set_user_state(&p->user);
    cpu::write_cr3(p->user.cr3);
    cpu::wrmsr(IA32_FS_BASE, 0);
    // A clean x87/SSE state (the psABI's initial control words), also saved as the thread's
    // own so a switch before the first instruction restores the same.
    uint32_t mxcsr = 0x1f80;
    asm volatile("fninit; ldmxcsr %0; fxsave64 %1" : "+m"(mxcsr), "=m"(*reinterpret_cast<uint8_t(*)[512]>(p->fpu)));
    enter_user_mode(p->entry, p->initial_rsp);
}

void free_process(Process* p) {
    {
        SpinlockGuard g(g_processes_lock);
        for (auto& slot : g_processes)
            if (slot == p) slot = nullptr;
    }
    if (p->as) p->as->destroy();
    delete p;
}

}  // namespace

Result<Process*> spawn(const SpawnArgs& args) {
    // Boot modules by name; anything else (a path) through the VFS, where /bin holds them too.
    boot_files::File file{};
    LoadedFile loaded;
    if (auto m = boot_files::lookup(args.path); m.is_ok()) {
        file = m.value();
    } else {
        loaded = TRY(load_executable_file(args.path));
        file = {loaded.data, loaded.size};
    }
    struct Release {
        LoadedFile& f;
        ~Release() { f.free(); }
    } release{loaded};
    auto* p = new (std::nothrow) Process{};
    if (!p) return Errno::NoMem;
    {
        SpinlockGuard g(g_processes_lock);
        size_t slot = MAX_PROCESSES;
        for (size_t i = 0; i < MAX_PROCESSES; i++)
            if (!g_processes[i]) { slot = i; break; }
        if (slot == MAX_PROCESSES) {
            delete p;
            return Errno::Again;
        }
        p->pid = g_next_pid++;
        g_processes[slot] = p;
    }
    p->parent_pid = args.parent_pid;
    size_t n = 0;
    for (const char* s = args.path; *s && n + 1 < sizeof p->name; s++) p->name[n++] = *s;
    auto as = AddressSpace::create(p->pid);
    if (as.is_error()) {
        free_process(p);
        return as.error();
    }
    p->as = as.value();
    p->user = {p->as->root(), 0, p, p->fpu};
    if (auto r = files_spawn(*p); r.is_error()) {
        free_process(p);
        return r.error();
    }
    if (auto r = load(*p, file.data, file.size, args); r.is_error()) {
        free_process(p);
        return r.error();
    }
    sched::ThreadOptions options;
    options.detached = true;
    auto t = sched::Thread::create(p->name, process_main, p, options);
    if (t.is_error()) {
        free_process(p);
        return t.error();
    }
    p->main_thread = t.value();
    return p;
}

int wait(Process* p) {
    p->exit_waiters.wait([p] { return __atomic_load_n(&p->exited, __ATOMIC_ACQUIRE); });
    int status = p->wait_status;
    free_process(p);
    return status;
}

Process* current_process() {
    sched::Thread* t = sched::current_thread();
    sched::Thread::UserState* u = t ? t->user_state() : nullptr;
    return u ? static_cast<Process*>(u->process) : nullptr;
}

Process* find_process(uint32_t pid) {
    SpinlockGuard g(g_processes_lock);
    for (Process* p : g_processes)
        if (p && p->pid == pid) return p;
    return nullptr;
}

size_t list_pids(uint32_t* out, size_t max) {
    size_t n = 0;
    {
        SpinlockGuard g(g_processes_lock);
        for (Process* p : g_processes)
            if (p && n < max) out[n++] = p->pid;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            uint32_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

size_t process_count() {
    SpinlockGuard g(g_processes_lock);
    size_t n = 0;
    for (Process* p : g_processes) n += p != nullptr;
    return n;
}

void exit_current(int wait_status) {
    Process* p = current_process();
    KASSERT(p);
    // Leave the address space before freeing it: from here on the thread is a kernel thread.
    cpu::cli();
    sched::current_thread()->set_user_state(nullptr);
    cpu::write_cr3(mm::kernel_root_phys());
    cpu::sti();
    p->as->destroy();
    p->as = nullptr;
    files_exit(*p);
    p->exit_waiters.update_and_wake_all([p, wait_status] {
        p->wait_status = wait_status;
        __atomic_store_n(&p->exited, true, __ATOMIC_RELEASE);
    });
    sched::thread_exit();
}

}  // namespace lamina::posix
