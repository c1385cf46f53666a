// The kernel's C++ entry: from the boot stub to a running system.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/layout.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/arch/x86_64/smp.h"
#include "kernel/boot/boot_info.h"
#include "kernel/boot/cmdline.h"
#include "kernel/dev/acpi/platform.h"
#include "kernel/dev/pci/pci.h"
#include "kernel/iommu/iommu.h"
#include "kernel/dev/serial.h"
#include "kernel/domain/domain.h"
#include "kernel/irq/irq.h"
#include "kernel/mm/memory.h"
#include "kernel/ktest/kbench.h"
#include "kernel/ktest/ktest.h"
#include "kernel/lib/log.h"
#include "kernel/posix/posix.h"
#include "kernel/net/net_service.h"
#include "kernel/net/nic_service.h"
#include "kernel/storage/block_service.h"
#include "kernel/power.h"
#include "kernel/storage/storage.h"
#include "kernel/sched/scheduler.h"
#include "kernel/time/time.h"
#include "kernel/version.h"

extern "C" void (*__init_array_start[])();
extern "C" void (*__init_array_end[])();

namespace lamina {

namespace {

boot::BootInfo g_boot_info;
boot::CommandLine g_cmdline;

// The boot page tables map the first 4 GiB in the direct map; the loader's structures live there.
const void* boot_phys_reader(uint64_t phys, size_t len, void*) {
    constexpr uint64_t LIMIT = 4ull << 30;
    if (phys >= LIMIT || len > LIMIT - phys) return nullptr;
    return reinterpret_cast<const void*>(KERNEL_DIRECT_MAP + phys);
}

// QEMU's -kernel and GRUB both put the kernel's path before the arguments.
const char* skip_image_path(const char* cmdline) {
    const char* p = cmdline;
    while (*p == ' ') p++;
    const char* word = p;
    bool path = false, assignment = false;
    for (; *p && *p != ' '; p++) {
        if (*p == '/') path = true;
        if (*p == '=') assignment = true;
    }
    if (!path || assignment) return word;
    while (*p == ' ') p++;
    return p;
}

void print_memory_map() {
    uint64_t usable = 0;
    kprintf("memory map (%s, %lu regions):\n", g_boot_info.memory_map_from_efi ? "EFI" : "e820",
            g_boot_info.region_count);
    for (size_t i = 0; i < g_boot_info.region_count; i++) {
        const auto& r = g_boot_info.regions[i];
        if (r.type == boot::MemoryType::Usable) usable += r.length;
        if (g_cmdline.has("verbose"))
            kprintf("  %016lx-%016lx %s\n", r.base, r.base + r.length, boot::memory_type_name(r.type));
    }
    kprintf("memory: %lu MiB usable\n", usable >> 20);
}

}  // namespace

// `crash=KIND` on the command line: a deliberate kernel fault after boot, to check that faults
// are reported (tests and demos). Kept out of line so it shows in backtraces.
constexpr uint64_t UNMAPPED_ADDRESS = 0x4000000000;  // 256 GiB

// Recurses until the stack runs into its guard page. The volatile buffer and the use of the
// result after the call keep the compiler from turning this into a loop.
[[gnu::noinline]] uint64_t recurse_without_end(uint64_t depth) {
    volatile uint8_t frame[256];
    frame[0] = uint8_t(depth);
    if (depth == ~0ull) return 0;  // never: an end the compiler can see
    return recurse_without_end(depth + 1) + frame[0];
}

// Moves onto a fresh guarded kernel stack, so that the overflow hits a guard page rather than
// whatever lies below the boot stack.
[[noreturn]] void overflow_guarded_stack() {
    auto stack = mm::alloc_kernel_stack(16 * 1024);
    if (stack.is_error()) panic("cannot allocate a kernel stack (%s)", stack.error().name());
    asm volatile("mov %0, %%rsp\n\txor %%ebp, %%ebp\n\tcall *%1" ::"r"(stack.value().top), "r"(recurse_without_end),
                 "D"(0ull)
                 : "memory");
    __builtin_unreachable();
}

[[gnu::noinline]] void crash_on_request(const char* kind) {
    kprintf("lamina: crashing on request: %s\n", kind);
    if (__builtin_strcmp(kind, "page-fault") == 0) {
        // Above the boot mappings and below the higher half: never mapped.
        *reinterpret_cast<volatile uint64_t*>(UNMAPPED_ADDRESS) = 1;
    } else if (__builtin_strcmp(kind, "invalid-opcode") == 0) {
        asm volatile("ud2");
    } else if (__builtin_strcmp(kind, "panic") == 0) {
        panic("requested on the command line");
    } else if (__builtin_strcmp(kind, "stack-overflow") == 0) {
        overflow_guarded_stack();
    } else {
        kprintf("lamina: unknown crash kind '%s' (page-fault, invalid-opcode, panic, stack-overflow)\n", kind);
    }
}

[[noreturn]] void kernel_start(uint32_t magic, uint64_t info_phys) {
    serial::init();
    for (auto ctor = __init_array_start; ctor < __init_array_end; ctor++) (*ctor)();

    arch::init_cpu_tables(arch::boot_cpu_tables());
    arch::init_idt();
    arch::enable_cpu_protections();

    auto parsed = boot::parse_boot_info(magic, info_phys, boot_phys_reader, nullptr, g_boot_info);
    if (parsed.is_error()) panic("cannot read the boot loader's information (magic %#x at %#lx)", magic, info_phys);
    g_cmdline.parse(skip_image_path(g_boot_info.cmdline));
    set_console_loglevel(int(g_cmdline.get_number("loglevel", LOGLEVEL_DEFAULT)));
    power::set_test_mode(g_cmdline.has("test") || g_cmdline.has("ktest") || g_cmdline.has("kbench"));

    const char* path = g_boot_info.path == boot::BootPath::Multiboot1 ? "multiboot1" : "multiboot2";
    kprintf("\nLamina %s (boot: %s%s%s)\n", LAMINA_VERSION, path, g_boot_info.loader_name[0] ? " from " : "",
            g_boot_info.loader_name);
    kprintf("command line: %s\n", g_cmdline.text());
    print_memory_map();
    for (size_t i = 0; i < g_boot_info.module_count; i++) {
        const auto& m = g_boot_info.modules[i];
        kprintf("module: %s (%lu bytes)\n", m.name, m.end - m.start);
    }

    // ACPI first: its tables are read through the boot page tables' direct map of the first
    // 4 GiB; what the kernel needs later is copied out.
    acpi::init(g_boot_info);
    mm::init(g_boot_info);
    // From here on kernel_start runs as CPU 0's first thread.
    sched::init();
    if (auto r = irq::init(); r.is_error()) panic("cannot set up interrupt controllers: %s", r.error().name());
    if (auto r = time::init(); r.is_error()) panic("cannot calibrate the clocks: %s", r.error().name());
    pci::init(g_boot_info);
    iommu::init();
    domain::init(g_boot_info);
    storage::init(g_boot_info);
    cpu::sti();
    smp::start_aps();
    posix::init(g_boot_info);

    if (g_cmdline.has("ktest")) {
        unsigned passed = 0;
        unsigned failed = ktest::run_all(g_cmdline.get("ktest"), &passed);
        power::debug_exit(failed ? power::TestExit::Failure : power::TestExit::Success);
        cpu::halt_forever();
    }

    if (g_cmdline.has("kbench")) {
        kbench::run_all(g_cmdline.get("kbench"));
        power::debug_exit(power::TestExit::Success);
        cpu::halt_forever();
    }

    // The NVMe driver domain behind its shadow, as "block" (ktests start their own).
    if (auto r = storage::start_block_service(); r.is_error() && r.error().code() != Errno::NoEnt)
        kprintf("lamina: no block device: %s\n", r.error().name());
    // The ext2 root in the fs domain on it. init=/PATH runs a program of that file system, so it
    // becomes the processes' root, read-write; init=NAME runs a boot-module program on the
    // kernel's tmpfs root (the test programs), and the ext2 root is only checked, read-only.
    if (storage::block_service_running()) {
        Error e(Errno::None);
        if (posix::init_is_path(g_cmdline)) {
            if (auto r = storage::mount_root_fs(); r.is_error()) e = r.error();
        } else if (auto r = storage::start_root_fs(true); r.is_error()) {
            e = r.error();
        }
        if (e.code() != Errno::None) kprintf("lamina: no root file system: %s\n", e.name());
    }
    // The NIC driver domain behind its shadow, as "nic", when the machine has the card (after the
    // storage domains, whose ids the tests and the operator know).
    if (auto r = net::start_nic_service(); r.is_error() && r.error().code() != Errno::NoEnt)
        kprintf("lamina: no network interface: %s\n", r.error().name());
    // The network stack domain over it (eth0 on DHCP).
    if (auto r = net::start_net_service(); r.is_error() && r.error().code() != Errno::NoEnt)
        kprintf("lamina: no network stack: %s\n", r.error().name());
    kprintf("lamina: boot complete\n");
    // Before init: with init=/sbin/init, run_init does not come back.
    if (const char* kind = g_cmdline.get("crash")) crash_on_request(kind);
    posix::run_init(g_cmdline);
    if (g_cmdline.has("poweroff")) power::power_off();
    cpu::halt_forever();
}

}  // namespace lamina

extern "C" [[noreturn]] void kernel_main(uint32_t magic, uint64_t info_phys) { lamina::kernel_start(magic, info_phys); }
