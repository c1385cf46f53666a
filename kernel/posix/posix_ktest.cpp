// In-kernel tests of the POSIX layer's foundations: fault-safe user copies (the exception
// fixup), demand-zero paging from kernel copies, and that a process's memory all comes back.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/ktest/ktest.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/address_space.h"
#include "kernel/posix/boot_files.h"
#include "kernel/posix/elf_exec.h"
#include "kernel/posix/process.h"
#include "kernel/posix/user_access.h"
#include "kernel/sched/thread.h"

namespace lamina::posix {

namespace {

// Runs the calling thread on p's address space (as the scheduler would for a user thread).
void attach(Task* t) {
    asm volatile("fxsave64 %0" : "=m"(t->fpu));
    cpu::cli();
    sched::current_thread()->set_user_state(&t->user);
    cpu::write_cr3(t->user.cr3);
    cpu::sti();
}

void detach() {
    cpu::cli();
    sched::current_thread()->set_user_state(nullptr);
    cpu::write_cr3(mm::kernel_root_phys());
    cpu::sti();
}

}  // namespace

// With the kernel's cr3 the lower half is empty: every user copy faults and is fixed up.
KTEST(posix, user_copy_fault_returns_efault) {
    uint8_t buf[64] = {};
    auto r = copy_from_user(buf, 0x10000, sizeof buf);
    KASSERT_TRUE(r.is_error());
    KEXPECT(r.error().code() == Errno::Fault);
    KEXPECT(copy_to_user(0x7fff0000, buf, sizeof buf).error().code() == Errno::Fault);
    KEXPECT(clear_user(0x400000, 100).error().code() == Errno::Fault);
    char s[16];
    KEXPECT(strncpy_from_user(s, 0x400000, sizeof s).error().code() == Errno::Fault);
    // Kernel addresses are refused before any access, even mapped ones.
    KEXPECT(copy_from_user(buf, reinterpret_cast<uint64_t>(buf), 8).error().code() == Errno::Fault);
    KEXPECT(copy_from_user(buf, USER_LIMIT - 4, 8).error().code() == Errno::Fault);
    KEXPECT(copy_from_user(buf, ~0ull - 2, 8).error().code() == Errno::Fault);
    KEXPECT(copy_from_user(buf, 0, 0).is_ok());  // nothing to copy
}

KTEST(posix, user_copy_pages_in_and_respects_permissions) {
    constexpr uint32_t PID = 60001;
    auto* p = new Process{};
    p->pid = PID;
    auto as = AddressSpace::create(PID);
    KASSERT_TRUE(as.is_ok());
    p->as = as.value();
    auto* t = new Task{};
    t->process = p;
    t->user = {p->as->root(), 0, t, t->fpu};
    constexpr uint64_t RW = 0x10000000, RO = 0x10010000, GAP = 0x10020000;
    KASSERT_TRUE(p->as->map(RW, RW + 0x10000, Prot::Read | Prot::Write).is_ok());
    KASSERT_TRUE(p->as->map(RO, RO + 0x1000, Prot::Read).is_ok());
    KEXPECT(p->as->map(RW + 0x1000, RW + 0x2000, Prot::Read).error().code() == Errno::Exist);
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::process(PID)), 0u);

    attach(t);
    const char msg[] = "across a page boundary";
    uint64_t at = RW + 0x1000 - 5;
    KEXPECT(copy_to_user(at, msg, sizeof msg).is_ok());  // two demand-zero pages
    char back[sizeof msg] = {};
    KEXPECT(copy_from_user(back, at, sizeof back).is_ok());
    KEXPECT(__builtin_memcmp(back, msg, sizeof msg) == 0);
    char s[64];
    auto len = strncpy_from_user(s, at, sizeof s);
    KEXPECT(len.is_ok() && len.value() == sizeof msg - 1);
    KEXPECT(strncpy_from_user(s, at, 4).error().code() == Errno::NameTooLong);
    uint64_t zero = 1;
    KEXPECT(copy_from_user(&zero, RO, 8).is_ok());  // readable, demand-zero
    KEXPECT_EQ(zero, 0u);
    KEXPECT(copy_to_user(RO, msg, 8).error().code() == Errno::Fault);                // read-only
    KEXPECT(copy_from_user(back, GAP, 8).error().code() == Errno::Fault);            // no VMA
    KEXPECT(copy_to_user(RW + 0x10000 - 4, msg, 8).error().code() == Errno::Fault);  // runs off the end
    KEXPECT(p->as->protect(RW, RW + 0x1000, Prot::Read).is_ok());
    KEXPECT(copy_to_user(RW, msg, 8).error().code() == Errno::Fault);
    KEXPECT(p->as->unmap(RW + 0x1000, RW + 0x2000).is_ok());
    KEXPECT(copy_from_user(back, RW + 0x1000, 8).error().code() == Errno::Fault);
    detach();

    KEXPECT(mm::pages_owned_by(mm::Owner::process(PID)) > 0u);
    p->as->destroy();
    delete t;
    delete p;
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::process(PID)), 0u);
}

