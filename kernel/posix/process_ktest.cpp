// In-kernel tests of process lifecycle: copy-on-write bookkeeping at the address-space level,
// and fork-heavy programs leaving the frame and page-table counters where they found them once
// every process (orphans included) is gone.
#include "kernel/ktest/ktest.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/address_space.h"
#include "kernel/posix/boot_files.h"
#include "kernel/posix/process.h"
#include "kernel/sched/thread.h"

namespace lamina::posix {

namespace {

bool write_byte(AddressSpace& as, uint64_t virt, uint8_t v) {
    auto phys = as.populate(virt);
    if (phys.is_error()) return false;
    static_cast<uint8_t*>(mm::phys_to_virt(phys.value()))[virt & 4095] = v;
    return true;
}

uint8_t read_byte(AddressSpace& as, uint64_t virt) {
    auto info = as.lookup(virt);
    if (info.is_error()) return 0;
    return static_cast<uint8_t*>(mm::phys_to_virt(info.value().phys))[virt & 4095];
}

// Waits (up to 20 s) for the process table to come back to `count` (orphans finishing).
bool wait_for_process_count(size_t count) {
    for (int i = 0; i < 2000; i++) {
        if (process_count() <= count) return true;
        sched::sleep_ns(10'000'000);
    }
    return false;
}

}  // namespace

KTEST(posix_process, fork_shares_frames_copy_on_write) {
    constexpr uint32_t PARENT = 60101, CHILD = 60102;
    constexpr uint64_t A = 0x20000000, SHARED = 0x30000000;
    auto as = AddressSpace::create(PARENT);
    KASSERT_TRUE(as.is_ok());
    AddressSpace& parent = *as.value();
    KASSERT_TRUE(parent.map(A, A + 0x4000, Prot::Read | Prot::Write).is_ok());
    KASSERT_TRUE(parent.map(SHARED, SHARED + 0x1000, Prot::Read | Prot::Write, true).is_ok());
    KASSERT_TRUE(write_byte(parent, A, 11));
    KASSERT_TRUE(write_byte(parent, A + 0x1000, 22));  // A + 0x2000.. stay demand-zero
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::process(PARENT)), 2u);

    // fork() write-protects the parent's entries and flushes them locally: run it with the
    // parent's tables not loaded anywhere (a fresh space), which is also fine.
    auto forked = parent.fork(CHILD);
    KASSERT_TRUE(forked.is_ok());
    AddressSpace& child = *forked.value();
    auto p0 = parent.lookup(A), c0 = child.lookup(A);
    KASSERT_TRUE(p0.is_ok() && c0.is_ok());
    KEXPECT_EQ(p0.value().phys, c0.value().phys);
    KEXPECT(!p0.value().writable && !c0.value().writable);
    KEXPECT_EQ(p0.value().sharers, 1u);
    KEXPECT(child.lookup(A + 0x2000).is_error());  // demand-zero pages are not made up front
    // The shared mapping was populated and stays writable in both.
    auto ps = parent.lookup(SHARED), cs = child.lookup(SHARED);
    KASSERT_TRUE(ps.is_ok() && cs.is_ok());
    KEXPECT(ps.value().phys == cs.value().phys && ps.value().writable && cs.value().writable);

    // A write in the child copies the frame; the parent keeps the original, still read-only,
    // and its next write finds itself the only user: no copy, just the permission back.
    KEXPECT(child.handle_fault(A, true, false) == FaultResult::Handled);
    auto c1 = child.lookup(A);
    KASSERT_TRUE(c1.is_ok());
    KEXPECT(c1.value().phys != p0.value().phys && c1.value().writable);
    KEXPECT_EQ(read_byte(child, A), 11u);
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::process(CHILD)), 1u);
    auto p1 = parent.lookup(A);
    KEXPECT(p1.is_ok() && !p1.value().writable && p1.value().sharers == 0u);
    KEXPECT(parent.handle_fault(A, true, false) == FaultResult::Handled);
    auto p2 = parent.lookup(A);
    KEXPECT(p2.is_ok() && p2.value().phys == p0.value().phys && p2.value().writable);
    // Reads do not copy.
    KEXPECT(child.handle_fault(A + 0x1000, false, false) == FaultResult::Handled);
    KEXPECT_EQ(child.lookup(A + 0x1000).value().phys, parent.lookup(A + 0x1000).value().phys);

    // The parent goes first: the frames the child still maps stay until the child goes.
    parent.destroy();
    KEXPECT_EQ(read_byte(child, A + 0x1000), 22u);
    // Left: A + 0x1000 and the shared page (populated by fork, on the parent's account).
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::process(PARENT)), 2u);
    child.destroy();
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::process(PARENT)), 0u);
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::process(CHILD)), 0u);
}

KTEST(posix_process, fork_heavy_programs_leave_no_frames) {
    const char* programs[] = {"fork_many", "fork_cow", "exec", "sigchld_eintr"};
    if (boot_files::lookup(programs[0]).is_error()) return;  // an image without test programs
    size_t processes_before = process_count();
    uint64_t user_before = mm::pages_of_kind(mm::OwnerKind::Process);
    uint64_t tables_before = mm::pages_of_kind(mm::OwnerKind::PageTable);
    for (const char* name : programs) {
        const char* argv[] = {name};
        auto p = spawn({name, argv, 1, nullptr, 0, 0});
        KASSERT_TRUE(p.is_ok());
        KEXPECT_EQ(wait(p.value()), 0);
    }
    KEXPECT(wait_for_process_count(processes_before));
    KEXPECT_EQ(mm::pages_of_kind(mm::OwnerKind::Process), user_before);
    KEXPECT_EQ(mm::pages_of_kind(mm::OwnerKind::PageTable), tables_before);
}

}  // namespace lamina::posix