// The first mapping without a hint is placed where its top pages and the stack's do not share
// the indexes of a TLB indexed by the low bits of the page number (64 entries: QEMU's smallest
// software TLB), as they did when both areas started below round addresses (MMAP_COLOUR_GAP).
KTEST(posix, first_mapping_does_not_alias_the_stack_top_in_the_tlb) {
    constexpr uint32_t PID = 60002;
    constexpr uint64_t TLB_ENTRIES = 64, HOT_PAGES = 16;
    auto as = AddressSpace::create(PID);
    KASSERT_TRUE(as.is_ok());
    auto first = as.value()->find_free(mm::PAGE_SIZE, 0);
    KASSERT_TRUE(first.is_ok());
    uint64_t stack_top_page = USER_TOP / mm::PAGE_SIZE - 1, map_top_page = first.value() / mm::PAGE_SIZE;
    // The stack's page k below its top and the mapping's page j below its top collide when
    // k - j is this distance modulo the TLB size: it must exceed what a program keeps hot.
    uint64_t distance = (stack_top_page - map_top_page) % TLB_ENTRIES;
    KEXPECT(distance >= HOT_PAGES && distance <= TLB_ENTRIES - HOT_PAGES);
    as.value()->destroy();
}

// A whole program (the `hello` boot module, when the image has it): it runs, exits with its
// status, and leaves no frame behind.
KTEST(posix, process_exit_frees_everything) {
    if (boot_files::lookup("hello").is_error()) return;  // an image without test programs
    const char* argv[] = {"hello"};
    // A first run warms the kernel heap up (descriptor table, console file, I/O buffers):
    // page tables the heap maps for itself on the way are the kernel's and stay.
    auto warm = spawn({"hello", argv, 1, nullptr, 0, 0});
    KASSERT_TRUE(warm.is_ok());
    (void)wait(warm.value());
    uint64_t tables_before = mm::pages_of_kind(mm::OwnerKind::PageTable);
    auto p = spawn({"hello", argv, 1, nullptr, 0, 0});
    KASSERT_TRUE(p.is_ok());
    uint32_t pid = p.value()->pid;
    int status = wait(p.value());
    KEXPECT_EQ(status, 3 << 8);
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::process(pid)), 0u);
    KEXPECT_EQ(mm::pages_of_kind(mm::OwnerKind::PageTable), tables_before);
}

// Several programs at once on all CPUs: each keeps its own FPU/SSE registers, FS base (TLS) and
// address space across preemption, yields and sleeps.
KTEST(posix, concurrent_processes_keep_their_state) {
    if (boot_files::lookup("float").is_error()) return;
    constexpr int N = 4;
    Process* procs[N] = {};
    const char* argv[] = {"float"};
    for (int i = 0; i < N; i++) {
        auto p = spawn({"float", argv, 1, nullptr, 0, 0});
        KASSERT_TRUE(p.is_ok());
        procs[i] = p.value();
    }
    for (int i = 0; i < N; i++) KEXPECT_EQ(wait(procs[i]), 0);
}

KTEST(posix, spawn_refuses_what_it_cannot_run) {
    const char* argv[] = {"x"};
    KEXPECT(spawn({"no-such-program", argv, 1, nullptr, 0, 0}).error().code() == Errno::NoEnt);
}

}  // namespace lamina::posix
